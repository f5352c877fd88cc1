//! The PostgreSQL sink: applies row writes idempotently into a PostgreSQL
//! target and records the source position in the same transaction.
//!
//! One tokio-postgres connection per sink. The first [`Sink::write`] after a
//! commit opens a transaction with `BEGIN`; writes execute right away
//! (memory stays bounded however large the source transaction), batched
//! into one statement per run of similar writes (see `apply`); [`Sink::commit`]
//! upserts `(pipeline, position, now())` into the offsets table and sends
//! `COMMIT`, so rows and position become durable together or not at all.
//! Upserts and deletes by key make replays harmless; the offsets table lets
//! the engine skip what the target already holds.
//!
//! Files: `statements` (SQL shapes), `apply` (runs, dedup, partial updates),
//! `load` (snapshot chunks by `COPY`, falling back to `apply`), `offsets`
//! (the offsets table), `describe` (target tables from the catalog).
//! The session runs with the settings `types` relies on (`TimeZone=UTC` in
//! particular: a `timestamp` value written into a `timestamptz` column is
//! read as UTC).

mod apply;
mod describe;
mod load;
mod offsets;
mod statements;

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{ConnectorError, Position, RowWrite, Sink, TableName, TargetTable};
use tokio_postgres::types::Type;
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

/// A PostgreSQL target. See the module documentation.
pub struct PostgresSink {
    client: Client,
    offsets_table: TableName,
    max_rows_per_statement: usize,
    /// A `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` since.
    in_transaction: bool,
    /// Route targets checked against the catalog; dropped on rollback.
    resolved: HashMap<TargetTable, Arc<apply::ResolvedTable>>,
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
        let client = crate::connect::connect(&config.url).await?;
        offsets::ensure(&client, &config.offsets_table).await?;
        Ok(PostgresSink {
            client,
            offsets_table: config.offsets_table,
            max_rows_per_statement: config.max_rows_per_statement.max(1),
            in_transaction: false,
            resolved: HashMap::new(),
            statements: HashMap::new(),
            copying: std::collections::HashSet::new(),
        })
    }

    /// The catalog's description of a target table; `None` if it does not exist.
    pub async fn describe_table(&mut self, table: &TableName) -> Result<Option<TargetTableInfo>, PostgresError> {
        Ok(describe(&self.client, table).await?.map(|d| d.info))
    }

    /// See [`Sink::applied_position`].
    pub async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, PostgresError> {
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
        self.begin().await?;
        let sql = offsets::upsert_sql(&self.offsets_table);
        let statement = self.prepared_plain(&sql).await?;
        let encoded = position.encode();
        // The position and COMMIT go out together (tokio-postgres pipelines
        // concurrently polled requests): one round trip per target commit.
        // If the position write fails, the server answers the COMMIT of the
        // failed transaction with a rollback, and the error below says why.
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&pipeline, &encoded];
        let (recorded, committed) =
            tokio::join!(self.client.execute(&statement, &params), self.client.batch_execute("COMMIT"));
        // Whatever COMMIT answers, the transaction is over: committed, rolled
        // back by the server, or unknown with the connection gone (the
        // offsets table tells which after a restart).
        self.in_transaction = false;
        recorded.map_err(|e| PostgresError::query(format!("recording the position in {}", self.offsets_table), e))?;
        committed.map_err(|e| PostgresError::query("commit", e))?;
        tracing::debug!(pipeline, position = %position, "committed target transaction");
        Ok(())
    }

    /// See [`Sink::commit_rows`].
    pub async fn commit_rows(&mut self) -> Result<(), PostgresError> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.client.batch_execute("COMMIT").await.map_err(|e| PostgresError::query("commit", e))
    }

    /// See [`Sink::rollback`]. Also forgets the target descriptions, so a
    /// target fixed by the DBA is described afresh.
    pub async fn rollback(&mut self) -> Result<(), PostgresError> {
        self.resolved.clear();
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        match self.client.batch_execute("ROLLBACK").await {
            Ok(()) => Ok(()),
            // No SQLSTATE: the connection is gone, and the server rolled the
            // transaction back when it went. The next write reports it.
            Err(error) if error.code().is_none() => {
                tracing::debug!(%error, "rollback on a closed connection");
                Ok(())
            }
            Err(error) => Err(PostgresError::query("rollback", error)),
        }
    }

    async fn begin(&mut self) -> Result<(), PostgresError> {
        if !self.in_transaction {
            self.client.batch_execute("BEGIN").await.map_err(|e| PostgresError::query("begin", e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// A cached statement with `width` `text[]` parameters.
    async fn prepared(&mut self, sql: &str, width: usize) -> Result<Statement, PostgresError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let types = vec![Type::TEXT_ARRAY; width];
        let statement = self
            .client
            .prepare_typed(sql, &types)
            .await
            .map_err(|e| PostgresError::query("preparing a write statement", e))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// A cached statement whose parameter types the server infers.
    async fn prepared_plain(&mut self, sql: &str) -> Result<Statement, PostgresError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
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

    async fn commit_rows(&mut self) -> Result<(), ConnectorError> {
        Ok(PostgresSink::commit_rows(self).await?)
    }

    async fn rollback(&mut self) -> Result<(), ConnectorError> {
        Ok(PostgresSink::rollback(self).await?)
    }

    async fn insert_returning(
        &mut self,
        _table: std::sync::Arc<TargetTable>,
        _values: sluice_api::Row,
        _returning: &str,
    ) -> Result<String, ConnectorError> {
        Err(PostgresError::Config { setting: "sink".into(), message: "insert_returning: not built yet".into() }.into())
    }

    async fn savepoint(&mut self, _name: &str) -> Result<(), ConnectorError> {
        Err(PostgresError::Config { setting: "sink".into(), message: "savepoint: not built yet".into() }.into())
    }

    async fn rollback_to_savepoint(&mut self, _name: &str) -> Result<(), ConnectorError> {
        Err(PostgresError::Config { setting: "sink".into(), message: "savepoint: not built yet".into() }.into())
    }

    async fn release_savepoint(&mut self, _name: &str) -> Result<(), ConnectorError> {
        Err(PostgresError::Config { setting: "sink".into(), message: "savepoint: not built yet".into() }.into())
    }

    async fn select_text(
        &mut self,
        _table: &TableName,
        _columns: &[&str],
        _filter: &[(&str, &str)],
        _order_by: &[&str],
        _limit: Option<usize>,
    ) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
        Err(PostgresError::Config { setting: "sink".into(), message: "select_text: not built yet".into() }.into())
    }
}
