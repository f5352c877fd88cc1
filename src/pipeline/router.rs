//! The router: reads the source's events and sends each target writer its
//! share, in log order. Transaction boundaries go to every writer (so each
//! can commit and advance its position even when a transaction touches only
//! other targets); each change goes through every route of its table.
//!
//! On a graceful stop the router finishes the source transaction in flight
//! (so writers can commit what they hold) and then closes the writers' inputs.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{ConnectorError, ErrorKind, Position, SourceEvent, TableName};
use tokio::sync::{mpsc, watch};

use super::chunks::{ChunkWindows, SnapshotMessage};
use super::error::PipelineError;
use super::writer::WriterInput;
use crate::config::TargetConfig;
use crate::route::{Route, RouteError};
use crate::snapshot::SnapshotError;
use crate::snapshot::planner::PlannedChunk;
use crate::snapshot::progress::ChunkDone;

/// The router's snapshot inputs (see `chunks.rs`).
pub(super) struct RouterSnapshots {
    pub(super) windows: ChunkWindows,
    pub(super) planned: mpsc::Receiver<PlannedChunk>,
    pub(super) messages: mpsc::Receiver<SnapshotMessage>,
    /// Asks the source to report progress up to this position soon (closes
    /// chunk windows on an idle source).
    pub(super) progress_wanted: watch::Sender<Option<Position>>,
    /// Routes with a snapshot job to run or resume: copying from the start.
    pub(super) copying: Vec<String>,
    /// The last position the stream passed between transactions.
    pub(super) stream_at: Option<Position>,
}

/// How the router ended without error.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RouterEnd {
    /// Stopped on request, at a transaction boundary.
    Stopped,
    /// A writer's input closed: the writer failed; its error tells why.
    WriterGone(usize),
}

pub(super) struct Router {
    pub(super) source: String,
    /// Routes by source table, each with the index of its writer.
    pub(super) routes: HashMap<TableName, Vec<(Route, usize)>>,
    pub(super) writers: Vec<mpsc::Sender<WriterInput>>,
    /// Per writer: its target's name and config, to describe a target
    /// table again after a schema change.
    pub(super) targets: Vec<(String, TargetConfig)>,
    pub(super) snapshots: RouterSnapshots,
}

#[derive(Debug, thiserror::Error)]
#[error("The source stream ended without an error; the connection was closed")]
struct StreamClosed;

impl sluice_api::HasErrorKind for StreamClosed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Connection
    }
}

impl Router {
    pub(super) async fn run(
        mut self,
        events: &mut mpsc::Receiver<Result<SourceEvent, ConnectorError>>,
        mut stop: watch::Receiver<bool>,
        mut writer_failed: watch::Receiver<bool>,
    ) -> Result<RouterEnd, PipelineError> {
        let mut in_transaction = false;
        let mut stopping = false;
        let mut writes = Vec::new();
        let (mut planned_open, mut messages_open) = (true, true);
        for route in std::mem::take(&mut self.snapshots.copying) {
            if let Some(gone) = self.set_copying(&route, true).await {
                return Ok(RouterEnd::WriterGone(gone));
            }
        }
        loop {
            if stopping && !in_transaction {
                return Ok(RouterEnd::Stopped);
            }
            enum Step {
                Event(Option<Result<SourceEvent, ConnectorError>>),
                Planned(Option<PlannedChunk>),
                Snapshot(Option<SnapshotMessage>),
            }
            let step = tokio::select! {
                biased;
                // A writer that failed must stop the session now, not when
                // the next event happens to be routed to it (an idle binlog
                // may send nothing for a long time).
                _ = writer_failed.wait_for(|f| *f) => return Ok(RouterEnd::WriterGone(usize::MAX)),
                _ = stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    continue;
                }
                planned = self.snapshots.planned.recv(), if planned_open => Step::Planned(planned),
                message = self.snapshots.messages.recv(), if messages_open => Step::Snapshot(message),
                event = events.recv() => Step::Event(event),
            };
            let event = match step {
                Step::Event(event) => event,
                Step::Planned(planned) => {
                    match planned {
                        Some(chunk) => {
                            if chunk.seq == chunk.job.progress.chunks_done
                                && let Some(gone) = self.set_copying(&chunk.job.route, true).await
                            {
                                return Ok(RouterEnd::WriterGone(gone));
                            }
                            self.snapshots.windows.planned(chunk).await;
                        }
                        None => planned_open = false,
                    }
                    continue;
                }
                Step::Snapshot(message) => {
                    match message {
                        Some(SnapshotMessage::Read { id, result: Ok(read) }) => {
                            self.snapshots.windows.arrived(id, read).await;
                            if !in_transaction && let Some(gone) = self.emit_chunks().await? {
                                return Ok(RouterEnd::WriterGone(gone));
                            }
                        }
                        Some(SnapshotMessage::Read { result: Err(source), .. }) => {
                            return Err(PipelineError::Source { name: self.source.clone(), source });
                        }
                        Some(SnapshotMessage::Failed(error)) => return Err(error.into()),
                        None => messages_open = false,
                    }
                    continue;
                }
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(source)) => return Err(PipelineError::Source { name: self.source.clone(), source }),
                None => {
                    return Err(PipelineError::Source {
                        name: self.source.clone(),
                        source: ConnectorError::new(StreamClosed),
                    });
                }
            };
            match event {
                SourceEvent::Begin(transaction) => {
                    in_transaction = true;
                    if let Some(gone) = self.broadcast(|| WriterInput::Begin(Arc::clone(&transaction))).await {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                }
                SourceEvent::Change(mut change) => {
                    let suppressed = if self.snapshots.windows.is_empty() {
                        Vec::new()
                    } else {
                        self.snapshots.windows.observe(&change).await
                    };
                    let Some(routes) = self.routes.get_mut(&change.table.name) else { continue };
                    let last = routes.len() - 1;
                    for (index, (route, writer)) in routes.iter_mut().enumerate() {
                        if suppressed.contains(&route.config.name) {
                            continue;
                        }
                        match route.map(&mut change, index == last, &mut writes) {
                            Ok(()) => {}
                            Err(RouteError::TargetColumnMissing { .. }) => {
                                // The target may have gained the column since it
                                // was described: look again, once.
                                writes.clear();
                                let (name, target) = &self.targets[*writer];
                                let described = crate::connectors::describe_target(target, &route.config.into)
                                    .await
                                    .map_err(|source| PipelineError::Target {
                                        name: name.clone(),
                                        pipeline: self.source.clone(),
                                        source,
                                    })?;
                                if let Some(shape) = described {
                                    tracing::info!(route = %route.config.name, "target table described again after a source schema change");
                                    route.set_target_shape(shape);
                                }
                                route.map(&mut change, index == last, &mut writes)?;
                            }
                            Err(other) => return Err(other.into()),
                        }
                        if writes.is_empty() {
                            continue;
                        }
                        let batch = std::mem::take(&mut writes);
                        if self.writers[*writer].send(WriterInput::Writes(batch)).await.is_err() {
                            return Ok(RouterEnd::WriterGone(*writer));
                        }
                    }
                }
                SourceEvent::Commit { transaction, position } => {
                    in_transaction = false;
                    if let Some(gone) =
                        self.broadcast(|| WriterInput::Commit(Arc::clone(&transaction), position.clone())).await
                    {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                    if let Some(gone) = self.stream_passed(&position).await? {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                }
                SourceEvent::Progress(position) => {
                    if !in_transaction {
                        if let Some(gone) = self.broadcast(|| WriterInput::Progress(position.clone())).await {
                            return Ok(RouterEnd::WriterGone(gone));
                        }
                        if let Some(gone) = self.stream_passed(&position).await? {
                            return Ok(RouterEnd::WriterGone(gone));
                        }
                    }
                }
            }
        }
    }

    /// Between transactions at `position`: close the windows the stream has
    /// left behind, and write the chunks that are ready.
    async fn stream_passed(&mut self, position: &Position) -> Result<Option<usize>, PipelineError> {
        self.snapshots.stream_at = Some(position.clone());
        if self.snapshots.windows.is_empty() {
            return Ok(None);
        }
        self.emit_chunks().await
    }

    /// Sends every ready chunk to its route's writer (between transactions).
    async fn emit_chunks(&mut self) -> Result<Option<usize>, PipelineError> {
        for (chunk, schema, rows) in self.snapshots.windows.take_ready() {
            let job = &chunk.job;
            let count = rows.len() as u64;
            let Some((route, writer)) = self
                .routes
                .get_mut(&job.table)
                .and_then(|routes| routes.iter_mut().find(|(route, _)| route.config.name == job.route))
            else {
                return Err(SnapshotError::Refused {
                    route: job.route.clone(),
                    message: "the route is not part of this pipeline".into(),
                }
                .into());
            };
            let writes = crate::snapshot::once::chunk_writes(route, &schema, rows)?;
            let done = ChunkDone {
                job: Arc::clone(job),
                seq: chunk.seq,
                rows: count,
                through: chunk.range.through.clone(),
                _permit: Arc::clone(&chunk.permit),
            };
            let last = chunk.range.through.is_none();
            if self.writers[*writer].send(WriterInput::Chunk { writes, done }).await.is_err() {
                return Ok(Some(*writer));
            }
            if last && let Some(gone) = self.set_copying(&job.route, false).await {
                return Ok(Some(gone));
            }
        }
        // A window emitted now may already be behind the stream.
        if let Some(at) = &self.snapshots.stream_at {
            self.snapshots.windows.passed(at);
        }
        let wanted = self.snapshots.windows.waiting_for();
        self.snapshots.progress_wanted.send_if_modified(|current| {
            let changed = *current != wanted;
            *current = wanted;
            changed
        });
        Ok(None)
    }

    /// Tells the writer of `route` that a snapshot job copies into its
    /// target table (or no longer does).
    async fn set_copying(&self, route: &str, copying: bool) -> Option<usize> {
        let (route, writer) = self.routes.values().flatten().find(|(r, _)| r.config.name == route)?;
        let input = WriterInput::Copying(route.config.into.clone(), copying);
        self.writers[*writer].send(input).await.is_err().then_some(*writer)
    }

    async fn broadcast(&self, input: impl Fn() -> WriterInput) -> Option<usize> {
        for (index, writer) in self.writers.iter().enumerate() {
            if writer.send(input()).await.is_err() {
                return Some(index);
            }
        }
        None
    }
}
