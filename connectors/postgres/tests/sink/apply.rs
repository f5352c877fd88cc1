//! Batched apply: idempotence under replay, last image per key, key changes,
//! unchanged TOAST columns, truncate, statement splitting, and order across
//! tables.

use sluice_api::{Lsn, Position, RowWrite, Value};
use sluice_postgres::PostgresError;

use super::{Target, delete, expect, table, text, truncate, upsert};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name text, note text)";

fn position(lsn: u64) -> Position {
    Position::Postgres(Lsn(lsn))
}

#[tokio::test]
async fn replaying_the_same_writes_leaves_the_same_table() {
    let mut target = Target::new("sink_replay", ITEMS).await;
    let items = table("items", &["id", "name", "note"], 1);
    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("one"), Value::Null]),
        upsert(&items, vec![Value::Int(2), text("two"), text("x")]),
        upsert(&items, vec![Value::Int(3), text("three"), text("y")]),
        delete(&items, vec![Value::Int(2)]),
        upsert(&items, vec![Value::Int(1), text("uno"), text("z")]),
    ];
    for lsn in [10, 10] {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(lsn)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[&[Some("1"), Some("uno"), Some("z")], &[Some("3"), Some("three"), Some("y")]])
        );
    }
}

#[tokio::test]
async fn many_writes_to_one_key_in_one_batch_end_at_the_last_image() {
    let mut target = Target::new("sink_last_image", ITEMS).await;
    let items = table("items", &["id", "name", "note"], 1);
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
    let items = table("items", &["id", "name", "note"], 1);
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
    let items = table("items", &["id", "name", "note"], 1);
    let big = "x".repeat(10_000);
    target
        .sink
        .write(vec![
            upsert(&items, vec![Value::Int(1), text("a"), text(&big)]),
            upsert(&items, vec![Value::Int(2), text("b"), text("small")]),
        ])
        .await
        .unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("a2"), Value::Unchanged]),
        upsert(&items, vec![Value::Int(2), text("b2"), Value::Unchanged]),
        upsert(&items, vec![Value::Int(1), text("a3"), Value::Unchanged]),
        // Only the key present: nothing to set, but the row must exist.
        upsert(&items, vec![Value::Int(2), Value::Unchanged, Value::Unchanged]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert_eq!(
        target.rows("items").await,
        expect(&[&[Some("1"), Some("a3"), Some(big.as_str())], &[Some("2"), Some("b2"), Some("small")]])
    );
}

#[tokio::test]
async fn an_unchanged_update_of_a_missing_row_fails_loudly() {
    let mut target = Target::new("sink_missing_rows", ITEMS).await;
    let items = table("items", &["id", "name", "note"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), text("kept")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("a2"), Value::Unchanged]),
        upsert(&items, vec![Value::Int(5), text("e"), Value::Unchanged]),
        upsert(&items, vec![Value::Int(6), text("f"), Value::Unchanged]),
    ];
    let error = target.sink.write(writes).await.unwrap_err();
    assert!(matches!(error, PostgresError::MissingTargetRows { missing: 2, .. }), "{error:?}");
    assert_eq!(sluice_api::HasErrorKind::kind(&error), sluice_api::ErrorKind::Data);
    target.sink.rollback().await.unwrap();

    let key_only = vec![upsert(&items, vec![Value::Int(9), Value::Unchanged, Value::Unchanged])];
    let error = target.sink.write(key_only).await.unwrap_err();
    assert!(matches!(error, PostgresError::MissingTargetRows { missing: 1, .. }), "{error:?}");
    target.sink.rollback().await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a"), Some("kept")]]));
}

#[tokio::test]
async fn truncate_empties_the_table_in_order_with_other_writes() {
    let mut target = Target::new("sink_truncate", ITEMS).await;
    let items = table("items", &["id", "name", "note"], 1);
    let writes = vec![
        upsert(&items, vec![Value::Int(1), text("gone"), Value::Null]),
        truncate(&items),
        upsert(&items, vec![Value::Int(2), text("after"), Value::Null]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(1)).await.unwrap();
        assert_eq!(target.rows("items").await, expect(&[&[Some("2"), Some("after"), None]]));
    }
}

#[tokio::test]
async fn runs_longer_than_a_statement_are_split() {
    let mut target = Target::with_config("sink_split", ITEMS, |c| c.max_rows_per_statement = 3).await;
    let items = table("items", &["id", "name", "note"], 1);
    let writes: Vec<RowWrite> = (0..10).map(|i| upsert(&items, vec![Value::Int(i), text("n"), Value::Null])).collect();
    target.sink.write(writes).await.unwrap();
    let deletes: Vec<RowWrite> = (0..10).filter(|i| i % 2 == 0).map(|i| delete(&items, vec![Value::Int(i)])).collect();
    target.sink.write(deletes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    let ids: Vec<Option<String>> = target.rows("items").await.into_iter().map(|row| row[0].clone()).collect();
    assert_eq!(ids, ["1", "3", "5", "7", "9"].map(|s| Some(s.to_owned())));
}

#[tokio::test]
async fn writes_across_tables_keep_foreign_key_order() {
    let ddl = "CREATE TABLE parent (id int PRIMARY KEY); \
               CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent)";
    let mut target = Target::new("sink_fk_order", ddl).await;
    let parent = table("parent", &["id"], 1);
    let child = table("child", &["id", "parent_id"], 1);
    let writes = vec![
        upsert(&parent, vec![Value::Int(1)]),
        upsert(&child, vec![Value::Int(10), Value::Int(1)]),
        upsert(&parent, vec![Value::Int(2)]),
        upsert(&child, vec![Value::Int(10), Value::Int(2)]),
        delete(&parent, vec![Value::Int(1)]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("child").await, expect(&[&[Some("10"), Some("2")]]));
    assert_eq!(target.rows("parent").await, expect(&[&[Some("2")]]));
}

#[tokio::test]
async fn composite_keys_and_renamed_quoted_identifiers_work() {
    let ddl = r#"CREATE SCHEMA "Odd ""Schema"""; CREATE TABLE "Odd ""Schema"""."Order Lines" ("Order" int, "line""no" int, qty numeric(12,2), PRIMARY KEY ("Order", "line""no"))"#;
    let mut target = Target::new("sink_quoted", ddl).await;
    let lines = std::sync::Arc::new(sluice_api::TargetTable {
        schema: "Odd \"Schema\"".into(),
        name: "Order Lines".into(),
        columns: vec!["Order".into(), "line\"no".into(), "qty".into()],
        key: vec![0, 1],
        insert_only: vec![],
    });
    let decimal = |s: &str| Value::Decimal(sluice_api::Decimal::parse(s).unwrap());
    let writes = vec![
        upsert(&lines, vec![Value::Int(1), Value::Int(1), decimal("1.005")]),
        upsert(&lines, vec![Value::Int(1), Value::Int(2), decimal("2")]),
        delete(&lines, vec![Value::Int(1), Value::Int(1)]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows(r#""Odd ""Schema"""."Order Lines""#).await,
        expect(&[&[Some("1"), Some("2"), Some("2.00")]])
    );
}

#[tokio::test]
async fn identity_always_columns_take_the_source_values() {
    let ddl = "CREATE TABLE ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)";
    let mut target = Target::new("sink_identity", ddl).await;
    let ident = table("ident", &["id", "v"], 1);
    target.sink.write(vec![upsert(&ident, vec![Value::Int(42), text("a")])]).await.unwrap();
    target.sink.write(vec![upsert(&ident, vec![Value::Int(42), text("b")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("ident").await, expect(&[&[Some("42"), Some("b")]]));
}

#[tokio::test]
async fn consecutive_truncates_of_related_tables_run_together() {
    let ddl = "CREATE TABLE parent (id int PRIMARY KEY); \
               CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent); \
               INSERT INTO parent VALUES (1); INSERT INTO child VALUES (10, 1)";
    let mut target = Target::new("sink_truncate_fk", ddl).await;
    let parent = table("parent", &["id"], 1);
    let child = table("child", &["id", "parent_id"], 1);
    let writes = vec![truncate(&parent), truncate(&child)];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert!(target.rows("parent").await.is_empty());
    assert!(target.rows("child").await.is_empty());
}
