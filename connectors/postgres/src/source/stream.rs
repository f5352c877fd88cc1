//! The running source: reads the replication stream, turns pgoutput
//! messages into `SourceEvent`s on a bounded channel, and — concurrently, in
//! the same task — sends standby status updates (`status.rs`).
//!
//! # Positions
//!
//! Every position is an exclusive bound in the server's own terms: "every
//! transaction whose commit record starts before this LSN". That is what
//! the walsender means by a start point or a confirmed flush position (it
//! skips a transaction whose commit LSN is below it), so a durable position
//! is reported to the slot unchanged (`status.rs`).
//! - Commit: `position` = the Commit's `end_lsn`, just past the commit
//!   record. The next transaction's commit record starts at or after it.
//! - Transaction (known at Begin, the same `Arc` at Commit): `final_lsn`,
//!   the commit record's LSN (equal to Commit's `commit_lsn`; `end_lsn` is
//!   unknown until Commit). `Position::is_covered_by` is strict ("its commit
//!   record starts before `applied`"): a transaction whose commit record
//!   directly follows the last applied one (commit LSN == previous
//!   `end_lsn`, common with interleaved transactions) is not covered.
//! - Progress: a keepalive's WAL end (below).
//!
//! Begin is emitted lazily, at the first change of a routed table: the
//! Origin message (loop prevention) comes right after Begin and belongs in
//! the `Transaction`. A transaction without routed changes emits no events;
//! it only moves idle progress forward.
//!
//! # Idle progress
//!
//! A slot only advances when Sluice reports progress, and an idle database
//! (or one whose writes touch no routed table) produces no commits to
//! report. So outside a transaction, when a keepalive's WAL end W is beyond
//! the last emitted position, `Progress(W)` is emitted, at most once per
//! second. That is safe: W is the walsender's sent position, the end of the
//! last WAL record it decoded, so every transaction whose commit record
//! starts before W has already been sent to us (and emitted, since we are
//! between transactions); one starting exactly at W is not covered by W.
//! Transactions still in progress at W are not lost either: the slot's
//! `restart_lsn` keeps their WAL until they commit, whatever the confirmed
//! position.
//!
//! # Errors
//!
//! Any error ends the stream: it is sent on the channel as a
//! `ConnectorError` and the task stops. A lost connection or server
//! restart has kind `Connection`; the engine restarts the source from the
//! durable position with backoff (there is no reconnect loop in here).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sluice_api::{Change, ConnectorError, Lsn, Operation, Position, SourceEvent, TableName, TableSchema, Transaction};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_postgres::Client;

use super::catalog::{self, ResolvedType, TypeResolver};
use super::pgoutput::{self, Begin, Commit, OldTuple, PgOutputMessage, RelationMessage, ReplicationMessage, Tuple};
use super::relations::{self, IDENTITY_FULL, RelationCache};
use super::wire::{BoxedStream, COPY_DATA, COPY_DONE, FrameReader, FrameWriter, unexpected};
use crate::error::PostgresError;

/// Idle progress is emitted at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(crate) type EventSender = mpsc::Sender<Result<SourceEvent, ConnectorError>>;

/// Everything the stream task owns.
pub(crate) struct StreamTask {
    pub(crate) reader: FrameReader<ReadHalf<BoxedStream>>,
    pub(crate) writer: FrameWriter<WriteHalf<BoxedStream>>,
    pub(crate) endpoint: String,
    /// Ordinary connection for catalog lookups.
    pub(crate) client: Client,
    pub(crate) events: EventSender,
    pub(crate) durable: watch::Receiver<Option<Position>>,
    /// See `SourceStream::progress_wanted`.
    pub(crate) wanted: watch::Receiver<Option<Position>>,
    /// The flush LSN reported until something is durable.
    pub(crate) start: Lsn,
    /// Transactions whose commit record starts before this LSN are already in every target.
    pub(crate) resume: Option<Lsn>,
    /// Routed tables; changes of other tables are dropped (empty: keep all).
    pub(crate) tables: HashSet<TableName>,
    pub(crate) status_interval: Duration,
}

/// Why the reader stopped.
enum Stop {
    /// The engine dropped the events receiver.
    Closed,
    Failed(PostgresError),
}

impl From<PostgresError> for Stop {
    fn from(error: PostgresError) -> Stop {
        Stop::Failed(error)
    }
}

/// The transaction being read.
struct OpenTransaction {
    begin: Begin,
    origin: Option<String>,
    /// Already in every target (`resume` covers it): read, emit nothing.
    covered: bool,
    /// Set once Begin has been emitted.
    emitted: Option<Arc<Transaction>>,
}

impl StreamTask {
    /// Runs until the connection fails or the engine drops the receiver.
    pub(crate) async fn run(self) {
        let StreamTask {
            mut reader,
            mut writer,
            endpoint,
            client,
            events,
            durable,
            wanted,
            start,
            resume,
            tables,
            status_interval,
        } = self;
        let reply = Arc::new(Notify::new());
        let mut decoder = Decoder {
            client,
            events: events.clone(),
            types: TypeResolver::default(),
            relations: RelationCache::default(),
            announced: HashMap::new(),
            resume,
            tables,
            last_position: start,
            last_progress: None,
            transaction: None,
            wanted: wanted.clone(),
        };
        let read = decoder.read_loop(&mut reader, &endpoint, Arc::clone(&reply));
        let final_durable = durable.clone();
        let status = super::status::run(&mut writer, durable, wanted, start, status_interval, reply);
        let outcome = tokio::select! {
            outcome = read => outcome,
            outcome = status => outcome.map_err(Stop::Failed),
            // Without this an idle stream would hold the slot until its next event.
            () = events.closed() => Err(Stop::Closed),
        };
        if matches!(outcome, Ok(()) | Err(Stop::Closed)) {
            // The engine publishes its final durable position before it
            // drops the events receiver; the status loop may have been
            // waiting out its minimum gap and never sent it. Send it now, or
            // the slot keeps WAL (and a restart replays) for nothing.
            let flush = super::status::flush_lsn(final_durable.borrow().as_ref(), start);
            let sent =
                writer.send(|buf| super::status::encode_status(buf, flush, super::status::now_pg_micros(), false));
            if let Err(error) = sent.await {
                tracing::debug!(%error, "final status update not sent");
            }
        }
        match outcome {
            Ok(()) | Err(Stop::Closed) => tracing::info!(%endpoint, "postgres source stopped: events receiver dropped"),
            Err(Stop::Failed(error)) => {
                tracing::warn!(%endpoint, %error, "postgres source stream ended");
                let _ = events.send(Err(ConnectorError::from(error))).await;
            }
        }
    }
}

struct Decoder {
    client: Client,
    events: EventSender,
    types: TypeResolver,
    relations: RelationCache,
    /// The last Relation message per OID, to rebuild a schema after a type change.
    announced: HashMap<u32, RelationMessage>,
    resume: Option<Lsn>,
    tables: HashSet<TableName>,
    /// The highest position emitted (or known durable at start).
    last_position: Lsn,
    last_progress: Option<Instant>,
    transaction: Option<OpenTransaction>,
    /// A position the engine waits for: progress past it is urgent.
    wanted: watch::Receiver<Option<Position>>,
}

impl Decoder {
    async fn read_loop(
        &mut self,
        reader: &mut FrameReader<ReadHalf<BoxedStream>>,
        endpoint: &str,
        reply: Arc<Notify>,
    ) -> Result<(), Stop> {
        loop {
            let frame = reader.next().await?;
            match frame.tag {
                COPY_DATA => match pgoutput::decode(frame.body)? {
                    ReplicationMessage::XLogData { message, .. } => self.handle(message).await?,
                    ReplicationMessage::Keepalive { wal_end, reply_requested, .. } => {
                        if reply_requested {
                            reply.notify_one();
                        }
                        self.keepalive(wal_end, reply_requested).await?;
                    }
                },
                // Notices and parameter changes may arrive at any time.
                b'N' | b'S' => {}
                // CopyDone / CommandComplete / ReadyForQuery: the server ended streaming (shutdown).
                COPY_DONE | b'C' | b'Z' => {
                    return Err(Stop::Failed(PostgresError::Io {
                        endpoint: endpoint.to_owned(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "the server ended the replication stream",
                        ),
                    }));
                }
                _ => return Err(Stop::Failed(unexpected(&frame, "replication streaming"))),
            }
        }
    }

    async fn emit(&self, event: SourceEvent) -> Result<(), Stop> {
        self.events.send(Ok(event)).await.map_err(|_| Stop::Closed)
    }

    async fn handle(&mut self, message: PgOutputMessage) -> Result<(), Stop> {
        match message {
            PgOutputMessage::Begin(begin) => {
                if self.transaction.is_some() {
                    return Err(protocol("Begin inside an open transaction").into());
                }
                // Its commit record starts before the resume point: already in every target.
                let covered = self.resume.is_some_and(|resume| begin.final_lsn < resume);
                self.transaction = Some(OpenTransaction { begin, origin: None, covered, emitted: None });
            }
            PgOutputMessage::Origin { name, .. } => {
                if let Some(open) = self.transaction.as_mut()
                    && open.emitted.is_none()
                {
                    open.origin = Some(name);
                }
            }
            PgOutputMessage::Commit(commit) => self.commit(commit).await?,
            PgOutputMessage::Relation(relation) => {
                self.relation(relation).await?;
            }
            PgOutputMessage::Type { oid, .. } => self.types.forget(oid),
            PgOutputMessage::Insert { relation, new } => {
                if let Some(table) = self.routed(relation)? {
                    let after = self.decode_with_refresh(relation, table, |t| relations::decode_row(t, &new)).await?;
                    self.change(after.0, Operation::Insert, None, Some(after.1)).await?;
                }
            }
            PgOutputMessage::Update { relation, old, new } => {
                if let Some(table) = self.routed(relation)? {
                    let (table, (before, after)) = self
                        .decode_with_refresh(relation, table, |t| relations::decode_update(t, old.as_ref(), &new))
                        .await?;
                    self.change(table, Operation::Update, before, Some(after)).await?;
                }
            }
            PgOutputMessage::Delete { relation, old } => {
                if let Some(table) = self.routed(relation)? {
                    let before = self.decode_with_refresh(relation, table, |t| decode_old(t, &old)).await?;
                    self.change(before.0, Operation::Delete, Some(before.1), None).await?;
                }
            }
            PgOutputMessage::Truncate { relations, .. } => {
                for relation in relations {
                    if let Some(table) = self.routed(relation)? {
                        self.change(table, Operation::Truncate, None, None).await?;
                    }
                }
            }
            // Logical decoding messages are not requested; ignore any that come.
            PgOutputMessage::Message { .. } => {}
        }
        Ok(())
    }

    /// The schema of a relation when its change must be emitted: inside an
    /// uncovered transaction, for a routed table.
    fn routed(&self, relation: u32) -> Result<Option<Arc<TableSchema>>, PostgresError> {
        let open = self.transaction.as_ref().ok_or_else(|| protocol("a change outside a transaction"))?;
        let table = self.relations.get(relation)?;
        if open.covered || (!self.tables.is_empty() && !self.tables.contains(&table.name)) {
            return Ok(None);
        }
        Ok(Some(Arc::clone(table)))
    }

    /// Decodes with the current schema; if a value does not decode and the
    /// table has enum columns (a label may have been added since the schema
    /// was read), re-reads the types once and retries.
    async fn decode_with_refresh<T>(
        &mut self,
        relation: u32,
        table: Arc<TableSchema>,
        decode: impl Fn(&TableSchema) -> Result<T, PostgresError>,
    ) -> Result<(Arc<TableSchema>, T), PostgresError> {
        match decode(&table) {
            Ok(value) => Ok((table, value)),
            Err(PostgresError::Value { .. })
                if table.columns.iter().any(|c| matches!(c.column_type, sluice_api::ColumnType::Enum { .. })) =>
            {
                // Enum types may sit inside arrays and domains: re-read them all.
                self.types = TypeResolver::default();
                let announced = self.announced.get(&relation).cloned().ok_or_else(|| protocol("unknown relation"))?;
                let table = self.relation(announced).await?;
                let value = decode(&table)?;
                Ok((table, value))
            }
            Err(error) => Err(error),
        }
    }

    async fn change(
        &mut self,
        table: Arc<TableSchema>,
        operation: Operation,
        before: Option<sluice_api::Row>,
        after: Option<sluice_api::Row>,
    ) -> Result<(), Stop> {
        let transaction = self.begin_if_needed().await?;
        self.emit(SourceEvent::Change(Change { transaction, table, operation, before, after })).await
    }

    /// Emits Begin for the open transaction unless done already.
    async fn begin_if_needed(&mut self) -> Result<Arc<Transaction>, Stop> {
        let open = self.transaction.as_mut().ok_or_else(|| protocol("a change outside a transaction"))?;
        if let Some(transaction) = &open.emitted {
            return Ok(Arc::clone(transaction));
        }
        let transaction = Arc::new(Transaction {
            id: open.begin.xid.to_string(),
            position: Position::Postgres(open.begin.final_lsn),
            commit_time_micros: open.begin.commit_time.saturating_add(super::status::PG_EPOCH_OFFSET_MICROS),
            origin: open.origin.take(),
        });
        open.emitted = Some(Arc::clone(&transaction));
        self.emit(SourceEvent::Begin(Arc::clone(&transaction))).await?;
        Ok(transaction)
    }

    async fn commit(&mut self, commit: Commit) -> Result<(), Stop> {
        let open = self.transaction.take().ok_or_else(|| protocol("Commit outside a transaction"))?;
        if commit.commit_lsn != open.begin.final_lsn {
            return Err(protocol(&format!(
                "Commit LSN {} differs from the Begin's final LSN {}",
                commit.commit_lsn, open.begin.final_lsn
            ))
            .into());
        }
        if open.covered {
            return Ok(());
        }
        let position = commit.end_lsn;
        match open.emitted {
            Some(transaction) => {
                self.emit(SourceEvent::Commit { transaction, position: Position::Postgres(position) }).await?;
                self.last_position = self.last_position.max(position);
            }
            // Nothing routed in it: it only counts as progress.
            None => self.progress(position, false).await?,
        }
        Ok(())
    }

    /// A keepalive that requests a reply is not throttled: the walsender
    /// sends those rarely (every `wal_sender_timeout / 2` when idle) and at
    /// shutdown, where it waits until the client confirms its sent position —
    /// which needs this progress to become durable.
    async fn keepalive(&mut self, wal_end: Lsn, reply_requested: bool) -> Result<(), Stop> {
        if self.transaction.is_some() {
            return Ok(());
        }
        // Every commit record starting before wal_end has been sent.
        let awaited = matches!(*self.wanted.borrow(), Some(Position::Postgres(wanted)) if wanted > self.last_position);
        self.progress(wal_end, reply_requested || awaited).await
    }

    /// Emits `Progress(position)` when it is news, at most once per
    /// [`PROGRESS_EVERY`] unless `urgent`.
    async fn progress(&mut self, position: Lsn, urgent: bool) -> Result<(), Stop> {
        let throttled = !urgent && self.last_progress.is_some_and(|at| at.elapsed() < PROGRESS_EVERY);
        if position <= self.last_position || throttled {
            return Ok(());
        }
        self.emit(SourceEvent::Progress(Position::Postgres(position))).await?;
        self.last_position = position;
        self.last_progress = Some(Instant::now());
        Ok(())
    }

    /// Resolves a Relation message's column types and replaces the cached schema.
    async fn relation(&mut self, relation: RelationMessage) -> Result<Arc<TableSchema>, PostgresError> {
        let mut types: Vec<ResolvedType> = Vec::with_capacity(relation.columns.len());
        for column in &relation.columns {
            types.push(self.types.resolve(&self.client, column.type_oid, column.type_modifier).await?);
        }
        let full_identity_key = if relation.replica_identity == IDENTITY_FULL {
            Some(catalog::primary_key_columns(&self.client, relation.oid).await?)
        } else {
            None
        };
        let schema = self.relations.insert(&relation, types, full_identity_key.as_deref());
        tracing::debug!(table = %schema.name, columns = schema.columns.len(), "relation announced");
        self.announced.insert(relation.oid, relation);
        Ok(schema)
    }
}

fn decode_old(table: &TableSchema, old: &OldTuple) -> Result<sluice_api::Row, PostgresError> {
    let tuple: &Tuple = old.tuple();
    relations::decode_row(table, tuple)
}

fn protocol(reason: &str) -> PostgresError {
    PostgresError::Protocol { what: "pgoutput stream", reason: reason.to_owned() }
}
