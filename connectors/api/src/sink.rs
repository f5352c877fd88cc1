//! The sink contract.
//!
//! Delivery is at-least-once from the source's point of view: after a crash
//! the engine replays from the lowest position every target holds, so a sink
//! may see transactions again. Sinks make that harmless twice over: writes
//! are idempotent (upsert and delete by key), and each target records the
//! source position in its offsets table in the same transaction as the rows,
//! so the engine skips transactions the target already holds.
//!
//! A sink separates *accepted* from *durable*: [`Sink::write`] only accepts
//! rows into an open target transaction; only [`Sink::commit`] makes them
//! durable, together with the position. The engine calls `commit` only at
//! source transaction boundaries, so a target never shows half of a source
//! transaction; it may group many source transactions into one commit.

use std::future::Future;
use std::sync::Arc;

use crate::change::{Row, RowWrite, TargetTable};
use crate::error::ConnectorError;
use crate::position::Position;
use crate::schema::TableName;

pub trait Sink: Send {
    /// The position recorded in the target's offsets table for `pipeline`
    /// (one row per source), or `None` if this target never committed one.
    fn applied_position(
        &mut self,
        pipeline: &str,
    ) -> impl Future<Output = Result<Option<Position>, ConnectorError>> + Send;

    /// Accepts writes, in order, into the open target transaction (opening
    /// one if needed). May execute them right away to bound memory, and may
    /// send them without waiting for the target's answer: a write the
    /// target refuses then fails a later call of this transaction — at the
    /// latest [`Sink::commit`], which then commits nothing. Inside a
    /// savepoint a write's refusal is returned by that write.
    fn write(&mut self, writes: Vec<RowWrite>) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// Writes `position` into the offsets table for `pipeline` and commits
    /// the target transaction. When this returns `Ok`, the rows and the
    /// position are durable in the target.
    fn commit(
        &mut self,
        pipeline: &str,
        position: &Position,
    ) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// Like [`Sink::commit`], but the sink may send the offsets write and
    /// the commit without waiting for the target's answer, so the engine
    /// goes on with the next transaction while the target commits this one.
    /// Returns `true` when the commit is already confirmed (durable, as after
    /// `commit`) and `false` when it is in flight: [`Sink::confirmed_commits`]
    /// then tells when it is confirmed, and a failure is returned by a later
    /// call — at the latest [`Sink::settle`]. Commits are confirmed in the
    /// order they were sent, and a sink never lets a later transaction
    /// commit once an earlier one has failed. The default commits and waits.
    fn commit_ahead(
        &mut self,
        pipeline: &str,
        position: &Position,
    ) -> impl Future<Output = Result<bool, ConnectorError>> + Send {
        async move { self.commit(pipeline, position).await.map(|()| true) }
    }

    /// How many commits sent ahead (see [`Sink::commit_ahead`]) the target
    /// has confirmed since the last call, oldest first.
    fn confirmed_commits(&mut self) -> usize {
        0
    }

    /// Awaits everything sent ahead — statements and commits — and returns
    /// the first failure. Cancel-safe: dropping it before it completes
    /// loses nothing, so the engine may race it against its input.
    fn settle(&mut self) -> impl Future<Output = Result<(), ConnectorError>> + Send {
        async { Ok(()) }
    }

    /// Accepts the rows of one snapshot chunk (only `Upsert`s of one table,
    /// whole rows, no [`crate::Value::Unchanged`]) into the open target
    /// transaction. Same effect as [`Sink::write`]; a sink may take a bulk
    /// path (PostgreSQL `COPY`, MySQL multi-row `INSERT`) when none of the
    /// rows' keys exist in the target yet, and must fall back to upserts
    /// (never fail, never duplicate) when some do.
    fn load(&mut self, writes: Vec<RowWrite>) -> impl Future<Output = Result<(), ConnectorError>> + Send {
        self.write(writes)
    }

    /// Commits the open target transaction without touching the offsets
    /// table: for snapshot chunks written before the stream has given this
    /// target any position, and for one-shot batch loads (`backfill --once`).
    fn commit_rows(&mut self) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// While a snapshot job is copying into `table`, a partial update (with
    /// unchanged cells) of a row the target does not hold yet is not an
    /// error: the row has not been copied yet, and its chunk — read later —
    /// brings it with the update. Outside such a job it is (the target has
    /// diverged). Only the engine's snapshot machinery calls this.
    fn set_copying(&mut self, table: &crate::schema::TableName, copying: bool);

    /// Abandons the open target transaction, if any.
    fn rollback(&mut self) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// Inserts one row into the open target transaction (opening one if
    /// needed) without conflict handling — the target fills the columns the
    /// row lacks (identity, sequence or auto-increment defaults) — and
    /// returns the text form of the value the target gave column
    /// `returning`: a crosswalk's target key. A row the target refuses is an
    /// error of kind `Data`; a target that cannot report the value (MySQL
    /// without `RETURNING`, for a column that is not `AUTO_INCREMENT`) is an
    /// error of kind `Config`.
    fn insert_returning(
        &mut self,
        table: Arc<TargetTable>,
        values: Row,
        returning: &str,
    ) -> impl Future<Output = Result<String, ConnectorError>> + Send;

    /// Sets savepoint `name` (a plain identifier) in the open target
    /// transaction, opening one if needed. The engine isolates rows of
    /// dead-letter routes with savepoints: a refused row is rolled back to
    /// its savepoint and recorded, and the transaction goes on.
    fn savepoint(&mut self, name: &str) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// Undoes everything since savepoint `name`; the transaction stays open
    /// and usable (PostgreSQL leaves its aborted state).
    fn rollback_to_savepoint(&mut self, name: &str) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// Forgets savepoint `name`, keeping its writes.
    fn release_savepoint(&mut self, name: &str) -> impl Future<Output = Result<(), ConnectorError>> + Send;

    /// Reads rows of a table Sluice owns in this target (see
    /// [`crate::owned`]): the text form of `columns` of the rows whose
    /// `filter` columns equal the given texts, ordered by `order_by`, at most
    /// `limit`. Inside the open target transaction when there is one, so it
    /// sees that transaction's own writes. Identifiers are quoted and the
    /// filter values bound.
    fn select_text(
        &mut self,
        table: &TableName,
        columns: &[&str],
        filter: &[(&str, &str)],
        order_by: &[&str],
        limit: Option<usize>,
    ) -> impl Future<Output = Result<Vec<Vec<Option<String>>>, ConnectorError>> + Send;
}
