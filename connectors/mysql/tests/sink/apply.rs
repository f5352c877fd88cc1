//! Batched apply: idempotence under replay, last image per key, key changes,
//! unchanged columns, truncate, and statement splitting.

use sluice_api::{RowWrite, Value};
use sluice_mysql::MySqlError;

use super::{Target, delete, expect, position, table, text, truncate, upsert};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40), note text) ENGINE=InnoDB";

#[tokio::test]
async fn replaying_the_same_writes_leaves_the_same_table() {
    let mut target = Target::new("sink_replay", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("one"), Value::Null]),
        upsert(&items, vec![Value::Int(2), text("two"), text("x")]),
        upsert(&items, vec![Value::Int(3), text("three"), text("y")]),
        delete(&items, vec![Value::Int(2)]),
        upsert(&items, vec![Value::Int(1), text("uno"), text("z")]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(10)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[&[Some("1"), Some("uno"), Some("z")], &[Some("3"), Some("three"), Some("y")]])
        );
    }
}

#[tokio::test]
async fn many_writes_to_one_key_in_one_batch_end_at_the_last_image() {
    let mut target = Target::new("sink_last_image", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    let mut writes: Vec<RowWrite> =
        (0..50).map(|i| upsert(&items, vec![Value::Int(7), text(&format!("v{i}")), Value::Int(i)])).collect();
    writes.push(upsert(&items, vec![Value::Int(8), text("other"), Value::Null]));
    writes.push(upsert(&items, vec![Value::Int(7), text("final"), Value::Null]));
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("items").await,
        expect(&[&[Some("7"), Some("final"), None], &[Some("8"), Some("other"), None]])
    );
}

#[tokio::test]
async fn a_key_change_moves_the_row() {
    let mut target = Target::new("sink_key_change", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), Value::Null])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    // UPDATE items SET id = 2 WHERE id = 1, as the mapper emits it; then the
    // old key is reused by a new row in the same batch.
    let writes = vec![
        delete(&items, vec![Value::Int(1)]),
        upsert(&items, vec![Value::Int(2), text("a"), Value::Null]),
        upsert(&items, vec![Value::Int(1), text("new"), Value::Null]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(2)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[&[Some("1"), Some("new"), None], &[Some("2"), Some("a"), None]])
        );
    }
}

#[tokio::test]
async fn unchanged_columns_keep_the_targets_value() {
    let mut target = Target::new("sink_unchanged", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    let big_note = "n".repeat(10_000);
    target
        .sink
        .write(vec![
            upsert(&items, vec![Value::Int(1), text("a"), text(&big_note)]),
            upsert(&items, vec![Value::Int(2), text("b"), text("kept")]),
        ])
        .await
        .unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("a2"), Value::Unchanged]),
        upsert(&items, vec![Value::Int(2), text("b"), Value::Unchanged]), // same value: still a match
        upsert(&items, vec![Value::Int(1), text("a3"), Value::Unchanged]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(2)).await.unwrap();
        let rows = target.rows("items").await;
        assert_eq!(rows[0][..2], [Some("1".to_owned()), Some("a3".to_owned())]);
        assert_eq!(rows[0][2].as_deref(), Some(big_note.as_str()));
        assert_eq!(rows[1], [Some("2".to_owned()), Some("b".to_owned()), Some("kept".to_owned())]);
    }
}

#[tokio::test]
async fn an_unchanged_column_update_of_a_missing_row_is_an_error_and_writes_nothing() {
    let mut target = Target::new("sink_unchanged_missing", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), text("n")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    let error = target
        .sink
        .write(vec![
            upsert(&items, vec![Value::Int(1), text("changed"), Value::Unchanged]),
            upsert(&items, vec![Value::Int(9), text("ghost"), Value::Unchanged]),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MySqlError::MissingTargetRows { table, missing: 1 } if table.ends_with(".items")),
        "{error}"
    );
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a"), Some("n")]]));
}

#[tokio::test]
async fn rows_with_only_the_key_present_must_exist() {
    let mut target = Target::new("sink_key_only", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), text("n")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    let only_key = |id| upsert(&items, vec![Value::Int(id), Value::Unchanged, Value::Unchanged]);
    target.sink.write(vec![only_key(1)]).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    let error = target.sink.write(vec![only_key(1), only_key(2)]).await.unwrap_err();
    assert!(matches!(error, MySqlError::MissingTargetRows { missing: 1, .. }), "{error}");
}

#[tokio::test]
async fn truncate_empties_the_table_inside_the_transaction() {
    let mut target = Target::new("sink_truncate", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), Value::Null])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    // Rolled back: TRUNCATE TABLE would have committed implicitly.
    target.sink.write(vec![truncate(&items)]).await.unwrap();
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("items").await.len(), 1);

    let writes = vec![truncate(&items), upsert(&items, vec![Value::Int(2), text("b"), Value::Null])];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("2"), Some("b"), None]]));
}

#[tokio::test]
async fn runs_are_split_by_rows_per_statement_and_composite_keys_delete_exactly() {
    let ddl = "CREATE TABLE pairs (a int, b varchar(10), v int, PRIMARY KEY (a, b)) ENGINE=InnoDB";
    let mut target = Target::with_rows_per_statement("sink_split", ddl, 3).await;
    let pairs = table(&target.database, "pairs", &["a", "b", "v"], 2);
    let writes: Vec<RowWrite> = (0..10)
        .flat_map(|a| ["x", "y"].map(|b| upsert(&pairs, vec![Value::Int(a), text(b), Value::Int(a * 10)])))
        .collect();
    target.sink.write(writes).await.unwrap();
    let deletes: Vec<RowWrite> = (0..10).map(|a| delete(&pairs, vec![Value::Int(a), text("x")])).collect();
    target.sink.write(deletes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    let rows = target.rows("pairs").await;
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|row| row[1].as_deref() == Some("y")));
}

#[tokio::test]
async fn a_run_wider_than_the_placeholder_limit_is_split() {
    let mut target = Target::with_rows_per_statement("sink_placeholders", ITEMS, 1_000_000).await;
    let items = table(&target.database, "items", &["id", "name", "note"], 1);
    // 30,000 rows × 3 columns = 90,000 parameters > 65,535.
    let writes: Vec<RowWrite> =
        (0..30_000).map(|i| upsert(&items, vec![Value::Int(i), text("n"), Value::Null])).collect();
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    let count: Option<i64> = {
        use mysql_async::prelude::Queryable;
        target.conn.query_first("SELECT COUNT(*) FROM items").await.unwrap()
    };
    assert_eq!(count, Some(30_000));
}
