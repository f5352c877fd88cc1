//! The replication runtime: one supervised pipeline per source.
//!
//! Each source's pipeline is a session (see `session.rs`): source task →
//! router → one writer per target → acknowledger. The supervisor restarts a
//! failed session with exponential backoff when the error is retryable
//! (connection, protocol), and stops everything on any other error.
//! A stop request (SIGINT/SIGTERM) lets each session finish the source
//! transaction in flight, commit, acknowledge and return.
//!
//! Each source's pipeline runs on a thread of its own, on a single-threaded
//! runtime: the source task, router, writers and acknowledger hand every
//! change from task to task, and on one thread a hand-over is a queue push
//! and the next task runs with the data still in cache. On the shared
//! multi-threaded runtime each hand-over to a parked task woke another
//! worker thread (a futex wake and two context switches), several times per
//! source transaction; with one-row transactions, Sluice's CPU per
//! transaction on one thread is about 40 % lower, and the walsender's is
//! lower too (docs/BENCHMARKS.md, session 6). Sources
//! still run in parallel, one thread each; snapshot readers stay on the
//! main runtime ([`EngineControl::copies`]), so copies use every core.

mod acknowledger;
pub(crate) mod chunks;
mod error;
mod router;
mod session;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_api::{ErrorKind, HasErrorKind};
use sluice_checkpoints::CheckpointStore;
use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};

pub use error::PipelineError;
pub(crate) use writer::ChunkRows;

use crate::config::Config;
use crate::guard::retry::{Action, Outcome};
use crate::snapshot::progress::JobStatus;

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A session that ran this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// Consecutive protocol errors before giving up (a restart rarely fixes them).
const MAX_PROTOCOL_RETRIES: u32 = 5;

/// A `sluice dlq retry|drop` handed to the running engine: its source's
/// router passes it to the route's target writer between transactions.
#[derive(Debug)]
pub(crate) struct DeadLetterCommand {
    pub(crate) route: String,
    pub(crate) source_key: Option<String>,
    pub(crate) action: Action,
    pub(crate) reply: oneshot::Sender<Result<Outcome, String>>,
}

/// One source's queue of dead-letter commands; each session's router takes
/// the receiving end for as long as it runs.
#[derive(Clone)]
pub(crate) struct CommandQueue {
    sender: mpsc::Sender<DeadLetterCommand>,
    pub(crate) receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<DeadLetterCommand>>>,
}

/// What the outside (the admin endpoint, progress displays) may reach in a
/// running engine: snapshot job status, a wake-up per source for newly
/// recorded backfill requests, and a queue per source for dead-letter commands.
#[derive(Clone)]
pub struct EngineControl {
    pub(crate) status: broadcast::Sender<JobStatus>,
    pub(crate) wakes: Arc<HashMap<String, Arc<Notify>>>,
    pub(crate) commands: Arc<HashMap<String, CommandQueue>>,
    /// The latest status per job (`kind:route`), for `sluice status`.
    latest: Arc<std::sync::Mutex<std::collections::BTreeMap<String, JobStatus>>>,
    /// The multi-threaded runtime the engine was started on: snapshot
    /// readers run there, not on their pipeline's own thread.
    pub(crate) copies: tokio::runtime::Handle,
}

impl EngineControl {
    pub fn new(config: &Config) -> EngineControl {
        let (status, _) = broadcast::channel::<JobStatus>(1024);
        let wakes = config.sources.keys().map(|name| (name.clone(), Arc::new(Notify::new()))).collect();
        let commands = config
            .sources
            .keys()
            .map(|name| {
                let (sender, receiver) = mpsc::channel(16);
                (name.clone(), CommandQueue { sender, receiver: Arc::new(tokio::sync::Mutex::new(receiver)) })
            })
            .collect();
        let latest = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let mut updates: broadcast::Receiver<JobStatus> = status.subscribe();
        let keep = Arc::clone(&latest);
        tokio::spawn(async move {
            loop {
                match updates.recv().await {
                    Ok(update) => {
                        let key = format!("{}:{}", update.kind, update.route);
                        keep.lock().expect("status map").insert(key, update);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let copies = tokio::runtime::Handle::current();
        EngineControl { status, wakes: Arc::new(wakes), commands: Arc::new(commands), latest, copies }
    }

    /// The latest status of every snapshot job seen since start.
    pub(crate) fn jobs(&self) -> Vec<JobStatus> {
        self.latest.lock().expect("status map").values().cloned().collect()
    }

    /// Snapshot job updates as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<JobStatus> {
        self.status.subscribe()
    }

    /// Hands a dead-letter command to `source`'s pipeline and waits for its answer.
    pub(crate) async fn dead_letters(
        &self,
        source: &str,
        route: &str,
        source_key: Option<String>,
        action: Action,
    ) -> Result<Outcome, String> {
        let queue = self.commands.get(source).ok_or_else(|| format!("no source named {source:?}"))?;
        let (reply, answer) = oneshot::channel();
        let command = DeadLetterCommand { route: route.to_owned(), source_key, action, reply };
        queue.sender.send(command).await.map_err(|_| "the engine is stopping".to_owned())?;
        answer.await.map_err(|_| "the pipeline restarted before answering; run the command again".to_owned())?
    }

    /// Tells `source`'s pipeline that the store holds a new backfill request.
    pub fn wake(&self, source: &str) {
        if let Some(wake) = self.wakes.get(source) {
            wake.notify_one();
        }
    }
}

/// Runs every source's pipeline until `stop` turns true or one fails for good.
pub async fn run(
    config: Arc<Config>,
    store: CheckpointStore,
    control: EngineControl,
    stop: watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let mut tasks = tokio::task::JoinSet::new();
    let (fail_tx, _) = watch::channel(false);
    let names: Vec<String> = config.sources.keys().cloned().collect();
    for source in names {
        let config = Arc::clone(&config);
        let store = store.clone();
        let control = control.clone();
        let mut stop = stop.clone();
        let fail_tx = fail_tx.clone();
        // A source that fails for good stops the others too.
        let mut fail_rx = fail_tx.subscribe();
        let (session_stop_tx, session_stop_rx) = watch::channel(false);
        tasks.spawn(async move {
            let forward = async move {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => {}
                    _ = fail_rx.wait_for(|f| *f) => {}
                }
                session_stop_tx.send_replace(true);
            };
            let forwarder = tokio::spawn(forward);
            let result = on_pipeline_thread(config, source, store, control, session_stop_rx).await;
            forwarder.abort();
            if result.is_err() {
                fail_tx.send_replace(true);
            }
            result
        });
    }
    let mut outcome = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|join| {
            Err(PipelineError::Setup { source_name: "?".into(), message: format!("pipeline task failed: {join}") })
        });
        if let Err(error) = result
            && outcome.is_ok()
        {
            outcome = Err(error);
        }
    }
    outcome
}

/// Runs `source`'s supervised pipeline on a thread of its own with a
/// single-threaded runtime (see the module docs), until it returns.
async fn on_pipeline_thread(
    config: Arc<Config>,
    source: String,
    store: CheckpointStore,
    control: EngineControl,
    stop: watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let setup_error = |source: &str, message: String| PipelineError::Setup { source_name: source.to_owned(), message };
    let (done_tx, done_rx) = oneshot::channel();
    let name = source.clone();
    // Linux keeps 15 bytes of a thread name.
    let thread_name: String = format!("sluice-{source}").chars().take(15).collect();
    let spawned = std::thread::Builder::new().name(thread_name).spawn(move || {
        let result = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(supervise(&config, &source, &store, &control, stop)),
            Err(error) => Err(setup_error(&source, format!("cannot start the pipeline's runtime: {error}"))),
        };
        // The runtime is dropped here, on its own thread: tasks still on it
        // (a source task that outlived its session) are cancelled.
        let _ = done_tx.send(result);
    });
    if let Err(error) = spawned {
        return Err(setup_error(&name, format!("cannot start the pipeline's thread: {error}")));
    }
    done_rx
        .await
        .unwrap_or_else(|_| Err(setup_error(&name, "the pipeline's thread panicked; see the log above".into())))
}

async fn supervise(
    config: &Arc<Config>,
    source: &str,
    store: &CheckpointStore,
    control: &EngineControl,
    stop: watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let mut backoff = BACKOFF_START;
    let mut protocol_failures = 0;
    loop {
        let started = Instant::now();
        let result = session::run_session(config, source, store, control, stop.clone()).await;
        if *stop.borrow() && result.is_ok() {
            return Ok(());
        }
        let error = match result {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if *stop.borrow() {
            // Stopping anyway: report, don't retry.
            return Err(error);
        }
        let kind = error.kind();
        if !kind.is_retryable() {
            return Err(error);
        }
        if started.elapsed() >= HEALTHY_AFTER {
            backoff = BACKOFF_START;
            protocol_failures = 0;
        }
        if kind == ErrorKind::Protocol {
            protocol_failures += 1;
            if protocol_failures > MAX_PROTOCOL_RETRIES {
                return Err(error);
            }
        }
        tracing::warn!(source, error = %error_chain(&error), retry_in_ms = backoff.as_millis() as u64, "pipeline failed; restarting");
        let mut stop_wait = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop_wait.wait_for(|s| *s) => return Ok(()),
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// `error: cause: cause…` on one line, for logs; row values are dropped
/// from database errors (see `redact.rs`).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    crate::redact::chain(error)
}
