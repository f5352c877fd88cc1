//! The key crosswalk as a target writer sees it: source key → target key
//! per crosswalk, read from the target's crosswalk table and cached.
//!
//! Entries are written into the target's crosswalk table in the same target
//! transaction as the row they link (so after any crash the crosswalk and
//! the target's rows agree, and a replayed insert finds its entry and
//! updates the row instead of inserting a second one). The cache holds
//! every entry this writer wrote — committed or still in its open
//! transaction — and every entry it read; a miss reads the table inside the
//! open transaction. Misses are not cached: another pipeline writing into
//! the same target may add the entry later. Changes to the cache are
//! journalled so that a rolled-back savepoint can undo them.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::owned::{CROSSWALK_COLUMNS, CROSSWALK_KEY};
use sluice_api::{ConnectorError, RowWrite, Sink, TableName, TargetTable, Value};

use crate::connectors::AnySink;

/// Entries kept in memory at most; the cache is emptied at a commit beyond
/// this (entries are read again from the target when needed).
const MAX_CACHED: usize = 200_000;

type EntryKey = (Arc<str>, String);

pub(crate) struct CrosswalkCache {
    table: Arc<TargetTable>,
    name: TableName,
    entries: HashMap<EntryKey, String>,
    /// Previous state of every entry changed since the last mark.
    journal: Vec<(EntryKey, Option<String>)>,
}

impl CrosswalkCache {
    pub(crate) fn new(name: TableName) -> CrosswalkCache {
        let columns = CROSSWALK_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        let table = TargetTable::new(name.schema.clone(), name.name.clone(), columns, CROSSWALK_KEY.to_vec());
        CrosswalkCache { table: Arc::new(table), name, entries: HashMap::new(), journal: Vec::new() }
    }

    /// The target key `crosswalk` holds for `source_key`.
    pub(crate) async fn get(
        &mut self,
        sink: &mut AnySink,
        crosswalk: &Arc<str>,
        source_key: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let key = (Arc::clone(crosswalk), source_key.to_owned());
        if let Some(target_key) = self.entries.get(&key) {
            return Ok(Some(target_key.clone()));
        }
        let filter = [("name", &**crosswalk), ("source_key", source_key)];
        let rows = sink.select_text(&self.name, &["target_key"], &filter, &[], Some(1)).await?;
        let found = rows.into_iter().next().and_then(|row| row.into_iter().next().flatten());
        if let Some(target_key) = &found {
            // A read changes nothing in the target: no journal entry needed,
            // but an undo must not drop it either, so it is plain cache.
            self.entries.insert(key, target_key.clone());
        }
        Ok(found)
    }

    /// Records `source_key → target_key`; returns the write for the target's
    /// crosswalk table.
    pub(crate) fn record(&mut self, crosswalk: &Arc<str>, source_key: &str, target_key: &str) -> RowWrite {
        let key = (Arc::clone(crosswalk), source_key.to_owned());
        let previous = self.entries.insert(key.clone(), target_key.to_owned());
        self.journal.push((key, previous));
        RowWrite::Upsert {
            table: Arc::clone(&self.table),
            values: vec![
                Value::Text(crosswalk.to_string()),
                Value::Text(source_key.to_owned()),
                Value::Text(target_key.to_owned()),
            ],
        }
    }

    /// A point to undo to.
    pub(crate) fn mark(&self) -> usize {
        self.journal.len()
    }

    /// Undoes every change since `mark` (its writes were rolled back).
    pub(crate) fn undo_to(&mut self, mark: usize) {
        while self.journal.len() > mark {
            let (key, previous) = self.journal.pop().expect("above mark");
            match previous {
                Some(target_key) => self.entries.insert(key, target_key),
                None => self.entries.remove(&key),
            };
        }
    }

    /// The target transaction committed: nothing left to undo.
    pub(crate) fn committed(&mut self) {
        self.journal.clear();
        if self.entries.len() > MAX_CACHED {
            self.entries.clear();
        }
    }

    /// The target transaction was rolled back: forget everything (entries
    /// written in it are gone; committed ones are read again).
    pub(crate) fn rolled_back(&mut self) {
        self.journal.clear();
        self.entries.clear();
    }
}
