//! Test databases are unique and disappear with their replication slots,
//! even a slot a walsender is streaming from.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sluice_testkit::{PgServer, pg_program};

async fn database_exists(name: &str) -> bool {
    let client = PgServer::shared().connect("postgres").await;
    let row = client.query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name]).await.unwrap();
    row.get::<_, i64>(0) == 1
}

async fn slot_count(database: &str) -> i64 {
    let client = PgServer::shared().connect("postgres").await;
    let row =
        client.query_one("SELECT count(*) FROM pg_replication_slots WHERE database = $1", &[&database]).await.unwrap();
    row.get(0)
}

#[tokio::test]
async fn databases_get_unique_names_and_are_usable() {
    let server = PgServer::shared();
    let first = server.create_database("unique").await;
    let second = server.create_database("unique").await;
    assert_ne!(first.name, second.name);
    assert!(first.name.starts_with(&format!("unique_{}_", std::process::id())));

    let client = first.connect().await;
    let current: String = client.query_one("SELECT current_database()::text", &[]).await.unwrap().get(0);
    assert_eq!(current, first.name);
    assert_eq!(first.url(), server.url(&first.name));
}

#[tokio::test]
async fn dropping_a_database_drops_it_with_its_slots_and_sessions() {
    let server = PgServer::shared();
    let database = server.create_database("dropped").await;
    let name = database.name.clone();
    let session = database.connect().await;
    session.execute("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", &[&name]).await.unwrap();

    drop(database);

    assert!(!database_exists(&name).await);
    assert_eq!(slot_count(&name).await, 0);
    assert!(session.is_closed() || session.simple_query("SELECT 1").await.is_err());
}

/// A walsender streaming from the slot keeps it active until terminated.
fn stream_slot(url: &str, slot: &str) -> Child {
    Command::new(pg_program("pg_recvlogical"))
        .env_clear()
        .args(["-d", url, "--slot", slot, "--start", "--no-loop", "-f", "/dev/null"])
        .args(["-o", "proto_version=1", "-o", "publication_names=none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pg_recvlogical runs")
}

#[tokio::test]
async fn dropping_a_database_drops_a_slot_that_is_being_streamed() {
    let server = PgServer::shared();
    let database = server.create_database("streamed").await;
    let name = database.name.clone();
    let client = database.connect().await;
    client.batch_execute("CREATE PUBLICATION none").await.unwrap();
    client.execute("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", &[&name]).await.unwrap();
    let mut receiver = stream_slot(&database.url(), &name);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row =
            client.query_one("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&name]).await.unwrap();
        if row.get::<_, bool>(0) {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never became active");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    drop(database);

    assert!(!database_exists(&name).await);
    assert_eq!(slot_count(&name).await, 0);
    let _ = receiver.kill();
    let _ = receiver.wait();
}
