//! Transactions and the offsets table: rows and position become durable
//! together or not at all.

use sluice_api::{ErrorKind, HasErrorKind, Lsn, Position, Sink, TableName, Value};
use sluice_postgres::{PostgresError, PostgresSink, PostgresSinkConfig};
use sluice_testkit::{PgServer, SCRAM_PASSWORD, SCRAM_USER};

use super::{Target, expect, table, text, upsert};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name text)";

fn position(lsn: u64) -> Position {
    Position::Postgres(Lsn(lsn))
}

#[tokio::test]
async fn applied_position_round_trips_per_pipeline() {
    let mut target = Target::new("sink_position", ITEMS).await;
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), None);
    target.sink.commit("erp", &position(0x1_0000_0010)).await.unwrap();
    target.sink.commit("crm", &position(5)).await.unwrap();
    target.sink.commit("erp", &position(0x1_0000_0020)).await.unwrap();
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(0x1_0000_0020)));
    assert_eq!(target.sink.applied_position("crm").await.unwrap(), Some(position(5)));
    assert_eq!(target.stored_position("erp").await, "pg:1/20");
}

#[tokio::test]
async fn an_unparsable_stored_position_is_a_config_error_naming_the_table() {
    let mut target = Target::new("sink_bad_position", ITEMS).await;
    target
        .client
        .batch_execute("INSERT INTO sluice.offsets VALUES ('erp', 'mysql-bin.000001:4', now())")
        .await
        .unwrap();
    let error = target.sink.applied_position("erp").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("sluice.offsets"), "{error}");
}

#[tokio::test]
async fn rollback_leaves_nothing() {
    let mut target = Target::new("sink_rollback", ITEMS).await;
    let items = table("items", &["id", "name"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    Sink::rollback(&mut target.sink).await.unwrap();
    assert!(target.rows("items").await.is_empty());
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), None);
    // The next transaction starts clean.
    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("b")])]).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("2"), Some("b")]]));
}

#[tokio::test]
async fn rows_and_offset_commit_together_or_not_at_all() {
    let mut target = Target::new("sink_atomic", ITEMS).await;
    let items = table("items", &["id", "name"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    // Nothing is visible before the commit.
    assert!(target.rows("items").await.is_empty());
    // The connection dies before the commit (the timeout argument makes
    // the call wait until the backend has exited).
    let terminated = target
        .client
        .query(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[],
        )
        .await
        .unwrap();
    assert!(!terminated.is_empty() && terminated.iter().all(|row| row.get::<_, bool>(0)));
    let error = target.sink.commit("erp", &position(1)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
    Sink::rollback(&mut target.sink).await.unwrap();
    assert!(target.rows("items").await.is_empty());
    let offsets: i64 = target.client.query_one("SELECT count(*) FROM sluice.offsets", &[]).await.unwrap().get(0);
    assert_eq!(offsets, 0);

    // A new sink (the engine reconnects) commits both.
    let mut sink = PostgresSink::connect(PostgresSinkConfig::new(target.database.url())).await.unwrap();
    sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a")]]));
    assert_eq!(sink.applied_position("erp").await.unwrap(), Some(position(1)));
}

#[tokio::test]
async fn a_custom_offsets_table_is_created_with_its_schema() {
    let offsets = TableName::new("Meta Data", "sluice \"offsets\"");
    let mut target = Target::with_config("sink_custom_offsets", ITEMS, |c| c.offsets_table = offsets.clone()).await;
    target.sink.commit("erp", &position(3)).await.unwrap();
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(3)));
    // Connecting again finds the existing table.
    let mut config = PostgresSinkConfig::new(target.database.url());
    config.offsets_table = offsets;
    let mut again = PostgresSink::connect(config).await.unwrap();
    assert_eq!(again.applied_position("erp").await.unwrap(), Some(position(3)));
}

#[tokio::test]
async fn a_role_that_may_not_create_the_offsets_table_is_told_the_grant() {
    let database = PgServer::shared().create_database("sink_no_create").await;
    let url = database.url_as(SCRAM_USER, SCRAM_PASSWORD);
    let error = PostgresSink::connect(PostgresSinkConfig::new(url)).await.err().unwrap();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("GRANT CREATE ON DATABASE \"{}\" TO \"{SCRAM_USER}\"", database.name)),
        "{message}"
    );
    assert!(!message.contains(SCRAM_PASSWORD));
    assert!(matches!(error, PostgresError::Setup { .. }));
}

#[tokio::test]
async fn commits_sent_ahead_are_confirmed_in_order_and_the_last_position_is_durable() {
    let mut target = Target::new("sink_commit_ahead", ITEMS).await;
    let items = table("items", &["id", "name"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    target.sink.commit_ahead("erp", &position(10)).await.unwrap();
    // The next transaction goes out behind the first one's COMMIT.
    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("b")])]).await.unwrap();
    target.sink.commit_ahead("erp", &position(20)).await.unwrap();
    target.sink.settle().await.unwrap();
    assert_eq!(Sink::confirmed_commits(&mut target.sink), 2, "both commits confirmed once settled");
    assert_eq!(Sink::confirmed_commits(&mut target.sink), 0, "each confirmation is reported once");
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a")], &[Some("2"), Some("b")]]));
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(20)));
}

#[tokio::test]
async fn after_a_refused_row_no_later_transaction_commits_its_rows_or_position() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name text CHECK (name <> 'bad'))";
    let mut target = Target::new("sink_commit_ahead_refused", ddl).await;
    let items = table("items", &["id", "name"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("ok")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    // Transaction 2 holds a row the target refuses; transaction 3 is fine.
    // PostgreSQL answers the COMMIT of the aborted transaction 2 with a
    // rollback, not an error: were transaction 3's COMMIT sent before that
    // outcome is known, its row and position 3 would land over the lost
    // transaction 2.
    let sink = &mut target.sink;
    let outcome: Result<(), PostgresError> = async {
        sink.write(vec![upsert(&items, vec![Value::Int(2), text("bad")])]).await?;
        sink.commit_ahead("erp", &position(2)).await?;
        sink.write(vec![upsert(&items, vec![Value::Int(3), text("fine")])]).await?;
        sink.commit_ahead("erp", &position(3)).await?;
        sink.settle().await
    }
    .await;
    let error = outcome.expect_err("the refused row fails a call");
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    assert!(error.to_string().contains("items"), "the error names the statement's table: {error}");
    assert_eq!(Sink::confirmed_commits(&mut target.sink), 0, "no commit confirmed after the failure");
    let _ = Sink::rollback(&mut target.sink).await;

    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("ok")]]));
    assert_eq!(
        target.stored_position("erp").await,
        position(1).encode(),
        "the offsets table still holds the last good position"
    );
}
