//! A chunk's read view against the transactions the stream reports: one
//! committed before the read was seen, one held open during the read and
//! one committed after it were not, and `high` lies beyond everything the
//! read saw.

use mysql_async::prelude::Queryable;
use sluice_api::{ReadView, Seen, Value};
use sluice_testkit::MariaDbServer;

use super::*;
use crate::source::binlog;

#[tokio::test]
async fn the_view_splits_transactions_at_the_snapshot() {
    let database = MariaDbServer::shared().create_database("snap_view").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "INSERT INTO t VALUES (1, 1)").await;
    let before = next_transaction(&mut stream).await;

    // Open during the read: inserted, not committed.
    let mut open = database.connect().await;
    open.query_drop("BEGIN").await.unwrap();
    open.query_drop("INSERT INTO t VALUES (2, 2)").await.unwrap();
    open.query_drop("UPDATE t SET v = 10 WHERE id = 1").await.unwrap();

    let mut reader = reader(&database).await;
    let schema = describe(&mut reader, &database, "t").await;
    let chunk = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    assert_eq!(chunk.rows, vec![vec![Value::Int(1), Value::Int(1)]], "the read sees only committed rows");

    open.query_drop("COMMIT").await.unwrap();
    let during = next_transaction(&mut stream).await;
    execute(&database, "UPDATE t SET v = 3 WHERE id = 2").await;
    let after = next_transaction(&mut stream).await;

    let ReadView::Binlog { seen_before, unseen_from } = &chunk.view else { panic!("not a binlog view") };
    assert_eq!(seen_before, unseen_from, "MariaDB's view is exact");
    assert_eq!(chunk.view.saw(&before.transaction), Seen::Yes);
    assert_eq!(chunk.view.saw(&during.transaction), Seen::No);
    assert_eq!(chunk.view.saw(&after.transaction), Seen::No);
    assert!(binlog(&chunk.high) >= &before.commit, "high is beyond the seen transaction's end");
    assert!(
        binlog(&chunk.high) <= binlog(&during.transaction.position),
        "nothing committed after the read is below high"
    );
}

#[tokio::test]
async fn a_transaction_committed_while_the_snapshot_is_open_is_not_seen() {
    let database = MariaDbServer::shared().create_database("snap_view_between").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    let mut reader = reader(&database).await;
    let schema = describe(&mut reader, &database, "t").await;
    // Chunks one after another, a transaction committed between them: the
    // first chunk did not see it, the second did.
    let first = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    execute(&database, "UPDATE t SET v = 2 WHERE id = 1").await;
    let update = next_transaction(&mut stream).await;
    let second = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    assert_eq!(first.view.saw(&update.transaction), Seen::No);
    assert_eq!(second.view.saw(&update.transaction), Seen::Yes);
    assert_eq!(first.rows[0][1], Value::Int(1));
    assert_eq!(second.rows[0][1], Value::Int(2));
    assert!(binlog(&second.high) >= &update.commit);
}

#[tokio::test]
async fn a_view_alone_splits_transactions_where_a_read_starting_now_would() {
    let database = MariaDbServer::shared().create_database("snap_view_alone").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "INSERT INTO t VALUES (1, 1)").await;
    let before = next_transaction(&mut stream).await;
    let mut reader = reader(&database).await;
    let view = reader.read_view().await.unwrap();
    execute(&database, "UPDATE t SET v = 2 WHERE id = 1").await;
    let after = next_transaction(&mut stream).await;
    assert_eq!(view.saw(&before.transaction), Seen::Yes);
    assert_eq!(view.saw(&after.transaction), Seen::No);
    assert_eq!(reader.read_view().await.unwrap().saw(&after.transaction), Seen::Yes);
}
