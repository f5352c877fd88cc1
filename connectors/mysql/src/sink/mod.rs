//! The MySQL/MariaDB sink: applies row writes idempotently into a MySQL or
//! MariaDB target and records the source position in the same transaction.
//!
//! One connection per sink. The first [`Sink::write`] after a commit opens a
//! transaction with `START TRANSACTION`; writes execute right away (memory
//! stays bounded however large the source transaction), batched into
//! multi-row statements per run of similar writes (see `apply`);
//! [`Sink::commit`] upserts `(pipeline, position, now)` into the offsets
//! table and sends `COMMIT`, so rows and position become durable together or
//! not at all. Upserts (`INSERT … ON DUPLICATE KEY UPDATE`) and deletes by
//! key make replays harmless; the offsets table lets the engine skip what
//! the target already holds. Unlike PostgreSQL, a failed statement does not
//! abort a MySQL transaction; the engine rolls back after any error anyway.
//!
//! The session is set up for exactness (see [`SESSION_SETTINGS`]) and the
//! connection asks for `CLIENT_FOUND_ROWS`, so an `UPDATE` reports the rows
//! it matched (not only those it changed) and a missing row shows.
//!
//! [`Sink::load`] takes a bulk path for snapshot chunks (see `load`).
//!
//! Files: `statements` (SQL shapes), `apply` (runs, dedup, partial updates),
//! `load` (snapshot chunks: plain multi-row INSERT, upserts as fallback),
//! `refusals` (server errors while writing, translated without values),
//! `resolve` (route against catalog, conflict handling), `offsets` (the
//! offsets table), `describe` (target tables from `information_schema`).

mod apply;
mod describe;
mod load;
mod offsets;
mod refusals;
mod resolve;
mod statements;

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::{ConnectorError, Position, RowWrite, Sink, TableName, TargetTable};

pub(crate) use describe::{DescribedTable, describe};
pub use describe::{TargetColumn, TargetTableInfo};
pub(crate) use statements::{quote_ident, quote_table};

use crate::connect::{ConnectSettings, ServerFlavor};
use crate::error::MySqlError;

/// Session settings of every sink connection, each for exactness:
/// - `sql_mode`: `STRICT_ALL_TABLES` turns truncation, out-of-range and
///   invalid values (and unmappable characters) into errors instead of
///   warnings, for every engine and for multi-row statements too;
///   `NO_AUTO_VALUE_ON_ZERO` stores a 0 written into an `AUTO_INCREMENT`
///   column as 0 instead of generating a new id; `NO_ZERO_DATE` and
///   `NO_ZERO_IN_DATE` are left out on purpose so MySQL zero dates from a
///   MySQL source are stored as they are (`types` refuses them for
///   everything else); no `ANSI_QUOTES` (identifiers are backtick-quoted);
///   `NO_ENGINE_SUBSTITUTION` as everywhere.
/// - `time_zone = '+00:00'`: TIMESTAMP parameters are read in the session
///   time zone; with UTC (a fixed offset, no DST gaps or repeated hours) a
///   value bound as its UTC civil time is stored as exactly that instant,
///   whatever the server's own time zone is.
/// - `NAMES utf8mb4`: text parameters are UTF-8 with all of Unicode; the
///   server converts to each column's charset (strictly, see above).
pub(crate) const SESSION_SETTINGS: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    "SET SESSION time_zone = '+00:00'",
];

/// Describes a target table without creating anything (for `sluice check`).
pub async fn describe_target_table(url: &str, table: &TableName) -> Result<Option<TargetTableInfo>, MySqlError> {
    let mut conn = crate::connect::connect(url).await?;
    let flavor = ServerFlavor::detect(&mut conn).await?;
    let described = describe(&mut conn, &flavor, table).await?.map(|d| d.info);
    let _ = conn.disconnect().await;
    Ok(described)
}

/// The position a target records for `pipeline`, without creating the
/// offsets table (read-only; for `sluice status`).
pub async fn read_position(
    url: &str,
    offsets_table: &TableName,
    pipeline: &str,
) -> Result<Option<Position>, MySqlError> {
    let mut conn = crate::connect::connect(url).await?;
    let position = offsets::read_position(&mut conn, offsets_table, pipeline).await;
    let _ = conn.disconnect().await;
    position
}

/// Settings of a MySQL/MariaDB sink.
#[derive(Clone, Debug)]
pub struct MySqlSinkConfig {
    /// `mysql://user:password@host:3306/?ssl-mode=verify_identity` (see `connect`).
    pub url: String,
    /// Where positions are recorded, one row per pipeline (`database.table`);
    /// created when missing.
    pub offsets_table: TableName,
    /// Rows per statement; larger runs are split (also at 65,535 parameters
    /// and half of the server's `max_allowed_packet`).
    pub max_rows_per_statement: usize,
}

impl MySqlSinkConfig {
    pub const DEFAULT_MAX_ROWS_PER_STATEMENT: usize = 1000;

    /// The defaults: offsets in `sluice.offsets`, 1000 rows per statement.
    pub fn new(url: impl Into<String>) -> MySqlSinkConfig {
        MySqlSinkConfig {
            url: url.into(),
            offsets_table: Self::default_offsets_table(),
            max_rows_per_statement: Self::DEFAULT_MAX_ROWS_PER_STATEMENT,
        }
    }

    pub fn default_offsets_table() -> TableName {
        TableName::new("sluice", "offsets")
    }
}

/// A MySQL/MariaDB target. See the module documentation.
pub struct MySqlSink {
    conn: Conn,
    flavor: ServerFlavor,
    offsets_table: TableName,
    max_rows_per_statement: usize,
    /// Half of `max_allowed_packet`: the parameter bytes one statement may carry.
    max_statement_bytes: usize,
    /// `START TRANSACTION` was sent and neither `COMMIT` nor `ROLLBACK` since.
    in_transaction: bool,
    /// Route targets checked against the catalog; dropped on rollback.
    resolved: HashMap<TargetTable, Arc<resolve::ResolvedTable>>,
    /// Rows `load` wrote with plain INSERTs since connecting.
    bulk_inserted_rows: u64,
    /// Target tables a snapshot job is copying into (see `Sink::set_copying`).
    pub(super) copying: std::collections::HashSet<TableName>,
}

impl MySqlSink {
    /// Connects, sets up the session and makes sure the offsets table
    /// exists (creating its database and table if needed). An account that
    /// may not create it gets a `Config` error naming the grant to run.
    pub async fn connect(config: MySqlSinkConfig) -> Result<MySqlSink, MySqlError> {
        let settings = ConnectSettings::parse(&config.url)?;
        let mut conn = settings.connect_with(&|builder| builder.client_found_rows(true)).await?;
        for statement in SESSION_SETTINGS {
            conn.query_drop(*statement).await.map_err(|e| MySqlError::driver("setting up the session", e))?;
        }
        let flavor = ServerFlavor::detect(&mut conn).await?;
        let max_packet: Option<u64> = conn
            .query_first("SELECT @@max_allowed_packet")
            .await
            .map_err(|e| MySqlError::driver("reading max_allowed_packet", e))?;
        offsets::ensure(&mut conn, &config.offsets_table).await?;
        tracing::debug!(endpoint = %settings.endpoint, server = flavor.name(), "sink connected");
        Ok(MySqlSink {
            conn,
            flavor,
            offsets_table: config.offsets_table,
            max_rows_per_statement: config.max_rows_per_statement.max(1),
            max_statement_bytes: usize::try_from(max_packet.unwrap_or(4 << 20) / 2).unwrap_or(usize::MAX),
            in_transaction: false,
            resolved: HashMap::new(),
            bulk_inserted_rows: 0,
            copying: std::collections::HashSet::new(),
        })
    }

    /// The catalog's description of a target table; `None` if it does not exist.
    pub async fn describe_table(&mut self, table: &TableName) -> Result<Option<TargetTableInfo>, MySqlError> {
        Ok(describe(&mut self.conn, &self.flavor, table).await?.map(|d| d.info))
    }

    /// See [`Sink::applied_position`].
    pub async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, MySqlError> {
        let stored: Option<String> = self
            .conn
            .exec_first(offsets::select_sql(&self.offsets_table), (pipeline,))
            .await
            .map_err(|e| MySqlError::driver(format!("reading the offsets table {}", self.offsets_table), e))?;
        stored.map(|text| offsets::parse_stored(&self.offsets_table, pipeline, &text)).transpose()
    }

    /// Deletes the position recorded for `pipeline` (a reset: the next run
    /// starts from the source's own bookmark or a new snapshot). Refused
    /// while a target transaction is open.
    pub async fn forget_position(&mut self, pipeline: &str) -> Result<(), MySqlError> {
        if self.in_transaction {
            return Err(MySqlError::Config {
                setting: "sink".into(),
                message: "A target transaction is open; commit or roll back before forgetting a position".into(),
            });
        }
        self.conn
            .exec_drop(offsets::delete_sql(&self.offsets_table), (pipeline,))
            .await
            .map_err(|e| MySqlError::driver(format!("deleting from the offsets table {}", self.offsets_table), e))?;
        tracing::info!(pipeline, table = %self.offsets_table, "forgot the recorded position");
        Ok(())
    }

    /// See [`Sink::write`].
    pub async fn write(&mut self, writes: Vec<RowWrite>) -> Result<(), MySqlError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.begin().await?;
        self.apply(writes).await
    }

    /// See [`Sink::commit`].
    pub async fn commit(&mut self, pipeline: &str, position: &Position) -> Result<(), MySqlError> {
        self.begin().await?;
        let sql = offsets::upsert_sql(&self.offsets_table, self.incoming());
        self.conn
            .exec_drop(sql, (pipeline, position.encode()))
            .await
            .map_err(|e| MySqlError::driver(format!("recording the position in {}", self.offsets_table), e))?;
        // Whatever COMMIT answers, the transaction is over: committed, rolled
        // back by the server, or unknown with the connection gone (the
        // offsets table tells which after a restart).
        self.in_transaction = false;
        self.conn.query_drop("COMMIT").await.map_err(|e| MySqlError::driver("commit", e))?;
        tracing::debug!(pipeline, position = %position, "committed target transaction");
        Ok(())
    }

    /// See [`Sink::commit_rows`].
    pub async fn commit_rows(&mut self) -> Result<(), MySqlError> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.conn.query_drop("COMMIT").await.map_err(|e| MySqlError::driver("commit", e))
    }

    /// See [`Sink::rollback`]. Also forgets the target descriptions, so a
    /// target fixed by the DBA is described afresh.
    pub async fn rollback(&mut self) -> Result<(), MySqlError> {
        self.resolved.clear();
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        match self.conn.query_drop("ROLLBACK").await {
            Ok(()) => Ok(()),
            // The server rolls back by itself when the connection goes.
            Err(mysql_async::Error::Io(_) | mysql_async::Error::Driver(_)) => Ok(()),
            Err(error) => Err(MySqlError::driver("rollback", error)),
        }
    }

    async fn begin(&mut self) -> Result<(), MySqlError> {
        if !self.in_transaction {
            self.conn.query_drop("START TRANSACTION").await.map_err(|e| MySqlError::driver("begin", e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    fn incoming(&self) -> statements::Incoming {
        if self.flavor.has_row_alias() { statements::Incoming::RowAlias } else { statements::Incoming::ValuesFunction }
    }
}

impl Sink for MySqlSink {
    fn set_copying(&mut self, table: &TableName, copying: bool) {
        if copying {
            self.copying.insert(table.clone());
        } else {
            self.copying.remove(table);
        }
    }

    async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, ConnectorError> {
        Ok(MySqlSink::applied_position(self, pipeline).await?)
    }

    async fn write(&mut self, writes: Vec<RowWrite>) -> Result<(), ConnectorError> {
        Ok(MySqlSink::write(self, writes).await?)
    }

    async fn commit(&mut self, pipeline: &str, position: &Position) -> Result<(), ConnectorError> {
        Ok(MySqlSink::commit(self, pipeline, position).await?)
    }

    async fn load(&mut self, writes: Vec<RowWrite>) -> Result<(), ConnectorError> {
        Ok(MySqlSink::load(self, writes).await?)
    }

    async fn commit_rows(&mut self) -> Result<(), ConnectorError> {
        Ok(MySqlSink::commit_rows(self).await?)
    }

    async fn rollback(&mut self) -> Result<(), ConnectorError> {
        Ok(MySqlSink::rollback(self).await?)
    }

    async fn insert_returning(
        &mut self,
        _table: std::sync::Arc<TargetTable>,
        _values: sluice_api::Row,
        _returning: &str,
    ) -> Result<String, ConnectorError> {
        Err(MySqlError::Config { setting: "sink".into(), message: "insert_returning: not built yet".into() }.into())
    }

    async fn savepoint(&mut self, _name: &str) -> Result<(), ConnectorError> {
        Err(MySqlError::Config { setting: "sink".into(), message: "savepoint: not built yet".into() }.into())
    }

    async fn rollback_to_savepoint(&mut self, _name: &str) -> Result<(), ConnectorError> {
        Err(MySqlError::Config { setting: "sink".into(), message: "savepoint: not built yet".into() }.into())
    }

    async fn release_savepoint(&mut self, _name: &str) -> Result<(), ConnectorError> {
        Err(MySqlError::Config { setting: "sink".into(), message: "savepoint: not built yet".into() }.into())
    }

    async fn select_text(
        &mut self,
        _table: &TableName,
        _columns: &[&str],
        _filter: &[(&str, &str)],
        _order_by: &[&str],
        _limit: Option<usize>,
    ) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
        Err(MySqlError::Config { setting: "sink".into(), message: "select_text: not built yet".into() }.into())
    }
}
