//! Source checks against real servers.

use sluice_api::TableName;
use sluice_postgres::{Severity, check_source};
use sluice_testkit::{PgOptions, PgServer};

use super::{PlainRole, expect_one};

#[tokio::test]
async fn a_ready_source_reports_only_ok() {
    let database = PgServer::shared().create_database("check_source_ok").await;
    database
        .connect()
        .await
        .batch_execute("CREATE TABLE public.inventory (id int PRIMARY KEY, qty int)")
        .await
        .unwrap();
    let tables = [TableName::new("public", "inventory")];
    let findings = check_source(&database.url(), "sluice_ok", "sluice_ok", &tables).await;
    assert!(findings.iter().all(|f| f.severity == Severity::Ok), "{findings:#?}");
    expect_one(&findings, "table public.inventory", Severity::Ok);
    assert!(findings.iter().any(|f| f.message == "wal_level is logical"), "{findings:#?}");
}

#[tokio::test]
async fn a_table_without_primary_key_is_an_error_with_the_fix() {
    let database = PgServer::shared().create_database("check_source_no_pk").await;
    let client = database.connect().await;
    client
        .batch_execute(
            "CREATE TABLE public.log (at timestamptz, line text); CREATE TABLE public.full_log (line text); \
                        ALTER TABLE public.full_log REPLICA IDENTITY FULL",
        )
        .await
        .unwrap();
    let tables =
        [TableName::new("public", "log"), TableName::new("public", "full_log"), TableName::new("public", "nope")];
    let findings = check_source(&database.url(), "sluice_no_pk", "sluice_no_pk", &tables).await;
    let log = expect_one(&findings, "table public.log", Severity::Error);
    assert!(log.message.contains("updates and deletes cannot be replicated"), "{log:?}");
    let fix = log.fix.as_deref().unwrap();
    assert!(fix.contains("ALTER TABLE \"public\".\"log\" REPLICA IDENTITY FULL"), "{fix}");
    expect_one(&findings, "table public.full_log", Severity::Warning);
    let missing = expect_one(&findings, "table public.nope", Severity::Error);
    assert!(missing.message.contains("does not exist"), "{missing:?}");
}

#[tokio::test]
async fn publication_and_slot_problems_are_reported() {
    let database = PgServer::shared().create_database("check_source_pubslot").await;
    let client = database.connect().await;
    let slot = format!("wrong_{}", database.name);
    client
        .batch_execute(
            "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); \
             CREATE PUBLICATION only_a FOR TABLE a WITH (publish = 'insert')",
        )
        .await
        .unwrap();
    // Slot creation must be alone in its transaction.
    client.execute("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", &[&slot]).await.unwrap();
    let tables = [TableName::new("public", "a"), TableName::new("public", "b")];
    let findings = check_source(&database.url(), &slot, "only_a", &tables).await;
    let slot_finding = expect_one(&findings, &format!("slot {slot:?}"), Severity::Error);
    assert!(slot_finding.message.contains("test_decoding"), "{slot_finding:?}");
    let publication = super::about(&findings, "publication \"only_a\"");
    assert!(
        publication
            .iter()
            .any(|f| f.severity == Severity::Error && f.fix.as_deref().is_some_and(|x| x.contains("SET (publish ="))),
        "{findings:#?}"
    );
    // A superuser may add the missing table itself: a warning with the SQL.
    assert!(
        publication.iter().any(|f| f.severity == Severity::Warning
            && f.fix.as_deref() == Some("ALTER PUBLICATION \"only_a\" ADD TABLE \"public\".\"b\";")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_role_without_replication_is_told_to_get_it() {
    let database = PgServer::shared().create_database("check_source_role").await;
    database.connect().await.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
    let role = PlainRole::create(&database).await;
    let tables = [TableName::new("public", "t")];
    let findings = check_source(&role.url(), "sluice_role", "sluice_role", &tables).await;
    let finding = expect_one(&findings, &format!("role {}", role.name), Severity::Error);
    assert_eq!(finding.fix.as_deref(), Some(format!("ALTER ROLE \"{}\" REPLICATION;", role.name).as_str()));
    let table = expect_one(&findings, "table public.t", Severity::Error);
    assert!(table.fix.as_deref().unwrap().starts_with("GRANT SELECT ON \"public\".\"t\""), "{table:?}");
    expect_one(&findings, "publication \"sluice_role\"", Severity::Warning);
    role.drop(&database).await;
}

#[tokio::test]
async fn wal_level_replica_is_an_error_with_the_setting_to_change() {
    let server = PgServer::start_with(PgOptions::new().setting("wal_level", "replica"));
    let database = server.create_database("check_source_wal").await;
    let findings = check_source(&database.url(), "s", "p", &[]).await;
    let finding =
        findings.iter().find(|f| f.message.contains("wal_level is replica")).unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(finding.severity, Severity::Error);
    assert!(finding.fix.as_deref().unwrap().starts_with("ALTER SYSTEM SET wal_level = logical"));
}

#[tokio::test]
async fn an_unreachable_source_is_a_finding() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/db?sslmode=disable");
    let findings = check_source(&url, "s", "p", &[]).await;
    let finding = expect_one(&findings, "source server", Severity::Error);
    assert!(finding.message.starts_with("Could not connect"), "{finding:?}");
    assert!(!finding.message.contains("hunter2"));
}
