//! Schema changes mid-stream: later rows carry the new columns; TRUNCATE
//! becomes a Truncate change; what cannot be mirrored stops the stream.

use sluice_api::{ErrorKind, Operation, Value};
use sluice_testkit::MariaDbServer;

use super::*;

#[tokio::test]
async fn columns_added_and_reordered_mid_stream_are_carried_by_later_rows() {
    let database = MariaDbServer::shared().create_database("src_alter").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(
        &database,
        "INSERT INTO t VALUES (1, 'x');
         ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 5;
         INSERT INTO t VALUES (2, 'y', 7);
         UPDATE t SET a = 'z' WHERE id = 1;
         ALTER TABLE t ADD COLUMN c CHAR(2) FIRST, DROP COLUMN a;
         INSERT INTO t VALUES ('cc', 3, 9);",
    )
    .await;
    let before = next_transaction(&mut stream).await;
    let after_add = next_transaction(&mut stream).await;
    let update = next_transaction(&mut stream).await;
    let reordered = next_transaction(&mut stream).await;

    let names = |received: &Received| -> Vec<String> {
        received.changes[0].table.columns.iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(names(&before), ["id", "a"]);
    assert_eq!(before.changes[0].after, Some(vec![Value::Int(1), Value::Text("x".into())]));
    assert_eq!(names(&after_add), ["id", "a", "b"]);
    assert_eq!(after_add.changes[0].after, Some(vec![Value::Int(2), Value::Text("y".into()), Value::Int(7)]));
    assert_eq!(update.changes[0].before, Some(vec![Value::Int(1), Value::Text("x".into()), Value::Int(5)]));
    assert_eq!(update.changes[0].after, Some(vec![Value::Int(1), Value::Text("z".into()), Value::Int(5)]));
    assert_eq!(names(&reordered), ["c", "id", "b"]);
    assert_eq!(reordered.changes[0].after, Some(vec![Value::Text("cc".into()), Value::Int(3), Value::Int(9)]));
    assert_eq!(reordered.changes[0].table.key_indices(), vec![1], "the key follows its column");
    // The first change still points at the schema it was written with.
    assert_eq!(before.changes[0].table.columns.len(), 2);
}

#[tokio::test]
async fn a_table_swapped_in_by_rename_is_followed_with_its_own_columns() {
    let database = MariaDbServer::shared().create_database("src_rename").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE t_new (id INT PRIMARY KEY, extra INT)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(
        &database,
        "INSERT INTO t_new VALUES (1, 10);
         RENAME TABLE t TO t_old, t_new TO t;
         INSERT INTO t VALUES (2, 20);
         INSERT INTO t_old VALUES (3);",
    )
    .await;
    let received = next_transaction(&mut stream).await;
    assert_eq!(received.changes[0].after, Some(vec![Value::Int(2), Value::Int(20)]));
    execute(&database, "INSERT INTO t VALUES (4, 40)").await;
    let next = next_transaction(&mut stream).await;
    assert_eq!(next.changes[0].after, Some(vec![Value::Int(4), Value::Int(40)]), "t_old's insert was not routed");
}

#[tokio::test]
async fn truncate_of_a_routed_table_is_a_truncate_change() {
    let database = MariaDbServer::shared().create_database("src_truncate").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE other (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(
        &database,
        "INSERT INTO t VALUES (1); TRUNCATE TABLE other; /* app */ TRUNCATE t; INSERT INTO t VALUES (2);",
    )
    .await;
    let insert = next_transaction(&mut stream).await;
    let truncate = next_transaction(&mut stream).await;
    assert_eq!(truncate.changes.len(), 1);
    let change = &truncate.changes[0];
    assert_eq!(change.operation, Operation::Truncate);
    assert_eq!(change.table.name, TableName::new(database.name.clone(), "t"));
    assert_eq!((change.before.clone(), change.after.clone()), (None, None));
    assert!(insert.commit < truncate.commit);
    let after = next_transaction(&mut stream).await;
    assert_eq!(after.changes[0].after, Some(vec![Value::Int(2)]));
}

#[tokio::test]
async fn truncating_a_partition_of_a_routed_table_stops_the_stream() {
    let database = MariaDbServer::shared().create_database("src_partition").await;
    execute(&database, "CREATE TABLE p (id INT PRIMARY KEY) PARTITION BY HASH (id) PARTITIONS 2").await;
    let mut stream = start(config(&database, &["p"]), None).await;
    execute(&database, "INSERT INTO p VALUES (1), (2); ALTER TABLE p TRUNCATE PARTITION p0;").await;
    next_transaction(&mut stream).await;
    let error = next_error(&mut stream).await;
    assert_eq!(error.kind, ErrorKind::ResnapshotNeeded, "{error}");
    assert!(error.to_string().contains("TRUNCATE PARTITION"), "{error}");
}

#[tokio::test]
async fn statement_based_writes_to_a_routed_table_stop_the_stream() {
    let database = MariaDbServer::shared().create_database("src_statement").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["t"]), None).await;
    execute(&database, "SET SESSION binlog_format = 'STATEMENT'; INSERT INTO t VALUES (1);").await;
    let error = next_error(&mut stream).await;
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    assert!(error.to_string().contains("binlog_format"), "{error}");
}
