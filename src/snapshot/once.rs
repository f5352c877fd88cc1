//! One-shot copies without the stream (`sluice backfill --once`): a
//! DataX-style batch load. No log is read, so there is nothing to reconcile:
//! each worker reads a chunk, writes it into its own target connection
//! (bulk path: COPY / multi-row INSERT into empty key ranges, upserts
//! otherwise), commits, and reports it done. Chunks are written in parallel;
//! progress still only moves over contiguous chunks, so an interrupted copy
//! resumes where it stopped when run again.
//!
//! Without the stream the copy is exactly as consistent as the source is
//! quiet: rows changed while it runs may be copied before or after the
//! change. Use `sluice backfill` without `--once` (or `sluice run`) for a
//! copy reconciled with the log.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use sluice_api::{Change, Operation, Position, Row, RowWrite, Sink, TableSchema, Transaction};
use sluice_checkpoints::CheckpointStore;
use tokio::sync::{Mutex, Semaphore, broadcast, mpsc};

use super::SnapshotError;
use super::job::{self, Job, JobRequest};
use super::planner::{self, PlannedChunk};
use super::progress::{self, ChunkDone, JobStatus};
use super::reader::AnyReader;
use crate::config::{Config, RouteConfig};
use crate::connectors::{self, AnySink};
use crate::route::{Route, RouteError};

/// The transaction chunk rows are mapped under (routes do not look at it).
static SNAPSHOT_TRANSACTION: LazyLock<Arc<Transaction>> = LazyLock::new(|| {
    Arc::new(Transaction {
        id: "snapshot".into(),
        position: Position::Postgres(sluice_api::Lsn(0)),
        commit_time_micros: 0,
        origin: None,
    })
});

/// Maps a chunk's rows through `route` into upserts for its target.
pub(crate) fn chunk_writes(
    route: &mut Route,
    schema: &Arc<TableSchema>,
    rows: Vec<Row>,
) -> Result<Vec<RowWrite>, RouteError> {
    let mut writes = Vec::with_capacity(rows.len());
    for row in rows {
        let mut change = Change {
            transaction: Arc::clone(&SNAPSHOT_TRANSACTION),
            table: Arc::clone(schema),
            operation: Operation::Insert,
            before: None,
            after: Some(row),
        };
        route.map(&mut change, true, &mut writes)?;
    }
    Ok(writes)
}

/// A route checked against its target, ready to be cloned per worker.
pub(crate) async fn build_route(config: &Config, route: &RouteConfig) -> Result<Route, SnapshotError> {
    let target = &config.targets[&route.target];
    let target_error =
        |source| SnapshotError::Target { route: route.name.clone(), target: route.target.clone(), source };
    let shape = connectors::describe_target(target, &route.into).await.map_err(target_error)?.ok_or_else(|| {
        SnapshotError::Refused {
            route: route.name.clone(),
            message: format!("target table {} does not exist in target {}; create it first", route.into, route.target),
        }
    })?;
    let primary_key = connectors::source_primary_key(&config.sources[&route.source], &route.table)
        .await
        .map_err(|source| SnapshotError::Source { route: route.name.clone(), source })?
        .ok_or_else(|| SnapshotError::Refused {
            route: route.name.clone(),
            message: format!("source table {} does not exist", route.table),
        })?;
    Ok(Route::new(route.clone(), shape, primary_key)?)
}

/// How a job's chunks move as undecoded COPY text (PostgreSQL → PostgreSQL
/// with identical column types): the source columns feeding the target's
/// columns, in target order, and their type names.
struct TextPath {
    columns: Vec<usize>,
    types: Vec<String>,
    target: Arc<sluice_api::TargetTable>,
}

/// Tries to copy a chunk as undecoded COPY text; `None` when the job cannot
/// (not PostgreSQL on both ends, column types differ) or the chunk's key
/// range is occupied in the target — the caller then loads decoded rows.
async fn copy_text(
    reader: &mut AnyReader,
    sink: &mut AnySink,
    route: &mut Route,
    job: &Job,
    range: &sluice_api::ChunkRange,
    paths: &mut HashMap<String, Option<TextPath>>,
) -> Result<Option<u64>, SnapshotError> {
    let (AnyReader::Postgres(reader), AnySink::Postgres(sink)) = (reader, sink) else { return Ok(None) };
    let source_error = |source: sluice_postgres::PostgresError| SnapshotError::Source {
        route: job.route.clone(),
        source: source.into(),
    };
    let target_name = route.config.target.clone();
    let target_error = |source: sluice_postgres::PostgresError| SnapshotError::Target {
        route: job.route.clone(),
        target: target_name.clone(),
        source: source.into(),
    };
    if !paths.contains_key(&job.route) {
        let resolved = route.resolve(&job.schema)?;
        let names: Vec<&str> = resolved.sources.iter().map(|&i| job.schema.columns[i].name.as_str()).collect();
        let types = reader.column_type_names(&job.table, &names).await.map_err(source_error)?;
        let path = TextPath { columns: resolved.sources.clone(), types, target: Arc::clone(&resolved.target) };
        paths.insert(job.route.clone(), Some(path));
    }
    let Some(Some(path)) = paths.get(&job.route) else { return Ok(None) };
    let pieces = reader
        .stream_chunk_copy_text(&job.schema, &job.key, range, job.filter.as_deref(), &path.columns)
        .await
        .map_err(source_error)?;
    let (outcome, rows) = sink
        .load_copy_text_stream(&path.target, &path.types, range.after.as_deref(), range.through.as_deref(), pieces)
        .await
        .map_err(target_error)?;
    match outcome {
        sluice_postgres::CopyTextLoad::Loaded => Ok(Some(rows)),
        sluice_postgres::CopyTextLoad::RangeOccupied => Ok(None),
        sluice_postgres::CopyTextLoad::TypesDiffer => {
            tracing::info!(route = %job.route, "column types differ between source and target: copying decoded values");
            paths.insert(job.route.clone(), None);
            Ok(None)
        }
    }
}

/// Copies every requested job of `source` and returns when all are done.
pub(crate) async fn copy_source(
    config: &Config,
    source: &str,
    requests: Vec<JobRequest>,
    store: &CheckpointStore,
    status: broadcast::Sender<JobStatus>,
) -> Result<(), SnapshotError> {
    let source_config = &config.sources[source];
    let source_error = |route: &str| {
        let route = route.to_owned();
        move |source| SnapshotError::Source { route, source }
    };
    let mut planner_reader = AnyReader::connect(source_config).await.map_err(source_error("-"))?;
    let mut jobs = Vec::new();
    let mut route_configs = HashMap::new();
    for request in requests {
        let route_config = config.routes.iter().find(|r| r.name == request.route).expect("requested routes exist");
        let mut route = build_route(config, route_config).await?;
        let job = job::prepare(source, request, &mut route, &mut planner_reader).await?;
        let _ = status.send(JobStatus::of(&job, &job.progress));
        route_configs.insert(job.route.clone(), route_config.clone());
        jobs.push(Arc::new(job));
    }
    let jobs: Vec<Arc<Job>> = jobs.into_iter().filter(|job| !job.progress.done).collect();
    if jobs.is_empty() {
        return Ok(());
    }

    let workers = config.snapshot.workers;
    let in_flight = Arc::new(Semaphore::new(workers * 2));
    let (planned_tx, planned_rx) = mpsc::channel::<PlannedChunk>(workers);
    let planned_rx = Arc::new(Mutex::new(planned_rx));
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let tracker = tokio::spawn(progress::track(store.clone(), done_rx, status));

    let chunk_rows = config.snapshot.chunk_rows;
    let plan_jobs = jobs.clone();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move {
        for job in plan_jobs {
            planner::plan(job, &mut planner_reader, chunk_rows, Arc::clone(&in_flight), planned_tx.clone()).await?;
        }
        Ok::<(), SnapshotError>(())
    });

    for _ in 0..workers {
        let mut reader = AnyReader::connect(source_config).await.map_err(source_error("-"))?;
        let mut routes: HashMap<String, (Route, String)> = HashMap::new();
        let mut sinks: HashMap<String, AnySink> = HashMap::new();
        for job in &jobs {
            let route_config = &route_configs[&job.route];
            routes.insert(job.route.clone(), (build_route(config, route_config).await?, route_config.target.clone()));
            if !sinks.contains_key(&route_config.target) {
                let sink =
                    AnySink::connect(&config.targets[&route_config.target], &config.apply).await.map_err(|source| {
                        SnapshotError::Target { route: job.route.clone(), target: route_config.target.clone(), source }
                    })?;
                sinks.insert(route_config.target.clone(), sink);
            }
        }
        let planned_rx = Arc::clone(&planned_rx);
        let done_tx = done_tx.clone();
        let mut text_paths: HashMap<String, Option<TextPath>> = HashMap::new();
        tasks.spawn(async move {
            loop {
                let chunk = planned_rx.lock().await.recv().await;
                let Some(chunk) = chunk else { return Ok::<(), SnapshotError>(()) };
                let job = &chunk.job;
                let (route, target) = routes.get_mut(&job.route).expect("route prepared");
                let sink = sinks.get_mut(target.as_str()).expect("sink connected");
                let target_error =
                    |source| SnapshotError::Target { route: job.route.clone(), target: target.clone(), source };
                let rows = match copy_text(&mut reader, sink, route, job, &chunk.range, &mut text_paths).await? {
                    Some(rows) => rows,
                    None => {
                        let read = super::reader::read_chunk(&mut reader, job, &chunk.range, false)
                            .await
                            .map_err(|source| SnapshotError::Source { route: job.route.clone(), source })?;
                        let rows = read.read.rows.len() as u64;
                        let writes = chunk_writes(route, &read.schema, read.read.rows)?;
                        sink.load(writes).await.map_err(target_error)?;
                        rows
                    }
                };
                sink.commit_rows().await.map_err(target_error)?;
                let _ = done_tx.send(ChunkDone {
                    job: Arc::clone(job),
                    seq: chunk.seq,
                    rows,
                    through: chunk.range.through.clone(),
                    _permit: chunk.permit,
                });
            }
        });
    }
    drop(done_tx);

    let mut outcome: Result<(), SnapshotError> = Ok(());
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Err(error)) = joined
            && outcome.is_ok()
        {
            outcome = Err(error);
            tasks.abort_all();
        }
    }
    let tracked = tracker.await.expect("tracker task");
    outcome?;
    tracked
}
