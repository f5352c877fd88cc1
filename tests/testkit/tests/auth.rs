//! The password roles authenticate with their method and password, over
//! plain and replication connections.

use sluice_testkit::{MD5_PASSWORD, MD5_USER, PgServer, SCRAM_PASSWORD, SCRAM_USER};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::psql::psql;

async fn login(url: &str) -> Result<String, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    Ok(row.get(0))
}

async fn stored_password(role: &str) -> String {
    let client = PgServer::shared().connect("postgres").await;
    let row = client.query_one("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&role]).await.unwrap();
    row.get(0)
}

#[tokio::test]
async fn scram_role_logs_in_with_its_password_and_not_without() {
    let server = PgServer::shared();
    let user = login(&server.url_as(SCRAM_USER, SCRAM_PASSWORD, "postgres")).await.unwrap();
    assert_eq!(user, SCRAM_USER);

    let err = login(&server.url_as(SCRAM_USER, "wrong", "postgres")).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD));
    assert!(stored_password(SCRAM_USER).await.starts_with("SCRAM-SHA-256$"));
}

#[tokio::test]
async fn md5_role_logs_in_with_its_password_and_not_without() {
    let server = PgServer::shared();
    let user = login(&server.url_as(MD5_USER, MD5_PASSWORD, "postgres")).await.unwrap();
    assert_eq!(user, MD5_USER);

    let err = login(&server.url_as(MD5_USER, "wrong", "postgres")).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD));
    assert!(stored_password(MD5_USER).await.starts_with("md5"));
}

#[test]
fn password_roles_open_replication_connections() {
    let server = PgServer::shared();
    for (user, password) in [(SCRAM_USER, SCRAM_PASSWORD), (MD5_USER, MD5_PASSWORD)] {
        let conninfo = format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres replication=database sslmode=disable",
            server.port()
        );
        let identity = psql(&conninfo, Some(password), "IDENTIFY_SYSTEM").unwrap();
        assert!(identity.ends_with("|postgres"), "IDENTIFY_SYSTEM as {user} said {identity:?}");
        assert!(psql(&conninfo, Some("wrong"), "IDENTIFY_SYSTEM").is_err());
    }
}
