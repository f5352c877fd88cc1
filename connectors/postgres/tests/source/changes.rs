//! Each kind of row change arrives as the right events, inside its
//! transaction, at the position of the transaction's commit record.

use sluice_api::{Operation, Position, SourceEvent, TableName, Value};

use super::harness::{Fixture, start};

const SETUP: &str = "CREATE TABLE public.items (id int PRIMARY KEY, name text); \
                     CREATE TABLE public.other (id int PRIMARY KEY);";

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[tokio::test]
async fn insert_update_delete_and_truncate_arrive_as_changes_at_their_commit_position() {
    let fixture = Fixture::shared("src_changes", SETUP).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.items"]), None).await;
    let client = &fixture.client;

    let before_insert = fixture.wal_lsn().await;
    let xid: i64 = {
        let row = client
            .query_one(
                "WITH x AS (SELECT (pg_current_xact_id()::text::bigint % 4294967296) AS xid), \
                      ins AS (INSERT INTO public.items VALUES (1, 'one'), (2, 'two') RETURNING 1) \
                 SELECT xid FROM x, (SELECT count(*) FROM ins) c",
                &[],
            )
            .await
            .unwrap();
        row.get(0)
    };
    let after_insert = fixture.wal_lsn().await;
    let insert = source.next_transaction().await;
    assert_eq!(insert.transaction.id, xid.to_string());
    assert!(
        before_insert < insert.position() && insert.position() <= after_insert,
        "the commit position is the end of this transaction's commit record"
    );
    let ordering = super::harness::lsn_of(&insert.transaction.position);
    assert!(
        before_insert < ordering && ordering < insert.position(),
        "Begin knows a position inside the commit record"
    );
    assert_eq!(insert.transaction.origin, None);
    assert_eq!(insert.changes.len(), 2);
    let first = &insert.changes[0];
    assert_eq!(first.operation, Operation::Insert);
    assert_eq!(first.table.name, TableName::new("public", "items"));
    assert_eq!(first.table.key_indices(), vec![0]);
    assert_eq!((first.before.clone(), first.after.clone()), (None, Some(vec![Value::Int(1), text("one")])));

    client.batch_execute("UPDATE public.items SET name = 'uno' WHERE id = 1").await.unwrap();
    let update = source.next_transaction().await;
    assert!(update.position() > insert.position());
    let change = &update.changes[0];
    assert_eq!(change.operation, Operation::Update);
    assert_eq!(change.before, None, "the key did not change: no old image");
    assert_eq!(change.after, Some(vec![Value::Int(1), text("uno")]));

    client.batch_execute("UPDATE public.items SET id = 10 WHERE id = 2").await.unwrap();
    let key_update = source.next_transaction().await;
    let change = &key_update.changes[0];
    assert_eq!(change.before, Some(vec![Value::Int(2), Value::Null]), "the old key, other columns NULL");
    assert_eq!(change.after, Some(vec![Value::Int(10), text("two")]));

    client.batch_execute("DELETE FROM public.items WHERE id = 1").await.unwrap();
    let delete = source.next_transaction().await;
    let change = &delete.changes[0];
    assert_eq!(change.operation, Operation::Delete);
    assert_eq!((change.before.clone(), change.after.clone()), (Some(vec![Value::Int(1), Value::Null]), None));

    client.batch_execute("TRUNCATE public.items").await.unwrap();
    let truncate = source.next_transaction().await;
    assert_eq!(truncate.changes.len(), 1);
    let change = &truncate.changes[0];
    assert_eq!(change.operation, Operation::Truncate);
    assert_eq!(change.table.name, TableName::new("public", "items"));
    assert_eq!((change.before.clone(), change.after.clone()), (None, None));

    let positions = [&insert, &update, &key_update, &delete, &truncate].map(|t| t.position());
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions increase: {positions:?}");
}

#[tokio::test]
async fn a_replication_origin_is_carried_on_the_transaction() {
    let fixture = Fixture::shared("src_origin", SETUP).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.items"]), None).await;
    let origin = format!("origin_{}", fixture.database.name);
    fixture.client.execute("SELECT pg_replication_origin_create($1)", &[&origin]).await.unwrap();
    fixture.client.execute("SELECT pg_replication_origin_session_setup($1)", &[&origin]).await.unwrap();
    fixture.client.batch_execute("INSERT INTO public.items VALUES (1, 'from elsewhere')").await.unwrap();
    fixture.client.batch_execute("SELECT pg_replication_origin_session_reset()").await.unwrap();
    let read = source.next_transaction().await;
    assert_eq!(read.transaction.origin.as_deref(), Some(origin.as_str()));
    fixture.client.execute("SELECT pg_replication_origin_drop($1)", &[&origin]).await.unwrap();
}

#[tokio::test]
async fn transactions_covered_by_the_resume_position_are_skipped() {
    let fixture = Fixture::shared("src_resume", SETUP).await;
    let config = fixture.config(fixture.database.url(), &["public.items"]);
    let first_position = {
        let mut source = start(config.clone(), None).await;
        fixture.client.batch_execute("INSERT INTO public.items VALUES (1, 'a')").await.unwrap();
        fixture.client.batch_execute("INSERT INTO public.items VALUES (2, 'b')").await.unwrap();
        let first = source.next_transaction().await;
        let second = source.next_transaction().await;
        assert!(first.position() < second.position());
        first.position()
        // Nothing was acknowledged: the slot still holds both transactions.
    };
    let slot = fixture.slot();
    super::harness::eventually("the slot is released", || async {
        let row = fixture
            .client
            .query_one("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
            .await
            .unwrap();
        !row.get::<_, bool>(0)
    })
    .await;
    let mut source = start(config, Some(Position::Postgres(first_position))).await;
    let next = source.next_transaction().await;
    assert_eq!(next.changes[0].after.as_ref().unwrap()[0], Value::Int(2), "the covered transaction is not replayed");
}

#[tokio::test]
async fn changes_of_tables_without_routes_are_not_emitted() {
    let fixture = Fixture::shared("src_unrouted", SETUP).await;
    fixture
        .client
        .batch_execute(&format!(
            "CREATE PUBLICATION \"{}\" FOR TABLE public.items, public.other",
            fixture.publication()
        ))
        .await
        .unwrap();
    let mut source = start(fixture.config(fixture.database.url(), &["public.items"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.other VALUES (1)").await.unwrap();
    fixture
        .client
        .batch_execute("BEGIN; INSERT INTO public.other VALUES (2); INSERT INTO public.items VALUES (3, 'c'); COMMIT")
        .await
        .unwrap();
    let read = source.next_transaction().await;
    assert_eq!(read.changes.len(), 1, "only the routed table's change: {:?}", read.changes);
    assert_eq!(read.changes[0].table.name, TableName::new("public", "items"));
    // The transaction touching only `other` produced at most idle progress, never a Begin.
    assert!(matches!(source.stream.events.try_recv(), Err(_) | Ok(Ok(SourceEvent::Progress(_)))));
}
