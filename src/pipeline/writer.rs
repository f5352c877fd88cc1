//! A target writer: applies one source's routed writes to one target.
//!
//! It receives the source's transaction boundaries (for every transaction,
//! whether or not it touches this target) and the writes routed to it. It
//! skips transactions its target already holds — the position read from the
//! target's offsets table at start — so a replay after a crash has no
//! duplicate effect. Writes go to the sink as they come (bounded memory even
//! for a million-row transaction) inside one open target transaction; the
//! target transaction is committed only at a source commit boundary, so a
//! target never shows half a source transaction. When to commit: when no
//! more input is waiting (low latency when the stream is light) — but not
//! more often than once per `commit_coalesce` (a burst of small source
//! transactions then shares one target commit instead of paying a round
//! trip and a flush each) — or when `max_batch_rows` writes or
//! `max_batch_delay` have accumulated (many source transactions per target
//! commit under load — group commit).
//! After each commit the writer publishes its durable position — once the
//! target has confirmed it. On the plain path (no guarded routes) commits
//! are sent ahead (`Sink::commit_ahead`): the writer goes on with the next
//! transaction while the target commits, and publishes each position when
//! the sink reports its commit confirmed (`Sink::confirmed_commits`); when
//! its input runs dry it settles what is in flight so a light stream's
//! position is published at once. A commit that fails is never published:
//! the writer fails, and the session replays from the last durable
//! position. Guarded routes (crosswalks, dead letters) commit and wait, as
//! the guard's bookkeeping follows each commit.
//!
//! Changes routes hand over as guarded (crosswalk keys, lookups, dead-letter
//! routes) are buffered in order with the plain writes and finished by the
//! writer's [`Guard`] when the buffer is flushed (see `guard`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_api::{Position, RowWrite, Sink, TableName, Transaction};
use tokio::sync::{Notify, mpsc, watch};

use super::DeadLetterCommand;
use super::error::PipelineError;
use crate::connectors::AnySink;
use crate::guard::retry;
use crate::guard::{Guard, GuardError, Item, holds_dead_letter_routes};
use crate::route::{Guarded, Route, RouteError};
use crate::snapshot::progress::ChunkDone;

/// The least time between two commits that only move the position.
const IDLE_PROGRESS_SPACING: Duration = Duration::from_secs(5);

/// What the router sends a writer, in source log order.
#[derive(Debug)]
pub(super) enum WriterInput {
    Begin(Arc<Transaction>),
    Writes(Vec<RowWrite>),
    /// A change the writer finishes itself (see `guard`).
    Guarded(Box<Guarded>),
    Commit(Arc<Transaction>, Position),
    /// Idle progress: an empty transaction at this position.
    Progress(Position),
    /// A snapshot chunk's rows, between source transactions: written and
    /// committed at once, then reported done.
    Chunk {
        rows: ChunkRows,
        done: ChunkDone,
    },
    /// A snapshot job starts (`true`) or finishes (`false`) copying into
    /// this target table (see `Sink::set_copying`).
    Copying(TableName, bool),
    /// A route's snapshot job has not copied anything yet (`true`), or its
    /// first chunk is planned (`false`): see `Guard::defer_lookups`.
    DeferLookups(Arc<str>, bool),
    /// Retry or drop a route's dead letters, between source transactions.
    DeadLetters {
        route: Box<Route>,
        command: DeadLetterCommand,
    },
}

/// A snapshot chunk's rows as a route mapped them.
#[derive(Debug)]
pub(crate) enum ChunkRows {
    /// Upserts the sink may bulk-load.
    Plain(Vec<RowWrite>),
    /// Rows of a guarded route, applied through the writer's guard.
    Guarded(Vec<Item>),
}

/// The writer's buffer: plain writes and guarded changes in source order.
#[derive(Default)]
struct Buffer {
    items: Vec<Item>,
    guarded: bool,
}

impl Buffer {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn extend(&mut self, writes: Vec<RowWrite>) {
        self.items.extend(writes.into_iter().map(Item::Write));
    }

    fn push_guarded(&mut self, change: Box<Guarded>) {
        self.guarded = true;
        self.items.push(Item::Guarded(change));
    }

    fn take(&mut self) -> (Vec<Item>, bool) {
        (std::mem::take(&mut self.items), std::mem::replace(&mut self.guarded, false))
    }
}

/// A position durable in the target, with the commit time of the last
/// transaction in it (µs since 1970, 0 for idle progress).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Durable {
    pub(super) position: Option<Position>,
    pub(super) commit_time_micros: i64,
}

pub(super) struct WriterSettings {
    pub(super) max_batch_rows: usize,
    pub(super) max_batch_delay: Duration,
    pub(super) commit_coalesce: Duration,
    pub(super) max_rows_per_statement: usize,
}

pub(super) struct Writer {
    pub(super) target: String,
    pub(super) pipeline: String,
    pub(super) sink: AnySink,
    pub(super) applied: Option<Position>,
    pub(super) settings: WriterSettings,
    pub(super) input: mpsc::Receiver<WriterInput>,
    pub(super) durable: watch::Sender<Durable>,
    pub(super) notify: Arc<Notify>,
    /// Where committed snapshot chunks are reported.
    pub(super) chunks_done: mpsc::UnboundedSender<ChunkDone>,
    /// Crosswalks and dead letters, when a guarded route writes here.
    pub(super) guard: Option<Guard>,
    /// Commits sent ahead and not yet confirmed by the target, oldest first:
    /// position and commit time.
    pub(super) ahead: VecDeque<(Position, i64)>,
}

/// What the writer's wait for input ended with.
enum Next {
    Input(Option<WriterInput>),
    /// The coalescing deadline passed.
    Deadline,
    /// Everything sent ahead was confirmed.
    Settled,
}

impl Writer {
    fn error(&self, source: sluice_api::ConnectorError) -> PipelineError {
        PipelineError::Target { name: self.target.clone(), pipeline: self.pipeline.clone(), source }
    }

    pub(super) async fn run(mut self) -> Result<(), PipelineError> {
        let mut buffer = Buffer::default();
        let mut in_transaction = false;
        let mut skipping = false;
        let mut open_rows = 0usize;
        let mut open_since: Option<Instant> = None;
        let mut pending: Option<(Position, i64)> = None;
        let mut skipped_transactions = 0u64;

        let mut last_commit: Option<Instant> = None;
        // Set while a due commit waits for the coalescing window to pass.
        let mut coalesce_until: Option<Instant> = None;
        loop {
            self.publish_confirmed();
            let input = match self.next(coalesce_until).await? {
                Next::Input(input) => input,
                Next::Settled => continue,
                Next::Deadline => {
                    coalesce_until = None;
                    if !in_transaction && let Some((position, commit_time)) = pending.take() {
                        self.commit_or_send(&mut buffer, position, commit_time).await?;
                        last_commit = Some(Instant::now());
                        open_rows = 0;
                        open_since = None;
                    }
                    continue;
                }
            };
            let Some(input) = input else { break };
            match input {
                WriterInput::Begin(transaction) => {
                    in_transaction = true;
                    skipping = self.applied.as_ref().is_some_and(|applied| transaction.position.is_covered_by(applied));
                    if skipping {
                        skipped_transactions += 1;
                    } else if open_since.is_none() {
                        open_since = Some(Instant::now());
                    }
                }
                WriterInput::Writes(writes) => {
                    if skipping {
                        continue;
                    }
                    open_rows += writes.len();
                    buffer.extend(writes);
                    if buffer.len() >= self.settings.max_rows_per_statement {
                        self.flush(&mut buffer).await?;
                    }
                }
                WriterInput::Guarded(change) => {
                    if skipping {
                        continue;
                    }
                    open_rows += 1;
                    buffer.push_guarded(change);
                    if buffer.len() >= self.settings.max_rows_per_statement {
                        self.flush(&mut buffer).await?;
                    }
                }
                WriterInput::Commit(transaction, position) => {
                    in_transaction = false;
                    if skipping {
                        skipping = false;
                        continue;
                    }
                    pending = Some((position, transaction.commit_time_micros));
                }
                WriterInput::Copying(table, copying) => {
                    self.sink.set_copying(&table, copying);
                    continue;
                }
                WriterInput::DeferLookups(route, deferring) => {
                    if let Some(guard) = &mut self.guard {
                        guard.defer_lookups(route, deferring);
                    }
                    continue;
                }
                WriterInput::Chunk { rows, done } => {
                    // Between source transactions (the router guarantees it):
                    // stream writes accepted so far go first, then the chunk,
                    // then one commit for both.
                    self.flush(&mut buffer).await?;
                    match rows {
                        ChunkRows::Plain(writes) if !writes.is_empty() => {
                            self.sink.load(writes).await.map_err(|e| self.error(e))?;
                        }
                        ChunkRows::Plain(_) => {}
                        ChunkRows::Guarded(items) => {
                            let isolate = holds_dead_letter_routes(&items);
                            self.apply_guarded(items, isolate).await?;
                        }
                    }
                    self.commit_between(&mut buffer, pending.take()).await?;
                    last_commit = Some(Instant::now());
                    open_rows = 0;
                    open_since = None;
                    coalesce_until = None;
                    let _ = self.chunks_done.send(done);
                    continue;
                }
                WriterInput::DeadLetters { mut route, command } => {
                    // Between source transactions (the router guarantees it).
                    self.flush(&mut buffer).await?;
                    let guard = self.guard.as_mut().expect("a dead-letter route's writer has a guard");
                    let key = command.source_key.as_deref();
                    let worked = retry::work_off(guard, &mut self.sink, &mut route, key, command.action).await;
                    let outcome = match worked {
                        Ok(outcome) => outcome,
                        Err(error) => {
                            let error = match error {
                                GuardError::Sink(error) => self.error(error),
                                GuardError::Mapping { route, message } => {
                                    RouteError::Incomplete { route, message }.into()
                                }
                            };
                            let _ = command.reply.send(Err(crate::redact::chain(&error)));
                            return Err(error);
                        }
                    };
                    self.commit_between(&mut buffer, pending.take()).await?;
                    last_commit = Some(Instant::now());
                    open_rows = 0;
                    open_since = None;
                    coalesce_until = None;
                    tracing::info!(target_name = %self.target, route = %route.config.name, action = ?command.action,
                        done = outcome.done, remaining = outcome.remaining, "dead letters worked off");
                    let _ = command.reply.send(Ok(outcome));
                    continue;
                }
                WriterInput::Progress(position) => {
                    // Progress is an end position like a commit's: nothing new
                    // unless it lies beyond what is applied or pending.
                    let covered = self.applied.as_ref().is_some_and(|applied| position <= *applied)
                        || pending.as_ref().is_some_and(|(p, _)| position <= *p);
                    if !covered {
                        open_since.get_or_insert_with(Instant::now);
                        let commit_time = pending.as_ref().map_or(0, |(_, t)| *t);
                        pending = Some((position, commit_time));
                    }
                }
            }
            if in_transaction || pending.is_none() {
                continue;
            }
            // Nothing written since the last commit: only the position moves
            // (idle progress, transactions for other targets). Such commits
            // are spaced IDLE_PROGRESS_SPACING apart — enough to keep a slot
            // advancing, and it damps the echo between two systems that are
            // each other's source and target (each offsets write is a new
            // transaction in the other's log, which comes back as progress).
            let progress_only = open_rows == 0 && buffer.is_empty();
            let spacing = if progress_only { IDLE_PROGRESS_SPACING } else { self.settings.commit_coalesce };
            let full = !progress_only
                && (open_rows >= self.settings.max_batch_rows
                    || open_since.is_some_and(|since| since.elapsed() >= self.settings.max_batch_delay));
            let idle = self.input.is_empty();
            let recent = last_commit.map(|at| at + spacing).filter(|until| *until > Instant::now());
            if full || (idle && recent.is_none()) {
                let (position, commit_time) = pending.take().expect("checked above");
                self.commit_or_send(&mut buffer, position, commit_time).await?;
                last_commit = Some(Instant::now());
                open_rows = 0;
                open_since = None;
                coalesce_until = None;
            } else if idle {
                coalesce_until = recent;
            }
        }

        // Input closed. The router closes at a transaction boundary on a
        // graceful stop; anything else (mid-transaction) is rolled back and
        // will be replayed from the durable position.
        if in_transaction && !skipping {
            tracing::info!(target_name = %self.target, "stopping mid-transaction; rolling back the open target transaction");
            self.sink.rollback().await.map_err(|e| self.error(e))?;
            if let Some(guard) = &mut self.guard {
                guard.rolled_back();
            }
        } else if let Some((position, commit_time)) = pending.take() {
            self.commit(&mut buffer, position, commit_time).await?;
        }
        self.sink.settle().await.map_err(|e| self.error(e))?;
        self.publish_confirmed();
        if skipped_transactions > 0 {
            tracing::info!(target_name = %self.target, skipped_transactions, "skipped transactions the target already held");
        }
        Ok(())
    }

    /// Commits between source transactions (after a snapshot chunk or dead
    /// letters worked off): with the pending position, else the applied one
    /// again, else without touching the offsets table (nothing applied yet).
    async fn commit_between(
        &mut self,
        buffer: &mut Buffer,
        pending: Option<(Position, i64)>,
    ) -> Result<(), PipelineError> {
        match pending.or_else(|| self.applied.clone().map(|p| (p, 0))) {
            Some((position, commit_time)) => self.commit(buffer, position, commit_time).await,
            None => {
                self.flush(buffer).await?;
                self.sink.commit_rows().await.map_err(|e| self.error(e))?;
                if let Some(guard) = &mut self.guard {
                    guard.committed();
                }
                Ok(())
            }
        }
    }

    /// Sends the buffer to the target (inside the open transaction).
    async fn flush(&mut self, buffer: &mut Buffer) -> Result<(), PipelineError> {
        if buffer.is_empty() {
            return Ok(());
        }
        let (items, guarded) = buffer.take();
        if guarded {
            let isolate = holds_dead_letter_routes(&items);
            return self.apply_guarded(items, isolate).await;
        }
        let writes = items
            .into_iter()
            .map(|item| match item {
                Item::Write(write) => write,
                Item::Guarded(_) => unreachable!("the buffer holds no guarded change"),
            })
            .collect();
        self.sink.write(writes).await.map_err(|e| self.error(e))
    }

    async fn apply_guarded(&mut self, items: Vec<Item>, isolate: bool) -> Result<(), PipelineError> {
        let guard = self.guard.as_mut().expect("a writer receiving guarded changes has a guard");
        match guard.apply(&mut self.sink, items, isolate).await {
            Ok(()) => Ok(()),
            Err(GuardError::Sink(error)) => Err(self.error(error)),
            Err(GuardError::Mapping { route, message }) => Err(RouteError::Incomplete { route, message }.into()),
        }
    }

    /// Commits and waits for the target's confirmation (settling any
    /// commit sent ahead before it), then publishes the position.
    async fn commit(&mut self, buffer: &mut Buffer, position: Position, commit_time: i64) -> Result<(), PipelineError> {
        self.flush(buffer).await?;
        self.sink.commit(&self.pipeline, &position).await.map_err(|e| self.error(e))?;
        if let Some(guard) = &mut self.guard {
            if guard.recorded > 0 {
                tracing::warn!(target_name = %self.target, dead_letters = guard.recorded, "committed with changes recorded as dead letters; see `sluice dlq list`");
            }
            guard.committed();
        }
        // `commit` settled everything before it: the commits sent ahead are
        // confirmed, and this one is later than all of them.
        let _ = self.sink.confirmed_commits();
        self.ahead.clear();
        self.applied = Some(position.clone());
        self.publish(position, commit_time);
        Ok(())
    }

    /// The commit of the plain path: sent ahead without waiting for the
    /// target when no guard needs each commit's outcome (see the module
    /// docs); the position is published once confirmed.
    async fn commit_or_send(
        &mut self,
        buffer: &mut Buffer,
        position: Position,
        commit_time: i64,
    ) -> Result<(), PipelineError> {
        if self.guard.is_some() {
            return self.commit(buffer, position, commit_time).await;
        }
        self.flush(buffer).await?;
        let confirmed = self.sink.commit_ahead(&self.pipeline, &position).await.map_err(|e| self.error(e))?;
        // Replays of this transaction are skipped from now on; durable
        // only once confirmed.
        self.applied = Some(position.clone());
        self.ahead.push_back((position, commit_time));
        if confirmed {
            // Confirmed already: so is everything sent before it.
            let _ = self.sink.confirmed_commits();
            if let Some((position, commit_time)) = self.ahead.pop_back() {
                self.ahead.clear();
                self.publish(position, commit_time);
            }
        }
        Ok(())
    }

    /// Publishes the positions of the commits the sink has confirmed since
    /// the last call.
    fn publish_confirmed(&mut self) {
        let confirmed = self.sink.confirmed_commits().min(self.ahead.len());
        if confirmed == 0 {
            return;
        }
        let last = self.ahead.drain(..confirmed).next_back().expect("at least one confirmed");
        self.publish(last.0, last.1);
    }

    fn publish(&mut self, position: Position, commit_time: i64) {
        self.durable.send_replace(Durable { position: Some(position), commit_time_micros: commit_time });
        self.notify.notify_one();
    }

    /// Waits for the next input, the coalescing deadline, or — with
    /// commits in flight and nothing to do meanwhile — their confirmation.
    /// Input wins when it is there: under load, commits are confirmed by
    /// the sink calls that follow them.
    async fn next(&mut self, deadline: Option<Instant>) -> Result<Next, PipelineError> {
        let deadline_passed = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        let awaiting = !self.ahead.is_empty();
        let (input, sink) = (&mut self.input, &mut self.sink);
        let settled = tokio::select! {
            biased;
            input = input.recv() => return Ok(Next::Input(input)),
            settled = sink.settle(), if awaiting => settled,
            () = deadline_passed => return Ok(Next::Deadline),
        };
        settled.map_err(|e| self.error(e))?;
        Ok(Next::Settled)
    }
}
