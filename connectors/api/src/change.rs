//! Change events as sources emit them and row writes as sinks receive them.
//!
//! Sources emit a stream of [`SourceEvent`]s: `Begin`, any number of
//! `Change`s, `Commit` — transaction boundaries are always kept, because
//! targets must never show half of a source transaction. Large transactions
//! are streamed change by change (never buffered whole), so memory stays
//! bounded. The engine maps each [`Change`] through the routes into
//! [`RowWrite`]s for the sinks.

use std::sync::Arc;

use crate::position::Position;
use crate::schema::TableSchema;
use crate::value::Value;

/// One row image, aligned with its table schema's columns.
pub type Row = Vec<Value>;

/// What happened to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl Operation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Truncate => "truncate",
        }
    }
}

/// The transaction a change belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Source transaction id (PostgreSQL xid, MySQL/MariaDB GTID, SQL Server transaction LSN).
    pub id: String,
    /// A position known when the transaction begins that orders it among
    /// the source's transactions: PostgreSQL the LSN where its commit record
    /// starts (the Begin message carries it), binlog the position of its
    /// first event. Writers skip a transaction when
    /// `position.is_covered_by(applied)`, i.e. it starts before the end of
    /// the last applied one.
    pub position: Position,
    /// Commit time, microseconds since 1970-01-01 UTC.
    pub commit_time_micros: i64,
    /// Replication origin that wrote the transaction, if any (loop prevention).
    pub origin: Option<String>,
}

/// One row change (or a truncate) in a source table.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub transaction: Arc<Transaction>,
    pub table: Arc<TableSchema>,
    pub operation: Operation,
    /// The old image: the key columns (default replica identity) or the whole
    /// row (replica identity full); `None` for inserts and when the source
    /// did not send one.
    pub before: Option<Row>,
    /// The new image for inserts and updates; may hold [`Value::Unchanged`].
    pub after: Option<Row>,
}

impl Change {
    /// The key columns of this change, by the table's key flags, taken from
    /// the before image when present (a key update) and otherwise the after image.
    pub fn key_values(&self) -> Option<Vec<&Value>> {
        let image = self.before.as_ref().or(self.after.as_ref())?;
        Some(self.table.key_indices().into_iter().map(|i| &image[i]).collect())
    }
}

/// What a source emits, in log order.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceEvent {
    Begin(Arc<Transaction>),
    Change(Change),
    /// The transaction is complete. `position` is where it ends (PostgreSQL:
    /// the end LSN of the commit record; binlog: just past the commit event):
    /// the position recorded in targets and acknowledged to the source, and
    /// the one a restart resumes after.
    Commit {
        transaction: Arc<Transaction>,
        position: Position,
    },
    /// Idle progress: everything up to `position` has been read and nothing
    /// in it concerns the routes. Treated like an empty commit, so the source
    /// can be acknowledged (a PostgreSQL slot otherwise retains WAL forever).
    Progress(Position),
}

/// The schema of a target table as the sink writes it: column names in write
/// order and which of them form the key the sink upserts and deletes by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TargetTable {
    pub schema: String,
    pub name: String,
    pub columns: Vec<String>,
    /// Indices into `columns`.
    pub key: Vec<usize>,
    /// Indices into `columns` (never key columns) written only when an
    /// upsert inserts the row: when the row exists they keep the target's
    /// value. A route's `[routes.defaults]` (a status the target's users
    /// change afterwards), and every non-key column of an action route
    /// (its row is created once; replays must not overwrite what the
    /// target made of it). With every non-key column insert-only an upsert
    /// is an insert-if-absent.
    pub insert_only: Vec<usize>,
}

impl TargetTable {
    /// A table whose columns are all written on every upsert.
    pub fn new(
        schema: impl Into<String>,
        name: impl Into<String>,
        columns: Vec<String>,
        key: Vec<usize>,
    ) -> TargetTable {
        TargetTable { schema: schema.into(), name: name.into(), columns, key, insert_only: Vec::new() }
    }

    /// Whether column `index` is written only on insert.
    pub fn is_insert_only(&self, index: usize) -> bool {
        self.insert_only.contains(&index)
    }

    /// The columns an update of an existing row sets: neither key nor
    /// insert-only, nor `unchanged` in the image (indices into `columns`).
    pub fn settable(&self, unchanged: &[usize]) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|i| !self.key.contains(i) && !self.insert_only.contains(i) && !unchanged.contains(i))
            .collect()
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A write for a sink, in target terms. Values are aligned with `table.columns`.
#[derive(Clone, Debug, PartialEq)]
pub enum RowWrite {
    /// Insert the row, or replace the row with the same key. Values that are
    /// [`Value::Unchanged`] must be left as they are in the target; if the
    /// row does not exist, the sink must fail loudly rather than invent them.
    Upsert { table: Arc<TargetTable>, values: Row },
    /// Delete the row with this key (`key` aligned with `table.key`). Deleting
    /// a missing row is not an error (replays are idempotent).
    Delete { table: Arc<TargetTable>, key: Row },
    /// Remove every row of the table.
    Truncate { table: Arc<TargetTable> },
    /// Update the existing row with this key (`values` aligned with
    /// `table.columns`, the key cells at `table.key`), setting its other
    /// columns; no row with that key is not an error and inserts nothing.
    /// Soft deletes (`deleted_at = …`): a row the target never held stays
    /// absent.
    Patch { table: Arc<TargetTable>, values: Row },
}

impl RowWrite {
    pub fn table(&self) -> &Arc<TargetTable> {
        match self {
            RowWrite::Upsert { table, .. }
            | RowWrite::Delete { table, .. }
            | RowWrite::Truncate { table }
            | RowWrite::Patch { table, .. } => table,
        }
    }
}
