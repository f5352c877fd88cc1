//! The tables Sluice owns in a target besides the offsets table: the
//! crosswalk and the dead letters. Both are written inside the same target
//! transaction as the rows they describe, so after any crash they agree with
//! the target's rows and its offsets position: a crosswalk entry exists iff
//! the target row it names was committed, and a dead letter exists iff the
//! position that passed over its change was committed.
//!
//! Sinks create them when missing (their names come from the target's
//! config); the engine writes them with ordinary [`crate::RowWrite`]s and
//! reads them with [`crate::Sink::select_text`]. Every column is text except
//! the creation time, which the target fills by default; the column lists
//! below are what the engine writes, in this order, and the key.
//!
//! Crosswalk (one row per source key of a crosswalk route):
//! `name` (the crosswalk: the route's name), `source_key` (canonical text of
//! the source row's key), `target_key` (text of the key the target
//! assigned), `created_at`. Primary key `(name, source_key)`.
//!
//! Dead letters (one row per change a dead-letter route could not apply):
//! `pipeline` (the source's name), `route`, `source_key` (canonical text of
//! the source row's key: later changes of that key wait behind the entry),
//! `seq` (sortable text of the change's source position and its index in
//! the transaction: orders the entries, and makes a replayed dead letter
//! the same row), `source_table`, `operation`, `position` (the
//! transaction's position, `Position::encode`), `error` (why, without row
//! values), `change` (the raw change as JSON, for `sluice dlq retry`),
//! `recorded_at`. Primary key `(route, source_key, seq)`, with an index on
//! `pipeline`.

use crate::schema::TableName;

/// The columns the engine writes into the crosswalk, in order.
pub const CROSSWALK_COLUMNS: [&str; 3] = ["name", "source_key", "target_key"];
/// Key columns of the crosswalk (indices into [`CROSSWALK_COLUMNS`]).
pub const CROSSWALK_KEY: [usize; 2] = [0, 1];

/// The columns the engine writes into the dead-letter table, in order.
pub const DEAD_LETTER_COLUMNS: [&str; 9] =
    ["pipeline", "route", "source_key", "seq", "source_table", "operation", "position", "error", "change"];
/// Key columns of the dead-letter table (indices into [`DEAD_LETTER_COLUMNS`]).
pub const DEAD_LETTER_KEY: [usize; 3] = [1, 2, 3];

/// One Sluice-owned table as every sink creates it: the text columns the
/// engine writes, their key, the creation-time column the target fills,
/// and a column with an index of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnedShape {
    /// For messages: "crosswalk", "dead-letter table".
    pub what: &'static str,
    /// The columns the engine writes, in its order.
    pub columns: &'static [&'static str],
    /// Indices into `columns`.
    pub key: &'static [usize],
    /// The timestamp column the target fills when the row is written.
    pub time_column: &'static str,
    /// A column with an index of its own.
    pub indexed: Option<&'static str>,
}

/// The crosswalk's shape.
pub const CROSSWALK: OwnedShape = OwnedShape {
    what: "crosswalk",
    columns: &CROSSWALK_COLUMNS,
    key: &CROSSWALK_KEY,
    time_column: "created_at",
    indexed: None,
};

/// The dead-letter table's shape.
pub const DEAD_LETTERS: OwnedShape = OwnedShape {
    what: "dead-letter table",
    columns: &DEAD_LETTER_COLUMNS,
    key: &DEAD_LETTER_KEY,
    time_column: "recorded_at",
    indexed: Some("pipeline"),
};

/// Where a target keeps its Sluice-owned tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedTables {
    pub crosswalk: TableName,
    pub dead_letters: TableName,
}

impl OwnedTables {
    /// `sluice.crosswalk` and `sluice.dead_letters`, beside the default offsets table.
    pub fn defaults() -> OwnedTables {
        OwnedTables {
            crosswalk: TableName::new("sluice", "crosswalk"),
            dead_letters: TableName::new("sluice", "dead_letters"),
        }
    }
}
