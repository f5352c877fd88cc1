//! Targets that cannot take the writes fail with errors that say which
//! table and column, and what to do — and never show the row's values.

use sluice_api::{ErrorKind, HasErrorKind, Value};
use sluice_postgres::PostgresError;

use super::{Target, table, text, upsert};

#[tokio::test]
async fn a_missing_target_table_is_a_config_error_naming_it() {
    let mut target = Target::new("sink_no_table", "SELECT 1").await;
    let ghost = table("ghost", &["id"], 1);
    let error = target.sink.write(vec![upsert(&ghost, vec![Value::Int(1)])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("public.ghost does not exist"), "{error}");
}

#[tokio::test]
async fn a_missing_column_is_a_config_error_naming_it() {
    let mut target = Target::new("sink_no_column", "CREATE TABLE t (id int PRIMARY KEY)").await;
    let t = table("t", &["id", "extra"], 1);
    let error = target.sink.write(vec![upsert(&t, vec![Value::Int(1), text("x")])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    let message = error.to_string();
    assert!(message.contains("no column \"extra\"") && message.contains("ADD COLUMN \"extra\""), "{message}");
}

#[tokio::test]
async fn a_key_without_a_unique_constraint_names_the_fix() {
    let mut target = Target::new("sink_no_key", "CREATE TABLE t (id int, v text)").await;
    let t = table("t", &["id", "v"], 1);
    let error = target.sink.write(vec![upsert(&t, vec![Value::Int(1), text("x")])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("ALTER TABLE \"public\".\"t\" ADD PRIMARY KEY (\"id\")"), "{error}");
}

#[tokio::test]
async fn a_generated_target_column_is_refused() {
    let ddl = "CREATE TABLE t (id int PRIMARY KEY, doubled int GENERATED ALWAYS AS (id * 2) STORED)";
    let mut target = Target::new("sink_generated", ddl).await;
    let t = table("t", &["id", "doubled"], 1);
    let error = target.sink.write(vec![upsert(&t, vec![Value::Int(1), Value::Int(2)])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("generated"), "{error}");
}

#[tokio::test]
async fn an_unencodable_value_names_table_and_column_but_not_the_value() {
    let mut target = Target::new("sink_bad_value", "CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let t = table("t", &["id", "v"], 1);
    let error = target.sink.write(vec![upsert(&t, vec![Value::Int(1), text("secret\0value")])]).await.unwrap_err();
    let PostgresError::Value { table, column, type_name, .. } = &error else { panic!("{error:?}") };
    assert_eq!((table.as_str(), column.as_str(), type_name.as_str()), ("public.t", "v", "text"));
    assert_eq!(error.kind(), ErrorKind::Data);
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[tokio::test]
async fn a_value_the_target_refuses_is_a_data_error() {
    let mut target = Target::new("sink_refused", "CREATE TABLE t (id int PRIMARY KEY, v varchar(3))").await;
    let t = table("t", &["id", "v"], 1);
    // Sent ahead: the refusal surfaces at the write or, at the latest, the commit.
    let position = sluice_api::Position::Postgres(sluice_api::Lsn(1));
    let error = match target.sink.write(vec![upsert(&t, vec![Value::Int(1), text("too long")])]).await {
        Err(error) => error,
        Ok(()) => target.sink.commit("erp", &position).await.unwrap_err(),
    };
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    assert!(error.to_string().contains("upsert into public.t"), "names the statement: {error}");
    target.sink.rollback().await.unwrap();
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), None, "nothing committed");
    // The sink is usable again after the rollback.
    target.sink.write(vec![upsert(&t, vec![Value::Int(1), text("ok")])]).await.unwrap();
    target.sink.commit("erp", &sluice_api::Position::Postgres(sluice_api::Lsn(1))).await.unwrap();
}

#[tokio::test]
async fn a_negative_duration_into_time_is_refused_before_the_server_sees_it() {
    let mut target = Target::new("sink_duration", "CREATE TABLE t (id int PRIMARY KEY, d time, i interval)").await;
    let t = table("t", &["id", "d", "i"], 1);
    let ok = upsert(&t, vec![Value::Int(1), Value::Duration(3_600_000_000), Value::Duration(-3_600_000_000)]);
    target.sink.write(vec![ok]).await.unwrap();
    target.sink.commit("erp", &sluice_api::Position::Postgres(sluice_api::Lsn(1))).await.unwrap();
    assert_eq!(target.rows("t").await, super::expect(&[&[Some("1"), Some("01:00:00"), Some("-01:00:00")]]));
    let bad = upsert(&t, vec![Value::Int(2), Value::Duration(-1), Value::Null]);
    let error = target.sink.write(vec![bad]).await.unwrap_err();
    assert!(matches!(&error, PostgresError::Value { column, .. } if column == "d"), "{error:?}");
}
