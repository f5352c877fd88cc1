//! `insert_returning`: a plain insert inside the open transaction that
//! returns the value the target assigned (identity, sequence default).

use std::sync::Arc;

use sluice_api::{ErrorKind, HasErrorKind, Lsn, Position, Sink, TargetTable, Value};
use sluice_postgres::PostgresError;

use super::{Target, expect, table, text, upsert};

fn position(lsn: u64) -> Position {
    Position::Postgres(Lsn(lsn))
}

/// A target of `insert_returning`: the written columns, no key.
fn written(name: &str, columns: &[&str]) -> Arc<TargetTable> {
    Arc::new(TargetTable::new("public", name, columns.iter().map(|c| (*c).to_owned()).collect(), vec![]))
}

#[tokio::test]
async fn an_identity_always_column_is_assigned_by_the_target_and_returned() {
    let ddl = "CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, \
               code text DEFAULT 'c-' || 7)";
    let mut target = Target::new("sink_returning_identity", ddl).await;
    let accounts = written("accounts", &["name"]);
    let first = target.sink.insert_returning(Arc::clone(&accounts), vec![text("ann")], "id").await.unwrap();
    let second =
        Sink::insert_returning(&mut target.sink, Arc::clone(&accounts), vec![text("bob")], "id").await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("1", "2"));
    // Any column: here a default.
    let code = target.sink.insert_returning(Arc::clone(&accounts), vec![text("cy")], "code").await.unwrap();
    assert_eq!(code, "c-7");
    // Inside the open transaction: nothing is visible before the commit.
    assert!(target.rows("accounts").await.is_empty());
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("accounts").await,
        expect(&[
            &[Some("1"), Some("ann"), Some("c-7")],
            &[Some("2"), Some("bob"), Some("c-7")],
            &[Some("3"), Some("cy"), Some("c-7")],
        ])
    );
}

#[tokio::test]
async fn a_sequence_default_is_returned_and_rolled_back_with_the_transaction() {
    let ddl = "CREATE TABLE orders (id bigserial PRIMARY KEY, ref text NOT NULL UNIQUE, total numeric(10,2)); \
               ALTER SEQUENCE orders_id_seq RESTART 100";
    let mut target = Target::new("sink_returning_serial", ddl).await;
    let orders = written("orders", &["ref", "total"]);
    let decimal = |s: &str| Value::Decimal(sluice_api::Decimal::parse(s).unwrap());
    let id = target.sink.insert_returning(Arc::clone(&orders), vec![text("A-1"), decimal("9.5")], "id").await.unwrap();
    assert_eq!(id, "100");
    target.sink.rollback().await.unwrap();
    assert!(target.rows("orders").await.is_empty());
    // Mixed with ordinary writes in one transaction.
    let items = table("orders", &["id", "ref", "total"], 1);
    target.sink.write(vec![upsert(&items, vec![Value::Int(5), text("B-5"), decimal("1")])]).await.unwrap();
    let id = target.sink.insert_returning(Arc::clone(&orders), vec![text("A-2"), Value::Null], "id").await.unwrap();
    assert_eq!(id, "101");
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(
        target.rows("orders").await,
        // Ordered by the text of the id.
        expect(&[&[Some("101"), Some("A-2"), None], &[Some("5"), Some("B-5"), Some("1.00")]])
    );
}

#[tokio::test]
async fn a_refused_row_is_a_data_error_naming_table_and_column() {
    let ddl = "CREATE TABLE accounts (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, \
               email varchar(8) UNIQUE)";
    let mut target = Target::new("sink_returning_refused", ddl).await;
    let accounts = written("accounts", &["name", "email"]);

    // Refused by the server: NOT NULL.
    let error = target.sink.insert_returning(Arc::clone(&accounts), vec![Value::Null, text("a@x")], "id").await;
    let error = error.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    let message = error.to_string();
    assert!(message.contains("public.accounts") && message.contains("\"name\""), "{message}");
    target.sink.rollback().await.unwrap();

    // Refused by the server: too long; the value is not in the message.
    let error = target
        .sink
        .insert_returning(Arc::clone(&accounts), vec![text("ann"), text("secret-address")], "id")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Data, "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");
    target.sink.rollback().await.unwrap();

    // Refused by the encoder, exactly as upserts are.
    let error = target
        .sink
        .insert_returning(Arc::clone(&accounts), vec![text("secret\0name"), Value::Null], "id")
        .await
        .unwrap_err();
    let PostgresError::Value { table, column, type_name, .. } = &error else { panic!("{error:?}") };
    assert_eq!((table.as_str(), column.as_str(), type_name.as_str()), ("public.accounts", "name", "text"));
    assert_eq!(error.kind(), ErrorKind::Data);
    assert!(!error.to_string().contains("secret"), "{error}");
    target.sink.rollback().await.unwrap();

    // The sink goes on.
    let id = target.sink.insert_returning(Arc::clone(&accounts), vec![text("ann"), Value::Null], "id").await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();
    assert_eq!(target.rows("accounts").await, expect(&[&[Some(id.as_str()), Some("ann"), None]]));
}

#[tokio::test]
async fn unknown_columns_are_config_errors_naming_them() {
    let ddl = "CREATE TABLE accounts (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)";
    let mut target = Target::new("sink_returning_config", ddl).await;
    let error =
        target.sink.insert_returning(written("accounts", &["name"]), vec![text("a")], "uuid").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("public.accounts has no column \"uuid\""), "{error}");
    let error = target.sink.insert_returning(written("accounts", &["nom"]), vec![text("a")], "id").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("no column \"nom\""), "{error}");
    let error = target.sink.insert_returning(written("ghost", &["name"]), vec![text("a")], "id").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("public.ghost does not exist"), "{error}");
}
