//! The running engine's local admin endpoint: a Unix socket in the
//! checkpoint directory (`<checkpoints.path>/admin.sock`, mode 0600).
//!
//! sled lets one process open the checkpoint store, and the running engine
//! holds it; so `sluice backfill` for a config whose engine runs hands its
//! request over here instead of doing the work itself. The protocol is one
//! JSON line per message: the client sends a [`BackfillRequest`]; the engine
//! records a backfill job per route in the store (so it survives a crash
//! and resumes), wakes the sources' pipelines, and answers with
//! [`AdminReply`] lines — `Accepted`, then each job's status as it moves —
//! until every job is done. A [`DeadLetterRequest`] (`sluice dlq retry|drop`)
//! is handed to the route's target writer, which works the dead letters off
//! between source transactions, and is answered with the outcome. Only the
//! local user who can reach the file can connect; nothing listens on the
//! network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_checkpoints::CheckpointStore;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::config::Config;
use crate::guard::retry::{Action, Outcome};
use crate::pipeline::EngineControl;
use crate::snapshot::job::{JobKind, fresh_progress};
use crate::snapshot::progress::JobStatus;

/// Where the engine listens for `config`.
pub(crate) fn socket_path(config: &Config) -> PathBuf {
    config.checkpoints_path.join("admin.sock")
}

/// Copy these routes' tables again (rows matching `filter`, if given).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct BackfillRequest {
    pub(crate) routes: Vec<String>,
    pub(crate) filter: Option<String>,
}

/// Retry or drop a route's dead letters (one source row's, when `source_key` is given).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeadLetterRequest {
    pub(crate) route: String,
    pub(crate) source_key: Option<String>,
    pub(crate) action: Action,
}

/// What a client asks.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum AdminRequest {
    Backfill(BackfillRequest),
    /// The latest status of every snapshot job this engine ran or runs.
    Status,
    DeadLetters(DeadLetterRequest),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum AdminReply {
    /// Answer to `Status`.
    Jobs(Vec<JobStatus>),
    Accepted {
        routes: Vec<String>,
    },
    Status(JobStatus),
    Refused {
        message: String,
    },
    /// Answer to `DeadLetters`.
    DeadLetters(Outcome),
}

/// Records a backfill job per route, unless an unfinished one with the same
/// filter exists (then it resumes). Returns the routes' sources.
pub(crate) async fn record_backfills(
    config: &Config,
    store: &CheckpointStore,
    request: &BackfillRequest,
) -> Result<Vec<String>, String> {
    let mut sources = Vec::new();
    for name in &request.routes {
        let route = config
            .routes
            .iter()
            .find(|r| &r.name == name)
            .ok_or_else(|| format!("no route named {name:?} in this engine's config"))?;
        let existing = store
            .snapshot(&route.source, JobKind::Backfill.as_str(), name)
            .map_err(|e| format!("checkpoint store: {e}"))?;
        let resumable = existing.as_ref().is_some_and(|p| !p.done && p.filter == request.filter);
        if !resumable {
            let progress = fresh_progress(JobKind::Backfill, name, &route.table, request.filter.clone());
            store.save_snapshot(&route.source, &progress).await.map_err(|e| format!("checkpoint store: {e}"))?;
        }
        if !sources.contains(&route.source) {
            sources.push(route.source.clone());
        }
    }
    Ok(sources)
}

/// Listens until the returned task is aborted.
pub(crate) fn serve(
    config: Arc<Config>,
    store: CheckpointStore,
    control: EngineControl,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(&config);
    // A socket file left by a killed engine: we hold the store's lock, so
    // no other engine is listening on it.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    restrict(&path)?;
    tracing::info!(socket = %path.display(), "admin endpoint listening");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let config = Arc::clone(&config);
            let store = store.clone();
            let control = control.clone();
            tokio::spawn(async move {
                if let Err(error) = handle(stream, &config, &store, &control).await {
                    tracing::debug!(%error, "admin connection ended");
                }
            });
        }
    }))
}

fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

async fn send(stream: &mut (impl AsyncWriteExt + Unpin), reply: &AdminReply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).expect("replies serialise");
    line.push(b'\n');
    stream.write_all(&line).await
}

async fn handle(
    stream: UnixStream,
    config: &Config,
    store: &CheckpointStore,
    control: &EngineControl,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let Some(line) = lines.next_line().await? else { return Ok(()) };
    let request: BackfillRequest = match serde_json::from_str(&line) {
        Ok(AdminRequest::Backfill(request)) => request,
        Ok(AdminRequest::Status) => return send(&mut write, &AdminReply::Jobs(control.jobs())).await,
        Ok(AdminRequest::DeadLetters(request)) => {
            let Some(route) = config.routes.iter().find(|r| r.name == request.route) else {
                let message = format!("no route named {:?} in this engine's config", request.route);
                return send(&mut write, &AdminReply::Refused { message }).await;
            };
            tracing::info!(route = %request.route, action = ?request.action, "dead letters requested");
            let answer = control.dead_letters(&route.source, &request.route, request.source_key, request.action).await;
            let reply = match answer {
                Ok(outcome) => AdminReply::DeadLetters(outcome),
                Err(message) => AdminReply::Refused { message },
            };
            return send(&mut write, &reply).await;
        }
        Err(error) => {
            return send(&mut write, &AdminReply::Refused { message: format!("not an admin request: {error}") }).await;
        }
    };
    // Subscribe first: no status update may slip between recording and listening.
    let mut updates = control.subscribe();
    let sources = match record_backfills(config, store, &request).await {
        Ok(sources) => sources,
        Err(message) => return send(&mut write, &AdminReply::Refused { message }).await,
    };
    tracing::info!(routes = ?request.routes, filtered = request.filter.is_some(), "backfill requested");
    for source in &sources {
        control.wake(source);
    }
    send(&mut write, &AdminReply::Accepted { routes: request.routes.clone() }).await?;
    let mut pending: Vec<String> = request.routes.clone();
    while !pending.is_empty() {
        let status = match updates.recv().await {
            Ok(status) => status,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
        };
        if status.kind != JobKind::Backfill.as_str() || !pending.contains(&status.route) {
            continue;
        }
        if status.done {
            pending.retain(|r| r != &status.route);
        }
        send(&mut write, &AdminReply::Status(status)).await?;
    }
    Ok(())
}

/// Hands a dead-letter request to the engine at `path` and waits for the outcome.
pub(crate) async fn request_dead_letters(path: &Path, request: &DeadLetterRequest) -> Result<Outcome, String> {
    match ask(path, &AdminRequest::DeadLetters(request.clone())).await? {
        AdminReply::DeadLetters(outcome) => Ok(outcome),
        AdminReply::Refused { message } => Err(message),
        _ => Err("unexpected answer".into()),
    }
}

/// Asks the engine at `path` for its snapshot jobs' latest status.
pub(crate) async fn request_status(path: &Path) -> Result<Vec<JobStatus>, String> {
    match ask(path, &AdminRequest::Status).await? {
        AdminReply::Jobs(jobs) => Ok(jobs),
        _ => Err("unexpected answer".into()),
    }
}

/// Sends one request and reads one answer.
async fn ask(path: &Path, request: &AdminRequest) -> Result<AdminReply, String> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        format!(
            "the checkpoint store is in use (a sluice engine runs?) but its admin socket {} does not answer: {e}",
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).expect("requests serialise");
    line.push(b'\n');
    write.write_all(&line).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut lines = BufReader::new(read).lines();
    match lines.next_line().await.map_err(|e| format!("reading the engine's answer: {e}"))? {
        Some(line) => serde_json::from_str(&line).map_err(|e| format!("unexpected answer: {e}")),
        None => Err("the engine closed the connection".into()),
    }
}

/// The client side: sends `request` to the engine at `path` and calls
/// `on_status` for each update until every job is done. `Ok(false)` when
/// the engine went away first.
pub(crate) async fn request_backfill(
    path: &Path,
    request: &BackfillRequest,
    mut on_status: impl FnMut(&JobStatus),
) -> Result<bool, String> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        format!(
            "the checkpoint store is in use (a sluice engine runs?) but its admin socket {} does not answer: {e}",
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(&AdminRequest::Backfill(request.clone())).expect("requests serialise");
    line.push(b'\n');
    write.write_all(&line).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut lines = BufReader::new(read).lines();
    let mut pending = request.routes.clone();
    while let Some(line) = lines.next_line().await.map_err(|e| format!("reading the engine's answer: {e}"))? {
        let reply: AdminReply = serde_json::from_str(&line).map_err(|e| format!("unexpected answer: {e}"))?;
        match reply {
            AdminReply::Accepted { .. } | AdminReply::Jobs(_) | AdminReply::DeadLetters(_) => {}
            AdminReply::Refused { message } => return Err(message),
            AdminReply::Status(status) => {
                if status.done {
                    pending.retain(|r| r != &status.route);
                }
                on_status(&status);
                if pending.is_empty() {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}
