//! Insert-only columns (written when an upsert inserts the row, kept when it
//! exists) on every write path — deduplicated and source-ordered upserts,
//! the guarded upsert of tables with other unique keys, partial updates,
//! the bulk load's upsert fallback — and patches (update the row if it
//! exists, never insert).

use sluice_api::Value;
use sluice_mysql::MySqlError;

use super::{Target, expect, insert_only, patch, position, table, text, upsert, write_settled};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40), status varchar(10)) ENGINE=InnoDB";

#[tokio::test]
async fn insert_only_columns_are_written_on_insert_and_kept_on_conflict() {
    let mut target = Target::new("sink_insert_only", ITEMS).await;
    let items = insert_only(&table(&target.database, "items", &["id", "name", "status"], 1), &[2]);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), text("new")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a"), Some("new")]]));
    // The target's users move the status on.
    use mysql_async::prelude::Queryable;
    target.conn.query_drop("UPDATE items SET status = 'done' WHERE id = 1").await.unwrap();
    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("a2"), text("new")]),
        upsert(&items, vec![Value::Int(2), text("b"), text("new")]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(2)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[&[Some("1"), Some("a2"), Some("done")], &[Some("2"), Some("b"), Some("new")]])
        );
    }
}

#[tokio::test]
async fn repeated_upserts_of_a_key_in_one_run_keep_the_insert_only_cells_of_the_insert() {
    let ddl = format!("{ITEMS}; INSERT INTO items VALUES (1, 'a', 'done')");
    let mut target = Target::new("sink_insert_only_dedup", &ddl).await;
    let items = insert_only(&table(&target.database, "items", &["id", "name", "status"], 1), &[2]);
    let writes = vec![
        upsert(&items, vec![Value::Int(3), text("x"), text("first")]),
        upsert(&items, vec![Value::Int(1), text("y"), text("s1")]),
        upsert(&items, vec![Value::Int(3), text("x2"), text("second")]),
        upsert(&items, vec![Value::Int(1), text("y2"), text("s2")]),
        upsert(&items, vec![Value::Int(3), text("x3"), text("third")]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("items").await,
        expect(&[&[Some("1"), Some("y2"), Some("done")], &[Some("3"), Some("x3"), Some("first")]])
    );
}

#[tokio::test]
async fn with_every_non_key_column_insert_only_an_upsert_inserts_if_absent() {
    let ddl = format!("{ITEMS}; INSERT INTO items VALUES (1, 'orig', 'done')");
    let mut target = Target::new("sink_insert_if_absent", &ddl).await;
    let items = insert_only(&table(&target.database, "items", &["id", "name", "status"], 1), &[1, 2]);
    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("other"), text("new")]),
        upsert(&items, vec![Value::Int(2), text("b"), text("new")]),
        upsert(&items, vec![Value::Int(2), text("b2"), text("newer")]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(1)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[&[Some("1"), Some("orig"), Some("done")], &[Some("2"), Some("b"), Some("new")]])
        );
    }
    // Still strict: a refused value is an error, not a warning.
    let bad = vec![upsert(&items, vec![Value::Int(3), text("c"), text("far too long a status")])];
    let error = target.sink.write(bad).await.unwrap_err();
    assert!(matches!(&error, MySqlError::Value { column, .. } if column == "status"), "{error:?}");
}

#[tokio::test]
async fn a_partial_update_never_sets_insert_only_columns() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40), note text, status varchar(10)) ENGINE=InnoDB; \
               INSERT INTO items VALUES (1, 'a', 'big note', 'done')";
    let mut target = Target::new("sink_insert_only_partial", ddl).await;
    let items = insert_only(&table(&target.database, "items", &["id", "name", "note", "status"], 1), &[3]);
    target
        .sink
        .write(vec![upsert(&items, vec![Value::Int(1), text("a2"), Value::Unchanged, text("new")])])
        .await
        .unwrap();
    let key_only = vec![upsert(&items, vec![Value::Int(1), Value::Unchanged, Value::Unchanged, text("x")])];
    target.sink.write(key_only).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a2"), Some("big note"), Some("done")]]));

    let missing = vec![upsert(&items, vec![Value::Int(9), text("z"), Value::Unchanged, text("new")])];
    let error = target.sink.write(missing).await.unwrap_err();
    assert!(matches!(error, MySqlError::MissingTargetRows { missing: 1, .. }), "{error:?}");
    target.sink.rollback().await.unwrap();
    let missing = vec![upsert(&items, vec![Value::Int(9), Value::Unchanged, Value::Unchanged, text("new")])];
    let error = target.sink.write(missing).await.unwrap_err();
    assert!(matches!(error, MySqlError::MissingTargetRows { missing: 1, .. }), "{error:?}");
}

const USERS: &str = "CREATE TABLE users (id int PRIMARY KEY, email varchar(40) NOT NULL, name varchar(40), \
                     status varchar(10), UNIQUE KEY uk_email (email)) ENGINE=InnoDB; \
                     INSERT INTO users VALUES (1, 'a@x', 'Ann', 'done'), (2, 'b@x', 'Bob', 'done')";

#[tokio::test]
async fn the_guarded_upsert_keeps_insert_only_columns_and_still_refuses_other_rows() {
    let mut target = Target::new("sink_insert_only_guarded", USERS).await;
    let users = insert_only(&table(&target.database, "users", &["id", "email", "name", "status"], 1), &[3]);
    // Source order, no deduplication: row 3 is inserted by its first image.
    let writes = vec![
        upsert(&users, vec![Value::Int(1), text("a@x"), text("Anna"), text("new")]),
        upsert(&users, vec![Value::Int(3), text("c@x"), text("Cat"), text("new")]),
        upsert(&users, vec![Value::Int(3), text("c@x"), text("Cathy"), text("newer")]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    let after = expect(&[
        &[Some("1"), Some("a@x"), Some("Anna"), Some("done")],
        &[Some("2"), Some("b@x"), Some("Bob"), Some("done")],
        &[Some("3"), Some("c@x"), Some("Cathy"), Some("new")],
    ]);
    assert_eq!(target.rows("users").await, after);

    // A new key taking another row's email is still refused.
    let error = write_settled(
        &mut target.sink,
        vec![upsert(&users, vec![Value::Int(4), text("a@x"), text("Eve"), text("new")])],
    )
    .await
    .unwrap_err();
    assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("uk_email")), "{error}");
    target.sink.rollback().await.unwrap();

    // Every non-key column insert-only: the guard is the only assignment.
    let absent = insert_only(&users, &[1, 2, 3]);
    target.sink.write(vec![upsert(&absent, vec![Value::Int(1), text("z@x"), text("Zed"), text("new")])]).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert_eq!(target.rows("users").await, after);
    let error = write_settled(
        &mut target.sink,
        vec![upsert(&absent, vec![Value::Int(5), text("b@x"), text("Mallory"), text("new")])],
    )
    .await
    .unwrap_err();
    assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("uk_email")), "{error}");
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("users").await, after);
}

#[tokio::test]
async fn the_bulk_loads_upsert_fallback_keeps_insert_only_columns() {
    let ddl = format!("{ITEMS}; INSERT INTO items VALUES (2, 'old', 'done')");
    let mut target = Target::new("sink_insert_only_load", &ddl).await;
    let items = insert_only(&table(&target.database, "items", &["id", "name", "status"], 1), &[2]);
    let chunk = (1..=3).map(|i| upsert(&items, vec![Value::Int(i), text(&format!("n{i}")), text("new")])).collect();
    target.sink.load(chunk).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("items").await,
        expect(&[
            &[Some("1"), Some("n1"), Some("new")],
            &[Some("2"), Some("n2"), Some("done")],
            &[Some("3"), Some("n3"), Some("new")],
        ])
    );
}

#[tokio::test]
async fn a_patch_updates_existing_rows_and_leaves_missing_ones_absent() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40), deleted_at varchar(30), \
               status varchar(10)) ENGINE=InnoDB; \
               INSERT INTO items VALUES (1, 'a', NULL, 'done'), (2, 'b', NULL, 'done'), (3, 'c', NULL, 'done')";
    let mut target = Target::new("sink_patch", ddl).await;
    let soft = insert_only(&table(&target.database, "items", &["id", "deleted_at", "status"], 1), &[2]);
    let at = |s: &str| Value::Text(s.to_owned());
    let writes = vec![
        patch(&soft, vec![Value::Int(1), at("2024-05-01 10:00:00"), text("deleted")]),
        patch(&soft, vec![Value::Int(7), at("2024-05-01 10:00:00"), text("deleted")]),
        patch(&soft, vec![Value::Int(2), at("2024-05-01 11:00:00"), text("deleted")]),
        patch(&soft, vec![Value::Int(2), at("2024-05-01 12:00:00.5"), text("deleted")]),
        // An unchanged cell is left alone.
        patch(&soft, vec![Value::Int(3), Value::Unchanged, text("deleted")]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(1)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[
                &[Some("1"), Some("a"), Some("2024-05-01 10:00:00"), Some("done")],
                &[Some("2"), Some("b"), Some("2024-05-01 12:00:00.5"), Some("done")],
                &[Some("3"), Some("c"), None, Some("done")],
            ])
        );
    }
    let items = table(&target.database, "items", &["id", "name", "deleted_at", "status"], 1);
    let writes = vec![
        upsert(&items, vec![Value::Int(8), text("h"), Value::Null, text("new")]),
        patch(&soft, vec![Value::Int(8), at("2024-06-01 00:00:00"), text("deleted")]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert_eq!(
        target.rows("items").await.pop().unwrap(),
        [Some("8"), Some("h"), Some("2024-06-01 00:00:00"), Some("new")].map(|c| c.map(str::to_owned))
    );
}

#[tokio::test]
async fn a_patch_taking_another_rows_unique_value_is_refused() {
    let mut target = Target::new("sink_patch_conflict", USERS).await;
    let emails = table(&target.database, "users", &["id", "email"], 1);
    let error = target.sink.write(vec![patch(&emails, vec![Value::Int(2), text("a@x")])]).await.unwrap_err();
    assert!(matches!(&error, MySqlError::KeyConflict { key, .. } if key.contains("uk_email")), "{error}");
    assert!(!error.to_string().contains("a@x"), "{error}");
}
