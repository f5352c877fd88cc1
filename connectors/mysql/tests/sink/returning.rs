//! `insert_returning` on MariaDB (10.5+: `INSERT … RETURNING`): a plain
//! insert inside the open transaction that returns the value the target
//! assigned. MySQL's `LAST_INSERT_ID()` path is unit-tested only (no MySQL
//! server here): see `resolve` and `statements`.

use std::sync::Arc;

use sluice_api::{ErrorKind, HasErrorKind, Sink, TargetTable, Value};
use sluice_mysql::MySqlError;
use sluice_testkit::TestMariaDb;

use super::{Target, expect, position, table, text, upsert};

/// A target of `insert_returning`: the written columns, no key.
fn written(database: &TestMariaDb, name: &str, columns: &[&str]) -> Arc<TargetTable> {
    let columns = columns.iter().map(|c| (*c).to_owned()).collect();
    Arc::new(TargetTable::new(database.name.clone(), name, columns, vec![]))
}

const ACCOUNTS: &str = "CREATE TABLE accounts (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, \
                        name varchar(40) NOT NULL, email varchar(8) UNIQUE, code varchar(10) DEFAULT 'c-7') \
                        ENGINE=InnoDB AUTO_INCREMENT=100";

#[tokio::test]
async fn the_auto_increment_value_is_assigned_by_the_target_and_returned() {
    let mut target = Target::new("sink_returning", ACCOUNTS).await;
    let accounts = written(&target.database, "accounts", &["name"]);
    let first = target.sink.insert_returning(Arc::clone(&accounts), vec![text("ann")], "id").await.unwrap();
    let second =
        Sink::insert_returning(&mut target.sink, Arc::clone(&accounts), vec![text("bob")], "id").await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("100", "101"));
    // Any column: here a default, named in another case.
    let code = target.sink.insert_returning(Arc::clone(&accounts), vec![text("cy")], "CODE").await.unwrap();
    assert_eq!(code, "c-7");
    // No column written at all would need a default for name: refused.
    let all_default = written(&target.database, "accounts", &[]);
    let error = target.sink.insert_returning(all_default, vec![], "id").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    // Inside the open transaction: mixed with ordinary writes, visible only after the commit.
    let rows = table(&target.database, "accounts", &["id", "name"], 1);
    target.sink.write(vec![upsert(&rows, vec![Value::Int(5), text("eve")])]).await.unwrap();
    assert!(target.rows("accounts").await.is_empty());
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("accounts").await,
        expect(&[
            &[Some("5"), Some("eve"), None, Some("c-7")],
            &[Some("100"), Some("ann"), None, Some("c-7")],
            &[Some("101"), Some("bob"), None, Some("c-7")],
            &[Some("102"), Some("cy"), None, Some("c-7")],
        ])
    );
}

#[tokio::test]
async fn a_rolled_back_insert_leaves_nothing() {
    let mut target = Target::new("sink_returning_rollback", ACCOUNTS).await;
    let accounts = written(&target.database, "accounts", &["name", "email"]);
    target.sink.insert_returning(Arc::clone(&accounts), vec![text("ann"), text("a@x")], "id").await.unwrap();
    target.sink.rollback().await.unwrap();
    assert!(target.rows("accounts").await.is_empty());
}

#[tokio::test]
async fn a_refused_row_is_a_data_error_naming_table_and_column() {
    let mut target = Target::new("sink_returning_refused", ACCOUNTS).await;
    let accounts = written(&target.database, "accounts", &["name", "email"]);
    let qualified = format!("{}.accounts", target.database.name);

    // NULL into NOT NULL.
    let error = target.sink.insert_returning(Arc::clone(&accounts), vec![Value::Null, text("a@x")], "id").await;
    let error = error.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    let MySqlError::Value { table, column, .. } = &error else { panic!("{error:?}") };
    assert_eq!((table.as_str(), column.as_str()), (qualified.as_str(), "name"));

    // Too long, refused by strict mode; the value is not in the message.
    let error = target
        .sink
        .insert_returning(Arc::clone(&accounts), vec![text("ann"), text("secret-address")], "id")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    let MySqlError::Value { table, column, .. } = &error else { panic!("{error:?}") };
    assert_eq!((table.as_str(), column.as_str()), (qualified.as_str(), "email"));
    assert!(!error.to_string().contains("secret"), "{error}");

    // A duplicate of a unique key: no conflict handling here.
    target.sink.insert_returning(Arc::clone(&accounts), vec![text("ann"), text("a@x")], "id").await.unwrap();
    let error =
        target.sink.insert_returning(Arc::clone(&accounts), vec![text("bob"), text("a@x")], "id").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    assert!(error.to_string().contains(&qualified) && error.to_string().contains("email"), "{error}");

    // The transaction goes on (MySQL rolls back only the failed statement).
    let id = target.sink.insert_returning(Arc::clone(&accounts), vec![text("cy"), Value::Null], "id").await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("accounts").await,
        expect(&[
            &[Some("100"), Some("ann"), Some("a@x"), Some("c-7")],
            &[Some(id.as_str()), Some("cy"), None, Some("c-7")]
        ])
    );
}

#[tokio::test]
async fn unknown_columns_are_config_errors_naming_them() {
    let mut target = Target::new("sink_returning_config", ACCOUNTS).await;
    let error = target
        .sink
        .insert_returning(written(&target.database, "accounts", &["name"]), vec![text("a")], "uuid")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("has no column \"uuid\""), "{error}");
    let error = target
        .sink
        .insert_returning(written(&target.database, "accounts", &["nom"]), vec![text("a")], "id")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("no column \"nom\""), "{error}");
    let error = target
        .sink
        .insert_returning(written(&target.database, "ghost", &["name"]), vec![text("a")], "id")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("ghost does not exist"), "{error}");
}
