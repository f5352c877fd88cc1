//! The source's catalog side: `describe_source_table` (columns, MariaDB
//! types, keys), keys of tables without a primary key on the stream, and
//! `binlog_status`.

use sluice_api::ColumnType;
use sluice_mysql::{Flavor, binlog_status, describe_source_table};
use sluice_testkit::MariaDbServer;

use super::*;

#[tokio::test]
async fn describe_source_table_reports_columns_types_and_key() {
    let database = MariaDbServer::shared().create_database("src_describe").await;
    execute(
        &database,
        "CREATE TABLE t (a INT NOT NULL, b VARCHAR(40) CHARACTER SET gbk, j JSON, u UUID,
                         n BIGINT UNSIGNED, e ENUM('x','it''s'), PRIMARY KEY (b, a));
         CREATE TABLE k (id INT, code CHAR(3) NOT NULL, other INT NOT NULL, UNIQUE KEY nullable (id),
                         UNIQUE KEY by_code (code), UNIQUE KEY by_other (other))",
    )
    .await;
    let mut conn = database.connect().await;
    let table = describe_source_table(&mut conn, &TableName::new(database.name.clone(), "t")).await.unwrap().unwrap();
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "j", "u", "n", "e"]);
    assert_eq!(table.key_indices(), vec![0, 1]);
    let column_type = |name: &str| table.columns[table.column_index(name).unwrap()].column_type.clone();
    assert_eq!(column_type("b"), ColumnType::Text { max_chars: Some(40) });
    assert_eq!(column_type("j"), ColumnType::Json);
    assert_eq!(column_type("u"), ColumnType::Uuid);
    assert_eq!(column_type("n"), ColumnType::Int { bytes: 8, unsigned: true });
    assert_eq!(column_type("e"), ColumnType::Enum { labels: vec!["x".into(), "it's".into()] });

    let keyed = describe_source_table(&mut conn, &TableName::new(database.name.clone(), "k")).await.unwrap().unwrap();
    assert_eq!(keyed.key_indices(), vec![1], "the first UNIQUE index whose columns are NOT NULL");
    let missing = describe_source_table(&mut conn, &TableName::new(database.name.clone(), "nope")).await.unwrap();
    assert!(missing.is_none());
}

#[tokio::test]
async fn a_table_without_primary_key_is_keyed_by_its_first_unique_not_null_index() {
    let database = MariaDbServer::shared().create_database("src_unique").await;
    execute(&database, "CREATE TABLE k (v INT, code CHAR(3) NOT NULL, UNIQUE KEY by_code (code))").await;
    let mut stream = start(config(&database, &["k"]), None).await;
    execute(&database, "INSERT INTO k VALUES (1, 'abc')").await;
    let received = next_transaction(&mut stream).await;
    assert_eq!(received.changes[0].table.key_indices(), vec![1]);
}

#[tokio::test]
async fn non_transactional_tables_end_their_groups_with_a_commit_statement() {
    let database = MariaDbServer::shared().create_database("src_aria").await;
    execute(&database, "CREATE TABLE m (id INT PRIMARY KEY) ENGINE=Aria TRANSACTIONAL=0").await;
    let mut stream = start(config(&database, &["m"]), None).await;
    execute(&database, "INSERT INTO m VALUES (1); INSERT INTO m VALUES (2);").await;
    let first = next_transaction(&mut stream).await;
    let second = next_transaction(&mut stream).await;
    assert_eq!(first.changes.len() + second.changes.len(), 2);
    assert!(first.commit < second.commit);
}

#[tokio::test]
async fn binlog_status_reports_the_current_position_and_gtid_state() {
    let database = MariaDbServer::shared().create_database("src_status").await;
    execute(&database, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);").await;
    let mut conn = database.connect().await;
    let status = binlog_status(&mut conn).await.unwrap();
    assert_eq!(status.flavor, Flavor::MariaDb);
    let position = server_position(&database).await;
    assert!(status.file <= position.file && !status.oldest_file.is_empty());
    assert!(status.oldest_file <= status.file);
    let gtid = status.gtid.expect("MariaDB always has a GTID state");
    assert!(gtid.split(',').all(|part| part.split('-').count() == 3), "{gtid}");
}
