//! A server restart ends the stream with a retryable connection error, and
//! a consumer that acknowledges what it reads does not hold up the server's
//! fast shutdown (the walsender waits until its sent position is confirmed).

use std::sync::Arc;

use sluice_api::{ErrorKind, Position, SourceEvent, Value};
use sluice_testkit::PgServer;

use super::harness::{DEADLINE, Fixture, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_ends_the_stream_with_a_connection_error() {
    let server = Arc::new(PgServer::start());
    let fixture = Fixture::on(&server, "src_restart", "CREATE TABLE public.items (id int PRIMARY KEY);").await;
    let config = fixture.config(fixture.database.url(), &["public.items"]);
    let mut source = start(config.clone(), None).await;
    fixture.client.batch_execute("INSERT INTO public.items VALUES (1)").await.unwrap();

    // Consume like the engine: publish every commit and progress as durable.
    let mut events = std::mem::replace(&mut source.stream.events, tokio::sync::mpsc::channel(1).1);
    let durable = source.stream.durable.clone();
    let consumer = tokio::spawn(async move {
        let mut last = None;
        loop {
            match tokio::time::timeout(DEADLINE, events.recv()).await {
                Ok(Some(Ok(SourceEvent::Commit { position, .. }))) => {
                    last = Some(position);
                    durable.send_replace(last.clone());
                }
                Ok(Some(Ok(SourceEvent::Progress(position)))) => {
                    last = Some(position);
                    durable.send_replace(last.clone());
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(error))) => return (error.kind, last),
                Ok(None) => panic!("the stream closed without an error"),
                Err(_) => panic!("the stream did not end within {DEADLINE:?}"),
            }
        }
    });
    let stopping = Arc::clone(&server);
    tokio::task::spawn_blocking(move || stopping.stop()).await.expect("fast shutdown completes");
    let (kind, last) = consumer.await.unwrap();
    assert_eq!(kind, ErrorKind::Connection);
    let last: Position = last.expect("the insert was committed before the restart");

    let restarting = Arc::clone(&server);
    tokio::task::spawn_blocking(move || restarting.start_again()).await.unwrap();
    let client = fixture.database.connect().await;
    client.batch_execute("INSERT INTO public.items VALUES (2)").await.unwrap();
    let mut resumed = start(config, Some(last)).await;
    let read = resumed.next_transaction().await;
    assert_eq!(read.changes[0].after, Some(vec![Value::Int(2)]), "resumes after the durable position");
    drop(resumed);
    drop(fixture);
}
