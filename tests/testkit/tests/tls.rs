//! A server started with `tls(true)` serves TLS with a certificate that
//! clients can verify against `ca_cert_path()`.

use sluice_testkit::{PgOptions, PgServer, SCRAM_PASSWORD, SCRAM_USER};

use crate::psql::psql;

#[test]
fn tls_server_is_verifiable_with_its_ca_certificate() {
    let server = PgServer::start_with(PgOptions::new().tls(true));
    let ca = server.ca_cert_path().expect("a TLS server has a CA certificate");
    assert!(ca.is_file());

    let verified = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={}",
        server.port(),
        ca.display()
    );
    let encrypted = psql(&verified, None, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").unwrap();
    assert_eq!(encrypted, "t");

    let scram_over_tls =
        format!("host=127.0.0.1 port={} user={SCRAM_USER} dbname=postgres sslmode=require", server.port());
    let user = psql(&scram_over_tls, Some(SCRAM_PASSWORD), "SELECT current_user").unwrap();
    assert_eq!(user, SCRAM_USER);
}

#[test]
fn plain_servers_have_no_tls() {
    assert!(PgServer::shared().ca_cert_path().is_none());
}
