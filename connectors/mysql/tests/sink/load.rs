//! Snapshot chunks through `load`: plain INSERTs into an empty key range
//! (proved by the sink's counter and by an UPDATE trigger that never
//! fires), upserts when the target already holds rows in the range, the
//! fallback after a duplicate key the range probe could not foresee, and
//! the same refusals as the upsert path.

use mysql_async::prelude::Queryable;
use sluice_api::{RowWrite, Value};
use sluice_mysql::MySqlError;

use super::{Target, expect, load_settled, table, text, upsert, write_settled};

/// `items` with a trigger counting the rows an upsert updated.
const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40) NOT NULL, n tinyint) ENGINE=InnoDB;
    CREATE TABLE updates (id int) ENGINE=InnoDB;
    CREATE TRIGGER items_updated AFTER UPDATE ON items FOR EACH ROW INSERT INTO updates VALUES (NEW.id)";

fn chunk(items: &std::sync::Arc<sluice_api::TargetTable>, ids: impl Iterator<Item = i64>) -> Vec<RowWrite> {
    ids.map(|id| upsert(items, vec![Value::Int(id), text(&format!("item {id}")), Value::Int(id % 100)])).collect()
}

async fn count(target: &mut Target, sql: &str) -> i64 {
    target.conn.query_first::<i64, _>(sql).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_chunk_into_an_empty_range_is_inserted_in_plain_multi_row_inserts() {
    let mut target = Target::with_rows_per_statement("sink_load_empty", ITEMS, 1000).await;
    let items = table(&target.database, "items", &["id", "name", "n"], 1);
    // Rows outside the chunk's range do not matter.
    target.sink.write(chunk(&items, [-5, 5000].into_iter())).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    target.sink.load(chunk(&items, 1..=2500)).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    assert_eq!(target.sink.bulk_inserted_rows(), 2500);
    assert_eq!(count(&mut target, "SELECT COUNT(*) FROM items").await, 2502);
    assert_eq!(
        count(&mut target, "SELECT COUNT(*) FROM items WHERE name = CONCAT('item ', id) AND n = id % 100").await,
        2502
    );
    assert_eq!(count(&mut target, "SELECT COUNT(*) FROM updates").await, 0);
}

#[tokio::test]
async fn a_chunk_over_existing_rows_is_upserted() {
    let mut target = Target::new("sink_load_overlap", ITEMS).await;
    let items = table(&target.database, "items", &["id", "name", "n"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(5), text("old"), Value::Null])]).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    target.sink.load(chunk(&items, 1..=10)).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    assert_eq!(target.sink.bulk_inserted_rows(), 0, "the range held a row: no plain inserts");
    assert_eq!(count(&mut target, "SELECT COUNT(*) FROM items WHERE name = CONCAT('item ', id)").await, 10);
    assert_eq!(count(&mut target, "SELECT COUNT(*) FROM updates").await, 1, "only row 5 was updated");
}

#[tokio::test]
async fn a_duplicate_the_probe_missed_falls_back_to_upserts_for_the_rest() {
    // Source order ("b", "c", "a") is not the target's: the probe of
    // ["b", "c"] finds nothing, and "a" exists.
    let ddl = "CREATE TABLE words (w varchar(10) PRIMARY KEY, v int) ENGINE=InnoDB";
    let mut target = Target::with_rows_per_statement("sink_load_fallback", ddl, 1).await;
    let words = table(&target.database, "words", &["w", "v"], 1);
    target.sink.write(vec![upsert(&words, vec![text("a"), Value::Int(0)])]).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    let writes = ["b", "c", "a", "d"].iter().map(|w| upsert(&words, vec![text(w), Value::Int(1)])).collect();
    target.sink.load(writes).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    assert_eq!(target.sink.bulk_inserted_rows(), 2, "b and c went in plain inserts, a and d as upserts");
    assert_eq!(
        target.rows("words").await,
        expect(&[&[Some("a"), Some("1")], &[Some("b"), Some("1")], &[Some("c"), Some("1")], &[Some("d"), Some("1")]])
    );
}

#[tokio::test]
async fn a_secondary_unique_conflict_ends_like_the_upsert_path() {
    let ddl = "CREATE TABLE users (id int PRIMARY KEY, email varchar(40) NOT NULL, UNIQUE KEY uk_email (email))";
    let mut target = Target::new("sink_load_unique", ddl).await;
    let users = table(&target.database, "users", &["id", "email"], 1);
    target.sink.write(vec![upsert(&users, vec![Value::Int(100), text("a@x")])]).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    let rows = vec![upsert(&users, vec![Value::Int(1), text("a@x")])];
    let loaded = load_settled(&mut target.sink, rows.clone()).await.unwrap_err();
    target.sink.rollback().await.unwrap();
    let written = write_settled(&mut target.sink, rows).await.unwrap_err();
    target.sink.rollback().await.unwrap();
    assert!(matches!(loaded, MySqlError::KeyConflict { .. }), "{loaded}");
    assert_eq!(loaded.to_string(), written.to_string());
}

#[tokio::test]
async fn a_refused_value_gives_the_upsert_paths_error() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name varchar(40) NOT NULL, n tinyint,
               CONSTRAINT positive CHECK (n > 0)) ENGINE=InnoDB";
    let mut target = Target::new("sink_load_refused", ddl).await;
    let items = table(&target.database, "items", &["id", "name", "n"], 1);
    let cases = [
        // Refused by the encoder: out of range, NULL for NOT NULL.
        vec![Value::Int(2), text("x"), Value::Int(300)],
        vec![Value::Int(2), Value::Null, Value::Int(1)],
        // Refused by the server: the CHECK constraint.
        vec![Value::Int(2), text("x"), Value::Int(-7)],
    ];
    for bad in cases {
        let rows = vec![upsert(&items, vec![Value::Int(1), text("ok"), Value::Int(1)]), upsert(&items, bad)];
        let loaded = load_settled(&mut target.sink, rows.clone()).await.unwrap_err();
        target.sink.rollback().await.unwrap();
        let written = write_settled(&mut target.sink, rows).await.unwrap_err();
        target.sink.rollback().await.unwrap();
        assert!(matches!(loaded, MySqlError::Value { .. }), "{loaded}");
        assert_eq!(loaded.to_string(), written.to_string());
        assert!(!loaded.to_string().contains("300") && !loaded.to_string().contains("-7"), "{loaded}");
    }
    assert_eq!(count_rows(&mut target).await, 0);
}

async fn count_rows(target: &mut Target) -> i64 {
    count(target, "SELECT COUNT(*) FROM items").await
}
