//! Applying guarded changes inside a target transaction: the part of the
//! mapping only the target writer can do.
//!
//! - **Crosswalk keys** (`crosswalk.rs`): an upsert into a crosswalk
//!   route's table is an update by the target key the crosswalk holds, or an
//!   insert whose assigned key is recorded in the same transaction.
//! - **Lookups**: cells filled with the target key a crosswalk holds, seen
//!   inside the open transaction (an order line finds the sales order
//!   inserted a moment ago).
//! - **Dead letters** (`dead_letter.rs`): a change of a dead-letter route
//!   that cannot be mapped or that the target refuses is recorded instead of
//!   stopping the pipeline; later changes of its source row wait behind it.
//!
//! How a refused row is isolated without losing the rest of the target
//! transaction: a batch holding dead-letter changes runs under a savepoint.
//! If the target refuses something (an error of kind `Data`), the batch is
//! rolled back to it and applied again one change at a time, each under its
//! own savepoint; the change the target refuses is rolled back alone and
//! recorded. Only the batch since the last flush is kept for that (at most
//! `max_rows_per_statement` writes), so memory stays bounded however large
//! the source transaction. Changes of `on_error = "stop"` routes are never
//! set aside: their failure stops the pipeline as before.

mod crosswalk;
pub(crate) mod dead_letter;
pub(crate) mod retry;

use std::collections::HashSet;
use std::sync::Arc;

use sluice_api::owned::OwnedTables;
use sluice_api::{ConnectorError, ErrorKind, RowWrite, Sink, TableName, Value};

use self::crosswalk::CrosswalkCache;
use self::dead_letter::{DeadLetters, WAITING};
use crate::connectors::AnySink;
use crate::route::{Guarded, LookupCell, Pending};

const BATCH_SAVEPOINT: &str = "sluice_batch";
const CHANGE_SAVEPOINT: &str = "sluice_change";

/// What a writer buffers: plain writes, and changes it finishes itself.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    Write(RowWrite),
    Guarded(Box<Guarded>),
}

/// Why applying guarded changes failed.
#[derive(Debug)]
pub(crate) enum GuardError {
    /// The target or its connection failed; the kind decides what follows.
    Sink(ConnectorError),
    /// A change of a `stop` route cannot be completed (a crosswalk has no
    /// entry for a lookup): the pipeline stops with this message.
    Mapping { route: String, message: String },
}

impl From<ConnectorError> for GuardError {
    fn from(error: ConnectorError) -> GuardError {
        GuardError::Sink(error)
    }
}

/// One writer's crosswalk cache and dead letters.
pub(crate) struct Guard {
    crosswalk: CrosswalkCache,
    dead_letters: DeadLetters,
    /// Routes whose snapshot job waits to start (see `defer_lookups`).
    deferring: HashSet<Arc<str>>,
    /// Dead letters recorded in the open target transaction.
    pub(crate) recorded: u64,
}

/// Why one guarded change could not be completed, before any target error.
struct Unmappable(String);

impl Guard {
    /// Reads the source rows `pipeline` has dead letters for (when
    /// `dead_letters` is true: a dead-letter route writes into this target).
    pub(crate) async fn load(
        sink: &mut AnySink,
        owned: &OwnedTables,
        pipeline: &str,
        dead_letters: bool,
    ) -> Result<Guard, ConnectorError> {
        let dead_letters = if dead_letters {
            DeadLetters::load(sink, owned.dead_letters.clone(), pipeline).await?
        } else {
            DeadLetters::with_blocked(owned.dead_letters.clone(), pipeline, Default::default())
        };
        if dead_letters.blocked_count() > 0 {
            tracing::warn!(pipeline, rows = dead_letters.blocked_count(), table = %dead_letters.table_name(),
                "source rows wait behind dead letters; see `sluice dlq list`");
        }
        let crosswalk = CrosswalkCache::new(owned.crosswalk.clone());
        Ok(Guard { crosswalk, dead_letters, deferring: HashSet::new(), recorded: 0 })
    }

    /// `route` has a snapshot job that has not copied anything yet
    /// (`true`), or its first chunk is now planned (`false`). Until then a
    /// lookup of its that finds no crosswalk entry is left to the snapshot.
    pub(crate) fn defer_lookups(&mut self, route: Arc<str>, deferring: bool) {
        if deferring {
            self.deferring.insert(route);
        } else {
            self.deferring.remove(&route);
        }
    }

    pub(crate) fn dead_letters(&mut self) -> &mut DeadLetters {
        &mut self.dead_letters
    }

    /// Applies `items` in order inside the open target transaction. With
    /// `isolate` (the items hold changes of dead-letter routes) a refused
    /// change is recorded instead of failing (see the module doc).
    pub(crate) async fn apply(
        &mut self,
        sink: &mut AnySink,
        items: Vec<Item>,
        isolate: bool,
    ) -> Result<(), GuardError> {
        if !isolate {
            return self.apply_batch(sink, items).await;
        }
        let backup = items.clone();
        let marks = (self.crosswalk.mark(), self.dead_letters.mark(), self.recorded);
        sink.savepoint(BATCH_SAVEPOINT).await?;
        match self.apply_batch(sink, items).await {
            Ok(()) => {
                sink.release_savepoint(BATCH_SAVEPOINT).await?;
                Ok(())
            }
            Err(GuardError::Sink(error)) if error.kind == ErrorKind::Data => {
                tracing::info!(error = %crate::pipeline::error_chain(&error), "the target refused a change of a dead-letter route; applying the batch change by change");
                sink.rollback_to_savepoint(BATCH_SAVEPOINT).await?;
                self.crosswalk.undo_to(marks.0);
                self.dead_letters.undo_to(marks.1);
                self.recorded = marks.2;
                self.apply_one_by_one(sink, backup).await?;
                sink.release_savepoint(BATCH_SAVEPOINT).await?;
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// The target transaction committed.
    pub(crate) fn committed(&mut self) {
        self.crosswalk.committed();
        self.dead_letters.committed();
        self.recorded = 0;
    }

    /// The target transaction was rolled back.
    pub(crate) fn rolled_back(&mut self) {
        self.crosswalk.rolled_back();
        self.dead_letters.rolled_back();
        self.recorded = 0;
    }

    async fn apply_batch(&mut self, sink: &mut AnySink, items: Vec<Item>) -> Result<(), GuardError> {
        let mut batch = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Write(write) => batch.push(write),
                Item::Guarded(change) => {
                    if let Err(Unmappable(message)) = self.apply_change(sink, &change, &mut batch).await? {
                        self.set_aside(&change, &message, &mut batch)?;
                    }
                }
            }
        }
        sink.write(batch).await?;
        Ok(())
    }

    async fn apply_one_by_one(&mut self, sink: &mut AnySink, items: Vec<Item>) -> Result<(), GuardError> {
        let mut batch = Vec::new();
        for item in items {
            let change = match item {
                Item::Write(write) => {
                    batch.push(write);
                    continue;
                }
                Item::Guarded(change) => change,
            };
            // Plain writes before this change must not share its savepoint:
            // their failure stops the pipeline.
            sink.write(std::mem::take(&mut batch)).await?;
            if let Some(refusal) = self.try_change(sink, &change).await? {
                let mut record = Vec::new();
                self.set_aside(&change, &refusal, &mut record)?;
                sink.write(record).await?;
            }
        }
        sink.write(batch).await?;
        Ok(())
    }

    /// Applies one guarded change under its own savepoint. `Some(reason)`
    /// when it cannot be mapped or the target refuses it (a dead-letter
    /// route's data error): nothing of it is left in the transaction.
    pub(crate) async fn try_change(
        &mut self,
        sink: &mut AnySink,
        change: &Guarded,
    ) -> Result<Option<String>, GuardError> {
        let marks = (self.crosswalk.mark(), self.dead_letters.mark(), self.recorded);
        sink.savepoint(CHANGE_SAVEPOINT).await?;
        let mut writes = Vec::new();
        let outcome = match self.apply_change(sink, change, &mut writes).await {
            Ok(Ok(())) => sink.write(writes).await.map(|()| None),
            Ok(Err(Unmappable(message))) => Ok(Some(message)),
            Err(GuardError::Sink(error)) => Err(error),
            Err(mapping) => return Err(mapping),
        };
        match outcome {
            Ok(refusal) => {
                sink.release_savepoint(CHANGE_SAVEPOINT).await?;
                Ok(refusal)
            }
            Err(error) if error.kind == ErrorKind::Data && change.route.dead_letter => {
                sink.rollback_to_savepoint(CHANGE_SAVEPOINT).await?;
                sink.release_savepoint(CHANGE_SAVEPOINT).await?;
                self.crosswalk.undo_to(marks.0);
                self.dead_letters.undo_to(marks.1);
                self.recorded = marks.2;
                Ok(Some(crate::redact::chain(&error)))
            }
            Err(error) => Err(GuardError::Sink(error)),
        }
    }

    /// Records `change` as a dead letter, or fails for a `stop` route.
    fn set_aside(&mut self, change: &Guarded, message: &str, batch: &mut Vec<RowWrite>) -> Result<(), GuardError> {
        if !change.route.dead_letter {
            return Err(GuardError::Mapping { route: change.route.name.to_string(), message: message.to_owned() });
        }
        if message != WAITING {
            tracing::warn!(route = %change.route.name, seq = %change.seq, "change recorded as a dead letter: {message}");
        }
        batch.push(self.dead_letters.record(change, message));
        self.recorded += 1;
        Ok(())
    }

    /// Turns one guarded change into writes appended to `batch` (an insert
    /// into a crosswalk route's table runs right away, after `batch`).
    /// `Ok(Err(..))`: the change cannot be completed, nothing was written.
    async fn apply_change(
        &mut self,
        sink: &mut AnySink,
        change: &Guarded,
        batch: &mut Vec<RowWrite>,
    ) -> Result<Result<(), Unmappable>, GuardError> {
        if self.dead_letters.is_blocked(change) {
            return Ok(Err(Unmappable(WAITING.to_owned())));
        }
        let pending = match &change.outcome {
            Ok(pending) => pending,
            Err(message) => return Ok(Err(Unmappable(message.clone()))),
        };
        // Lookups first: a change that cannot be completed writes nothing.
        let mut resolved: Vec<Pending> = Vec::with_capacity(pending.len());
        for write in pending {
            let mut write = write.clone();
            let table = pending_table(&write);
            let cells = match &mut write {
                Pending::Lookup { write, cells } => Some((row_of(write), cells)),
                Pending::Assign { values, cells, .. } => Some((values, cells)),
                Pending::Write(_) | Pending::Unassign { .. } => None,
            };
            if let Some((row, cells)) = cells {
                for cell in cells.iter() {
                    match self.lookup(sink, cell).await? {
                        Ok(value) => row[cell.cell] = value,
                        // The route's snapshot has not started (it starts
                        // after the routes it looks up have copied theirs):
                        // every chunk of it is read later and brings the
                        // row, with its lookup resolved. Nothing is lost by
                        // leaving the stream's change to it.
                        Err(_) if self.deferring.contains(&change.route.name) => {
                            tracing::debug!(route = %change.route.name, table = %table, "lookup not resolvable before the route's snapshot; its chunk brings the row");
                            return Ok(Ok(()));
                        }
                        Err(message) => return Ok(Err(Unmappable(message))),
                    }
                }
            }
            resolved.push(write);
        }
        for write in resolved {
            match write {
                Pending::Write(write) | Pending::Lookup { write, .. } => batch.push(write),
                Pending::Assign { crosswalk, source_key, table, mut values, key_cell, insert_table, .. } => {
                    match self.crosswalk.get(sink, &crosswalk, &source_key).await? {
                        Some(target_key) => {
                            values[key_cell] = Value::Text(target_key);
                            batch.push(RowWrite::Upsert { table, values });
                        }
                        None => {
                            sink.write(std::mem::take(batch)).await?;
                            values.remove(key_cell);
                            let column = &table.columns[key_cell];
                            let target_key = sink.insert_returning(insert_table, values, column).await?;
                            batch.push(self.crosswalk.record(&crosswalk, &source_key, &target_key));
                        }
                    }
                }
                Pending::Unassign { crosswalk, source_key, mut write, key_cell } => {
                    let Some(target_key) = self.crosswalk.get(sink, &crosswalk, &source_key).await? else {
                        continue;
                    };
                    match &mut write {
                        RowWrite::Delete { key, .. } => key[key_cell] = Value::Text(target_key),
                        RowWrite::Patch { values, .. } => values[key_cell] = Value::Text(target_key),
                        _ => {}
                    }
                    batch.push(write);
                }
            }
        }
        Ok(Ok(()))
    }

    /// The value of one lookup cell; `Err` when the crosswalk has no entry.
    async fn lookup(&mut self, sink: &mut AnySink, cell: &LookupCell) -> Result<Result<Value, String>, GuardError> {
        let Some(key) = &cell.key else { return Ok(Ok(Value::Null)) };
        match self.crosswalk.get(sink, &cell.crosswalk, key).await? {
            Some(target_key) => Ok(Ok(Value::Text(target_key))),
            None => Ok(Err(format!(
                "column {} = lookup('{}', …): the crosswalk has no target key for this row's source key (the row it \
                 refers to has not reached the target)",
                cell.column, cell.crosswalk
            ))),
        }
    }
}

/// The target table a guarded write goes to.
fn pending_table(pending: &Pending) -> TableName {
    let table = match pending {
        Pending::Write(write) | Pending::Lookup { write, .. } | Pending::Unassign { write, .. } => write.table(),
        Pending::Assign { table, .. } => table,
    };
    TableName::new(table.schema.clone(), table.name.clone())
}

/// The cells of a write that lookups fill: values of upserts and patches,
/// the key of deletes.
fn row_of(write: &mut RowWrite) -> &mut Vec<Value> {
    match write {
        RowWrite::Upsert { values, .. } | RowWrite::Patch { values, .. } => values,
        RowWrite::Delete { key, .. } => key,
        RowWrite::Truncate { .. } => unreachable!("truncates have no lookups"),
    }
}

/// Whether any item is a change of a dead-letter route.
pub(crate) fn holds_dead_letter_routes(items: &[Item]) -> bool {
    items.iter().any(|item| matches!(item, Item::Guarded(change) if change.route.dead_letter))
}
