//! `sluice dlq retry` and `sluice dlq drop`: working off a route's dead
//! letters inside one target transaction.
//!
//! Retry takes the entries of each source row in their order (`seq`), maps
//! each recorded change again through the route as configured now, and
//! applies it under its own savepoint. An applied change's entry is
//! deleted; the first one that fails again keeps its entry (with the new
//! error) and the row's later entries, so order is kept and the row stays
//! blocked. A row whose entries are all applied no longer waits.
//!
//! The running engine does this in its target writer between source
//! transactions (the request comes over the admin socket); with no engine
//! running, the CLI does it itself on its own connection. Either way the
//! caller commits.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_api::{Sink, TableName};

use super::dead_letter::RecordedChange;
use super::{Guard, GuardError};
use crate::connectors::AnySink;
use crate::route::{Guarded, Route, RouteError, RouteTag};

/// What to do with a route's dead letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Action {
    Retry,
    Drop,
}

/// Counts after a retry or drop.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Outcome {
    /// Entries applied (retry) or discarded (drop).
    pub(crate) done: u64,
    /// Entries still there (retry: failed again, or waiting behind one that did).
    pub(crate) remaining: u64,
    /// Source rows that no longer wait.
    pub(crate) released_rows: u64,
}

/// One dead-letter entry as read back.
struct Entry {
    source_key: String,
    seq: String,
    change: String,
}

/// Retries or drops the dead letters of `route` (only those of `source_key`
/// when given) in the open target transaction.
pub(crate) async fn work_off(
    guard: &mut Guard,
    sink: &mut AnySink,
    route: &mut Route,
    source_key: Option<&str>,
    action: Action,
) -> Result<Outcome, GuardError> {
    let table = guard.dead_letters().table_name().clone();
    let entries = read_entries(sink, &table, &route.config.name, source_key).await?;
    let mut by_row: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for entry in entries {
        by_row.entry(entry.source_key.clone()).or_default().push(entry);
    }
    let mut outcome = Outcome::default();
    for (row, entries) in by_row {
        let route_name = route.config.name.clone();
        guard.dead_letters().unblock(&route_name, &row);
        let mut left = entries.len() as u64;
        for entry in &entries {
            if action == Action::Retry {
                let change = remap(route, entry)?;
                if let Some(refusal) = guard.try_change(sink, &change).await? {
                    let record = guard.dead_letters().record(&change, &refusal);
                    sink.write(vec![record]).await?;
                    break;
                }
            }
            let remove = guard.dead_letters().remove_entry(&route_name, &entry.source_key, &entry.seq);
            sink.write(vec![remove]).await?;
            outcome.done += 1;
            left -= 1;
        }
        outcome.remaining += left;
        if left == 0 {
            outcome.released_rows += 1;
        }
    }
    Ok(outcome)
}

async fn read_entries(
    sink: &mut AnySink,
    table: &TableName,
    route: &str,
    source_key: Option<&str>,
) -> Result<Vec<Entry>, GuardError> {
    let mut filter = vec![("route", route)];
    if let Some(key) = source_key {
        filter.push(("source_key", key));
    }
    let rows = sink.select_text(table, &["source_key", "seq", "change"], &filter, &["source_key", "seq"], None).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter().map(Option::unwrap_or_default);
            Entry {
                source_key: cells.next().unwrap_or_default(),
                seq: cells.next().unwrap_or_default(),
                change: cells.next().unwrap_or_default(),
            }
        })
        .collect())
}

/// The recorded change mapped again through `route` as it is configured now.
fn remap(route: &mut Route, entry: &Entry) -> Result<Guarded, GuardError> {
    let unreadable = |why: String| GuardError::Mapping {
        route: route.config.name.clone(),
        message: format!(
            "dead letter {} of source row {:?} cannot be read back ({why}); drop it with `sluice dlq drop`",
            entry.seq, entry.source_key
        ),
    };
    let recorded: RecordedChange = serde_json::from_str(&entry.change).map_err(|e| unreadable(e.to_string()))?;
    let mut change = recorded.to_change().map_err(unreadable)?;
    let origin = Arc::new(change.clone());
    let mut pending = Vec::new();
    let outcome = match route.map(&mut change, false, &mut pending) {
        Ok(()) => Ok(pending),
        Err(error @ (RouteError::Data { .. } | RouteError::Incomplete { .. })) => Err(error.to_string()),
        Err(error) => return Err(GuardError::Mapping { route: route.config.name.clone(), message: error.to_string() }),
    };
    // A retried change that fails again is kept, whatever the route's
    // on_error says now.
    let tag = Arc::new(RouteTag { name: Arc::clone(&route.tag().name), dead_letter: true });
    Ok(Guarded {
        route: tag,
        source_key: entry.source_key.clone(),
        seq: entry.seq.clone(),
        origin: Some(origin),
        outcome,
    })
}
