//! Snapshots alongside the stream (`sluice run`, and `sluice backfill`
//! handed to a running engine): the per-session coordinator, its read
//! workers and its progress tracker.
//!
//! Jobs come from the checkpoint store, which makes them survive crashes:
//! at start every route with `snapshot = "initial"` and no finished initial
//! snapshot gets a job (resumed from its recorded cursor), and every
//! unfinished backfill is resumed. A backfill request is recorded in the
//! store first and then `wake`s the coordinator. Jobs run one after another
//! (each one's chunks spread over the workers), routes with crosswalk lookups
//! after the routes they look up (`RouteConfig::lookup_level`: every chunk of
//! the lower levels is written first); chunk reads go through the
//! router (see `pipeline/chunks.rs`), which opens each chunk's window before
//! the read is requested; when the router asks, a worker also takes a read
//! view alone (which delivered transactions are visible yet).

use std::collections::HashSet;
use std::sync::Arc;

use sluice_checkpoints::CheckpointStore;
use tokio::sync::{Mutex, Notify, Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;

use super::SnapshotError;
use super::job::{self, JobKind, JobRequest};
use super::planner::{self, PlannedChunk};
use super::progress::{self, ChunkDone, JobStatus};
use super::reader::AnyReader;
use crate::config::{Config, SnapshotMode};
use crate::pipeline::chunks::{ReadRequest, SnapshotMessage};

/// The session's ends of the snapshot machinery.
pub(crate) struct LiveSnapshots {
    pub(crate) planned: mpsc::Receiver<PlannedChunk>,
    pub(crate) messages: mpsc::Receiver<SnapshotMessage>,
    pub(crate) reads: mpsc::Sender<ReadRequest>,
    pub(crate) done: mpsc::UnboundedSender<ChunkDone>,
    /// Dropping the set aborts the tasks.
    pub(crate) tasks: JoinSet<()>,
}

/// The jobs the store says `source` still has to run.
pub(crate) fn pending_requests(
    config: &Config,
    source: &str,
    store: &CheckpointStore,
) -> Result<Vec<JobRequest>, SnapshotError> {
    let mut requests = Vec::new();
    for route in config.routes_of_source(source) {
        if route.snapshot == SnapshotMode::Never {
            continue;
        }
        let recorded = store.snapshot(source, JobKind::Initial.as_str(), &route.name)?;
        if recorded.as_ref().is_some_and(|p| p.done) {
            continue;
        }
        requests.push(JobRequest {
            kind: JobKind::Initial,
            route: route.name.clone(),
            table: route.table.clone(),
            filter: None,
            resume: recorded,
        });
    }
    for recorded in store.snapshots(source)? {
        if recorded.kind != JobKind::Backfill.as_str() || recorded.done {
            continue;
        }
        let Some(route) = config.routes_of_source(source).find(|r| r.name == recorded.route) else {
            tracing::warn!(route = %recorded.route, "a recorded backfill names a route the config no longer has; skipped");
            continue;
        };
        requests.push(JobRequest {
            kind: JobKind::Backfill,
            route: route.name.clone(),
            table: route.table.clone(),
            filter: recorded.filter.clone(),
            resume: Some(recorded),
        });
    }
    Ok(requests)
}

/// Starts the coordinator, workers and tracker for `source`.
pub(crate) fn start(
    config: Arc<Config>,
    source: String,
    store: CheckpointStore,
    wake: Arc<Notify>,
    status: broadcast::Sender<JobStatus>,
    copies: &tokio::runtime::Handle,
) -> LiveSnapshots {
    let workers = config.snapshot.workers;
    let (planned_tx, planned) = mpsc::channel(workers);
    let (messages_tx, messages) = mpsc::channel(workers * 2 + 2);
    let (reads, reads_rx) = mpsc::channel::<ReadRequest>(workers * 4);
    let (done, done_rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();

    // Progress.
    let failed = messages_tx.clone();
    let tracker_store = store.clone();
    let tracker_status = status.clone();
    tasks.spawn_on(
        async move {
            if let Err(error) = progress::track(tracker_store, done_rx, tracker_status).await {
                let _ = failed.send(SnapshotMessage::Failed(error)).await;
            }
        },
        copies,
    );

    // Readers: connect on first use (a chunk, or a view the router asks for
    // when many delivered transactions wait to be seen), so a source with
    // nothing to copy costs nothing until then.
    let reads_rx = Arc::new(Mutex::new(reads_rx));
    for _ in 0..workers {
        let reads_rx = Arc::clone(&reads_rx);
        let results = messages_tx.clone();
        let source_config = config.sources[&source].clone();
        tasks.spawn_on(
            async move {
                let mut reader: Option<AnyReader> = None;
                loop {
                    let request = reads_rx.lock().await.recv().await;
                    let Some(request) = request else { return };
                    let message = match request {
                        ReadRequest::Chunk { id, chunk, refresh, delay } => {
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            let result = async {
                                if reader.is_none() {
                                    reader = Some(AnyReader::connect(&source_config).await?);
                                }
                                let reader = reader.as_mut().expect("connected above");
                                super::reader::read_chunk(reader, &chunk.job, &chunk.range, refresh).await
                            }
                            .await;
                            if result.is_err() {
                                reader = None;
                            }
                            SnapshotMessage::Read { id, result }
                        }
                        ReadRequest::View => {
                            let result = async {
                                if reader.is_none() {
                                    reader = Some(AnyReader::connect(&source_config).await?);
                                }
                                sluice_api::SnapshotReader::read_view(reader.as_mut().expect("connected above")).await
                            }
                            .await;
                            if result.is_err() {
                                reader = None;
                            }
                            SnapshotMessage::View(result)
                        }
                    };
                    if results.send(message).await.is_err() {
                        return;
                    }
                }
            },
            copies,
        );
    }

    // Coordinator.
    tasks.spawn_on(
        async move {
            let result = coordinate(&config, &source, &store, &wake, &status, planned_tx).await;
            if let Err(error) = result {
                let _ = messages_tx.send(SnapshotMessage::Failed(error)).await;
            }
        },
        copies,
    );

    LiveSnapshots { planned, messages, reads, done, tasks }
}

async fn coordinate(
    config: &Config,
    source: &str,
    store: &CheckpointStore,
    wake: &Notify,
    status: &broadcast::Sender<JobStatus>,
    planned: mpsc::Sender<PlannedChunk>,
) -> Result<(), SnapshotError> {
    let in_flight = Arc::new(Semaphore::new(config.snapshot.workers * 2));
    let mut started: HashSet<(String, i64)> = HashSet::new();
    let mut reader: Option<AnyReader> = None;
    let permits = u32::try_from(config.snapshot.workers * 2).unwrap_or(u32::MAX);
    let level_of = |route: &str| config.routes.iter().find(|r| r.name == route).map_or(0, |r| r.lookup_level);
    let mut level = 0;
    loop {
        let mut requests = pending_requests(config, source, store)?;
        requests.sort_by_key(|request| level_of(&request.route));
        let mut ran_any = false;
        for request in requests {
            let identity = (
                format!("{}:{}", request.kind.as_str(), request.route),
                request.resume.as_ref().map_or(0, |p| p.started_at_micros),
            );
            if started.contains(&identity) {
                continue;
            }
            started.insert(identity.clone());
            let request_level = level_of(&request.route);
            if request_level > level {
                // Lookups must find the rows they refer to: every chunk of
                // the levels below is written before this one starts.
                drop(in_flight.acquire_many(permits).await.expect("the semaphore is never closed"));
            }
            level = request_level;
            if reader.is_none() {
                reader = Some(
                    AnyReader::connect(&config.sources[source])
                        .await
                        .map_err(|e| SnapshotError::Source { route: request.route.clone(), source: e })?,
                );
            }
            let reader = reader.as_mut().expect("connected above");
            let route_config = config.routes.iter().find(|r| r.name == request.route).expect("route exists");
            let (job, _) =
                job::prepare(source, request, reader, || super::once::build_route(config, route_config)).await?;
            started.insert((job.key_label(), job.progress.started_at_micros));
            tracing::info!(route = %job.route, table = %job.table, kind = job.kind.as_str(),
                estimate = job.estimate, resume_after_chunks = job.progress.chunks_done, "snapshot job starting");
            let _ = status.send(JobStatus::of(&job, &job.progress));
            ran_any = true;
            planner::plan(Arc::new(job), reader, config.snapshot.chunk_rows, Arc::clone(&in_flight), planned.clone())
                .await?;
        }
        if !ran_any {
            wake.notified().await;
        }
    }
}
