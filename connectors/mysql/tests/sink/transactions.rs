//! Transactions and offsets: positions commit atomically with the rows,
//! rollbacks (and lost connections) discard both, commits sent ahead are
//! confirmed in order and never follow a refused statement, and the
//! offsets table is created and read as the engine expects.

use futures_util::FutureExt;
use mysql_async::prelude::Queryable;
use sluice_api::{Position, Sink, TableName, Value};
use sluice_mysql::{MySqlError, MySqlSink, MySqlSinkConfig};
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

#[tokio::test]
async fn commits_sent_ahead_are_confirmed_in_order_and_the_last_position_is_durable() {
    let mut target = Target::new("sink_commit_ahead", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name"], 1);
    let sink = &mut target.sink;
    sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    assert!(!sink.commit_ahead("erp", &position(10)).await.unwrap(), "sent ahead, not confirmed yet");
    assert_eq!(Sink::confirmed_commits(sink), 0);
    // The next transaction's first statement goes out once the commit before it has answered.
    sink.write(vec![upsert(&items, vec![Value::Int(2), text("b")])]).await.unwrap();
    assert_eq!(Sink::confirmed_commits(sink), 1, "settled before the next statement was sent");
    sink.commit_ahead("erp", &position(20)).await.unwrap();
    // A commit that only moves the position, behind the one in flight.
    sink.commit_ahead("erp", &position(30)).await.unwrap();
    // Settling is cancel-safe: a settle dropped before the commit answered loses nothing.
    assert!(sink.settle().now_or_never().is_none(), "the commit has not run yet");
    sink.settle().await.unwrap();
    assert_eq!(Sink::confirmed_commits(sink), 2, "both commits confirmed once settled");
    assert_eq!(Sink::confirmed_commits(sink), 0, "each confirmation is reported once");
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a")], &[Some("2"), Some("b")]]));
    assert_eq!(target.another_sink().await.applied_position("erp").await.unwrap(), Some(position(30)));

    // A rollback confirms the commit sent before it first.
    let sink = &mut target.sink;
    sink.write(vec![upsert(&items, vec![Value::Int(3), text("c")])]).await.unwrap();
    sink.commit_ahead("erp", &position(40)).await.unwrap();
    sink.rollback().await.unwrap();
    assert_eq!(Sink::confirmed_commits(sink), 1);
    assert_eq!(sink.applied_position("erp").await.unwrap(), Some(position(40)));
    assert_eq!(target.rows("items").await.len(), 3);
}

#[tokio::test]
async fn after_a_refused_row_no_later_statement_or_transaction_commits_its_rows_or_position() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40), UNIQUE KEY uk_name (name)) ENGINE=InnoDB";
    let mut target = Target::new("sink_ahead_refused", ddl).await;
    let items = table(&target.database, "items", &["id", "name"], 1);
    let row = |id: i64, name: &str| vec![upsert(&items, vec![Value::Int(id), text(name)])];
    target.sink.write(row(1, "one")).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    let good = || expect(&[&[Some("1"), Some("one")]]);
    let check = |error: MySqlError| {
        // The refusal itself — not a later symptom — names the table and key, never the value.
        assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("uk_name")), "{error:?}");
        assert!(error.to_string().contains("items") && !error.to_string().contains("one"), "{error}");
    };

    // Within a transaction: a refused statement sent ahead fails the next
    // call, before that call sends anything. MySQL keeps the transaction
    // open after a failed statement, so were row 4 sent and committed, it
    // would land with position 2 over the refused row 3.
    let sink = &mut target.sink;
    let outcome: Result<(), MySqlError> = async {
        sink.write(row(2, "two")).await?;
        sink.write(row(3, "one")).await?;
        sink.write(row(4, "four")).await?;
        sink.commit_ahead("erp", &position(2)).await?;
        sink.settle().await
    }
    .await;
    check(outcome.expect_err("the refused row fails a call"));
    // A caller going on regardless gets nothing written or committed.
    assert!(sink.write(row(5, "five")).await.is_err());
    assert!(sink.commit("erp", &position(2)).await.is_err());
    assert_eq!(Sink::confirmed_commits(sink), 0);
    sink.rollback().await.unwrap();
    assert_eq!(target.rows("items").await, good());
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(1)));

    // Across transactions: the commit sent behind the refused statement
    // neither records its position nor commits, and the next transaction
    // does not go out.
    let sink = &mut target.sink;
    let outcome: Result<(), MySqlError> = async {
        sink.write(row(6, "six")).await?;
        sink.write(row(7, "one")).await?;
        sink.commit_ahead("erp", &position(3)).await?;
        sink.write(row(8, "eight")).await?;
        sink.commit_ahead("erp", &position(4)).await?;
        sink.settle().await
    }
    .await;
    check(outcome.expect_err("the refused row fails a call"));
    assert_eq!(Sink::confirmed_commits(sink), 0, "no commit confirmed after the failure");
    sink.rollback().await.unwrap();
    assert_eq!(target.rows("items").await, good());
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(1)));

    // The sink goes on after the rollback.
    target.sink.write(row(9, "nine")).await.unwrap();
    target.sink.commit("erp", &position(5)).await.unwrap();
    assert_eq!(target.rows("items").await.len(), 2);
}

#[tokio::test]
async fn a_refused_position_write_commits_nothing() {
    let mut target = Target::new("sink_offsets_refused", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name"], 1);
    // The offsets table's pipeline column is VARCHAR(190): strict mode refuses a longer name.
    let long = "p".repeat(200);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    let error = target.sink.commit(&long, &position(7)).await.unwrap_err();
    assert!(error.to_string().contains("sluice_offsets"), "{error}");
    target.sink.rollback().await.unwrap();
    // Also when the position write follows START TRANSACTION in the same query.
    assert!(target.sink.commit(&long, &position(8)).await.is_err());
    target.sink.rollback().await.unwrap();
    assert!(target.rows("items").await.is_empty(), "the COMMIT behind the refused write did not run");

    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("b")])]).await.unwrap();
    target.sink.commit("erp", &position(9)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("2"), Some("b")]]));
    assert_eq!(target.another_sink().await.applied_position("erp").await.unwrap(), Some(position(9)));
}
