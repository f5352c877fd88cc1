//! The router: reads the source's events and sends each target writer its
//! share, in log order. Transaction boundaries go to every writer (so each
//! can commit and advance its position even when a transaction touches only
//! other targets); each change goes through every route of its table.
//!
//! On a graceful stop the router finishes the source transaction in flight
//! (so writers can commit what they hold) and then closes the writers' inputs.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{Change, ConnectorError, ErrorKind, Position, SourceEvent, TableName};
use tokio::sync::{mpsc, watch};

use super::DeadLetterCommand;
use super::chunks::{ChunkWindows, SnapshotMessage};
use super::error::PipelineError;
use super::writer::WriterInput;
use crate::config::TargetConfig;
use crate::guard::retry::Action;
use crate::route::{Guarded, Pending, Route, RouteError};
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
    /// Routes whose snapshot job has copied nothing yet: their lookups wait
    /// for it until its first chunk is planned.
    pub(super) not_started: Vec<String>,
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
    /// Scratch space for one route's writes of one change.
    pub(super) pending: Vec<Pending>,
    /// `sluice dlq retry|drop` requests for this source.
    pub(super) commands: tokio::sync::OwnedMutexGuard<mpsc::Receiver<DeadLetterCommand>>,
}

#[derive(Debug, thiserror::Error)]
#[error("The source stream ended without an error; the connection was closed")]
struct StreamClosed;

impl sluice_api::HasErrorKind for StreamClosed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Connection
    }
}

/// Describes a route's target table again (after a source schema change
/// named a column the target seemed to lack).
async fn describe_again(source: &str, target: &(String, TargetConfig), route: &mut Route) -> Result<(), PipelineError> {
    let (name, config) = target;
    let described = crate::connectors::describe_target(config, &route.config.into)
        .await
        .map_err(|error| PipelineError::Target { name: name.clone(), pipeline: source.to_owned(), source: error })?;
    match described {
        Some(shape) => {
            tracing::info!(route = %route.config.name, columns = ?shape.columns,
                "target table described again after a source schema change");
            route.set_target_shape(shape);
        }
        None => tracing::warn!(route = %route.config.name, table = %route.config.into,
            "target table not found when describing it again after a source schema change"),
    }
    Ok(())
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
        // The index of a change in its transaction (dead letters are ordered by it).
        let mut change_index = 0u32;
        let (mut planned_open, mut messages_open, mut commands_open) = (true, true, true);
        for route in std::mem::take(&mut self.snapshots.copying) {
            if let Some(gone) = self.set_copying(&route, true).await {
                return Ok(RouterEnd::WriterGone(gone));
            }
        }
        for route in self.snapshots.not_started.clone() {
            if let Some(gone) = self.defer_lookups(&route, true).await {
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
                Command(Option<DeadLetterCommand>),
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
                command = self.commands.recv(), if !in_transaction && commands_open => Step::Command(command),
                event = events.recv() => Step::Event(event),
            };
            let event = match step {
                Step::Event(event) => event,
                Step::Command(None) => {
                    commands_open = false;
                    continue;
                }
                Step::Command(Some(command)) => {
                    if let Some(gone) = self.dead_letters(command).await {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                    continue;
                }
                Step::Planned(planned) => {
                    match planned {
                        Some(chunk) => {
                            if chunk.seq == chunk.job.progress.chunks_done
                                && let Some(gone) = self.set_copying(&chunk.job.route, true).await
                            {
                                return Ok(RouterEnd::WriterGone(gone));
                            }
                            if let Some(at) = self.snapshots.not_started.iter().position(|r| r == &chunk.job.route) {
                                let route = self.snapshots.not_started.remove(at);
                                if let Some(gone) = self.defer_lookups(&route, false).await {
                                    return Ok(RouterEnd::WriterGone(gone));
                                }
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
                        Some(SnapshotMessage::Read { result: Err(source), .. })
                        | Some(SnapshotMessage::View(Err(source))) => {
                            return Err(PipelineError::Source { name: self.source.clone(), source });
                        }
                        Some(SnapshotMessage::View(Ok(view))) => self.snapshots.windows.view_arrived(&view),
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
                    change_index = 0;
                    if let Some(gone) = self.broadcast(|| WriterInput::Begin(Arc::clone(&transaction))).await {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                }
                SourceEvent::Change(mut change) => {
                    change_index += 1;
                    let observed = if self.snapshots.windows.is_empty() {
                        Vec::new()
                    } else {
                        self.snapshots.windows.observe(&change).await
                    };
                    self.snapshots.windows.delivered(&change);
                    let suppressed: Vec<String> = observed.iter().map(|(route, _)| route.clone()).collect();
                    if let Some(gone) = self.route_change(&mut change, change_index, &suppressed).await? {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                    // A route that must apply only part of the change (a key
                    // change half inside a written chunk) gets that part alone.
                    for (route, part) in observed {
                        let Some(mut part) = part else { continue };
                        let others: Vec<String> = self
                            .routes
                            .get(&part.table.name)
                            .into_iter()
                            .flatten()
                            .map(|(r, _)| r.config.name.to_string())
                            .filter(|name| *name != route)
                            .collect();
                        if let Some(gone) = self.route_change(&mut part, change_index, &others).await? {
                            return Ok(RouterEnd::WriterGone(gone));
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

    /// Maps one change through every route of its table and sends each
    /// writer its share: plain writes, or a guarded change (see
    /// `route::pending`). A dead-letter route's change that cannot be mapped
    /// is sent as such, to be recorded in the target's transaction order.
    async fn route_change(
        &mut self,
        change: &mut Change,
        change_index: u32,
        suppressed: &[String],
    ) -> Result<Option<usize>, PipelineError> {
        let Some(routes) = self.routes.get_mut(&change.table.name) else { return Ok(None) };
        let last = routes.len() - 1;
        let mut origin: Option<Arc<Change>> = None;
        for (index, (route, writer)) in routes.iter_mut().enumerate() {
            if suppressed.contains(&route.config.name) {
                continue;
            }
            let guarded = match route.is_guarded(&change.table) {
                Ok(guarded) => guarded,
                Err(RouteError::TargetColumnMissing { .. }) => {
                    describe_again(&self.source, &self.targets[*writer], route).await?;
                    route.is_guarded(&change.table)?
                }
                Err(other) => return Err(other.into()),
            };
            let dead_letter = route.tag().dead_letter;
            if dead_letter && origin.is_none() {
                origin = Some(Arc::new(change.clone()));
            }
            self.pending.clear();
            let take = index == last && !guarded;
            let outcome = match route.map(change, take, &mut self.pending) {
                Ok(()) => Ok(()),
                Err(RouteError::TargetColumnMissing { .. }) => {
                    // The target may have gained the column since it was
                    // described: look again, once.
                    self.pending.clear();
                    describe_again(&self.source, &self.targets[*writer], route).await?;
                    route.map(change, take, &mut self.pending)
                }
                Err(other) => Err(other),
            };
            let input = if guarded {
                let outcome = match outcome {
                    Ok(()) if self.pending.is_empty() => continue,
                    Ok(()) => Ok(std::mem::take(&mut self.pending)),
                    Err(error @ RouteError::Data { .. }) if dead_letter => Err(error.to_string()),
                    Err(error) => return Err(error.into()),
                };
                let transaction = &change.transaction;
                WriterInput::Guarded(Box::new(Guarded {
                    route: Arc::clone(route.tag()),
                    source_key: route.source_key_text(change).unwrap_or_default(),
                    seq: crate::route::stream_seq(&transaction.position, change_index),
                    origin: origin.clone(),
                    outcome,
                }))
            } else {
                outcome?;
                if self.pending.is_empty() {
                    continue;
                }
                let writes = self
                    .pending
                    .drain(..)
                    .map(|pending| match pending {
                        Pending::Write(write) => write,
                        other => unreachable!("a route that is not guarded made {other:?}"),
                    })
                    .collect();
                WriterInput::Writes(writes)
            };
            if self.writers[*writer].send(input).await.is_err() {
                return Ok(Some(*writer));
            }
        }
        Ok(None)
    }

    /// Hands a dead-letter command to the writer of its route (between
    /// transactions: the select above only takes commands then).
    async fn dead_letters(&mut self, command: DeadLetterCommand) -> Option<usize> {
        let found = self.routes.values().flatten().find(|(route, _)| route.config.name == command.route);
        let Some((route, writer)) = found else {
            let _ = command
                .reply
                .send(Err(format!("no route named {:?} reads from source {}", command.route, self.source)));
            return None;
        };
        if route.config.on_error != crate::config::OnError::DeadLetter && command.action == Action::Retry {
            tracing::info!(route = %route.config.name, "retrying dead letters of a route that now stops on errors");
        }
        let input = WriterInput::DeadLetters { route: Box::new(route.clone()), command };
        self.writers[*writer].send(input).await.is_err().then_some(*writer)
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
        let stream_at = self.snapshots.stream_at.clone();
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
            // A chunk read again after the table was altered carries the new
            // columns: describe the target again first, as for a change.
            if let Err(RouteError::TargetColumnMissing { .. }) = route.is_guarded(&schema) {
                describe_again(&self.source, &self.targets[*writer], route).await?;
            }
            let writes = crate::snapshot::once::chunk_writes(route, &schema, rows, stream_at.as_ref(), chunk.seq)?;
            let done = ChunkDone {
                job: Arc::clone(job),
                seq: chunk.seq,
                rows: count,
                through: chunk.range.through.clone(),
                _permit: Arc::clone(&chunk.permit),
            };
            let last = chunk.range.through.is_none();
            if self.writers[*writer].send(WriterInput::Chunk { rows: writes, done }).await.is_err() {
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

    /// Tells the writer of `route` whether its lookups wait for its snapshot.
    async fn defer_lookups(&self, route: &str, deferring: bool) -> Option<usize> {
        let (route, writer) = self.routes.values().flatten().find(|(r, _)| r.config.name == route)?;
        let input = WriterInput::DeferLookups(Arc::clone(&route.tag().name), deferring);
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
