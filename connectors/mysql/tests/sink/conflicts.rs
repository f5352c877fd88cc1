//! `INSERT … ON DUPLICATE KEY UPDATE` fires on any unique index: a row
//! whose value of another unique key is held by a different row must stop
//! the sink with an error naming the table and key — never overwrite that
//! other row. Values moving between rows within one batch still work.

use sluice_api::Value;
use sluice_mysql::MySqlError;

use super::{Target, delete, expect, position, table, text, upsert, write_settled};

const USERS: &str = "CREATE TABLE users (id int PRIMARY KEY, email varchar(40) NOT NULL, name varchar(40), \
                     UNIQUE KEY uk_email (email)) ENGINE=InnoDB";

async fn users_with_two_rows() -> (Target, std::sync::Arc<sluice_api::TargetTable>) {
    let mut target = Target::new("sink_conflict", USERS).await;
    let users = table(&target.database, "users", &["id", "email", "name"], 1);
    let rows = vec![
        upsert(&users, vec![Value::Int(1), text("a@x"), text("Ann")]),
        upsert(&users, vec![Value::Int(2), text("b@x"), text("Bob")]),
    ];
    target.sink.write(rows).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    (target, users)
}

fn original() -> Vec<Vec<Option<String>>> {
    expect(&[&[Some("1"), Some("a@x"), Some("Ann")], &[Some("2"), Some("b@x"), Some("Bob")]])
}

#[tokio::test]
async fn a_new_row_taking_another_rows_unique_value_is_an_error_not_an_overwrite() {
    let (mut target, users) = users_with_two_rows().await;
    let error = write_settled(&mut target.sink, vec![upsert(&users, vec![Value::Int(3), text("a@x"), text("Eve")])])
        .await
        .unwrap_err();
    match &error {
        MySqlError::KeyConflict { table, key } => {
            assert_eq!(table, &format!("{}.users", target.database.name));
            assert!(key.contains("uk_email"), "{key}");
        }
        other => panic!("expected a key conflict, got {other}"),
    }
    assert!(!error.to_string().contains("a@x"), "the message must not carry values: {error}");
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("users").await, original(), "row 1 was not overwritten");
}

#[tokio::test]
async fn an_existing_row_taking_another_rows_unique_value_is_an_error() {
    let (mut target, users) = users_with_two_rows().await;
    let error = write_settled(&mut target.sink, vec![upsert(&users, vec![Value::Int(2), text("a@x"), text("Bob")])])
        .await
        .unwrap_err();
    assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("uk_email")), "{error}");
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("users").await, original());
}

#[tokio::test]
async fn a_conflict_inside_one_batch_is_an_error_too() {
    let (mut target, users) = users_with_two_rows().await;
    let writes = vec![
        upsert(&users, vec![Value::Int(5), text("e@x"), text("Eve")]),
        upsert(&users, vec![Value::Int(6), text("e@x"), text("Mallory")]),
    ];
    let error = write_settled(&mut target.sink, writes).await.unwrap_err();
    assert!(matches!(error, MySqlError::KeyConflict { .. }), "{error}");
}

#[tokio::test]
async fn unique_values_swapped_between_rows_in_one_batch_apply_in_source_order() {
    let (mut target, users) = users_with_two_rows().await;
    // The source swapped the emails through a temporary value.
    let writes = vec![
        upsert(&users, vec![Value::Int(1), text("tmp"), text("Ann")]),
        upsert(&users, vec![Value::Int(2), text("a@x"), text("Bob")]),
        upsert(&users, vec![Value::Int(1), text("b@x"), text("Ann")]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(2)).await.unwrap();
        assert_eq!(
            target.rows("users").await,
            expect(&[&[Some("1"), Some("b@x"), Some("Ann")], &[Some("2"), Some("a@x"), Some("Bob")]])
        );
    }
}

#[tokio::test]
async fn an_unchanged_column_update_into_another_rows_unique_value_is_an_error() {
    let (mut target, users) = users_with_two_rows().await;
    let error =
        target.sink.write(vec![upsert(&users, vec![Value::Int(2), text("a@x"), Value::Unchanged])]).await.unwrap_err();
    assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("uk_email")), "{error}");
}

#[tokio::test]
async fn a_route_keyed_by_a_unique_key_guards_against_the_primary_key() {
    // The route identifies users by email; the id (also written) is the primary key.
    let (mut target, _) = users_with_two_rows().await;
    let by_email = std::sync::Arc::new(sluice_api::TargetTable {
        schema: target.database.name.clone(),
        name: "users".into(),
        columns: vec!["email".into(), "id".into(), "name".into()],
        key: vec![0],
        insert_only: vec![],
    });
    // Same email, same id: an ordinary update.
    target.sink.write(vec![upsert(&by_email, vec![text("a@x"), Value::Int(1), text("Anna")])]).await.unwrap();
    // A new email with id 2, which belongs to b@x: refused.
    let error =
        write_settled(&mut target.sink, vec![upsert(&by_email, vec![text("c@x"), Value::Int(2), text("Carl")])])
            .await
            .unwrap_err();
    assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("PRIMARY")), "{error}");
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("users").await, original());
}

#[tokio::test]
async fn a_self_referencing_table_keeps_parents_before_children() {
    let ddl = "CREATE TABLE tree (id int PRIMARY KEY, parent int NULL, label varchar(10), \
               FOREIGN KEY (parent) REFERENCES tree (id)) ENGINE=InnoDB";
    let mut target = Target::new("sink_tree", ddl).await;
    let tree = table(&target.database, "tree", &["id", "parent", "label"], 1);
    // Deduplicated to the last images in last-occurrence order this would
    // write the child's final image (parent 1) before the parent exists.
    let writes = vec![
        upsert(&tree, vec![Value::Int(2), Value::Null, text("child")]),
        upsert(&tree, vec![Value::Int(1), Value::Null, text("root")]),
        upsert(&tree, vec![Value::Int(2), Value::Int(1), text("child")]),
        upsert(&tree, vec![Value::Int(1), Value::Null, text("root2")]),
        delete(&tree, vec![Value::Int(99)]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("tree").await,
        expect(&[&[Some("1"), None, Some("root2")], &[Some("2"), Some("1"), Some("child")]])
    );
}
