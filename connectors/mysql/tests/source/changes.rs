//! Row changes arrive with correct images and positions; resuming from a
//! position emits exactly the later transactions; tables that are not
//! routed produce no changes but move the position forward.

use sluice_api::{Operation, Position, SourceEvent, Value};
use sluice_testkit::MariaDbServer;

use super::*;

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[tokio::test]
async fn inserts_updates_and_deletes_arrive_with_their_images_and_positions() {
    let database = MariaDbServer::shared().create_database("src_changes").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(
        &database,
        "BEGIN; INSERT INTO t VALUES (1, 'a'), (2, 'b'); COMMIT;
         UPDATE t SET v = 'x' WHERE id = 1;
         DELETE FROM t WHERE id = 2;",
    )
    .await;

    let insert = next_transaction(&mut stream).await;
    assert_eq!(insert.changes.len(), 2);
    for (change, (id, v)) in insert.changes.iter().zip([(1, "a"), (2, "b")]) {
        assert_eq!(change.operation, Operation::Insert);
        assert_eq!(change.before, None);
        assert_eq!(change.after, Some(vec![Value::Int(id), text(v)]));
        assert_eq!(change.table.name, TableName::new(database.name.clone(), "t"));
        assert_eq!(change.table.key_indices(), vec![0]);
    }
    let update = next_transaction(&mut stream).await;
    assert_eq!(update.changes.len(), 1);
    assert_eq!(update.changes[0].operation, Operation::Update);
    assert_eq!(update.changes[0].before, Some(vec![Value::Int(1), text("a")]));
    assert_eq!(update.changes[0].after, Some(vec![Value::Int(1), text("x")]));
    let delete = next_transaction(&mut stream).await;
    assert_eq!(delete.changes[0].operation, Operation::Delete);
    assert_eq!(delete.changes[0].before, Some(vec![Value::Int(2), text("b")]));
    assert_eq!(delete.changes[0].after, None);

    // Positions: each transaction starts before its commit, is covered by
    // its own commit and not by the previous one; commits only grow.
    let mut previous: Option<BinlogPosition> = None;
    for received in [&insert, &update, &delete] {
        let begins = binlog(&received.transaction.position);
        assert!(begins < &received.commit);
        let commit = Position::Binlog(received.commit.clone());
        assert!(received.transaction.position.is_covered_by(&commit));
        if let Some(previous) = &previous {
            assert!(!received.transaction.position.is_covered_by(&Position::Binlog(previous.clone())));
            assert!(previous < &received.commit);
        }
        // MariaDB: the id is the transaction's GTID and the commit carries the GTID state.
        let gtid = &received.transaction.id;
        assert_eq!(gtid.split('-').count(), 3, "GTID {gtid}");
        assert!(received.commit.gtid.as_deref().is_some_and(|state| state.contains(gtid.as_str())));
        assert_eq!(received.transaction.commit_time_micros % 1_000_000, 0);
        previous = Some(received.commit.clone());
    }
    assert!(previous.unwrap() <= server_position(&database).await);
}

#[tokio::test]
async fn resuming_emits_exactly_the_later_transactions() {
    let database = MariaDbServer::shared().create_database("src_resume").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);").await;
    let first = next_transaction(&mut stream).await;
    let second = next_transaction(&mut stream).await;
    let third = next_transaction(&mut stream).await;
    stream.task.abort();

    let mut resumed = start(config(&database, &["t"]), Some(Position::Binlog(first.commit.clone()))).await;
    for expected in [&second, &third] {
        let received = next_transaction(&mut resumed).await;
        assert_eq!(received.transaction.id, expected.transaction.id);
        assert_eq!(received.transaction.position, expected.transaction.position);
        assert_eq!(received.commit, expected.commit);
        assert_eq!(received.changes[0].after, expected.changes[0].after);
    }
    resumed.task.abort();

    // From the last commit: nothing old, the next insert only.
    let mut caught_up = start(config(&database, &["t"]), Some(Position::Binlog(third.commit.clone()))).await;
    execute(&database, "INSERT INTO t VALUES (4)").await;
    let fourth = next_transaction(&mut caught_up).await;
    assert_eq!(fourth.changes[0].after, Some(vec![Value::Int(4)]));
}

#[tokio::test]
async fn mariadb_resumes_by_gtid_when_the_position_is_from_another_binlog_series() {
    let database = MariaDbServer::shared().create_database("src_gtid").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);").await;
    let first = next_transaction(&mut stream).await;
    let second = next_transaction(&mut stream).await;
    stream.task.abort();

    // As after a failover: the file is unknown to this server, the GTID state is not.
    // Whether the other server's files sort before or after this one's ("zz-…"
    // after "mysql-bin") must not matter: nothing is covered by file name.
    for failed in ["failed-primary-bin.000042", "zz-failed-primary-bin.000042"] {
        let elsewhere = BinlogPosition { file: failed.into(), offset: 1234, gtid: first.commit.gtid.clone() };
        let mut resumed = start(config(&database, &["t"]), Some(Position::Binlog(elsewhere.clone()))).await;
        let received = next_transaction(&mut resumed).await;
        assert_eq!(received.transaction.id, second.transaction.id, "{failed}");
        assert_eq!(received.commit.file, second.commit.file, "positions are this server's again");
        assert_eq!(received.commit.offset, second.commit.offset);
        // The begin position names the transaction's GTID, so a target holding
        // the other server's position decides coverage by GTID.
        let Position::Binlog(begin) = &received.transaction.position else { panic!("a binlog position") };
        assert_eq!(begin.mariadb_gtid(), Some(second.transaction.id.as_str()));
        assert!(!received.transaction.position.is_covered_by(&Position::Binlog(elsewhere)));
        resumed.task.abort();
    }
    // A state chosen across targets names no file: resumed by GTID too.
    let combined = BinlogPosition { file: String::new(), offset: 4, gtid: first.commit.gtid };
    let mut resumed = start(config(&database, &["t"]), Some(Position::Binlog(combined))).await;
    assert_eq!(next_transaction(&mut resumed).await.transaction.id, second.transaction.id);
}

#[tokio::test]
async fn other_tables_produce_no_changes_but_the_position_advances() {
    let database = MariaDbServer::shared().create_database("src_unrouted").await;
    execute(&database, "CREATE TABLE routed (id INT PRIMARY KEY); CREATE TABLE other (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["routed"]), None).await;
    execute(&database, "INSERT INTO other VALUES (1), (2); UPDATE other SET id = 3 WHERE id = 1;").await;
    let target = server_position(&database).await;
    loop {
        match next(&mut stream).await.expect("no error") {
            SourceEvent::Progress(position) if binlog(&position) >= &target => break,
            SourceEvent::Progress(_) => continue,
            other => panic!("a change of an unrouted table was emitted: {other:?}"),
        }
    }
    execute(&database, "INSERT INTO routed VALUES (7)").await;
    let routed = next_transaction(&mut stream).await;
    assert_eq!(routed.changes.len(), 1);
    assert!(routed.commit > target);
}

#[tokio::test]
async fn positions_follow_the_stream_into_a_new_binlog_file() {
    let database = MariaDbServer::shared().create_database("src_rotate").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "INSERT INTO t VALUES (1); FLUSH BINARY LOGS; INSERT INTO t VALUES (2);").await;
    let first = next_transaction(&mut stream).await;
    let second = next_transaction(&mut stream).await;
    assert_ne!(first.commit.file, second.commit.file);
    assert!(first.commit < second.commit);
    assert!(second.commit <= server_position(&database).await);
    // Resuming in the new file works from the position the stream reported.
    stream.task.abort();
    let mut resumed = start(config(&database, &["t"]), Some(Position::Binlog(first.commit.clone()))).await;
    assert_eq!(next_transaction(&mut resumed).await.transaction.id, second.transaction.id);
}

#[tokio::test]
async fn xa_transactions_pass_on_other_tables_and_stop_the_stream_on_routed_ones() {
    let database = MariaDbServer::shared().create_database("src_xa").await;
    execute(&database, "CREATE TABLE routed (id INT PRIMARY KEY); CREATE TABLE other (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["routed"]), None).await;
    execute(
        &database,
        "XA START 'a'; INSERT INTO other VALUES (1); XA END 'a'; XA PREPARE 'a'; XA COMMIT 'a';
         INSERT INTO routed VALUES (1);",
    )
    .await;
    let routed = next_transaction(&mut stream).await;
    assert_eq!(routed.changes[0].after, Some(vec![Value::Int(1)]));
    execute(&database, "XA START 'b'; INSERT INTO routed VALUES (2); XA END 'b'; XA PREPARE 'b'; XA COMMIT 'b';").await;
    let error = next_error(&mut stream).await;
    assert_eq!(error.kind, sluice_api::ErrorKind::Data, "{error}");
    assert!(error.to_string().contains("XA"), "{error}");
}
