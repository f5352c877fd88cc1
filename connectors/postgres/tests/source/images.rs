//! Row images: unchanged TOAST values, REPLICA IDENTITY FULL before images,
//! and a column added while streaming.

use std::sync::Arc;

use sluice_api::{Operation, Value};

use super::harness::{Fixture, start};

/// 10 KB of random hex: too large for a heap tuple and barely compressible,
/// so PostgreSQL stores it out of line (TOAST).
const BIG: &str = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 320))";

const SETUP: &str = "CREATE TABLE public.docs (id int PRIMARY KEY, body text, version int);";

#[tokio::test]
async fn an_unchanged_toast_column_arrives_as_unchanged() {
    let fixture = Fixture::shared("src_toast", SETUP).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.docs"]), None).await;
    fixture.client.batch_execute(&format!("INSERT INTO public.docs VALUES (1, {BIG}, 1)")).await.unwrap();
    let insert = source.next_transaction().await;
    let Value::Text(body) = &insert.changes[0].after.as_ref().unwrap()[1] else { panic!("body is text") };
    assert_eq!(body.len(), 10_240);

    fixture.client.batch_execute("UPDATE public.docs SET version = 2 WHERE id = 1").await.unwrap();
    let update = source.next_transaction().await;
    let after = update.changes[0].after.as_ref().unwrap();
    assert_eq!(after, &vec![Value::Int(1), Value::Unchanged, Value::Int(2)]);
}

#[tokio::test]
async fn replica_identity_full_gives_whole_before_images_and_fills_unchanged_toast() {
    let fixture = Fixture::shared("src_full", &format!("{SETUP} ALTER TABLE public.docs REPLICA IDENTITY FULL;")).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.docs"]), None).await;
    fixture.client.batch_execute(&format!("INSERT INTO public.docs VALUES (1, {BIG}, 1)")).await.unwrap();
    let insert = source.next_transaction().await;
    let original = insert.changes[0].after.clone().unwrap();
    assert_eq!(insert.changes[0].table.key_indices(), vec![0], "the primary key, not every column");

    fixture.client.batch_execute("UPDATE public.docs SET version = 2 WHERE id = 1").await.unwrap();
    let update = source.next_transaction().await;
    let change = &update.changes[0];
    assert_eq!(change.before.as_ref(), Some(&original), "the whole old row");
    let after = change.after.as_ref().unwrap();
    assert_eq!(after[1], original[1], "the TOAST value is filled from the old image");
    assert_eq!(after[2], Value::Int(2));

    fixture.client.batch_execute("DELETE FROM public.docs WHERE id = 1").await.unwrap();
    let delete = source.next_transaction().await;
    let change = &delete.changes[0];
    assert_eq!(change.operation, Operation::Delete);
    assert_eq!(change.before.as_ref().unwrap()[2], Value::Int(2), "non-key columns are in the before image");
}

#[tokio::test]
async fn a_column_added_while_streaming_shows_in_later_changes_only() {
    let fixture = Fixture::shared("src_addcol", SETUP).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.docs"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.docs VALUES (1, 'a', 1)").await.unwrap();
    let before_ddl = source.next_transaction().await;
    fixture.client.batch_execute("ALTER TABLE public.docs ADD COLUMN tags text[] DEFAULT '{x}'").await.unwrap();
    fixture.client.batch_execute("INSERT INTO public.docs VALUES (2, 'b', 1, '{p,q}')").await.unwrap();
    let after_ddl = source.next_transaction().await;

    let old_schema = &before_ddl.changes[0].table;
    let new_schema = &after_ddl.changes[0].table;
    assert_eq!(old_schema.columns.len(), 3, "the earlier change keeps its schema");
    assert_eq!(new_schema.columns.len(), 4);
    assert!(!Arc::ptr_eq(old_schema, new_schema));
    assert_eq!(new_schema.columns[3].name, "tags");
    assert_eq!(new_schema.columns[3].type_name, "text[]");
    let after = after_ddl.changes[0].after.as_ref().unwrap();
    assert_eq!(after.len(), 4);
    assert_eq!(after[3], Value::Array(vec![Value::Text("p".into()), Value::Text("q".into())]));
}

#[tokio::test]
async fn enum_and_domain_columns_resolve_through_the_catalog() {
    let setup = "CREATE TYPE public.mood AS ENUM ('sad', 'ok'); \
                 CREATE DOMAIN public.positive AS int CHECK (VALUE > 0); \
                 CREATE TABLE public.feelings (id public.positive PRIMARY KEY, mood public.mood, moods public.mood[]);";
    let fixture = Fixture::shared("src_enum", setup).await;
    let mut source = start(fixture.config(fixture.database.url(), &["public.feelings"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.feelings VALUES (1, 'ok', '{sad,ok}')").await.unwrap();
    let read = source.next_transaction().await;
    let after = read.changes[0].after.as_ref().unwrap();
    assert_eq!(after[0], Value::Int(1), "a domain decodes as its base type");
    assert_eq!(after[1], Value::Enum("ok".into()));
    assert_eq!(after[2], Value::Array(vec![Value::Enum("sad".into()), Value::Enum("ok".into())]));

    // A label added while streaming: no new Relation message comes, the types are re-read.
    fixture.client.batch_execute("ALTER TYPE public.mood ADD VALUE 'glad'").await.unwrap();
    fixture.client.batch_execute("INSERT INTO public.feelings VALUES (2, 'glad', '{}')").await.unwrap();
    let read = source.next_transaction().await;
    assert_eq!(read.changes[0].after.as_ref().unwrap()[1], Value::Enum("glad".into()));

    let described = sluice_postgres::describe_source_table(&fixture.client, &read.changes[0].table.name)
        .await
        .unwrap()
        .expect("the table exists");
    assert_eq!(described.columns, read.changes[0].table.columns, "catalog and stream agree");
}
