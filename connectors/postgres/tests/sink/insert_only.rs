//! Insert-only columns (written when an upsert inserts the row, kept when it
//! exists) on every write path — whole-row upserts, partial updates with
//! unchanged cells, the bulk load's upsert fallback — and patches (update
//! the row if it exists, never insert).

use sluice_api::{Lsn, Position, Value};
use sluice_postgres::PostgresError;

use super::{Target, expect, insert_only, patch, table, text, upsert};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name text, status text)";

fn position(lsn: u64) -> Position {
    Position::Postgres(Lsn(lsn))
}

#[tokio::test]
async fn insert_only_columns_are_written_on_insert_and_kept_on_conflict() {
    let mut target = Target::new("sink_insert_only", ITEMS).await;
    let items = insert_only(&table("items", &["id", "name", "status"], 1), &[2]);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a"), text("new")])]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a"), Some("new")]]));
    // The target's users move the status on.
    target.client.batch_execute("UPDATE items SET status = 'done' WHERE id = 1").await.unwrap();
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
    let items = insert_only(&table("items", &["id", "name", "status"], 1), &[2]);
    let writes = vec![
        upsert(&items, vec![Value::Int(3), text("x"), text("first")]),
        upsert(&items, vec![Value::Int(1), text("y"), text("s1")]),
        upsert(&items, vec![Value::Int(3), text("x2"), text("second")]),
        upsert(&items, vec![Value::Int(1), text("y2"), text("s2")]),
        upsert(&items, vec![Value::Int(3), text("x3"), text("third")]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    // Row 3 was inserted by the first image: its status is that image's;
    // row 1 existed: its status is the target's.
    assert_eq!(
        target.rows("items").await,
        expect(&[&[Some("1"), Some("y2"), Some("done")], &[Some("3"), Some("x3"), Some("first")]])
    );
}

#[tokio::test]
async fn with_every_non_key_column_insert_only_an_upsert_inserts_if_absent() {
    let ddl = format!("{ITEMS}; INSERT INTO items VALUES (1, 'orig', 'done')");
    let mut target = Target::new("sink_insert_if_absent", &ddl).await;
    let items = insert_only(&table("items", &["id", "name", "status"], 1), &[1, 2]);
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
}

#[tokio::test]
async fn a_partial_update_never_sets_insert_only_columns() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name text, note text, status text); \
               INSERT INTO items VALUES (1, 'a', 'big note', 'done')";
    let mut target = Target::new("sink_insert_only_partial", ddl).await;
    let items = insert_only(&table("items", &["id", "name", "note", "status"], 1), &[3]);
    let writes = vec![upsert(&items, vec![Value::Int(1), text("a2"), Value::Unchanged, text("new")])];
    target.sink.write(writes).await.unwrap();
    // Only the key and an insert-only column present: nothing to set, but the row must exist.
    target
        .sink
        .write(vec![upsert(&items, vec![Value::Int(1), Value::Unchanged, Value::Unchanged, text("x")])])
        .await
        .unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("a2"), Some("big note"), Some("done")]]));

    // A missing row is still the divergence it always was.
    let missing = vec![upsert(&items, vec![Value::Int(9), text("z"), Value::Unchanged, text("new")])];
    let error = target.sink.write(missing).await.unwrap_err();
    assert!(matches!(error, PostgresError::MissingTargetRows { missing: 1, .. }), "{error:?}");
    target.sink.rollback().await.unwrap();
    let missing = vec![upsert(&items, vec![Value::Int(9), Value::Unchanged, Value::Unchanged, text("new")])];
    let error = target.sink.write(missing).await.unwrap_err();
    assert!(matches!(error, PostgresError::MissingTargetRows { missing: 1, .. }), "{error:?}");
}

#[tokio::test]
async fn the_bulk_loads_upsert_fallback_keeps_insert_only_columns() {
    let ddl = format!("{ITEMS}; INSERT INTO items VALUES (2, 'old', 'done')");
    let mut target = Target::new("sink_insert_only_load", &ddl).await;
    let items = insert_only(&table("items", &["id", "name", "status"], 1), &[2]);
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
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name text, deleted_at text, status text); \
               INSERT INTO items VALUES (1, 'a', NULL, 'done'), (2, 'b', NULL, 'done'), (3, 'c', NULL, 'done')";
    let mut target = Target::new("sink_patch", ddl).await;
    let soft = insert_only(&table("items", &["id", "deleted_at", "status"], 1), &[2]);
    let at = |s: &str| Value::Text(s.to_owned());
    let writes = vec![
        patch(&soft, vec![Value::Int(1), at("2024-05-01 10:00"), text("deleted")]),
        patch(&soft, vec![Value::Int(7), at("2024-05-01 10:00"), text("deleted")]),
        patch(&soft, vec![Value::Int(2), at("2024-05-01 11:00"), text("deleted")]),
        patch(&soft, vec![Value::Int(2), at("2024-05-01 12:00"), text("deleted")]),
        // An unchanged cell is left alone.
        patch(&soft, vec![Value::Int(3), Value::Unchanged, text("deleted")]),
    ];
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("erp", &position(1)).await.unwrap();
        assert_eq!(
            target.rows("items").await,
            expect(&[
                &[Some("1"), Some("a"), Some("2024-05-01 10:00"), Some("done")],
                &[Some("2"), Some("b"), Some("2024-05-01 12:00"), Some("done")],
                &[Some("3"), Some("c"), None, Some("done")],
            ])
        );
    }
    // Patches and upserts of one key keep their order.
    let items = table("items", &["id", "name", "deleted_at", "status"], 1);
    let writes = vec![
        upsert(&items, vec![Value::Int(8), text("h"), Value::Null, text("new")]),
        patch(&soft, vec![Value::Int(8), at("2024-06-01 00:00"), text("deleted")]),
    ];
    target.sink.write(writes).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert_eq!(
        target.rows("items").await.pop().unwrap(),
        [Some("8"), Some("h"), Some("2024-06-01 00:00"), Some("new")].map(|c| c.map(str::to_owned))
    );
}
