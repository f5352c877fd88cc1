//! The PostgreSQL sink: applies row writes idempotently into a PostgreSQL
//! target and records the source position in the same transaction.
//!
//! One tokio-postgres connection per sink. The first [`Sink::write`] after a
//! commit opens a transaction with `BEGIN`; writes execute right away
//! (memory stays bounded however large the source transaction), batched
//! into one statement per run of similar writes (see `apply`: upserts with
//! their insert-only columns, partial updates, patches, deletes,
//! truncates); [`Sink::commit`] upserts `(pipeline, position, now())` into
//! the offsets table and sends `COMMIT`, so rows and position become
//! durable together or not at all. Upserts and deletes by key make replays
//! harmless; the offsets table lets the engine skip what the target already
//! holds.
//!
//! Besides the replicated rows, inside the same transaction:
//! [`Sink::insert_returning`] inserts one row and returns the value the
//! target assigned (crosswalk routes), savepoints isolate rows of
//! dead-letter routes (after `ROLLBACK TO SAVEPOINT` the transaction leaves
//! its aborted state and goes on; prepared statements and the target
//! descriptions stay valid, being session state), and
//! [`Sink::select_text`] reads Sluice's own tables — inside the open
//! transaction when there is one, so it sees its own writes, otherwise in
//! autocommit. [`PostgresSink::ensure_owned_tables`] creates those tables.
//!
//! Pipelining: outside savepoints, the multi-row upsert and delete
//! statements of [`Sink::write`] are sent without waiting for their
//! answers (tokio-postgres queues requests in order on the one connection;
//! at most [`MAX_IN_FLIGHT`] row statements wait), so the server executes
//! one statement while Sluice encodes the next and reads more changes.
//! Every other call first settles them — awaits their answers in order and
//! fails with the first error, which names its statement — so a refusal
//! surfaces at the latest at the commit it would have rolled back, never
//! later. Inside a savepoint (dead-letter isolation needs each write's own
//! answer) every statement is awaited at once.
//!
//! Commits are sent ahead too ([`Sink::commit_ahead`]): the offsets write
//! and `COMMIT` are queued behind the transaction's statements, and the
//! next transaction's `BEGIN` and statements behind them, so the target
//! never waits for Sluice between two transactions. A commit counts as
//! confirmed only when its `COMMIT` has answered and every statement before
//! it has succeeded ([`Sink::confirmed_commits`]); only then does the engine
//! publish its position as durable. One rule keeps this safe: before a
//! transaction's `COMMIT` is sent, everything up to the previous `COMMIT`
//! is settled. PostgreSQL answers `COMMIT` in an aborted transaction with a
//! rollback, not an error, and the next transaction would then commit its
//! rows and a later position over the lost one; settling first means a
//! failed transaction stops the sink before any later `COMMIT` leaves.
//! [`Sink::commit`] is `commit_ahead` followed by [`Sink::settle`].
//!
//! Files: `statements` (SQL shapes), `params` (binary array parameters), `apply` (runs, dedup, partial updates,
//! patches, route checks), `load` (snapshot chunks by `COPY`, falling back
//! to `apply`), `offsets` (the offsets table), `owned` (the crosswalk and
//! dead-letter tables), `describe` (target tables from the catalog).
//! The session runs with the settings `types` relies on (`TimeZone=UTC` in
//! particular: a `timestamp` value written into a `timestamptz` column is
//! read as UTC).

mod apply;
mod describe;
mod load;
mod offsets;
mod owned;
mod params;
mod statements;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sluice_api::{ConnectorError, Position, Row, RowWrite, Sink, TableName, TargetTable};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

pub(crate) use describe::describe;
pub use describe::{TargetColumn, TargetTableInfo};
pub use load::CopyTextLoad;
pub(crate) use statements::{quote_ident, quote_table};

use crate::error::PostgresError;

/// Settings of a PostgreSQL sink.
#[derive(Clone, Debug)]
pub struct PostgresSinkConfig {
    /// libpq-style URL of the target database (`postgres://user:pw@host/db?sslmode=require`).
    pub url: String,
    /// Where positions are recorded, one row per pipeline; created when missing.
    pub offsets_table: TableName,
    /// Rows per statement; larger runs are split (bounds statement size and memory).
    pub max_rows_per_statement: usize,
}

impl PostgresSinkConfig {
    pub const DEFAULT_MAX_ROWS_PER_STATEMENT: usize = 5000;

    /// The defaults: offsets in `sluice.offsets`, 5000 rows per statement.
    pub fn new(url: impl Into<String>) -> PostgresSinkConfig {
        PostgresSinkConfig {
            url: url.into(),
            offsets_table: Self::default_offsets_table(),
            max_rows_per_statement: Self::DEFAULT_MAX_ROWS_PER_STATEMENT,
        }
    }

    pub fn default_offsets_table() -> TableName {
        TableName::new("sluice", "offsets")
    }
}

/// The position a target records for `pipeline`, without creating the
/// offsets table (read-only; for `sluice status`).
pub async fn read_position(
    url: &str,
    offsets_table: &TableName,
    pipeline: &str,
) -> Result<Option<Position>, PostgresError> {
    let client = crate::connect::connect(url).await?;
    offsets::read_position(&client, offsets_table, pipeline).await
}

/// Describes a target table without creating anything (for `sluice check`).
pub async fn describe_target_table(url: &str, table: &TableName) -> Result<Option<TargetTableInfo>, PostgresError> {
    let client = crate::connect::connect(url).await?;
    Ok(describe(&client, table).await?.map(|d| d.info))
}

/// Row statements sent and not yet answered, at most this many (each
/// holds its parameters: up to `max_rows_per_statement` rows).
const MAX_IN_FLIGHT: usize = 2;

/// A request sent ahead (see the module docs): resolves to its outcome,
/// the error already naming the statement.
struct InFlight {
    answer: Pin<Box<dyn Future<Output = Result<(), PostgresError>> + Send>>,
    kind: InFlightKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InFlightKind {
    /// A multi-row statement: counts towards [`MAX_IN_FLIGHT`].
    Rows,
    /// A transaction's `COMMIT`: its success confirms the commit.
    Commit,
    /// `BEGIN` and the offsets write.
    Other,
}

impl InFlight {
    fn new(kind: InFlightKind, answer: impl Future<Output = Result<(), PostgresError>> + Send + 'static) -> InFlight {
        InFlight { answer: Box::pin(answer), kind }
    }
}

/// A PostgreSQL target. See the module documentation.
pub struct PostgresSink {
    client: Arc<Client>,
    /// Requests sent without waiting, oldest first.
    in_flight: VecDeque<InFlight>,
    /// Commits sent ahead and confirmed since [`Sink::confirmed_commits`] last asked.
    confirmed: usize,
    /// Savepoints set and not released: statements are then awaited at once.
    savepoints: usize,
    offsets_table: TableName,
    max_rows_per_statement: usize,
    /// A `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` since.
    in_transaction: bool,
    /// Route targets checked against the catalog; dropped on rollback.
    resolved: HashMap<TargetTable, Arc<apply::ResolvedTable>>,
    /// Targets of `insert_returning` (table, returning column) checked
    /// against the catalog, with their statement; dropped on rollback.
    inserts: HashMap<(TargetTable, String), Arc<InsertShape>>,
    /// Prepared statements by SQL text.
    statements: HashMap<String, Statement>,
    /// Target tables a snapshot job is copying into (see `Sink::set_copying`).
    pub(super) copying: std::collections::HashSet<TableName>,
}

impl PostgresSink {
    /// Connects and makes sure the offsets table exists (creating its schema
    /// and table if needed). A role that may not create it gets a `Config`
    /// error naming the grant to run.
    pub async fn connect(config: PostgresSinkConfig) -> Result<PostgresSink, PostgresError> {
        let sink = PostgresSink::connect_without_setup(config).await?;
        offsets::ensure(&sink.client, &sink.offsets_table).await?;
        Ok(sink)
    }

    /// Connects without creating anything (not even the offsets table): for
    /// commands that must leave the target as it is (`sluice plan`, `dlq
    /// list`, `crosswalk show`). Writes through it are the caller's to roll back.
    pub async fn connect_without_setup(config: PostgresSinkConfig) -> Result<PostgresSink, PostgresError> {
        let client = crate::connect::connect(&config.url).await?;
        Ok(PostgresSink {
            client: Arc::new(client),
            in_flight: VecDeque::new(),
            confirmed: 0,
            savepoints: 0,
            offsets_table: config.offsets_table,
            max_rows_per_statement: config.max_rows_per_statement.max(1),
            in_transaction: false,
            resolved: HashMap::new(),
            inserts: HashMap::new(),
            statements: HashMap::new(),
            copying: std::collections::HashSet::new(),
        })
    }

    /// The catalog's description of a target table; `None` if it does not exist.
    pub async fn describe_table(&mut self, table: &TableName) -> Result<Option<TargetTableInfo>, PostgresError> {
        self.settle().await?;
        Ok(describe(&self.client, table).await?.map(|d| d.info))
    }

    /// See [`Sink::applied_position`].
    pub async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, PostgresError> {
        self.settle().await?;
        let sql = offsets::select_sql(&self.offsets_table);
        let statement = self.prepared_plain(&sql).await?;
        let row = self
            .client
            .query_opt(&statement, &[&pipeline])
            .await
            .map_err(|e| PostgresError::query(format!("reading the offsets table {}", self.offsets_table), e))?;
        row.map(|row| offsets::parse_stored(&self.offsets_table, pipeline, row.get(0))).transpose()
    }

    /// Deletes the offsets row of `pipeline` (`sluice checkpoints reset`);
    /// returns whether there was one.
    pub async fn forget_position(&mut self, pipeline: &str) -> Result<bool, PostgresError> {
        self.settle().await?;
        let sql = offsets::delete_sql(&self.offsets_table);
        let deleted =
            self.client.execute(&sql, &[&pipeline]).await.map_err(|e| {
                PostgresError::query(format!("deleting from the offsets table {}", self.offsets_table), e)
            })?;
        Ok(deleted > 0)
    }

    /// See [`Sink::write`].
    pub async fn write(&mut self, writes: Vec<RowWrite>) -> Result<(), PostgresError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.begin().await?;
        self.apply(writes).await
    }

    /// See [`Sink::commit`].
    pub async fn commit(&mut self, pipeline: &str, position: &Position) -> Result<(), PostgresError> {
        self.commit_ahead(pipeline, position).await?;
        self.settle().await?;
        // Confirmed, and not one of the commits sent ahead that
        // `confirmed_commits` reports.
        self.confirmed -= 1;
        Ok(())
    }

    /// See [`Sink::commit_ahead`]: queues the offsets write and `COMMIT`
    /// behind the transaction's statements and returns without their
    /// answers. Everything up to the previous `COMMIT` is settled first (see
    /// the module docs for why).
    pub async fn commit_ahead(&mut self, pipeline: &str, position: &Position) -> Result<bool, PostgresError> {
        self.settle_commits().await?;
        self.begin().await?;
        let sql = offsets::upsert_sql(&self.offsets_table);
        let statement = self.prepared_plain(&sql).await?;
        let client = Arc::clone(&self.client);
        let (pipeline_name, encoded) = (pipeline.to_owned(), position.encode());
        let offsets_table = self.offsets_table.clone();
        // If the position write fails, the server answers the COMMIT of the
        // failed transaction with a rollback, and the error of the offsets
        // write (settled first) says why.
        let recorded = async move {
            let params: [&(dyn ToSql + Sync); 2] = [&pipeline_name, &encoded];
            client
                .execute(&statement, &params)
                .await
                .map(|_| ())
                .map_err(|e| PostgresError::query(format!("recording the position in {offsets_table}"), e))
        };
        self.queue(InFlight::new(InFlightKind::Other, recorded)).await?;
        let client = Arc::clone(&self.client);
        let committed =
            async move { client.batch_execute("COMMIT").await.map_err(|e| PostgresError::query("commit", e)) };
        // Whatever COMMIT answers, the transaction is over: committed, rolled
        // back by the server, or unknown with the connection gone (the
        // offsets table tells which after a restart).
        self.in_transaction = false;
        self.savepoints = 0;
        self.queue(InFlight::new(InFlightKind::Commit, committed)).await?;
        tracing::debug!(pipeline, position = %position, "target commit sent");
        Ok(self.in_flight.is_empty())
    }

    /// See [`Sink::commit_rows`].
    pub async fn commit_rows(&mut self) -> Result<(), PostgresError> {
        let settled = self.settle().await;
        if !self.in_transaction {
            return settled;
        }
        self.in_transaction = false;
        self.savepoints = 0;
        let committed = self.client.batch_execute("COMMIT").await.map_err(|e| PostgresError::query("commit", e));
        settled?;
        committed
    }

    /// See [`Sink::rollback`]. Also forgets the target descriptions, so a
    /// target fixed by the DBA is described afresh.
    pub async fn rollback(&mut self) -> Result<(), PostgresError> {
        // Commits sent ahead are confirmed (or their failure returned);
        // whatever the open transaction's statements answer, they are
        // rolled back.
        let confirmed = self.settle_commits().await;
        self.in_flight.clear();
        self.savepoints = 0;
        self.resolved.clear();
        self.inserts.clear();
        if !self.in_transaction {
            return confirmed;
        }
        self.in_transaction = false;
        let rolled_back = match self.client.batch_execute("ROLLBACK").await {
            Ok(()) => Ok(()),
            // No SQLSTATE: the connection is gone, and the server rolled the
            // transaction back when it went. The next write reports it.
            Err(error) if error.code().is_none() => {
                tracing::debug!(%error, "rollback on a closed connection");
                Ok(())
            }
            Err(error) => Err(PostgresError::query("rollback", error)),
        };
        confirmed.and(rolled_back)
    }

    /// See [`Sink::insert_returning`]: one plain `INSERT … RETURNING` (see
    /// `statements`), values encoded and checked as upserts encode them.
    pub async fn insert_returning(
        &mut self,
        table: Arc<TargetTable>,
        values: Row,
        returning: &str,
    ) -> Result<String, PostgresError> {
        self.settle().await?;
        self.begin().await?;
        let shape = self.insert_shape(&table, returning).await?;
        let resolved = &shape.table;
        apply::check_width(resolved, values.len(), resolved.width())?;
        let row = apply::encode_cells(resolved, values.iter().zip(0..))?;
        let statement = self
            .prepared_typed(&shape.sql, &vec![Type::TEXT; row.len()], || {
                format!("preparing the insert into {}", resolved.name)
            })
            .await?;
        let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(|cell| cell as &(dyn ToSql + Sync)).collect();
        let inserted = self.client.query_one(&statement, &params).await.map_err(|error| {
            // Name the refused column when the server does (never the value).
            let column = error.as_db_error().and_then(|db| db.column()).map(|c| format!(" (column {c:?})"));
            PostgresError::query(format!("insert into {}{}", resolved.name, column.unwrap_or_default()), error)
        })?;
        let value: Option<String> = inserted.get(0);
        value.ok_or_else(|| PostgresError::Config {
            setting: format!("target table {}", resolved.name),
            message: format!(
                "Column {returning:?} of target table {} got no value on insert; give it an identity \
                 (GENERATED ALWAYS AS IDENTITY) or a default",
                resolved.name
            ),
        })
    }

    /// The checked target and statement of an insert returning `returning`.
    async fn insert_shape(
        &mut self,
        table: &Arc<TargetTable>,
        returning: &str,
    ) -> Result<Arc<InsertShape>, PostgresError> {
        let cache_key = (table.as_ref().clone(), returning.to_owned());
        if let Some(shape) = self.inserts.get(&cache_key) {
            return Ok(Arc::clone(shape));
        }
        let name = TableName::new(&table.schema, &table.name);
        let described = describe(&self.client, &name).await?;
        let resolved = apply::check_insert(table, &name, described, returning)?;
        let columns: Vec<statements::Col<'_>> = (0..resolved.width()).map(|i| resolved.col(i)).collect();
        let sql = statements::insert_returning(&name, &columns, returning);
        let shape = Arc::new(InsertShape { table: resolved, sql });
        self.inserts.insert(cache_key, Arc::clone(&shape));
        Ok(shape)
    }

    /// See [`Sink::savepoint`]: opens the transaction if none is open.
    pub async fn savepoint(&mut self, name: &str) -> Result<(), PostgresError> {
        check_savepoint_name(name)?;
        self.begin().await?;
        self.savepoint_statement(statements::SavepointOp::Set, name).await
    }

    /// See [`Sink::rollback_to_savepoint`]. Leaves PostgreSQL's aborted
    /// transaction state: the transaction goes on. Prepared statements and
    /// the described targets are session state and stay valid.
    pub async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), PostgresError> {
        self.savepoint_statement(statements::SavepointOp::RollbackTo, name).await
    }

    /// See [`Sink::release_savepoint`].
    pub async fn release_savepoint(&mut self, name: &str) -> Result<(), PostgresError> {
        self.savepoint_statement(statements::SavepointOp::Release, name).await
    }

    async fn savepoint_statement(&mut self, op: statements::SavepointOp, name: &str) -> Result<(), PostgresError> {
        check_savepoint_name(name)?;
        self.settle().await?;
        if !self.in_transaction {
            return Err(PostgresError::Config {
                setting: "sink".into(),
                message: format!("Savepoint {name:?} used outside a target transaction; this is a Sluice bug"),
            });
        }
        let sql = statements::savepoint(op, name);
        self.client.batch_execute(&sql).await.map_err(|e| PostgresError::query(sql.clone(), e))?;
        match op {
            statements::SavepointOp::Set => self.savepoints += 1,
            statements::SavepointOp::Release => self.savepoints = self.savepoints.saturating_sub(1),
            statements::SavepointOp::RollbackTo => {}
        }
        Ok(())
    }

    /// See [`Sink::select_text`].
    pub async fn select_text(
        &mut self,
        table: &TableName,
        columns: &[&str],
        filter: &[(&str, &str)],
        order_by: &[&str],
        limit: Option<usize>,
    ) -> Result<Vec<Vec<Option<String>>>, PostgresError> {
        self.settle().await?;
        if columns.is_empty() {
            return Err(PostgresError::Config {
                setting: format!("table {table}"),
                message: "A read of no columns; this is a Sluice bug".into(),
            });
        }
        let filter_columns: Vec<&str> = filter.iter().map(|(column, _)| *column).collect();
        let sql = statements::select_text(table, columns, &filter_columns, order_by, limit.is_some());
        let mut types = vec![Type::TEXT; filter.len()];
        let limit = limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        if limit.is_some() {
            types.push(Type::INT8);
        }
        let statement = self.prepared_typed(&sql, &types, || format!("reading {table}")).await?;
        let mut params: Vec<&(dyn ToSql + Sync)> = filter.iter().map(|(_, text)| text as &(dyn ToSql + Sync)).collect();
        if let Some(limit) = &limit {
            params.push(limit);
        }
        let rows = self
            .client
            .query(&statement, &params)
            .await
            .map_err(|e| PostgresError::query(format!("reading {table}"), e))?;
        Ok(rows.iter().map(|row| (0..columns.len()).map(|i| row.get::<_, Option<String>>(i)).collect()).collect())
    }

    /// Awaits everything sent ahead, in order; the first error (the rest
    /// are dropped: their transaction is aborted). Cancel-safe: a request
    /// leaves the queue only once answered.
    pub async fn settle(&mut self) -> Result<(), PostgresError> {
        self.settle_through(self.in_flight.len()).await
    }

    /// Awaits what was sent ahead up to and including the last `COMMIT`:
    /// every earlier transaction's outcome, not the open one's.
    async fn settle_commits(&mut self) -> Result<(), PostgresError> {
        let through = self.in_flight.iter().rposition(|r| r.kind == InFlightKind::Commit).map_or(0, |i| i + 1);
        self.settle_through(through).await
    }

    /// Awaits the oldest `count` requests sent ahead.
    async fn settle_through(&mut self, count: usize) -> Result<(), PostgresError> {
        for _ in 0..count {
            let Some(oldest) = self.in_flight.front_mut() else { break };
            let outcome = oldest.answer.as_mut().await;
            let kind = self.in_flight.pop_front().map(|r| r.kind);
            match outcome {
                Ok(()) if kind == Some(InFlightKind::Commit) => self.confirmed += 1,
                Ok(()) => {}
                Err(error) => {
                    // The transaction is aborted: the rest fail too, and
                    // the engine rolls back.
                    self.in_flight.clear();
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Sends a multi-row statement ahead (see [`Self::queue`]); with a
    /// savepoint open it is awaited at once.
    async fn send_ahead(
        &mut self,
        answer: impl Future<Output = Result<(), PostgresError>> + Send + 'static,
    ) -> Result<(), PostgresError> {
        if self.savepoints > 0 {
            self.settle().await?;
            return answer.await;
        }
        self.queue(InFlight::new(InFlightKind::Rows, answer)).await?;
        // Bound the statements waiting: settle the oldest requests until at
        // most MAX_IN_FLIGHT row statements remain.
        while self.in_flight.iter().filter(|r| r.kind == InFlightKind::Rows).count() > MAX_IN_FLIGHT {
            self.settle_through(1).await?;
        }
        Ok(())
    }

    /// Polls a request once, so it is queued on the connection now, in
    /// order, and keeps it to be awaited by the settle functions (or
    /// returns its outcome if it is already known).
    async fn queue(&mut self, mut request: InFlight) -> Result<(), PostgresError> {
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.answer.as_mut().poll(cx))).await;
        match first {
            std::task::Poll::Ready(Err(error)) => {
                self.in_flight.clear();
                Err(error)
            }
            std::task::Poll::Ready(Ok(())) if self.in_flight.is_empty() => {
                if request.kind == InFlightKind::Commit {
                    self.confirmed += 1;
                }
                Ok(())
            }
            // Answered already, but earlier requests may still fail: keep
            // it in line so a commit is confirmed only after them.
            std::task::Poll::Ready(Ok(())) => {
                self.in_flight.push_back(InFlight::new(request.kind, std::future::ready(Ok(()))));
                Ok(())
            }
            std::task::Poll::Pending => {
                self.in_flight.push_back(request);
                Ok(())
            }
        }
    }

    /// Opens a transaction if none is open; `BEGIN` is sent ahead, behind
    /// a commit that may still be running.
    async fn begin(&mut self) -> Result<(), PostgresError> {
        if !self.in_transaction {
            let client = Arc::clone(&self.client);
            let begun =
                async move { client.batch_execute("BEGIN").await.map_err(|e| PostgresError::query("begin", e)) };
            self.queue(InFlight::new(InFlightKind::Other, begun)).await?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// A cached statement with these parameter types.
    async fn prepared_typed(
        &mut self,
        sql: &str,
        types: &[Type],
        context: impl FnOnce() -> String,
    ) -> Result<Statement, PostgresError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        // In a transaction a failed statement sent ahead aborted, preparing
        // fails too: report the statement's own error.
        self.settle().await?;
        let statement = self.client.prepare_typed(sql, types).await.map_err(|e| PostgresError::query(context(), e))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// A cached statement whose parameter types the server infers.
    async fn prepared_plain(&mut self, sql: &str) -> Result<Statement, PostgresError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        self.settle().await?;
        let statement =
            self.client.prepare(sql).await.map_err(|e| PostgresError::query("preparing an offsets statement", e))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl Sink for PostgresSink {
    fn set_copying(&mut self, table: &TableName, copying: bool) {
        if copying {
            self.copying.insert(table.clone());
        } else {
            self.copying.remove(table);
        }
    }

    async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, ConnectorError> {
        Ok(PostgresSink::applied_position(self, pipeline).await?)
    }

    async fn write(&mut self, writes: Vec<RowWrite>) -> Result<(), ConnectorError> {
        Ok(PostgresSink::write(self, writes).await?)
    }

    async fn commit(&mut self, pipeline: &str, position: &Position) -> Result<(), ConnectorError> {
        Ok(PostgresSink::commit(self, pipeline, position).await?)
    }

    async fn load(&mut self, writes: Vec<RowWrite>) -> Result<(), ConnectorError> {
        Ok(PostgresSink::load(self, writes).await?)
    }

    async fn commit_ahead(&mut self, pipeline: &str, position: &Position) -> Result<bool, ConnectorError> {
        Ok(PostgresSink::commit_ahead(self, pipeline, position).await?)
    }

    fn confirmed_commits(&mut self) -> usize {
        std::mem::take(&mut self.confirmed)
    }

    async fn settle(&mut self) -> Result<(), ConnectorError> {
        Ok(PostgresSink::settle(self).await?)
    }

    async fn commit_rows(&mut self) -> Result<(), ConnectorError> {
        Ok(PostgresSink::commit_rows(self).await?)
    }

    async fn rollback(&mut self) -> Result<(), ConnectorError> {
        Ok(PostgresSink::rollback(self).await?)
    }

    async fn insert_returning(
        &mut self,
        table: Arc<TargetTable>,
        values: Row,
        returning: &str,
    ) -> Result<String, ConnectorError> {
        Ok(PostgresSink::insert_returning(self, table, values, returning).await?)
    }

    async fn savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        Ok(PostgresSink::savepoint(self, name).await?)
    }

    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        Ok(PostgresSink::rollback_to_savepoint(self, name).await?)
    }

    async fn release_savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        Ok(PostgresSink::release_savepoint(self, name).await?)
    }

    async fn select_text(
        &mut self,
        table: &TableName,
        columns: &[&str],
        filter: &[(&str, &str)],
        order_by: &[&str],
        limit: Option<usize>,
    ) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
        Ok(PostgresSink::select_text(self, table, columns, filter, order_by, limit).await?)
    }
}

/// A checked `insert_returning` target and its statement.
#[derive(Debug)]
struct InsertShape {
    table: apply::ResolvedTable,
    sql: String,
}

/// Savepoint names come from the engine: a plain identifier, at most 63
/// bytes (PostgreSQL would silently truncate a longer one, merging names).
fn check_savepoint_name(name: &str) -> Result<(), PostgresError> {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if plain {
        return Ok(());
    }
    Err(PostgresError::Config {
        setting: "sink".into(),
        message: format!(
            "Savepoint name {name:?} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters); \
             this is a Sluice bug"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoint_names_must_be_plain_identifiers() {
        for good in ["a", "_x", "dl_12", "A9_b"] {
            assert!(check_savepoint_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "a-b", "a b", "a\"b", "é", &"a".repeat(64)] {
            let error = check_savepoint_name(bad).unwrap_err();
            assert_eq!(sluice_api::HasErrorKind::kind(&error), sluice_api::ErrorKind::Config, "{bad}");
        }
    }
}
