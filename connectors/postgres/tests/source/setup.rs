//! Publication and slot management: created when missing, completed when
//! lacking routed tables, refused when unusable; status and drop helpers.

use sluice_api::{ErrorKind, Source};
use sluice_postgres::{PostgresSource, drop_publication, drop_slot, slot_status};
use sluice_testkit::{SCRAM_PASSWORD, SCRAM_USER};

use super::harness::{Fixture, eventually, start};

const SETUP: &str = "CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);";

async fn publication_tables(fixture: &Fixture) -> Vec<String> {
    let rows = fixture
        .client
        .query(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
            &[&fixture.publication()],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn slot_and_publication_are_created_when_missing() {
    let fixture = Fixture::shared("src_create", SETUP).await;
    let source = start(fixture.config(fixture.database.url(), &["public.a", "public.b"]), None).await;
    assert_eq!(publication_tables(&fixture).await, vec!["public.a", "public.b"]);
    let row = fixture
        .client
        .query_one(
            "SELECT plugin::text, slot_type, active FROM pg_replication_slots WHERE slot_name = $1",
            &[&fixture.slot()],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, String>(0).as_str(), row.get::<_, String>(1).as_str()), ("pgoutput", "logical"));
    assert!(row.get::<_, bool>(2), "the source streams from the slot");

    let status = slot_status(&fixture.client, &fixture.slot()).await.unwrap().expect("slot exists");
    assert!(status.active);
    assert!(status.current_wal >= status.restart_lsn);
    assert_eq!(status.wal_status, "reserved");
    assert!(slot_status(&fixture.client, "no_such_slot").await.unwrap().is_none());
    drop(source);
}

#[tokio::test]
async fn a_publication_lacking_a_routed_table_gets_it_added() {
    let fixture = Fixture::shared("src_addtbl", SETUP).await;
    fixture
        .client
        .batch_execute(&format!("CREATE PUBLICATION \"{}\" FOR TABLE public.a", fixture.publication()))
        .await
        .unwrap();
    let _source = start(fixture.config(fixture.database.url(), &["public.a", "public.b"]), None).await;
    assert_eq!(publication_tables(&fixture).await, vec!["public.a", "public.b"]);
}

#[tokio::test]
async fn a_publication_sluice_may_not_alter_yields_the_sql_for_a_dba() {
    let fixture = Fixture::shared("src_nopriv", SETUP).await;
    fixture
        .client
        .batch_execute(&format!("CREATE PUBLICATION \"{}\" FOR TABLE public.a", fixture.publication()))
        .await
        .unwrap();
    let url = fixture.database.url_as(SCRAM_USER, SCRAM_PASSWORD);
    let error = match PostgresSource::new(fixture.config(url, &["public.a", "public.b"])).start(None).await {
        Ok(_) => panic!("a non-owner cannot alter the publication"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    let expected = format!("ALTER PUBLICATION \"{}\" ADD TABLE \"public\".\"b\"", fixture.publication());
    assert!(error.to_string().contains(&expected), "{error}");
}

#[tokio::test]
async fn a_slot_of_another_plugin_is_refused() {
    let fixture = Fixture::shared("src_plugin", SETUP).await;
    fixture
        .client
        .execute("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", &[&fixture.slot()])
        .await
        .unwrap();
    let error = match PostgresSource::new(fixture.config(fixture.database.url(), &["public.a"])).start(None).await {
        Ok(_) => panic!("a test_decoding slot cannot stream pgoutput"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    assert!(error.to_string().contains("test_decoding"), "{error}");
}

#[tokio::test]
async fn a_slot_in_use_is_refused_with_a_retryable_error() {
    let fixture = Fixture::shared("src_inuse", SETUP).await;
    let _first = start(fixture.config(fixture.database.url(), &["public.a"]), None).await;
    let error = match PostgresSource::new(fixture.config(fixture.database.url(), &["public.a"])).start(None).await {
        Ok(_) => panic!("a second source cannot share the slot"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Connection, "{error}");
    assert!(error.to_string().contains(&fixture.slot()), "{error}");
}

#[tokio::test]
async fn drop_slot_and_publication_remove_them_once_streaming_stopped() {
    let fixture = Fixture::shared("src_drop", SETUP).await;
    let source = start(fixture.config(fixture.database.url(), &["public.a"]), None).await;
    assert!(drop_slot(&fixture.client, &fixture.slot()).await.is_err(), "an active slot is not dropped");
    drop(source);
    let slot = fixture.slot();
    eventually("the slot becomes inactive", || async {
        let status = slot_status(&fixture.client, &slot).await.unwrap().unwrap();
        !status.active
    })
    .await;
    assert!(drop_slot(&fixture.client, &slot).await.unwrap());
    assert!(!drop_slot(&fixture.client, &slot).await.unwrap());
    assert!(drop_publication(&fixture.client, &fixture.publication()).await.unwrap());
    assert!(!drop_publication(&fixture.client, &fixture.publication()).await.unwrap());
}
