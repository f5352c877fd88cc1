//! The replication connection authenticates with SCRAM-SHA-256 and MD5 over
//! TCP (the test server's password roles accept nothing else).

use sluice_api::{ErrorKind, Operation, Source, Value};
use sluice_postgres::PostgresSource;
use sluice_testkit::{MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER};

use super::harness::{Fixture, start};

/// The password roles are not superusers: the publication is prepared by
/// the superuser, the slot is created by the role itself.
const SETUP: &str = "CREATE TABLE public.items (id int PRIMARY KEY, name text);";

async fn streams_as(prefix: &str, user: &str, password: &str) {
    let fixture = Fixture::shared(prefix, SETUP).await;
    fixture
        .client
        .batch_execute(&format!("CREATE PUBLICATION \"{}\" FOR TABLE public.items", fixture.publication()))
        .await
        .unwrap();
    let config = fixture.config(fixture.database.url_as(user, password), &["public.items"]);
    let mut source = start(config, None).await;
    fixture.client.batch_execute("INSERT INTO public.items VALUES (1, 'one')").await.unwrap();
    let read = source.next_transaction().await;
    assert_eq!(read.changes.len(), 1);
    assert_eq!(read.changes[0].operation, Operation::Insert);
    assert_eq!(read.changes[0].after, Some(vec![Value::Int(1), Value::Text("one".into())]));
}

#[tokio::test]
async fn scram_user_streams_over_tcp() {
    streams_as("src_scram", SCRAM_USER, SCRAM_PASSWORD).await;
}

#[tokio::test]
async fn md5_user_streams_over_tcp() {
    streams_as("src_md5", MD5_USER, MD5_PASSWORD).await;
}

#[tokio::test]
async fn wrong_password_is_a_config_error_that_does_not_show_the_password() {
    let fixture = Fixture::shared("src_badpw", SETUP).await;
    let password = "not-the-password-4711";
    let config = fixture.config(fixture.database.url_as(SCRAM_USER, password), &["public.items"]);
    let error = match PostgresSource::new(config).start(None).await {
        Ok(_) => panic!("a wrong password must not start"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        text.push_str(&format!(" / {inner}"));
        cause = inner.source();
    }
    assert!(!text.contains(password), "{text}");
}
