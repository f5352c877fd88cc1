//! What a route hands the target writer when a change needs more than the
//! sink can do alone: cells that come from a key crosswalk (`lookup(…)`),
//! rows whose key the target assigns (crosswalk routes), and changes of
//! dead-letter routes, which the writer applies one by one so a refused row
//! can be set aside without stopping the rest.
//!
//! These are resolved by the writer, not the router, because only the
//! writer knows what its open target transaction holds: an order line's
//! `lookup('crm_orders', order_id)` must see the sales order inserted a few
//! changes earlier in the same transaction, before it is committed.

use std::sync::Arc;

use sluice_api::{Change, Row, RowWrite, TargetTable};

/// A cell the writer fills with the target key a crosswalk holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LookupCell {
    /// Index into the write's values (upserts, patches) or key (deletes).
    pub(crate) cell: usize,
    /// The crosswalk (its route's name).
    pub(crate) crosswalk: Arc<str>,
    /// Canonical text of the source key to look up; `None` when the key
    /// expression is NULL (the cell is NULL then).
    pub(crate) key: Option<String>,
    /// The target column, for messages.
    pub(crate) column: Arc<str>,
}

/// One write of a guarded change.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Pending {
    /// A write the sink takes as it is.
    Write(RowWrite),
    /// A write whose `cells` come from crosswalks.
    Lookup { write: RowWrite, cells: Vec<LookupCell> },
    /// An upsert into a crosswalk route's table. When the crosswalk holds a
    /// target key for `source_key`, it goes into `values[key_cell]` and the
    /// row is upserted by it; otherwise the row without that cell is
    /// inserted into `insert_table` (the target assigns the key), and the
    /// pair is recorded in the crosswalk in the same target transaction.
    Assign {
        crosswalk: Arc<str>,
        source_key: String,
        table: Arc<TargetTable>,
        values: Row,
        key_cell: usize,
        insert_table: Arc<TargetTable>,
        cells: Vec<LookupCell>,
    },
    /// A crosswalk route's row leaves the target (`write`: a delete by key,
    /// or a soft-delete patch, with the target key at `key_cell` of its key
    /// or values). Nothing happens when the crosswalk holds no target key:
    /// the row never reached the target. The entry stays: rows deleted
    /// after it that look it up (an order's lines, deleted by a cascade
    /// after the order) still find it, and a re-inserted source row gets
    /// its old target key back.
    Unassign { crosswalk: Arc<str>, source_key: String, write: RowWrite, key_cell: usize },
}

/// The dead-letter order key of a streamed change: its transaction's
/// position (`Position::sort_key`), `.1`, and its index in the transaction.
/// Fixed-width digits and upper-case hex only, so it sorts the same under
/// any collation.
pub(crate) fn stream_seq(transaction: &sluice_api::Position, change_index: u32) -> String {
    format!("{}.1{change_index:010}", transaction.sort_key())
}

/// The dead-letter order key of a snapshot chunk's row: the stream position
/// the chunk is written after, `.0` (before any transaction starting at that
/// same position: adjacent commit records share it), the chunk's number and
/// the row's index.
pub(crate) fn chunk_seq(at: Option<&sluice_api::Position>, chunk: u64, row: usize) -> String {
    let prefix = at.map(sluice_api::Position::sort_key).unwrap_or_default();
    format!("{prefix}.0{chunk:010}{row:010}")
}

/// The route a guarded change belongs to, as the writer needs it.
#[derive(Debug)]
pub(crate) struct RouteTag {
    pub(crate) name: Arc<str>,
    /// `on_error = "dead_letter"`: failures are recorded, not fatal.
    pub(crate) dead_letter: bool,
}

/// A change of one route that the writer applies itself.
#[derive(Clone, Debug)]
pub(crate) struct Guarded {
    pub(crate) route: Arc<RouteTag>,
    /// Canonical text of the source row's key: the dead-letter key later
    /// changes of the same row wait behind.
    pub(crate) source_key: String,
    /// Orders dead letters ([`stream_seq`], [`chunk_seq`]) and makes a
    /// replayed one the same row.
    pub(crate) seq: String,
    /// The raw change, for the dead-letter record (dead-letter routes only).
    pub(crate) origin: Option<Arc<Change>>,
    /// The writes, or why the change could not be mapped (no row values in it).
    pub(crate) outcome: Result<Vec<Pending>, String>,
}
