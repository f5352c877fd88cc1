//! A source under test: its own database on a private server, a source
//! configured for it, and ways to read events with a deadline.

use std::sync::Arc;
use std::time::Duration;

use sluice_api::{Change, Lsn, Position, Source, SourceEvent, SourceStream, TableName, Transaction};
use sluice_postgres::{PostgresSource, PostgresSourceConfig};
use sluice_testkit::{PgServer, TestDatabase};
use tokio::time::{Instant, timeout};
use tokio_postgres::Client;

/// How long any awaited state may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A test database with a superuser client.
pub struct Fixture {
    pub database: TestDatabase,
    pub client: Client,
}

impl Fixture {
    /// A fresh database on the shared server, with `setup` SQL run in it.
    pub async fn shared(prefix: &str, setup: &str) -> Fixture {
        Fixture::on(PgServer::shared(), prefix, setup).await
    }

    pub async fn on(server: &PgServer, prefix: &str, setup: &str) -> Fixture {
        let database = server.create_database(prefix).await;
        let client = database.connect().await;
        client.batch_execute(setup).await.expect("setup SQL runs");
        Fixture { database, client }
    }

    /// A source config for this database with a slot and publication named after it.
    pub fn config(&self, url: String, tables: &[&str]) -> PostgresSourceConfig {
        let tables = tables.iter().map(|t| TableName::parse(t).expect("schema.table")).collect();
        let mut config = PostgresSourceConfig::new(url, self.slot(), self.publication(), tables);
        config.status_interval = Duration::from_millis(500);
        config
    }

    pub fn slot(&self) -> String {
        format!("slot_{}", self.database.name)
    }

    pub fn publication(&self) -> String {
        format!("pub_{}", self.database.name)
    }

    /// The server's current WAL insert position.
    pub async fn wal_lsn(&self) -> Lsn {
        let row = self.client.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.unwrap();
        row.get::<_, String>(0).parse().unwrap()
    }

    /// The slot's confirmed flush LSN.
    pub async fn confirmed_flush(&self) -> Lsn {
        let row = self
            .client
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot()],
            )
            .await
            .unwrap();
        row.get::<_, String>(0).parse().unwrap()
    }
}

/// Starts a source, failing the test with the error if it does not start.
pub async fn start(config: PostgresSourceConfig, resume: Option<Position>) -> Running {
    match timeout(DEADLINE, PostgresSource::new(config).start(resume)).await {
        Ok(Ok(stream)) => Running { stream },
        Ok(Err(error)) => panic!("source did not start: {error} ({:?})", error.kind),
        Err(_) => panic!("source did not start within {DEADLINE:?}"),
    }
}

/// A started source; its task is aborted on drop.
pub struct Running {
    pub stream: SourceStream,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stream.task.abort();
    }
}

/// One transaction as the source emitted it.
#[derive(Debug)]
pub struct ReadTransaction {
    pub transaction: Arc<Transaction>,
    pub changes: Vec<Change>,
    /// The Commit event's position (where the transaction ends).
    pub commit_position: Position,
}

impl ReadTransaction {
    /// The commit position as an LSN.
    pub fn position(&self) -> Lsn {
        lsn_of(&self.commit_position)
    }
}

pub fn lsn_of(position: &Position) -> Lsn {
    match position {
        Position::Postgres(lsn) => *lsn,
        other => panic!("not a PostgreSQL position: {other}"),
    }
}

impl Running {
    /// The next event, failing on a stream error, a closed stream or the deadline.
    pub async fn next_event(&mut self) -> SourceEvent {
        match timeout(DEADLINE, self.stream.events.recv()).await {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(error))) => panic!("source failed: {error} ({:?})", error.kind),
            Ok(None) => panic!("source stream closed"),
            Err(_) => panic!("no event within {DEADLINE:?}"),
        }
    }

    /// The next transaction (Begin, changes, Commit), skipping idle progress.
    pub async fn next_transaction(&mut self) -> ReadTransaction {
        let transaction = loop {
            match self.next_event().await {
                SourceEvent::Begin(transaction) => break transaction,
                SourceEvent::Progress(_) => continue,
                other => panic!("expected Begin, got {other:?}"),
            }
        };
        let mut changes = Vec::new();
        loop {
            match self.next_event().await {
                SourceEvent::Change(change) => {
                    assert!(Arc::ptr_eq(&change.transaction, &transaction), "a change points at its transaction");
                    changes.push(change);
                }
                SourceEvent::Commit { transaction: committed, position } => {
                    assert!(Arc::ptr_eq(&committed, &transaction), "Commit carries the Begin's transaction");
                    assert!(
                        transaction.position.is_covered_by(&position),
                        "a transaction is covered by its own commit position"
                    );
                    return ReadTransaction { transaction, changes, commit_position: position };
                }
                other => panic!("expected a change or Commit, got {other:?}"),
            }
        }
    }

    /// Publishes `position` as durable in every target.
    pub fn acknowledge(&self, position: Position) {
        self.stream.durable.send_replace(Some(position));
    }
}

/// Polls `check` until it returns true or the deadline passes.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not reached within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
