//! Configuration and value errors: what is wrong with the target is
//! reported with the table (and column), of the right kind, before any row
//! is written; values never appear in messages.

use mysql_async::prelude::Queryable;
use sluice_api::{ErrorKind, HasErrorKind, Value};
use sluice_mysql::MySqlError;

use super::{Target, position, table, text, upsert};

#[tokio::test]
async fn a_missing_table_or_column_is_a_config_error_naming_it() {
    let mut target = Target::new("sink_missing", "CREATE TABLE items (id int PRIMARY KEY)").await;
    let absent = table(&target.database, "absent", &["id"], 1);
    let error = target.sink.write(vec![upsert(&absent, vec![Value::Int(1)])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("absent") && error.to_string().contains("does not exist"), "{error}");
    target.sink.rollback().await.unwrap();

    let items = table(&target.database, "items", &["id", "colour"], 1);
    let error = target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("red")])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("\"colour\""), "{error}");
}

#[tokio::test]
async fn a_target_without_a_unique_key_on_the_route_key_is_refused() {
    let ddl = "CREATE TABLE loose (id int, code int NULL, UNIQUE KEY (code)) ENGINE=InnoDB";
    let mut target = Target::new("sink_no_key", ddl).await;
    for key_column in ["id", "code"] {
        let loose = table(&target.database, "loose", &[key_column], 1);
        let error = target.sink.write(vec![upsert(&loose, vec![Value::Int(1)])]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.to_string().contains("ADD PRIMARY KEY"), "{error}");
        target.sink.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn a_non_transactional_or_generated_target_is_refused() {
    let ddl = "CREATE TABLE flat (id int PRIMARY KEY) ENGINE=MyISAM; \
               CREATE TABLE derived (id int PRIMARY KEY, twice int AS (id * 2) VIRTUAL) ENGINE=InnoDB";
    let mut target = Target::new("sink_engine", ddl).await;
    let flat = table(&target.database, "flat", &["id"], 1);
    let error = target.sink.write(vec![upsert(&flat, vec![Value::Int(1)])]).await.unwrap_err();
    assert!(error.to_string().contains("ENGINE=InnoDB"), "{error}");
    target.sink.rollback().await.unwrap();

    let derived = table(&target.database, "derived", &["id", "twice"], 1);
    let error = target.sink.write(vec![upsert(&derived, vec![Value::Int(1), Value::Int(2)])]).await.unwrap_err();
    assert!(error.to_string().contains("generated"), "{error}");
}

#[tokio::test]
async fn a_value_the_column_cannot_hold_is_a_data_error_naming_table_and_column() {
    let ddl = "CREATE TABLE small (id int PRIMARY KEY, n tinyint NOT NULL, d decimal(5,2)) ENGINE=InnoDB";
    let mut target = Target::new("sink_value", ddl).await;
    let small = table(&target.database, "small", &["id", "n", "d"], 1);
    let cases = [
        (vec![Value::Int(1), Value::Int(300), Value::Null], "n", "out of range"),
        (vec![Value::Int(1), Value::Null, Value::Null], "n", "NOT NULL"),
        (vec![Value::Int(1), Value::Int(1), Value::Float64(1.005)], "d", "fraction digits"),
    ];
    for (values, column, reason) in cases {
        let error = target.sink.write(vec![upsert(&small, values)]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Data);
        match &error {
            MySqlError::Value { table, column: c, reason: r, .. } => {
                assert!(table.ends_with(".small"));
                assert_eq!(c, column);
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("expected a value error, got {other}"),
        }
        assert!(!error.to_string().contains("300") && !error.to_string().contains("1.005"), "{error}");
        target.sink.rollback().await.unwrap();
    }
    let count: Option<i64> = target.conn.query_first("SELECT COUNT(*) FROM small").await.unwrap();
    assert_eq!(count, Some(0));
    target.sink.write(vec![upsert(&small, vec![Value::Int(1), Value::Int(-128), Value::Float64(1.25)])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
}
