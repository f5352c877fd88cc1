//! Connections follow `ssl-mode`: encrypted when asked, verified against
//! `ssl-ca` in the verifying modes, plain only when allowed.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::{ErrorKind, HasErrorKind};
use sluice_mysql::{MySqlSink, MySqlSinkConfig, connect};
use sluice_testkit::{MariaDbOptions, MariaDbServer};

async fn tls_version(conn: &mut Conn) -> String {
    let status: Option<(String, String)> = conn.query_first("SHOW SESSION STATUS LIKE 'Ssl_version'").await.unwrap();
    status.map(|(_, version)| version).unwrap_or_default()
}

#[test]
fn ssl_modes_encrypt_and_verify_against_a_tls_server() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().tls(true));
    let ca = server.ca_cert_path().unwrap().display().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for mode in ["preferred", "required", "verify_ca", "VERIFY_IDENTITY"] {
            let url = format!("{}?ssl-mode={mode}&ssl-ca={ca}", server.url(""));
            let mut conn = connect(&url).await.unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert!(tls_version(&mut conn).await.starts_with("TLSv1."), "{mode}");
        }
        let mut plain = connect(&format!("{}?ssl-mode=disabled", server.url(""))).await.unwrap();
        assert_eq!(tls_version(&mut plain).await, "");

        // Without ssl-ca the built-in roots do not know the test CA.
        let unverified = connect(&format!("{}?ssl-mode=verify_identity", server.url(""))).await;
        assert!(unverified.is_err());

        let config = MySqlSinkConfig::new(format!("{}?ssl-mode=verify_identity&ssl-ca={ca}", server.url("")));
        let mut sink = MySqlSink::connect(config).await.unwrap();
        assert_eq!(sink.applied_position("tls").await.unwrap(), None);
    });
}

#[tokio::test]
async fn a_server_without_tls_is_refused_when_tls_is_required_and_used_plain_when_preferred() {
    let server = MariaDbServer::shared();
    let error = connect(&format!("{}?ssl-mode=required", server.url(""))).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("offers no TLS"), "{error}");
    let mut conn = connect(&server.url("")).await.unwrap();
    assert_eq!(tls_version(&mut conn).await, "");
}
