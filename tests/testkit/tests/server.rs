//! The shared server serves logical replication over TCP.

use sluice_testkit::PgServer;

#[tokio::test]
async fn shared_server_runs_with_logical_wal_level() {
    let server = PgServer::shared();
    let client = server.connect("postgres").await;
    let wal_level: String = client.query_one("SHOW wal_level", &[]).await.unwrap().get(0);
    assert_eq!(wal_level, "logical");
    let slots: String = client.query_one("SHOW max_replication_slots", &[]).await.unwrap().get(0);
    assert_eq!(slots, "64");
}

#[tokio::test]
async fn shared_server_url_is_a_working_superuser_connection_string() {
    let server = PgServer::shared();
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(
        server.url("postgres"),
        format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", server.port())
    );
    let (client, connection) = tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let superuser: bool =
        client.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await.unwrap().get(0);
    assert!(superuser);
}

#[test]
fn shared_server_is_one_server_per_process() {
    assert!(std::ptr::eq(PgServer::shared(), PgServer::shared()));
}

#[test]
fn options_override_the_default_settings() {
    // A dedicated server only to prove `setting` reaches the server.
    let server = PgServer::start_with(sluice_testkit::PgOptions::new().setting("application_name", "from options"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = server.connect("postgres").await;
        let name: String = client.query_one("SHOW application_name", &[]).await.unwrap().get(0);
        assert_eq!(name, "from options");
        let fsync: String = client.query_one("SHOW fsync", &[]).await.unwrap().get(0);
        assert_eq!(fsync, "off", "servers are not durable unless asked");
    });
}
