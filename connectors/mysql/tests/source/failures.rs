//! Failures end the stream with the error kind the engine's retry policy
//! needs: a restarted or crashed server is a Connection error (retried),
//! purged binlogs need a resnapshot, missing prerequisites are Config
//! errors that name the fix. Each test runs its own server.

use mysql_async::prelude::Queryable;
use sluice_api::{ErrorKind, Position, Source, Value};
use sluice_mysql::MySqlSource;
use sluice_testkit::{MariaDbOptions, MariaDbServer};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_or_crash_ends_the_stream_with_a_connection_error() {
    let server = MariaDbServer::start();
    let database = server.create_database("src_restart").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "INSERT INTO t VALUES (1)").await;
    let first = next_transaction(&mut stream).await;

    tokio::task::block_in_place(|| server.stop());
    let error = next_error(&mut stream).await;
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");

    // The engine restarts from the durable position once the server is back.
    tokio::task::block_in_place(|| server.start_again());
    let mut resumed = start(config(&database, &["t"]), Some(Position::Binlog(first.commit.clone()))).await;
    execute(&database, "INSERT INTO t VALUES (2)").await;
    let second = next_transaction(&mut resumed).await;
    assert_eq!(second.changes[0].after, Some(vec![Value::Int(2)]));

    tokio::task::block_in_place(|| server.kill());
    let error = next_error(&mut resumed).await;
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
}

#[tokio::test]
async fn resuming_from_a_purged_binlog_needs_a_resnapshot_naming_the_file() {
    let server = MariaDbServer::start();
    let database = server.create_database("src_purged").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);").await;
    let checkpoint = server_position(&database).await;
    execute(&database, "FLUSH BINARY LOGS; INSERT INTO t VALUES (2);").await;
    // MariaDB keeps a binlog until InnoDB's crash-recovery checkpoint has
    // moved past it, so purge until the file is really gone.
    let mut conn = database.connect().await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        conn.query_drop("FLUSH BINARY LOGS").await.unwrap();
        let current = server_position(&database).await;
        conn.query_drop(format!("PURGE BINARY LOGS TO '{}'", current.file)).await.unwrap();
        let logs: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.unwrap();
        if logs.iter().all(|(name, _)| *name != checkpoint.file) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the binlog was not purged in time");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let outcome = MySqlSource::new(config(&database, &["t"])).start(Some(Position::Binlog(checkpoint.clone()))).await;
    let error = outcome.err().expect("the start must fail");
    assert_eq!(error.kind, ErrorKind::ResnapshotNeeded, "{error}");
    assert!(error.to_string().contains(&checkpoint.file), "{error}");
}

#[tokio::test]
async fn a_server_without_full_row_metadata_is_refused_with_the_fix() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().setting("binlog_row_metadata", "MINIMAL"));
    let database = server.create_database("src_minimal").await;
    let outcome = MySqlSource::new(config(&database, &["t"])).start(None).await;
    let error = outcome.err().expect("the start must fail");
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    assert!(error.to_string().contains("SET GLOBAL binlog_row_metadata=FULL"), "{error}");
}

#[tokio::test]
async fn compressed_binlog_events_are_decoded() {
    let server = MariaDbServer::start_with(
        MariaDbOptions::new().setting("log_bin_compress", "ON").setting("log_bin_compress_min_len", "10"),
    );
    let database = server.create_database("src_compressed").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(
        &database,
        "INSERT INTO t VALUES (1, REPEAT('abc', 200)), (2, 'short');
         UPDATE t SET v = REPEAT('xyz', 300) WHERE id = 1;
         /* a long comment that makes this statement longer than the compression threshold */ TRUNCATE t;",
    )
    .await;
    let insert = next_transaction(&mut stream).await;
    assert_eq!(insert.changes[0].after, Some(vec![Value::Int(1), Value::Text("abc".repeat(200))]));
    assert_eq!(insert.changes[1].after, Some(vec![Value::Int(2), Value::Text("short".into())]));
    let update = next_transaction(&mut stream).await;
    assert_eq!(update.changes[0].before, Some(vec![Value::Int(1), Value::Text("abc".repeat(200))]));
    assert_eq!(update.changes[0].after, Some(vec![Value::Int(1), Value::Text("xyz".repeat(300))]));
    let truncate = next_transaction(&mut stream).await;
    assert_eq!(truncate.changes[0].operation, sluice_api::Operation::Truncate);
}
