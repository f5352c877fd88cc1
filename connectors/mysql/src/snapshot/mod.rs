//! The MySQL/MariaDB side of the initial snapshot and of backfills: reading
//! a source table in key-ordered chunks while the binlog keeps streaming,
//! each chunk with the set of binlog transactions its read saw
//! ([`ReadView`]), for the engine to reconcile it with the stream.
//!
//! A chunk is read in `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ
//! ONLY` (REPEATABLE READ: the session's isolation level is set, as a
//! consistent snapshot means nothing under READ COMMITTED). On MariaDB this
//! is exact: the statement creates InnoDB's read view while holding the
//! lock that orders commits into the binlog (`LOCK_commit_ordered`, the
//! group commit's `commit_ordered` step), so the snapshot sees exactly the
//! transactions written to the binlog before one position, which the
//! session reports as `binlog_snapshot_file` / `binlog_snapshot_position`
//! — the consistency mydumper relies on for its lock-free dumps. The
//! transactions whose first event (the GTID event) lies before that
//! position were seen, the others not: `seen_before = unseen_from`.
//!
//! MySQL has no such status: the binlog position (`SHOW MASTER STATUS`,
//! `SHOW BINARY LOG STATUS` on 8.4) is read just after the snapshot
//! starts. MySQL writes a group's events to the binlog (flush
//! stage) before InnoDB commits them (commit stage), so a transaction that
//! lies just before that position may, for a few milliseconds, still
//! be invisible to the snapshot: no binlog position is a safe "seen before"
//! bound. So on MySQL nothing is classified as surely seen: every logged
//! transaction before the position read after the snapshot started is
//! "maybe" seen (merged into the chunk, never dropped after it — replaying
//! a change in log order over a row that already has it converges), and
//! only the ones from that position on are surely unseen.
//!
//! `high`, the position beyond which nothing can have been seen, is read
//! after the rows, before `COMMIT`.
//!
//! Boundaries (`next_boundary`) are read outside any snapshot: they only cut
//! the key space. Values are read with the binary protocol and decoded
//! exactly as the stream decodes them (`values.rs`); queries are built in
//! `sql.rs`.

mod sql;
mod values;

use std::sync::Arc;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value as Param};
use sluice_api::{
    BinlogPosition, ChunkRange, ChunkRead, Column, ConnectorError, Position, ReadView, SnapshotReader, TableName,
    TableSchema, Value,
};

pub(crate) use sql::{Bound, key_bound};

use crate::connect::ServerFlavor;
use crate::error::MySqlError;
use crate::source::{Collations, current_position, describe_source_table, load_collations, quote_table};

/// Session settings of a snapshot reader:
/// - `character_set_results = NULL`: character data arrives as stored, in
///   the column's character set, and is decoded like the binlog's bytes
///   (after `SET NAMES utf8mb4`, so parameters and the filter are UTF-8);
/// - `time_zone = '+00:00'`: TIMESTAMP values arrive (and key parameters
///   are read) as UTC civil times;
/// - REPEATABLE READ: a consistent snapshot lasts the whole transaction.
const SESSION_SETTINGS: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET SESSION character_set_results = NULL",
    "SET SESSION time_zone = '+00:00'",
    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
];

/// Reads source tables in chunks over one connection (see the module documentation).
pub struct MySqlSnapshotReader {
    conn: Conn,
    flavor: ServerFlavor,
    collations: Collations,
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The key columns, checked against the schema.
fn key_columns<'s>(schema: &'s TableSchema, key: &[usize]) -> Result<Vec<&'s Column>, MySqlError> {
    let columns: Option<Vec<&Column>> = key.iter().map(|&k| schema.columns.get(k)).collect();
    match columns {
        Some(columns) if !columns.is_empty() => Ok(columns),
        _ => Err(MySqlError::Config {
            setting: format!("source table {}", schema.name),
            message: format!(
                "The table has no usable key to read it in chunks; add a primary key to {}",
                quote_table(&schema.name)
            ),
        }),
    }
}

/// A key bound as SQL plus its parameters.
fn bound(
    schema: &TableSchema,
    columns: &[&Column],
    values: &[Value],
    side: Bound,
) -> Result<(String, Vec<Param>), MySqlError> {
    if values.len() != columns.len() {
        return Err(MySqlError::Value {
            table: schema.name.to_string(),
            column: "*".into(),
            type_name: String::new(),
            reason: format!(
                "a key bound has {} values for {} key columns; this is a Sluice bug",
                values.len(),
                columns.len()
            ),
        });
    }
    let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let placeholders: Vec<String> = columns.iter().map(|c| values::key_placeholder(c)).collect();
    let (sql, order) = key_bound(&names, &placeholders, side);
    let mut encoded = Vec::with_capacity(columns.len());
    for (value, column) in values.iter().zip(columns) {
        encoded.push(values::key_param(value, column).map_err(|reason| MySqlError::Value {
            table: schema.name.to_string(),
            column: column.name.clone(),
            type_name: column.type_name.clone(),
            reason,
        })?);
    }
    Ok((sql, order.into_iter().map(|i| encoded[i].clone()).collect()))
}

fn params(params: Vec<Param>) -> Params {
    if params.is_empty() { Params::Empty } else { Params::Positional(params) }
}

impl MySqlSnapshotReader {
    /// Connects with the source's URL (see `connect`) and sets up the session.
    pub async fn connect(url: &str) -> Result<MySqlSnapshotReader, MySqlError> {
        let mut conn = crate::connect::connect(url).await?;
        for statement in SESSION_SETTINGS {
            conn.query_drop(*statement).await.map_err(|e| MySqlError::driver("setting up the snapshot session", e))?;
        }
        let flavor = ServerFlavor::detect(&mut conn).await?;
        let collations = load_collations(&mut conn, flavor.mariadb).await?;
        Ok(MySqlSnapshotReader { conn, flavor, collations })
    }

    /// See [`SnapshotReader::describe`].
    pub async fn describe(&mut self, table: &TableName) -> Result<Option<Arc<TableSchema>>, MySqlError> {
        Ok(describe_source_table(&mut self.conn, table).await?.map(Arc::new))
    }

    /// See [`SnapshotReader::has_null_key`].
    pub async fn has_null_key(&mut self, schema: &TableSchema, key: &[usize]) -> Result<bool, MySqlError> {
        if key.is_empty() {
            return Ok(false);
        }
        let columns = key_columns(schema, key)?;
        let nulls: Vec<String> = columns.iter().map(|c| format!("{} IS NULL", quote(&c.name))).collect();
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {} WHERE {})", quote_table(&schema.name), nulls.join(" OR "));
        let found: Option<i64> = self
            .conn
            .query_first(sql)
            .await
            .map_err(|e| MySqlError::driver(format!("looking for NULL keys in {}", schema.name), e))?;
        Ok(found.unwrap_or(0) != 0)
    }

    /// See [`SnapshotReader::estimate_rows`].
    pub async fn estimate_rows(&mut self, schema: &TableSchema) -> Result<u64, MySqlError> {
        let rows: Option<Option<u64>> = self
            .conn
            .exec_first(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&schema.name.schema, &schema.name.name),
            )
            .await
            .map_err(|e| MySqlError::driver(format!("reading the row estimate of {}", schema.name), e))?;
        Ok(rows.flatten().unwrap_or(0))
    }

    /// See [`SnapshotReader::next_boundary`].
    pub async fn next_boundary(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        after: Option<&[Value]>,
        chunk_rows: usize,
        filter: Option<&str>,
    ) -> Result<Option<Vec<Value>>, MySqlError> {
        let columns = key_columns(schema, key)?;
        let mut conditions = Vec::new();
        let mut bound_params = Vec::new();
        if let Some(after) = after {
            let (sql, mut values) = bound(schema, &columns, after, Bound::After)?;
            conditions.push(sql);
            bound_params.append(&mut values);
        }
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let sql = format!(
            "SELECT {} FROM {}{} ORDER BY {} LIMIT 1 OFFSET ?",
            names.join(", "),
            quote_table(&schema.name),
            sql::where_clause(&conditions, filter),
            names.join(", ")
        );
        bound_params.push(Param::UInt(chunk_rows.saturating_sub(1) as u64));
        let context = || format!("finding the next chunk boundary of {}", schema.name);
        let mut result =
            self.conn.exec_iter(sql, params(bound_params)).await.map_err(|e| MySqlError::driver(context(), e))?;
        let readers =
            values::readers(&schema.name, &columns, result.columns_ref(), self.flavor.mariadb, &self.collations);
        let row = result.next().await.map_err(|e| MySqlError::driver(context(), e));
        result.drop_result().await.map_err(|e| MySqlError::driver(context(), e))?;
        let readers = readers?;
        match row? {
            Some(row) => Ok(Some(values::convert_row(&schema.name, &columns, &readers, row.unwrap_raw())?)),
            None => Ok(None),
        }
    }

    /// See [`SnapshotReader::read_chunk`].
    pub async fn read_chunk(
        &mut self,
        schema: &Arc<TableSchema>,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
    ) -> Result<ChunkRead, MySqlError> {
        let columns = key_columns(schema, key)?;
        let mut conditions = Vec::new();
        let mut bound_params = Vec::new();
        for (values, side) in [(&range.after, Bound::After), (&range.through, Bound::Through)] {
            if let Some(values) = values {
                let (sql, mut values) = bound(schema, &columns, values, side)?;
                conditions.push(sql);
                bound_params.append(&mut values);
            }
        }
        let all: Vec<String> = schema.columns.iter().map(|c| quote(&c.name)).collect();
        let order: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let sql = format!(
            "SELECT {} FROM {}{} ORDER BY {}",
            all.join(", "),
            quote_table(&schema.name),
            sql::where_clause(&conditions, filter),
            order.join(", ")
        );
        self.conn
            .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(|e| MySqlError::driver(format!("starting the snapshot of {}", schema.name), e))?;
        let read = self.read_in_snapshot(schema, &sql, bound_params).await;
        match read {
            Ok(chunk) => {
                self.conn.query_drop("COMMIT").await.map_err(|e| MySqlError::driver("ending the snapshot", e))?;
                Ok(chunk)
            }
            Err(error) => {
                // The server ends the transaction itself if the connection is gone.
                let _ = self.conn.query_drop("ROLLBACK").await;
                Err(error)
            }
        }
    }

    /// See [`SnapshotReader::read_view`]: the view of a consistent snapshot
    /// started and ended at once.
    pub async fn read_view(&mut self) -> Result<ReadView, MySqlError> {
        self.conn
            .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(|e| MySqlError::driver("starting a snapshot for a read view", e))?;
        let view = self.snapshot_view().await;
        match view {
            Ok(view) => {
                self.conn.query_drop("COMMIT").await.map_err(|e| MySqlError::driver("ending the snapshot", e))?;
                Ok(view)
            }
            Err(error) => {
                let _ = self.conn.query_drop("ROLLBACK").await;
                Err(error)
            }
        }
    }

    /// The view of the snapshot just started (see the module docs).
    async fn snapshot_view(&mut self) -> Result<ReadView, MySqlError> {
        Ok(if self.flavor.mariadb {
            let snapshot = self.mariadb_snapshot_position().await?;
            ReadView::Binlog { seen_before: snapshot.clone(), unseen_from: snapshot }
        } else {
            let after = current_position(&mut self.conn).await?;
            // Below every real position: nothing is surely seen (see the module docs).
            let nothing = BinlogPosition { file: String::new(), offset: 0, gtid: None };
            ReadView::Binlog { seen_before: nothing, unseen_from: after }
        })
    }

    async fn read_in_snapshot(
        &mut self,
        schema: &Arc<TableSchema>,
        sql: &str,
        bound_params: Vec<Param>,
    ) -> Result<ChunkRead, MySqlError> {
        let view = self.snapshot_view().await?;
        let started = Instant::now();
        let context = || format!("reading a chunk of {}", schema.name);
        let columns: Vec<&Column> = schema.columns.iter().collect();
        let mut result =
            self.conn.exec_iter(sql, params(bound_params)).await.map_err(|e| MySqlError::driver(context(), e))?;
        let readers = match values::readers(
            &schema.name,
            &columns,
            result.columns_ref(),
            self.flavor.mariadb,
            &self.collations,
        ) {
            Ok(readers) => readers,
            Err(error) => {
                let _ = result.drop_result().await;
                return Err(error);
            }
        };
        let mut rows = Vec::new();
        loop {
            match result.next().await {
                Ok(Some(row)) => match values::convert_row(&schema.name, &columns, &readers, row.unwrap_raw()) {
                    Ok(values) => rows.push(values),
                    Err(error) => {
                        let _ = result.drop_result().await;
                        return Err(error);
                    }
                },
                Ok(None) => break,
                Err(error) => return Err(MySqlError::driver(context(), error)),
            }
        }
        drop(result);
        let high = current_position(&mut self.conn).await?;
        tracing::debug!(
            table = %schema.name,
            rows = rows.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            high = %Position::Binlog(high.clone()),
            "read snapshot chunk"
        );
        Ok(ChunkRead { rows, view, high: Position::Binlog(high) })
    }

    /// MariaDB: the binlog position consistent with the open snapshot.
    async fn mariadb_snapshot_position(&mut self) -> Result<BinlogPosition, MySqlError> {
        let status: Vec<(String, String)> = self
            .conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(|e| MySqlError::driver("reading the snapshot's binlog position", e))?;
        let value = |name: &str| {
            status.iter().find(|(variable, _)| variable.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone())
        };
        let file = value("binlog_snapshot_file").filter(|file| !file.is_empty());
        let offset = value("binlog_snapshot_position").and_then(|offset| offset.parse::<u64>().ok());
        match (file, offset) {
            (Some(file), Some(offset)) => Ok(BinlogPosition { file, offset, gtid: None }),
            _ => Err(MySqlError::Config {
                setting: "log_bin".into(),
                message: "The server reports no binlog position for the snapshot (binlog_snapshot_file): binary \
                          logging is off; start it with --log-bin"
                    .into(),
            }),
        }
    }
}

impl SnapshotReader for MySqlSnapshotReader {
    async fn describe(&mut self, table: &TableName) -> Result<Option<Arc<TableSchema>>, ConnectorError> {
        Ok(MySqlSnapshotReader::describe(self, table).await?)
    }

    async fn has_null_key(&mut self, schema: &TableSchema, key: &[usize]) -> Result<bool, ConnectorError> {
        Ok(MySqlSnapshotReader::has_null_key(self, schema, key).await?)
    }

    async fn estimate_rows(&mut self, schema: &TableSchema) -> Result<u64, ConnectorError> {
        Ok(MySqlSnapshotReader::estimate_rows(self, schema).await?)
    }

    async fn next_boundary(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        after: Option<&[Value]>,
        chunk_rows: usize,
        filter: Option<&str>,
    ) -> Result<Option<Vec<Value>>, ConnectorError> {
        Ok(MySqlSnapshotReader::next_boundary(self, schema, key, after, chunk_rows, filter).await?)
    }

    async fn read_chunk(
        &mut self,
        schema: &Arc<TableSchema>,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
    ) -> Result<ChunkRead, ConnectorError> {
        Ok(MySqlSnapshotReader::read_chunk(self, schema, key, range, filter).await?)
    }

    async fn read_view(&mut self) -> Result<ReadView, ConnectorError> {
        Ok(MySqlSnapshotReader::read_view(self).await?)
    }
}
