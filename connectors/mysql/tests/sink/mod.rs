//! The sink against a real MariaDB: batched idempotent apply, conflicts on
//! other unique keys, transactions and offsets, configuration errors,
//! insert-only columns and patches, inserts returning the target's value,
//! savepoints, reads of Sluice's own tables and their creation.
//! Each test gets its own database on the shared server, with the offsets
//! table (and Sluice's own tables) inside it, so it goes away with the
//! database.

mod apply;
mod conflicts;
mod errors;
mod insert_only;
mod load;
mod owned;
mod returning;
mod savepoints;
mod tls;
mod transactions;

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value as Param};
use sluice_api::{BinlogPosition, Position, RowWrite, TableName, TargetTable, Value};
use sluice_mysql::{MySqlError, MySqlSink, MySqlSinkConfig};
use sluice_testkit::{MariaDbServer, TestMariaDb};

/// A test database with a sink and a plain connection to it.
pub struct Target {
    pub database: TestMariaDb,
    pub sink: MySqlSink,
    pub conn: Conn,
}

impl Target {
    /// A fresh database on the shared server with `ddl` run in it (`;`-separated).
    pub async fn new(prefix: &str, ddl: &str) -> Target {
        Target::with_rows_per_statement(prefix, ddl, MySqlSinkConfig::DEFAULT_MAX_ROWS_PER_STATEMENT).await
    }

    pub async fn with_rows_per_statement(prefix: &str, ddl: &str, max_rows: usize) -> Target {
        Target::on(MariaDbServer::shared(), prefix, ddl, max_rows).await
    }

    pub async fn on(server: &MariaDbServer, prefix: &str, ddl: &str, max_rows: usize) -> Target {
        let database = server.create_database(prefix).await;
        let mut conn = database.connect().await;
        if !ddl.trim().is_empty() {
            conn.query_drop(ddl).await.unwrap();
        }
        let sink = MySqlSink::connect(config(&database, max_rows)).await.unwrap();
        Target { database, sink, conn }
    }

    /// Every row of `table` ordered by its first column, as the server prints the values.
    pub async fn rows(&mut self, table: &str) -> Vec<Vec<Option<String>>> {
        let rows: Vec<Row> = self.conn.query(format!("SELECT * FROM `{table}` ORDER BY 1")).await.unwrap();
        rows.into_iter().map(|row| row.unwrap().into_iter().map(printed).collect()).collect()
    }

    /// A second sink on the same database (a restarted pipeline).
    pub async fn another_sink(&self) -> MySqlSink {
        MySqlSink::connect(config(&self.database, MySqlSinkConfig::DEFAULT_MAX_ROWS_PER_STATEMENT)).await.unwrap()
    }
}

/// Writes and settles: a statement sent ahead that the target refuses
/// fails a later call, here the settle.
pub async fn write_settled(sink: &mut MySqlSink, writes: Vec<RowWrite>) -> Result<(), MySqlError> {
    sink.write(writes).await?;
    sink.settle().await
}

/// Loads and settles (see [`write_settled`]).
pub async fn load_settled(sink: &mut MySqlSink, writes: Vec<RowWrite>) -> Result<(), MySqlError> {
    sink.load(writes).await?;
    sink.settle().await
}

pub fn config(database: &TestMariaDb, max_rows: usize) -> MySqlSinkConfig {
    MySqlSinkConfig {
        url: database.url(),
        offsets_table: TableName::new(&database.name, "sluice_offsets"),
        max_rows_per_statement: max_rows,
    }
}

/// A value as the text protocol delivers it.
pub fn printed(value: Param) -> Option<String> {
    match value {
        Param::NULL => None,
        Param::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        other => Some(other.as_sql(true)),
    }
}

pub fn expect(rows: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    rows.iter().map(|row| row.iter().map(|cell| cell.map(str::to_owned)).collect()).collect()
}

pub fn table(database: &TestMariaDb, name: &str, columns: &[&str], key_len: usize) -> Arc<TargetTable> {
    Arc::new(TargetTable {
        schema: database.name.clone(),
        name: name.into(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        key: (0..key_len).collect(),
        insert_only: vec![],
    })
}

pub fn upsert(table: &Arc<TargetTable>, values: Vec<Value>) -> RowWrite {
    RowWrite::Upsert { table: Arc::clone(table), values }
}

/// The same table with these columns (indices) insert-only.
pub fn insert_only(table: &Arc<TargetTable>, columns: &[usize]) -> Arc<TargetTable> {
    Arc::new(TargetTable { insert_only: columns.to_vec(), ..table.as_ref().clone() })
}

pub fn patch(table: &Arc<TargetTable>, values: Vec<Value>) -> RowWrite {
    RowWrite::Patch { table: Arc::clone(table), values }
}

pub fn delete(table: &Arc<TargetTable>, key: Vec<Value>) -> RowWrite {
    RowWrite::Delete { table: Arc::clone(table), key }
}

pub fn truncate(table: &Arc<TargetTable>) -> RowWrite {
    RowWrite::Truncate { table: Arc::clone(table) }
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

pub fn position(offset: u64) -> Position {
    Position::Binlog(BinlogPosition { file: "mysql-bin.000001".into(), offset, gtid: None })
}
