//! Transactions and offsets: positions commit atomically with the rows,
//! rollbacks (and lost connections) discard both, and the offsets table is
//! created and read as the engine expects.

use mysql_async::prelude::Queryable;
use sluice_api::{Position, Sink, TableName, Value};
use sluice_mysql::{MySqlSink, MySqlSinkConfig};
use sluice_testkit::MariaDbServer;

use super::{Target, expect, position, table, text, upsert};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40)) ENGINE=InnoDB";

#[tokio::test]
async fn rollback_discards_rows_and_keeps_the_previous_position() {
    let mut target = Target::new("sink_rollback", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name"], 1);
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), None);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("kept")])]).await.unwrap();
    target.sink.commit("erp", &position(100)).await.unwrap();

    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("lost")])]).await.unwrap();
    target.sink.rollback().await.unwrap();

    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("kept")]]));
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(100)));
    assert_eq!(target.sink.applied_position("other").await.unwrap(), None);
}

#[tokio::test]
async fn a_connection_lost_before_commit_leaves_neither_rows_nor_position() {
    let mut target = Target::new("sink_lost", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("kept")])]).await.unwrap();
    target.sink.commit("erp", &position(100)).await.unwrap();
    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("lost")])]).await.unwrap();

    // Kill every other session on this database: the sink's connection.
    let ids: Vec<u64> = target
        .conn
        .exec(
            "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
            (&target.database.name,),
        )
        .await
        .unwrap();
    assert!(!ids.is_empty());
    for id in ids {
        target.conn.query_drop(format!("KILL {id}")).await.unwrap();
    }
    assert!(target.sink.commit("erp", &position(200)).await.is_err());

    let mut restarted = target.another_sink().await;
    assert_eq!(restarted.applied_position("erp").await.unwrap(), Some(position(100)));
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("kept")]]));
}

#[tokio::test]
async fn positions_are_per_pipeline_and_can_be_forgotten() {
    let mut target = Target::new("sink_offsets", ITEMS).await;
    let gtid = Position::decode("binlog:mysql-bin.000012:4567:0-1-99").unwrap();
    Sink::commit(&mut target.sink, "a", &gtid).await.unwrap();
    Sink::commit(&mut target.sink, "b", &position(5)).await.unwrap();
    Sink::commit(&mut target.sink, "a", &position(6)).await.unwrap();
    assert_eq!(Sink::applied_position(&mut target.sink, "a").await.unwrap(), Some(position(6)));
    assert_eq!(target.sink.applied_position("b").await.unwrap(), Some(position(5)));
    Sink::commit(&mut target.sink, "c", &gtid).await.unwrap();
    let stored = target.sink.applied_position("c").await.unwrap().unwrap();
    assert_eq!(stored.encode(), "binlog:mysql-bin.000012:4567:0-1-99");

    target.sink.forget_position("a").await.unwrap();
    assert_eq!(target.sink.applied_position("a").await.unwrap(), None);
    assert_eq!(target.sink.applied_position("b").await.unwrap(), Some(position(5)));
}

#[tokio::test]
async fn the_default_offsets_table_is_created_transactional_in_its_own_database() {
    let server = MariaDbServer::shared();
    let database = server.create_database("sink_default_offsets").await;
    let pipeline = format!("default_offsets_{}", database.name);
    let mut sink = MySqlSink::connect(MySqlSinkConfig::new(database.url())).await.unwrap();
    sink.commit(&pipeline, &position(9)).await.unwrap();
    // A second sink finds the table and the position.
    let mut again = MySqlSink::connect(MySqlSinkConfig::new(database.url())).await.unwrap();
    assert_eq!(again.applied_position(&pipeline).await.unwrap(), Some(position(9)));

    let info = again.describe_table(&TableName::new("sluice", "offsets")).await.unwrap().unwrap();
    assert_eq!(info.primary_key, ["pipeline"]);
    let mut conn = server.connect("").await;
    let engine: Option<String> = conn
        .query_first(
            "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sluice' AND TABLE_NAME = 'offsets'",
        )
        .await
        .unwrap();
    assert_eq!(engine.as_deref(), Some("InnoDB"));
    again.forget_position(&pipeline).await.unwrap();
}

#[tokio::test]
async fn an_account_that_may_not_create_the_offsets_table_gets_the_grant_to_run() {
    let server = MariaDbServer::shared();
    let database = server.create_database("sink_offsets_denied").await;
    let user = format!("writer_{}", database.name);
    let mut root = server.connect("").await;
    root.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")).await.unwrap();
    root.query_drop(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON `{}`.* TO '{user}'@'%'", database.name))
        .await
        .unwrap();
    let config = MySqlSinkConfig {
        url: database.url_as(&user, "pw"),
        offsets_table: TableName::new(format!("{}_offsets", database.name), "offsets"),
        max_rows_per_statement: 10,
    };
    let error = MySqlSink::connect(config).await.err().expect("creating the database is denied");
    let message = error.to_string();
    assert!(message.contains("GRANT CREATE") && message.contains("CREATE TABLE IF NOT EXISTS"), "{message}");
    assert!(!message.contains("pw'"), "{message}");
    root.query_drop(format!("DROP USER '{user}'@'%'")).await.unwrap();
}
