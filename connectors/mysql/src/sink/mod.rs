//! The MySQL/MariaDB sink: applies row writes idempotently into a MySQL or
//! MariaDB target and records the source position in the same transaction.
//!
//! One connection per sink. The first [`Sink::write`] after a commit opens a
//! transaction (`START TRANSACTION` goes out with its first request); writes
//! execute right away (memory stays bounded however large the source
//! transaction), batched into multi-row statements per run of similar
//! writes (see `apply`: upserts with their insert-only columns, partial
//! updates, patches, deletes, truncates); [`Sink::commit`] upserts
//! `(pipeline, position, now)` into the offsets table and sends `COMMIT`,
//! so rows and position become durable together or not at all. Upserts
//! (`INSERT … ON DUPLICATE KEY UPDATE`) and deletes by key make replays
//! harmless; the offsets table lets the engine skip what the target
//! already holds.
//!
//! The target is kept busy while Sluice prepares the next statement (see
//! `ahead`): outside savepoints, the multi-row upserts and deletes are sent
//! ahead — the connection moves into a task that executes the statement
//! while [`Sink::write`] returns — and every later call first awaits that
//! task and fails with its error. Commits are sent ahead too
//! ([`Sink::commit_ahead`]): the offsets write and `COMMIT` run behind the
//! statement in flight, and [`Sink::confirmed_commits`] reports each once
//! its `COMMIT` has answered. Unlike PostgreSQL, a failed statement does not
//! abort a MySQL transaction (InnoDB rolls back just that statement), and a
//! `COMMIT` would commit the rest: so nothing is sent behind a statement
//! whose outcome is unknown or failed, a failure is returned for the engine
//! to roll back (or to roll back to a savepoint, inside which every
//! statement runs in place), and the sink sends nothing more in that
//! transaction until it does.
//!
//! Besides the replicated rows, inside the same transaction:
//! [`Sink::insert_returning`] inserts one row and returns the value the
//! target assigned (MariaDB 10.5+ `RETURNING`; MySQL only for the
//! `AUTO_INCREMENT` column, through the insert id), savepoints isolate rows
//! of dead-letter routes, and [`Sink::select_text`] reads Sluice's own
//! tables — inside the open transaction when there is one, so it sees its
//! own writes, otherwise in autocommit. [`MySqlSink::ensure_owned_tables`]
//! creates those tables (DDL: outside any transaction, which it would
//! commit).
//!
//! The session is set up for exactness (see [`SESSION_SETTINGS`]) and the
//! connection asks for `CLIENT_FOUND_ROWS`, so an `UPDATE` reports the rows
//! it matched (not only those it changed) and a missing row shows.
//!
//! [`Sink::load`] takes a bulk path for snapshot chunks (see `load`).
//!
//! Files: `statements` (SQL shapes), `ahead` (statements and commits sent
//! ahead), `apply` (runs, dedup, partial updates, patches), `load`
//! (snapshot chunks: plain multi-row INSERT, upserts as fallback),
//! `refusals` (server errors while writing, translated without values),
//! `resolve` (route against catalog, conflict handling, how an insert
//! returns its value), `offsets` (the offsets table), `owned` (the
//! crosswalk and dead-letter tables), `describe` (target tables from
//! `information_schema`).

mod ahead;
mod apply;
mod describe;
mod load;
mod offsets;
mod owned;
mod refusals;
mod resolve;
mod statements;

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Params, Value as Param};
use sluice_api::{ConnectorError, Position, Row, RowWrite, Sink, TableName, TargetTable};

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
    /// The connection, or the task of the request sent ahead that has it.
    link: ahead::Link,
    /// Commits sent ahead and confirmed since [`Sink::confirmed_commits`] last asked.
    confirmed: usize,
    /// A statement sent ahead in the open transaction failed: nothing more
    /// is sent in it until it is rolled back (see `ahead`).
    failed: bool,
    /// Savepoints set and not released: statements then run in place.
    savepoints: usize,
    flavor: ServerFlavor,
    offsets_table: TableName,
    max_rows_per_statement: usize,
    /// Half of `max_allowed_packet`: the parameter bytes one statement may carry.
    max_statement_bytes: usize,
    /// A transaction was opened and neither `COMMIT` nor `ROLLBACK` sent since.
    in_transaction: bool,
    /// The open transaction's `START TRANSACTION` is not sent yet: it goes
    /// out with the transaction's first request.
    begin_pending: bool,
    /// Route targets checked against the catalog; dropped on rollback.
    resolved: HashMap<TargetTable, Arc<resolve::ResolvedTable>>,
    /// Targets of `insert_returning` (table, returning column) checked
    /// against the catalog, with their statement; dropped on rollback.
    inserts: HashMap<(TargetTable, String), Arc<InsertShape>>,
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
        let mut sink = MySqlSink::connect_without_setup(config).await?;
        offsets::ensure(sink.link.conn()?, &sink.offsets_table).await?;
        Ok(sink)
    }

    /// Connects without creating anything (not even the offsets table): for
    /// commands that must leave the target as it is (`sluice plan`, `dlq
    /// list`, `crosswalk show`). Writes through it are the caller's to roll back.
    pub async fn connect_without_setup(config: MySqlSinkConfig) -> Result<MySqlSink, MySqlError> {
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
        tracing::debug!(endpoint = %settings.endpoint, server = flavor.name(), "sink connected");
        Ok(MySqlSink {
            link: ahead::Link::Idle(conn),
            confirmed: 0,
            failed: false,
            savepoints: 0,
            flavor,
            offsets_table: config.offsets_table,
            max_rows_per_statement: config.max_rows_per_statement.max(1),
            max_statement_bytes: usize::try_from(max_packet.unwrap_or(4 << 20) / 2).unwrap_or(usize::MAX),
            in_transaction: false,
            begin_pending: false,
            resolved: HashMap::new(),
            inserts: HashMap::new(),
            bulk_inserted_rows: 0,
            copying: std::collections::HashSet::new(),
        })
    }

    /// The catalog's description of a target table; `None` if it does not exist.
    pub async fn describe_table(&mut self, table: &TableName) -> Result<Option<TargetTableInfo>, MySqlError> {
        self.settle().await?;
        Ok(describe(self.link.conn()?, &self.flavor, table).await?.map(|d| d.info))
    }

    /// See [`Sink::applied_position`].
    pub async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, MySqlError> {
        self.settle().await?;
        let stored: Option<String> = self
            .link
            .conn()?
            .exec_first(offsets::select_sql(&self.offsets_table), (pipeline,))
            .await
            .map_err(|e| MySqlError::driver(format!("reading the offsets table {}", self.offsets_table), e))?;
        stored.map(|text| offsets::parse_stored(&self.offsets_table, pipeline, &text)).transpose()
    }

    /// Deletes the position recorded for `pipeline` (a reset: the next run
    /// starts from the source's own bookmark or a new snapshot). Refused
    /// while a target transaction is open.
    pub async fn forget_position(&mut self, pipeline: &str) -> Result<(), MySqlError> {
        self.settle().await?;
        if self.in_transaction {
            return Err(MySqlError::Config {
                setting: "sink".into(),
                message: "A target transaction is open; commit or roll back before forgetting a position".into(),
            });
        }
        self.link
            .conn()?
            .exec_drop(offsets::delete_sql(&self.offsets_table), (pipeline,))
            .await
            .map_err(|e| MySqlError::driver(format!("deleting from the offsets table {}", self.offsets_table), e))?;
        tracing::info!(pipeline, table = %self.offsets_table, "forgot the recorded position");
        Ok(())
    }

    /// See [`Sink::write`]: multi-row upserts and deletes are sent ahead
    /// (see `ahead`); a refusal fails a later call.
    pub async fn write(&mut self, writes: Vec<RowWrite>) -> Result<(), MySqlError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.check_not_failed()?;
        self.begin();
        self.apply(writes).await
    }

    /// See [`Sink::commit`]: [`MySqlSink::commit_ahead`], then settled.
    pub async fn commit(&mut self, pipeline: &str, position: &Position) -> Result<(), MySqlError> {
        self.commit_ahead(pipeline, position).await?;
        self.settle().await?;
        // Confirmed, and not one of the commits sent ahead that
        // `confirmed_commits` reports.
        self.confirmed = self.confirmed.saturating_sub(1);
        tracing::debug!(pipeline, position = %position, "committed target transaction");
        Ok(())
    }

    /// See [`Sink::commit_rows`]. Unlike PostgreSQL, MySQL would commit
    /// what is left of a transaction after a failed statement: a failure
    /// settled here returns with the transaction open, for the engine to
    /// roll back, and no `COMMIT` is sent.
    pub async fn commit_rows(&mut self) -> Result<(), MySqlError> {
        self.ready().await?;
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.savepoints = 0;
        if std::mem::take(&mut self.begin_pending) {
            // Nothing was sent in it.
            return Ok(());
        }
        self.link.conn()?.query_drop("COMMIT").await.map_err(|e| MySqlError::driver("commit", e))
    }

    /// See [`Sink::rollback`]. A commit sent ahead before the open
    /// transaction is settled first: confirmed if it succeeded (so counted
    /// before this rollback), its error returned if not; a statement of the
    /// open transaction is rolled back whatever it answered. Also forgets
    /// the target descriptions, so a target fixed by the DBA is described
    /// afresh.
    pub async fn rollback(&mut self) -> Result<(), MySqlError> {
        let in_flight = self.link.in_flight();
        let settled = self.settle().await;
        let confirmed = match (in_flight, settled) {
            (Some(ahead::Kind::Commit), settled) => settled,
            (_, Err(error)) => {
                tracing::debug!(%error, "a statement of the transaction being rolled back failed");
                Ok(())
            }
            (_, Ok(())) => Ok(()),
        };
        self.failed = false;
        self.savepoints = 0;
        self.resolved.clear();
        self.inserts.clear();
        if !self.in_transaction {
            return confirmed;
        }
        self.in_transaction = false;
        if std::mem::take(&mut self.begin_pending) {
            // Nothing was sent in it.
            return confirmed;
        }
        let ahead::Link::Idle(conn) = &mut self.link else {
            // The connection is closed: the server rolled the transaction back.
            return confirmed;
        };
        let rolled_back = match conn.query_drop("ROLLBACK").await {
            Ok(()) => Ok(()),
            // The server rolls back by itself when the connection goes.
            Err(mysql_async::Error::Io(_) | mysql_async::Error::Driver(_)) => Ok(()),
            Err(error) => Err(MySqlError::driver("rollback", error)),
        };
        confirmed.and(rolled_back)
    }

    /// See [`Sink::insert_returning`]: one plain `INSERT` (see
    /// `statements`), values encoded and checked as upserts encode them.
    pub async fn insert_returning(
        &mut self,
        table: Arc<TargetTable>,
        values: Row,
        returning: &str,
    ) -> Result<String, MySqlError> {
        self.ready_in_transaction().await?;
        let shape = self.insert_shape(&table, returning).await?;
        let resolved = &shape.table;
        apply::check_width(resolved, values.len(), resolved.columns.len())?;
        let row = apply::encode_cells(resolved, values.iter().zip(0..))?;
        let params = if row.is_empty() { Params::Empty } else { Params::Positional(row) };
        let context = || format!("insert into {}", resolved.name);
        match &shape.via {
            resolve::ReturningVia::Clause(column) => {
                let returned: Option<mysql_async::Row> = self
                    .link
                    .conn()?
                    .exec_first(&shape.sql, params)
                    .await
                    .map_err(|e| refusals::write_error(resolved, context(), e))?;
                match returned.and_then(|mut row| row.take::<Param, _>(0)) {
                    Some(Param::Bytes(bytes)) => String::from_utf8(bytes).map_err(|_| MySqlError::Protocol {
                        what: "returned value",
                        reason: format!("the value of column {column:?} of {} is not UTF-8 text", resolved.name),
                    }),
                    Some(Param::NULL) => Err(MySqlError::Config {
                        setting: format!("target table {}", resolved.name),
                        message: format!(
                            "Column {column:?} of target table {} got no value on insert; make it the \
                             AUTO_INCREMENT column or give it a default",
                            resolved.name
                        ),
                    }),
                    Some(other) => Ok(other.as_sql(true)),
                    None => Err(MySqlError::Protocol {
                        what: "INSERT … RETURNING result",
                        reason: format!("no row came back from the insert into {}", resolved.name),
                    }),
                }
            }
            resolve::ReturningVia::InsertId => {
                let conn = self.link.conn()?;
                conn.exec_drop(&shape.sql, params).await.map_err(|e| refusals::write_error(resolved, context(), e))?;
                // The OK packet's insert id: what LAST_INSERT_ID() reports, no second round trip.
                conn.last_insert_id().map(|id| id.to_string()).ok_or_else(|| MySqlError::Protocol {
                    what: "insert id",
                    reason: format!(
                        "the server reported no AUTO_INCREMENT value for the insert into {}",
                        resolved.name
                    ),
                })
            }
        }
    }

    /// The checked target and statement of an insert returning `returning`.
    async fn insert_shape(
        &mut self,
        table: &Arc<TargetTable>,
        returning: &str,
    ) -> Result<Arc<InsertShape>, MySqlError> {
        let cache_key = (table.as_ref().clone(), returning.to_owned());
        if let Some(shape) = self.inserts.get(&cache_key) {
            return Ok(Arc::clone(shape));
        }
        let name = TableName::new(&table.schema, &table.name);
        let described = describe(self.link.conn()?, &self.flavor, &name).await?;
        let (resolved, via) = resolve::check_insert(table, &name, described, &self.flavor, returning)?;
        let returned = match &via {
            resolve::ReturningVia::Clause(column) => Some(column.as_str()),
            resolve::ReturningVia::InsertId => None,
        };
        let sql = statements::insert_one(&name, &resolved.column_names(), returned);
        let shape = Arc::new(InsertShape { table: resolved, via, sql });
        self.inserts.insert(cache_key, Arc::clone(&shape));
        Ok(shape)
    }

    /// See [`Sink::savepoint`]: opens the transaction if none is open.
    pub async fn savepoint(&mut self, name: &str) -> Result<(), MySqlError> {
        check_savepoint_name(name)?;
        self.ready_in_transaction().await?;
        self.savepoint_statement(statements::SavepointOp::Set, name).await
    }

    /// See [`Sink::rollback_to_savepoint`]: the transaction stays open.
    pub async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), MySqlError> {
        self.savepoint_statement(statements::SavepointOp::RollbackTo, name).await
    }

    /// See [`Sink::release_savepoint`].
    pub async fn release_savepoint(&mut self, name: &str) -> Result<(), MySqlError> {
        self.savepoint_statement(statements::SavepointOp::Release, name).await
    }

    async fn savepoint_statement(&mut self, op: statements::SavepointOp, name: &str) -> Result<(), MySqlError> {
        check_savepoint_name(name)?;
        self.ready().await?;
        if !self.in_transaction {
            return Err(MySqlError::Config {
                setting: "sink".into(),
                message: format!("Savepoint {name:?} used outside a target transaction; this is a Sluice bug"),
            });
        }
        let sql = statements::savepoint(op, name);
        let conn = self.ready_in_transaction().await?;
        conn.query_drop(&sql).await.map_err(|e| MySqlError::driver(sql.clone(), e))?;
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
    ) -> Result<Vec<Vec<Option<String>>>, MySqlError> {
        self.settle().await?;
        if columns.is_empty() {
            return Err(MySqlError::Config {
                setting: format!("table {table}"),
                message: "A read of no columns; this is a Sluice bug".into(),
            });
        }
        let filter_columns: Vec<&str> = filter.iter().map(|(column, _)| *column).collect();
        let sql = statements::select_text(table, columns, &filter_columns, order_by, limit.is_some());
        let mut params: Vec<Param> = filter.iter().map(|(_, text)| Param::Bytes(text.as_bytes().to_vec())).collect();
        if let Some(limit) = limit {
            params.push(Param::UInt(u64::try_from(limit).unwrap_or(u64::MAX)));
        }
        let params = if params.is_empty() { Params::Empty } else { Params::Positional(params) };
        // Inside the open transaction, so the read sees its writes.
        let conn = if self.in_transaction { self.ready_in_transaction().await? } else { self.link.conn()? };
        let rows: Vec<mysql_async::Row> =
            conn.exec(sql, params).await.map_err(|e| MySqlError::driver(format!("reading {table}"), e))?;
        rows.into_iter()
            .map(|row| {
                row.unwrap()
                    .into_iter()
                    .zip(columns)
                    .map(|(value, column)| match value {
                        Param::NULL => Ok(None),
                        Param::Bytes(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| MySqlError::Value {
                            table: table.to_string(),
                            column: (*column).to_owned(),
                            type_name: String::new(),
                            reason: "the column's text is not UTF-8 (a binary column); read it another way".into(),
                        }),
                        other => Ok(Some(other.as_sql(true))),
                    })
                    .collect()
            })
            .collect()
    }

    /// Opens a transaction if none is open; its `START TRANSACTION` goes
    /// out with its first request (see `ahead`).
    fn begin(&mut self) {
        if !self.in_transaction {
            self.in_transaction = true;
            self.begin_pending = true;
        }
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

    async fn commit_ahead(&mut self, pipeline: &str, position: &Position) -> Result<bool, ConnectorError> {
        Ok(MySqlSink::commit_ahead(self, pipeline, position).await?)
    }

    fn confirmed_commits(&mut self) -> usize {
        std::mem::take(&mut self.confirmed)
    }

    async fn settle(&mut self) -> Result<(), ConnectorError> {
        Ok(MySqlSink::settle(self).await?)
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
        table: Arc<TargetTable>,
        values: Row,
        returning: &str,
    ) -> Result<String, ConnectorError> {
        Ok(MySqlSink::insert_returning(self, table, values, returning).await?)
    }

    async fn savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        Ok(MySqlSink::savepoint(self, name).await?)
    }

    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        Ok(MySqlSink::rollback_to_savepoint(self, name).await?)
    }

    async fn release_savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        Ok(MySqlSink::release_savepoint(self, name).await?)
    }

    async fn select_text(
        &mut self,
        table: &TableName,
        columns: &[&str],
        filter: &[(&str, &str)],
        order_by: &[&str],
        limit: Option<usize>,
    ) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
        Ok(MySqlSink::select_text(self, table, columns, filter, order_by, limit).await?)
    }
}

/// A checked `insert_returning` target, how it reports the value, and its statement.
#[derive(Debug)]
struct InsertShape {
    table: resolve::ResolvedTable,
    via: resolve::ReturningVia,
    sql: String,
}

/// Savepoint names come from the engine: a plain identifier, at most 64
/// characters (MySQL's identifier limit).
fn check_savepoint_name(name: &str) -> Result<(), MySqlError> {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if plain {
        return Ok(());
    }
    Err(MySqlError::Config {
        setting: "sink".into(),
        message: format!(
            "Savepoint name {name:?} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters); \
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
        for bad in ["", "1a", "a-b", "a b", "a`b", "é", &"a".repeat(65)] {
            let error = check_savepoint_name(bad).unwrap_err();
            assert_eq!(sluice_api::HasErrorKind::kind(&error), sluice_api::ErrorKind::Config, "{bad}");
        }
    }
}
