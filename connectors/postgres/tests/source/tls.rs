//! TLS on both connections: `sslmode=require` encrypts without verifying,
//! `verify-full` checks the chain against `sslrootcert` and the host name,
//! and `require` against a server without TLS is refused.

use std::sync::OnceLock;

use sluice_api::{ErrorKind, Source, Value};
use sluice_postgres::PostgresSource;
use sluice_testkit::{PgOptions, PgServer, SCRAM_PASSWORD, SCRAM_USER};

use super::harness::{Fixture, start};

const SETUP: &str = "CREATE TABLE public.items (id int PRIMARY KEY);";

fn tls_server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| PgServer::start_with(PgOptions::new().tls(true)))
}

async fn streams_with(prefix: &str, sslmode: &str) {
    let fixture = Fixture::on(tls_server(), prefix, SETUP).await;
    fixture
        .client
        .batch_execute(&format!("CREATE PUBLICATION \"{}\" FOR TABLE public.items", fixture.publication()))
        .await
        .unwrap();
    let url = fixture.database.url_as(SCRAM_USER, SCRAM_PASSWORD).replace("sslmode=disable", sslmode);
    let mut source = start(fixture.config(url, &["public.items"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.items VALUES (7)").await.unwrap();
    let read = source.next_transaction().await;
    assert_eq!(read.changes[0].after, Some(vec![Value::Int(7)]));
    // Both of the source's sessions on this database are encrypted.
    let row = fixture
        .client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'sluice' AND a.usename = $1",
            &[&SCRAM_USER],
        )
        .await
        .unwrap();
    let (encrypted, total): (i64, i64) = (row.get(0), row.get(1));
    assert!(total >= 2, "ordinary and replication sessions exist ({total})");
    assert_eq!(encrypted, total, "every sluice session uses TLS");
}

#[tokio::test]
async fn sslmode_require_streams_over_tls_with_scram() {
    streams_with("src_tls_req", "sslmode=require").await;
}

#[tokio::test]
async fn sslmode_verify_full_checks_the_server_against_sslrootcert() {
    let ca = tls_server().ca_cert_path().expect("the TLS server has a CA").display().to_string();
    streams_with("src_tls_full", &format!("sslmode=verify-full&sslrootcert={ca}")).await;
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_is_refused() {
    let fixture = Fixture::shared("src_notls", SETUP).await;
    let url = fixture.database.url().replace("sslmode=disable", "sslmode=require");
    let error = match PostgresSource::new(fixture.config(url, &["public.items"])).start(None).await {
        Ok(_) => panic!("require must not fall back to plain TCP"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    assert!(error.to_string().contains("TLS"), "{error}");
}

#[tokio::test]
async fn sslmode_verify_ca_refuses_a_server_not_signed_by_sslrootcert() {
    let fixture = Fixture::on(tls_server(), "src_tls_badca", SETUP).await;
    // The server's own certificate is not a CA that signed it.
    let ca = tls_server().ca_cert_path().expect("the TLS server has a CA");
    let wrong_root = ca.with_file_name("server.crt");
    let url = fixture
        .database
        .url()
        .replace("sslmode=disable", &format!("sslmode=verify-ca&sslrootcert={}", wrong_root.display()));
    let error = match PostgresSource::new(fixture.config(url, &["public.items"])).start(None).await {
        Ok(_) => panic!("an unverifiable certificate must be refused"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Config, "{error}");
    assert!(error.to_string().contains("TLS handshake"), "{error}");
}
