//! The snapshot contract: reading a source table in key-ordered chunks while
//! the log keeps streaming, and knowing exactly which logged transactions
//! each chunk read saw.
//!
//! Sluice copies existing rows (initial snapshot, backfill) without locks
//! and without stopping the stream, the way DBLog and Flink CDC do, but
//! without their watermark writes into the source: every chunk read comes
//! back with a [`ReadView`] — the set of source transactions its read saw —
//! and a `high` position beyond which no logged transaction can have been
//! seen. The engine reconciles the chunk with the stream by that view:
//! changes to the chunk's rows that the read did not see are merged into the
//! chunk before it is written; changes it did see are not applied again
//! after it. So a copied row never overwrites a newer change, and a change
//! is never lost behind an older copy.
//!
//! - PostgreSQL: the chunk is read in a `REPEATABLE READ` transaction whose
//!   snapshot (`pg_current_snapshot()`: xmin, xmax, in-progress xids) is the
//!   view. A transaction was seen iff its xid is visible in that snapshot.
//!   Exact, whatever the WAL order of commits.
//! - MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT` makes InnoDB's
//!   snapshot agree with the binlog, and `binlog_snapshot_file/position`
//!   name the binlog position of that snapshot: transactions that begin
//!   before it were seen, the others not. Exact.
//! - MySQL has no such status variables: the binlog position is read just
//!   before and just after the snapshot starts; transactions in between are
//!   *maybe* seen and are merged like unseen ones (re-applying a change the
//!   read already saw, in log order, converges to the same row).
//!
//! The stream may deliver a transaction before a read can see it (a commit
//! is logged, and sent, before it becomes visible): the engine checks each
//! read's view against what the stream already delivered, and
//! [`SnapshotReader::read_view`] gives a view without rows for that.

use std::future::Future;
use std::sync::Arc;

use crate::change::{Row, Transaction};
use crate::error::ConnectorError;
use crate::position::{BinlogPosition, Position};
use crate::schema::{TableName, TableSchema};
use crate::value::Value;

/// Whether a chunk read saw a transaction's changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Yes,
    No,
    /// Undecidable (MySQL without binlog snapshot status); handled like `No`
    /// for merging and like `No` for re-applying (never dropped).
    Maybe,
}

/// Which source transactions one chunk read saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadView {
    /// A PostgreSQL snapshot, xids truncated to 32 bits as pgoutput sends
    /// them (compared modulo 2³², as PostgreSQL's `TransactionIdPrecedes`).
    Postgres { xmin: u32, xmax: u32, in_progress: Vec<u32> },
    /// Binlog: transactions whose first event is before `seen_before` were
    /// seen, those at or after `unseen_from` were not. Equal on MariaDB.
    Binlog { seen_before: BinlogPosition, unseen_from: BinlogPosition },
}

/// `a` comes before `b` in PostgreSQL's circular 32-bit xid space.
fn xid_precedes(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl ReadView {
    /// Whether the read saw `transaction` (as the source's stream reports it).
    pub fn saw(&self, transaction: &Transaction) -> Seen {
        match self {
            ReadView::Postgres { xmin, xmax, in_progress } => {
                let Ok(xid) = transaction.id.parse::<u32>() else { return Seen::Maybe };
                if xid_precedes(xid, *xmin) {
                    Seen::Yes
                } else if !xid_precedes(xid, *xmax) || in_progress.contains(&xid) {
                    Seen::No
                } else {
                    Seen::Yes
                }
            }
            ReadView::Binlog { seen_before, unseen_from } => match &transaction.position {
                Position::Binlog(first_event) if first_event < seen_before => Seen::Yes,
                Position::Binlog(first_event) if first_event >= unseen_from => Seen::No,
                _ => Seen::Maybe,
            },
        }
    }
}

/// A chunk's key range: rows whose key (in key-column order, compared as the
/// source database orders them) is `> after` and `<= through`; `None` is
/// unbounded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChunkRange {
    pub after: Option<Vec<Value>>,
    pub through: Option<Vec<Value>>,
}

/// One chunk as read.
#[derive(Debug)]
pub struct ChunkRead {
    /// Rows in key order, aligned with the schema the read used.
    pub rows: Vec<Row>,
    pub view: ReadView,
    /// A position at or beyond the end of every transaction the read saw:
    /// once the stream has passed it, nothing further can have been seen.
    pub high: Position,
}

/// Reads a source table in chunks (one connection; the engine opens one
/// reader per worker).
///
/// Key columns are given as indices into the schema's columns. Every query
/// quotes identifiers and never interpolates a value unescaped. `filter` is
/// an SQL predicate from the DBA (`sluice backfill --where`), ANDed in as
/// written, in the source's SQL dialect.
pub trait SnapshotReader: Send {
    /// The table's current schema from the source catalog (the columns a
    /// chunk's rows are aligned with), or `None` when it does not exist.
    fn describe(
        &mut self,
        table: &TableName,
    ) -> impl Future<Output = Result<Option<Arc<TableSchema>>, ConnectorError>> + Send;

    /// Whether any row has a NULL in one of the key columns (such rows could
    /// not be chunked, nor upserted: the snapshot refuses the table).
    fn has_null_key(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
    ) -> impl Future<Output = Result<bool, ConnectorError>> + Send;

    /// The catalog's row estimate (for progress and ETA only).
    fn estimate_rows(&mut self, schema: &TableSchema) -> impl Future<Output = Result<u64, ConnectorError>> + Send;

    /// The key of the `chunk_rows`-th row after `after` (the first row when
    /// `None`) in key order, among rows matching `filter`: the inclusive
    /// upper bound of the next chunk. `None` when fewer rows remain (the
    /// next chunk is the last and unbounded above).
    fn next_boundary(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        after: Option<&[Value]>,
        chunk_rows: usize,
        filter: Option<&str>,
    ) -> impl Future<Output = Result<Option<Vec<Value>>, ConnectorError>> + Send;

    /// Reads every row in `range` matching `filter`, in key order, with the
    /// read's view. Values decode exactly as the source's stream decodes the
    /// same row (so keys compare equal and types match).
    fn read_chunk(
        &mut self,
        schema: &Arc<TableSchema>,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
    ) -> impl Future<Output = Result<ChunkRead, ConnectorError>> + Send;

    /// The view a chunk read starting now would have, without reading
    /// rows: which logged transactions are visible now (the engine learns
    /// from it that delivered transactions have become visible).
    fn read_view(&mut self) -> impl Future<Output = Result<ReadView, ConnectorError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Lsn;

    fn tx(id: &str, position: Position) -> Transaction {
        Transaction { id: id.into(), position, commit_time_micros: 0, origin: None }
    }

    #[test]
    fn postgres_view_follows_snapshot_visibility() {
        let view = ReadView::Postgres { xmin: 100, xmax: 110, in_progress: vec![100, 105] };
        let pg = |id: &str| tx(id, Position::Postgres(Lsn(1)));
        assert_eq!(view.saw(&pg("99")), Seen::Yes, "finished before the snapshot");
        assert_eq!(view.saw(&pg("100")), Seen::No, "in progress at the snapshot");
        assert_eq!(view.saw(&pg("104")), Seen::Yes, "committed between xmin and xmax");
        assert_eq!(view.saw(&pg("105")), Seen::No);
        assert_eq!(view.saw(&pg("110")), Seen::No, "started after the snapshot");
        assert_eq!(view.saw(&pg("x")), Seen::Maybe);
    }

    #[test]
    fn postgres_view_survives_xid_wraparound() {
        let view = ReadView::Postgres { xmin: u32::MAX - 5, xmax: 10, in_progress: vec![3] };
        let pg = |id: u32| tx(&id.to_string(), Position::Postgres(Lsn(1)));
        assert_eq!(view.saw(&pg(u32::MAX - 10)), Seen::Yes);
        assert_eq!(view.saw(&pg(u32::MAX - 1)), Seen::Yes);
        assert_eq!(view.saw(&pg(2)), Seen::Yes);
        assert_eq!(view.saw(&pg(3)), Seen::No);
        assert_eq!(view.saw(&pg(10)), Seen::No);
    }

    #[test]
    fn binlog_view_splits_at_the_snapshot_positions() {
        let at = |offset| BinlogPosition { file: "b.000002".into(), offset, gtid: None };
        let view = ReadView::Binlog { seen_before: at(100), unseen_from: at(200) };
        let binlog = |offset| tx("0-1-1", Position::Binlog(at(offset)));
        assert_eq!(view.saw(&binlog(99)), Seen::Yes);
        assert_eq!(view.saw(&binlog(100)), Seen::Maybe);
        assert_eq!(view.saw(&binlog(199)), Seen::Maybe);
        assert_eq!(view.saw(&binlog(200)), Seen::No);
        let exact = ReadView::Binlog { seen_before: at(100), unseen_from: at(100) };
        assert_eq!(exact.saw(&binlog(99)), Seen::Yes);
        assert_eq!(exact.saw(&binlog(100)), Seen::No);
    }
}
