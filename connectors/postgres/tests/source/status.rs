//! Standby status updates: the slot confirms exactly what the engine
//! publishes as durable, idle progress lets it advance without routed
//! writes, and status keeps flowing while nobody reads the events.

use std::time::Duration;

use sluice_api::{Position, SourceEvent};
use sluice_testkit::{PgOptions, PgServer};

use super::harness::{Fixture, eventually, start};

const SETUP: &str = "CREATE TABLE public.items (id int PRIMARY KEY); CREATE TABLE public.noise (id int);";

#[tokio::test]
async fn the_slot_confirms_what_is_published_as_durable_and_nothing_more() {
    let fixture = Fixture::shared("src_durable", SETUP).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.items"]), None).await;
    let initial = fixture.confirmed_flush().await;
    fixture.client.batch_execute("INSERT INTO public.items VALUES (1)").await.unwrap();
    let first = source.next_transaction().await;
    fixture.client.batch_execute("INSERT INTO public.items VALUES (2)").await.unwrap();
    let second = source.next_transaction().await;

    // Received but not durable: after three status intervals (500 ms each) the
    // slot has not moved. A negative claim needs the time to pass.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fixture.confirmed_flush().await, initial, "nothing is confirmed before it is durable");

    source.acknowledge(first.commit_position.clone());
    let wanted = first.position();
    eventually("confirmed_flush_lsn reaches the durable position", || async {
        fixture.confirmed_flush().await >= wanted
    })
    .await;
    let confirmed = fixture.confirmed_flush().await;
    assert_eq!(confirmed, wanted, "exactly the durable position, not the second transaction's");
    assert!(confirmed < second.position());
}

#[tokio::test]
async fn idle_progress_advances_the_slot_past_unrelated_writes() {
    let fixture = Fixture::shared("src_idle", SETUP).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.items"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.noise SELECT generate_series(1, 1000)").await.unwrap();
    let target = fixture.wal_lsn().await;
    let progress = loop {
        match source.next_event().await {
            SourceEvent::Progress(Position::Postgres(lsn)) if lsn >= target => break lsn,
            SourceEvent::Progress(_) => continue,
            other => panic!("only progress is expected, got {other:?}"),
        }
    };
    source.acknowledge(Position::Postgres(progress));
    eventually("the slot passes the unrelated writes", || async { fixture.confirmed_flush().await >= target }).await;
}

#[tokio::test]
async fn status_keeps_the_session_alive_while_the_consumer_does_not_read() {
    let server = PgServer::start_with(PgOptions::new().setting("wal_sender_timeout", "5s"));
    let fixture = Fixture::on(&server, "src_backpressure", SETUP).await;
    let mut config = fixture.config(fixture.database.url(), &["public.items"]);
    config.channel_capacity = 1;
    config.status_interval = Duration::from_secs(1);
    let mut source = start(config, None).await;
    let walsender_pid = || async {
        let row = fixture
            .client
            .query_one("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", &[&fixture.slot()])
            .await
            .unwrap();
        row.get::<_, Option<i32>>(0)
    };
    let pid = walsender_pid().await.expect("the slot is active");
    for id in 0..20 {
        fixture.client.execute("INSERT INTO public.items VALUES ($1)", &[&id]).await.unwrap();
    }
    // The channel holds one event; the reader is stuck sending the next one
    // for more than twice wal_sender_timeout (the condition under test is
    // time passing without the consumer reading).
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(walsender_pid().await, Some(pid), "the walsender was not replaced");

    let mut ids = Vec::new();
    for _ in 0..20 {
        let read = source.next_transaction().await;
        ids.push(read.changes[0].after.as_ref().unwrap()[0].clone());
    }
    assert_eq!(ids, (0..20).map(|i| sluice_api::Value::Int(i64::from(i))).collect::<Vec<_>>());
    assert!(!server.log_tail(200).contains("replication timeout"), "{}", server.log_tail(50));
    fixture.client.batch_execute("INSERT INTO public.items VALUES (100)").await.unwrap();
    let read = source.next_transaction().await;
    assert_eq!(read.changes[0].after.as_ref().unwrap()[0], sluice_api::Value::Int(100));
}
