//! Snapshot jobs: the copy of one route's source table, initial or backfill.
//!
//! A job is prepared once per run: the table is described from the source
//! catalog (the columns chunk rows are aligned with), then the target table
//! (never the other way round: see `prepare`), the route is resolved
//! against that schema to find the key the table is chunked by (the route's
//! key, mapped back to source columns: the primary key, or the configured
//! unique key for a table without one), and the key is checked for NULLs —
//! rows with a NULL key can be neither chunked nor upserted, so the job
//! refuses the table instead of skipping them.

use std::sync::Arc;

use sluice_api::{SnapshotReader, TableName, TableSchema, Value};
use sluice_checkpoints::SnapshotProgress;

use super::SnapshotError;
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

/// Describes the source table, then builds the route (`build_route`
/// describes the target table), finds the chunk key through it, refuses
/// NULL keys. Returns the job and the route it was resolved with.
///
/// The order is what keeps a column added meanwhile from failing the job. A
/// column is added to the target first and then to the source (otherwise
/// the stream's next change stops the route anyway), and a target column
/// is never dropped while a route writes it: so a target described *after*
/// the source holds every column that source description shows. Described
/// the other way round, a column added to both tables between the two
/// descriptions is in the source schema and missing from the target shape,
/// and resolving refuses it (`RouteError::TargetColumnMissing`) — a config
/// error that stops the session though both tables have the column.
pub(crate) async fn prepare<R, F>(
    source: &str,
    request: JobRequest,
    reader: &mut R,
    build_route: impl FnOnce() -> F,
) -> Result<(Job, Route), SnapshotError>
where
    R: SnapshotReader,
    F: Future<Output = Result<Route, SnapshotError>>,
{
    let route_name = request.route.clone();
    let reader_error = |error| SnapshotError::Source { route: route_name.clone(), source: error };
    let schema =
        reader.describe(&request.table).await.map_err(reader_error)?.ok_or_else(|| SnapshotError::Refused {
            route: request.route.clone(),
            message: format!("source table {} does not exist", request.table),
        })?;
    let mut route = build_route().await?;
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
    let job = Job {
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
    };
    Ok((job, route))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use sluice_api::{ChunkRange, ChunkRead, ConnectorError, ReadView};

    use super::*;
    use crate::route::TargetShape;
    use crate::snapshot::window::tests::bigint_schema;

    /// The source and the target table while a DBA adds column `price`:
    /// to the target first, then to the source, both right after the
    /// first of the two descriptions a job's preparation takes (the moment
    /// a busy machine stretches).
    #[derive(Default)]
    struct Catalogs {
        descriptions: usize,
    }

    impl Catalogs {
        /// The columns either table has when it is described now.
        fn describe(&mut self) -> Vec<String> {
            self.descriptions += 1;
            let columns: &[&str] = if self.descriptions == 1 { &["id", "name"] } else { &["id", "name", "price"] };
            columns.iter().map(|c| (*c).to_owned()).collect()
        }
    }

    /// A source reader over [`Catalogs`]; a preparation reads no rows.
    struct Reader(Arc<Mutex<Catalogs>>);

    impl SnapshotReader for Reader {
        async fn describe(&mut self, table: &TableName) -> Result<Option<Arc<TableSchema>>, ConnectorError> {
            let columns = self.0.lock().unwrap().describe();
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            Ok(Some(bigint_schema(&table.name, &columns)))
        }

        async fn has_null_key(&mut self, _: &TableSchema, _: &[usize]) -> Result<bool, ConnectorError> {
            Ok(false)
        }

        async fn estimate_rows(&mut self, _: &TableSchema) -> Result<u64, ConnectorError> {
            Ok(0)
        }

        async fn next_boundary(
            &mut self,
            _: &TableSchema,
            _: &[usize],
            _: Option<&[Value]>,
            _: usize,
            _: Option<&str>,
        ) -> Result<Option<Vec<Value>>, ConnectorError> {
            unreachable!("a preparation reads no rows")
        }

        async fn read_chunk(
            &mut self,
            _: &Arc<TableSchema>,
            _: &[usize],
            _: &ChunkRange,
            _: Option<&str>,
        ) -> Result<ChunkRead, ConnectorError> {
            unreachable!("a preparation reads no rows")
        }

        async fn read_view(&mut self) -> Result<ReadView, ConnectorError> {
            unreachable!("a preparation reads no rows")
        }
    }

    /// The flake of `add_column_while_streaming_flows_into_the_target`
    /// under load: the coordinator described the target (`id, name`), the
    /// DBA added `price` to the target and then to the source, and the
    /// source description (`… price`) was resolved against the older target
    /// shape — "source column public.items.price has no column of the same
    /// name in target table", exit code 3, though both tables had it.
    #[tokio::test]
    async fn a_column_added_to_both_tables_while_a_job_is_prepared_is_in_the_target_shape() {
        let text = "[checkpoints]\npath = \"/tmp/x\"\n\
            [sources.src]\nkind = \"postgres\"\nurl = \"postgres://h/s\"\n\
            [targets.dst]\nkind = \"postgres\"\nurl = \"postgres://h/d\"\n\
            [[routes]]\nsource = \"src\"\ntable = \"public.items\"\ntarget = \"dst\"\n";
        let config = crate::config::Config::from_text(text, std::path::Path::new("/etc/sluice.toml"), |_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        let route_config = &config.routes[0];
        let catalogs = Arc::new(Mutex::new(Catalogs::default()));
        let mut reader = Reader(Arc::clone(&catalogs));
        let request = JobRequest {
            kind: JobKind::Initial,
            route: route_config.name.clone(),
            table: route_config.table.clone(),
            filter: None,
            resume: None,
        };
        let build_route = || async {
            let columns = catalogs.lock().unwrap().describe();
            let shape = TargetShape { columns, primary_key: vec!["id".into()], unique_keys: Vec::new() };
            Ok(Route::new(route_config.clone(), shape, vec!["id".into()], config.maps.clone())?)
        };
        let (job, mut route) =
            prepare("src", request, &mut reader, build_route).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(job.key, vec![0]);
        assert_eq!(catalogs.lock().unwrap().descriptions, 2, "one description of each table");
        let resolved = route.resolve(&job.schema).unwrap_or_else(|e| panic!("{e}"));
        assert!(resolved.plain_sources().is_some());
    }
}
