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
use std::sync::Arc;

use sluice_api::{Change, Operation, Position, Row, Sink, TableSchema, Transaction};
use sluice_checkpoints::CheckpointStore;
use tokio::sync::{Mutex, Semaphore, broadcast, mpsc};

use super::SnapshotError;
use super::job::{self, Job, JobRequest};
use super::planner::{self, PlannedChunk};
use super::progress::{self, ChunkDone, JobStatus};
use super::reader::AnyReader;
use crate::config::{Config, RouteConfig};
use crate::connectors::{self, AnySink};
use crate::guard::{Guard, GuardError, Item, holds_dead_letter_routes};
use crate::pipeline::ChunkRows;
use crate::route::{Guarded, Pending, Route, RouteError};

/// Maps a chunk's rows through `route` into upserts for its target, as
/// inserts of a transaction at `at` (the stream position the chunk is
/// written after; `commit_time()` is the time of the mapping). Rows of a
/// guarded route become guarded changes ordered for dead letters by
/// [`crate::route::chunk_seq`].
pub(crate) fn chunk_writes(
    route: &mut Route,
    schema: &Arc<TableSchema>,
    rows: Vec<Row>,
    at: Option<&Position>,
    chunk_seq: u64,
) -> Result<ChunkRows, RouteError> {
    let transaction = Arc::new(Transaction {
        id: "snapshot".into(),
        position: at.cloned().unwrap_or(Position::Postgres(sluice_api::Lsn(0))),
        commit_time_micros: crate::snapshot::job::now_micros(),
        origin: None,
    });
    let guarded = route.is_guarded(schema)?;
    let dead_letter = route.tag().dead_letter;
    let mut pending = Vec::new();
    let mut writes = Vec::with_capacity(rows.len());
    let mut items = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        let mut change = Change {
            transaction: Arc::clone(&transaction),
            table: Arc::clone(schema),
            operation: Operation::Insert,
            before: None,
            after: Some(row),
        };
        if !guarded {
            route.map(&mut change, true, &mut pending)?;
            writes.extend(pending.drain(..).map(|write| match write {
                Pending::Write(write) => write,
                other => unreachable!("a route that is not guarded made {other:?}"),
            }));
            continue;
        }
        let origin = dead_letter.then(|| Arc::new(change.clone()));
        let outcome = match route.map(&mut change, false, &mut pending) {
            Ok(()) if pending.is_empty() => continue,
            Ok(()) => Ok(std::mem::take(&mut pending)),
            Err(error @ RouteError::Data { .. }) if dead_letter => Err(error.to_string()),
            Err(error) => return Err(error),
        };
        items.push(Item::Guarded(Box::new(Guarded {
            route: Arc::clone(route.tag()),
            source_key: route.source_key_text(&change).unwrap_or_default(),
            seq: crate::route::chunk_seq(at, chunk_seq, index),
            origin,
            outcome,
        })));
    }
    Ok(if guarded { ChunkRows::Guarded(items) } else { ChunkRows::Plain(writes) })
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
    Ok(Route::new(route.clone(), shape, primary_key, config.maps.clone())?)
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
        // Only renames may move undecoded text: anything computed, filtered
        // or finished by the writer needs the values.
        let Some(sources) = resolved.plain_sources().filter(|_| !route.is_guarded(&job.schema).unwrap_or(true)) else {
            paths.insert(job.route.clone(), None);
            return Ok(None);
        };
        let names: Vec<&str> = sources.iter().map(|&i| job.schema.columns[i].name.as_str()).collect();
        let types = reader.column_type_names(&job.table, &names).await.map_err(source_error)?;
        let path = TextPath { columns: sources.to_vec(), types, target: Arc::clone(&resolved.target) };
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
        let (job, _) = job::prepare(source, request, &mut planner_reader, || build_route(config, route_config)).await?;
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
    let mut plan_jobs: Vec<(usize, Arc<Job>)> =
        jobs.iter().map(|job| (route_configs[&job.route].lookup_level, Arc::clone(job))).collect();
    plan_jobs.sort_by_key(|(level, _)| *level);
    let permits = u32::try_from(workers * 2).unwrap_or(u32::MAX);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move {
        let mut level = 0;
        for (job_level, job) in plan_jobs {
            if job_level > level {
                // Lookups must find the rows they refer to: every chunk of
                // the levels below is written before this one starts.
                drop(in_flight.acquire_many(permits).await.expect("the semaphore is never closed"));
                level = job_level;
            }
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
        let mut guards: HashMap<String, Guard> = HashMap::new();
        let source_name = source.to_owned();
        let owned_tables: HashMap<String, sluice_api::owned::OwnedTables> =
            config.targets.iter().map(|(name, target)| (name.clone(), target.owned().clone())).collect();
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
                        match chunk_writes(route, &read.schema, read.read.rows, None, chunk.seq)? {
                            ChunkRows::Plain(writes) => sink.load(writes).await.map_err(target_error)?,
                            ChunkRows::Guarded(items) => {
                                if !guards.contains_key(target.as_str()) {
                                    let owned = &owned_tables[target.as_str()];
                                    let guard =
                                        Guard::load(sink, owned, &source_name, true).await.map_err(target_error)?;
                                    guards.insert(target.clone(), guard);
                                }
                                let guard = guards.get_mut(target.as_str()).expect("loaded above");
                                let isolate = holds_dead_letter_routes(&items);
                                match guard.apply(sink, items, isolate).await {
                                    Ok(()) => {}
                                    Err(GuardError::Sink(source)) => return Err(target_error(source)),
                                    Err(GuardError::Mapping { route, message }) => {
                                        return Err(RouteError::Incomplete { route, message }.into());
                                    }
                                }
                            }
                        }
                        rows
                    }
                };
                sink.commit_rows().await.map_err(target_error)?;
                if let Some(guard) = guards.get_mut(target.as_str()) {
                    guard.committed();
                }
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
