//! Savepoints: a failed write rolled back to its savepoint leaves the
//! transaction usable (PostgreSQL aborts a transaction at the first error
//! until `ROLLBACK TO SAVEPOINT`), and only the good writes commit.

use sluice_api::{ErrorKind, HasErrorKind, Lsn, Position, Sink, TableName, Value};

use super::{Target, delete, expect, table, text, upsert};

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name varchar(5))";

fn position(lsn: u64) -> Position {
    Position::Postgres(Lsn(lsn))
}

#[tokio::test]
async fn a_failed_write_rolled_back_to_its_savepoint_leaves_the_transaction_usable() {
    let mut target = Target::new("sink_savepoint", ITEMS).await;
    let items = table("items", &["id", "name"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("kept")])]).await.unwrap();

    Sink::savepoint(&mut target.sink, "dl_1").await.unwrap();
    // A write that succeeds, then one the target refuses, after the savepoint.
    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("undo")])]).await.unwrap();
    target.sink.write(vec![delete(&items, vec![Value::Int(1)])]).await.unwrap();
    let error = target.sink.write(vec![upsert(&items, vec![Value::Int(3), text("too long")])]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    // The transaction is aborted until the rollback to the savepoint.
    let aborted = target.sink.write(vec![upsert(&items, vec![Value::Int(4), text("x")])]).await.unwrap_err();
    assert!(format!("{:?}", aborted).contains("aborted"), "{aborted:?}");
    Sink::rollback_to_savepoint(&mut target.sink, "dl_1").await.unwrap();

    // The same statements (prepared before and inside the savepoint) work again.
    let writes = vec![upsert(&items, vec![Value::Int(5), text("good")]), delete(&items, vec![Value::Int(9)])];
    target.sink.write(writes).await.unwrap();
    // Reads inside the transaction see exactly its surviving writes.
    let seen = target.sink.select_text(&TableName::new("public", "items"), &["id", "name"], &[], &["id"], None).await;
    assert_eq!(seen.unwrap(), expect(&[&[Some("1"), Some("kept")], &[Some("5"), Some("good")]]));
    Sink::release_savepoint(&mut target.sink, "dl_1").await.unwrap();
    target.sink.commit("erp", &position(7)).await.unwrap();

    assert_eq!(target.rows("items").await, expect(&[&[Some("1"), Some("kept")], &[Some("5"), Some("good")]]));
    assert_eq!(target.sink.applied_position("erp").await.unwrap(), Some(position(7)));
}

#[tokio::test]
async fn a_savepoint_opens_the_transaction_and_release_keeps_its_writes() {
    let mut target = Target::new("sink_savepoint_release", ITEMS).await;
    let items = table("items", &["id", "name"], 1);
    Sink::savepoint(&mut target.sink, "first").await.unwrap();
    target.sink.write(vec![upsert(&items, vec![Value::Int(1), text("a")])]).await.unwrap();
    Sink::savepoint(&mut target.sink, "second").await.unwrap();
    target.sink.write(vec![upsert(&items, vec![Value::Int(2), text("b")])]).await.unwrap();
    Sink::release_savepoint(&mut target.sink, "second").await.unwrap();
    // Rolling back to the outer savepoint undoes the released inner one's writes too.
    Sink::rollback_to_savepoint(&mut target.sink, "first").await.unwrap();
    target.sink.write(vec![upsert(&items, vec![Value::Int(3), text("c")])]).await.unwrap();
    Sink::release_savepoint(&mut target.sink, "first").await.unwrap();
    // Nothing is visible outside before the commit: the savepoint opened a transaction.
    assert!(target.rows("items").await.is_empty());
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("items").await, expect(&[&[Some("3"), Some("c")]]));
}

#[tokio::test]
async fn savepoint_names_must_be_plain_identifiers_and_need_a_transaction() {
    let mut target = Target::new("sink_savepoint_names", ITEMS).await;
    for bad in ["a b", "x\"; COMMIT; --", "1st", ""] {
        let error = Sink::savepoint(&mut target.sink, bad).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Config, "{bad}: {error}");
    }
    let error = Sink::rollback_to_savepoint(&mut target.sink, "s").await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    let error = Sink::release_savepoint(&mut target.sink, "s").await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    // An unknown savepoint in an open transaction is the server's error.
    Sink::savepoint(&mut target.sink, "s").await.unwrap();
    assert!(Sink::rollback_to_savepoint(&mut target.sink, "other").await.is_err());
    target.sink.rollback().await.unwrap();
}
