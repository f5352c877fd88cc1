//! Snapshot jobs: the copy of one route's source table, initial or backfill.
//!
//! A job is prepared once per run: the table is described from the source
//! catalog (the columns chunk rows are aligned with), the route is resolved
//! against that schema to find the key the table is chunked by (the route's
//! key, mapped back to source columns: the primary key, or the configured
//! unique key for a table without one), and the key is checked for NULLs —
//! rows with a NULL key can be neither chunked nor upserted, so the job
//! refuses the table instead of skipping them.

use std::sync::Arc;

use sluice_api::{SnapshotReader, TableName, TableSchema, Value};
use sluice_checkpoints::SnapshotProgress;

use super::SnapshotError;
use super::reader::AnyReader;
use crate::route::Route;

/// Initial snapshot (route started without a finished one) or backfill (asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKind {
    Initial,
    Backfill,
}

impl JobKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobKind::Initial => "initial",
            JobKind::Backfill => "backfill",
        }
    }
}

/// What to copy, before it is prepared.
#[derive(Clone, Debug)]
pub(crate) struct JobRequest {
    pub(crate) kind: JobKind,
    pub(crate) route: String,
    pub(crate) table: TableName,
    pub(crate) filter: Option<String>,
    /// Where a previous run stopped, if it did.
    pub(crate) resume: Option<SnapshotProgress>,
}

/// A prepared job.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) kind: JobKind,
    pub(crate) source: String,
    pub(crate) route: String,
    pub(crate) table: TableName,
    pub(crate) filter: Option<String>,
    /// The source table as the chunk reads see it.
    pub(crate) schema: Arc<TableSchema>,
    /// Key column indices into `schema`, the chunking order.
    pub(crate) key: Vec<usize>,
    /// The catalog's row estimate, for progress.
    pub(crate) estimate: u64,
    /// The key after which to continue (the last key of the last chunk done).
    pub(crate) start_after: Option<Vec<Value>>,
    pub(crate) progress: SnapshotProgress,
}

impl Job {
    pub(crate) fn key_label(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.route)
    }
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The progress record of a job that has copied nothing yet.
pub(crate) fn fresh_progress(
    kind: JobKind,
    route: &str,
    table: &TableName,
    filter: Option<String>,
) -> SnapshotProgress {
    let now = now_micros();
    SnapshotProgress {
        kind: kind.as_str().into(),
        route: route.to_owned(),
        table: table.to_string(),
        filter,
        cursor: None,
        rows_copied: 0,
        chunks_done: 0,
        done: false,
        started_at_micros: now,
        updated_at_micros: now,
    }
}

/// Describes the table, finds the chunk key through `route`, refuses NULL keys.
pub(crate) async fn prepare(
    source: &str,
    request: JobRequest,
    route: &mut Route,
    reader: &mut AnyReader,
) -> Result<Job, SnapshotError> {
    let route_name = request.route.clone();
    let reader_error = |error| SnapshotError::Source { route: route_name.clone(), source: error };
    let schema =
        reader.describe(&request.table).await.map_err(reader_error)?.ok_or_else(|| SnapshotError::Refused {
            route: request.route.clone(),
            message: format!("source table {} does not exist", request.table),
        })?;
    let resolved = route.resolve(&schema)?;
    let key = resolved.key_sources.clone();
    if reader.has_null_key(&schema, &key).await.map_err(reader_error)? {
        let names: Vec<&str> = key.iter().map(|&i| schema.columns[i].name.as_str()).collect();
        return Err(SnapshotError::Refused {
            route: request.route.clone(),
            message: format!(
                "source table {} has rows with NULL in key column(s) {}: such rows cannot be chunked or upserted. \
                 Set the route's `key` to NOT NULL unique columns, or fix the rows",
                request.table,
                names.join(", ")
            ),
        });
    }
    let estimate = reader.estimate_rows(&schema).await.map_err(reader_error)?;
    let (progress, start_after) = match request.resume {
        Some(progress) if !progress.done && progress.filter == request.filter => {
            let start_after = match &progress.cursor {
                Some(cursor) => Some(serde_json::from_value::<Vec<Value>>(cursor.clone()).map_err(|error| {
                    SnapshotError::Refused {
                        route: request.route.clone(),
                        message: format!(
                            "the recorded snapshot position cannot be read ({error}); forget it with \
                             `sluice checkpoints reset` or start a new backfill"
                        ),
                    }
                })?),
                None => None,
            };
            (progress, start_after)
        }
        _ => (fresh_progress(request.kind, &request.route, &request.table, request.filter.clone()), None),
    };
    Ok(Job {
        kind: request.kind,
        source: source.to_owned(),
        route: request.route,
        table: request.table,
        filter: request.filter,
        schema,
        key,
        estimate,
        start_after,
        progress,
    })
}
