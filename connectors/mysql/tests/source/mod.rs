//! The binlog source against real MariaDB servers: row changes with their
//! images and positions, resumption, exact values of every type, schema
//! changes, idle progress, and the failures that must stop the stream with
//! the right error kind. Tests share one server (each with its own
//! database and its own replica server id) unless they restart, purge or
//! reconfigure it.

mod catalog;
mod changes;
mod failures;
mod names;
mod schema_changes;
mod streaming;
pub(crate) mod values;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use sluice_api::{
    BinlogPosition, Change, ConnectorError, Position, Source, SourceEvent, SourceStream, TableName, Transaction,
};
use sluice_mysql::{MySqlSource, MySqlSourceConfig};
use sluice_testkit::TestMariaDb;

/// How long a test waits for an event it expects.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A replica server id no other source of this process uses (the server
/// drops a dump when another one registers with the same id).
pub fn server_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A source config for `tables` of `database`, with a 1 s heartbeat.
pub fn config(database: &TestMariaDb, tables: &[&str]) -> MySqlSourceConfig {
    let tables = tables.iter().map(|t| TableName::new(database.name.clone(), *t)).collect();
    let mut config = MySqlSourceConfig::new(database.url(), server_id(), tables);
    config.heartbeat = Duration::from_secs(1);
    config.channel_capacity = 256;
    config
}

pub async fn start(config: MySqlSourceConfig, resume: Option<Position>) -> SourceStream {
    MySqlSource::new(config).start(resume).await.expect("the source starts")
}

/// The next event, or the error that ended the stream.
pub async fn next(stream: &mut SourceStream) -> Result<SourceEvent, ConnectorError> {
    match tokio::time::timeout(DEADLINE, stream.events.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the source closed its channel without an error"),
        Err(_) => panic!("no event within {DEADLINE:?}"),
    }
}

/// One transaction as the source emitted it.
#[derive(Debug)]
pub struct Received {
    pub transaction: Arc<Transaction>,
    pub changes: Vec<Change>,
    pub commit: BinlogPosition,
}

/// The next transaction (idle progress before it is skipped).
pub async fn next_transaction(stream: &mut SourceStream) -> Received {
    let transaction = loop {
        match next(stream).await.expect("no error") {
            SourceEvent::Progress(_) => continue,
            SourceEvent::Begin(transaction) => break transaction,
            other => panic!("expected Begin, got {other:?}"),
        }
    };
    let mut changes = Vec::new();
    loop {
        match next(stream).await.expect("no error") {
            SourceEvent::Change(change) => {
                assert!(Arc::ptr_eq(&change.transaction, &transaction), "a change of another transaction");
                changes.push(change);
            }
            SourceEvent::Commit { transaction: committed, position: Position::Binlog(commit) } => {
                assert!(Arc::ptr_eq(&committed, &transaction));
                return Received { transaction, changes, commit };
            }
            other => panic!("expected Change or Commit, got {other:?}"),
        }
    }
}

/// The error that ends the stream, skipping events before it.
pub async fn next_error(stream: &mut SourceStream) -> ConnectorError {
    loop {
        if let Err(error) = next(stream).await {
            return error;
        }
    }
}

/// The server's current binlog position.
pub async fn server_position(database: &TestMariaDb) -> BinlogPosition {
    let mut conn = database.connect().await;
    let row: mysql_async::Row = conn.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
    BinlogPosition { file: row.get(0).unwrap(), offset: row.get(1).unwrap(), gtid: None }
}

/// Runs `;`-separated statements on a fresh connection.
pub async fn execute(database: &TestMariaDb, sql: &str) {
    let mut conn = database.connect().await;
    conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The binlog part of a position.
pub fn binlog(position: &Position) -> &BinlogPosition {
    match position {
        Position::Binlog(position) => position,
        other => panic!("not a binlog position: {other}"),
    }
}
