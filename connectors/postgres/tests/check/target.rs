//! Target checks against a real server.

use sluice_api::{ColumnType, TableName};
use sluice_postgres::{Severity, TargetExpectation, check_target};
use sluice_testkit::PgServer;

use super::{PlainRole, about, expect_one};

const INT4: ColumnType = ColumnType::Int { bytes: 4, unsigned: false };
const INT8: ColumnType = ColumnType::Int { bytes: 8, unsigned: false };
const TEXT: ColumnType = ColumnType::Text { max_chars: None };

fn expectation(table: &str, columns: &[(&str, Option<ColumnType>)], key: &[&str]) -> TargetExpectation {
    TargetExpectation {
        table: TableName::new("public", table),
        columns: columns.iter().map(|(name, t)| ((*name).to_owned(), t.clone())).collect(),
        key: key.iter().map(|k| (*k).to_owned()).collect(),
    }
}

fn offsets() -> TableName {
    TableName::new("sluice", "offsets")
}

#[tokio::test]
async fn a_ready_target_reports_only_ok() {
    let database = PgServer::shared().create_database("check_target_ok").await;
    database
        .connect()
        .await
        .batch_execute("CREATE TABLE inventory (id bigint PRIMARY KEY, name text NOT NULL, qty numeric, note text)")
        .await
        .unwrap();
    let expectations = [expectation("inventory", &[("id", Some(INT4)), ("name", Some(TEXT)), ("qty", None)], &["id"])];
    let findings = check_target(&database.url(), &offsets(), &expectations).await;
    assert!(findings.iter().all(|f| f.severity == Severity::Ok), "{findings:#?}");
    expect_one(&findings, "offsets table sluice.offsets", Severity::Ok);
}

#[tokio::test]
async fn a_missing_column_is_reported_with_an_add_column_fix() {
    let database = PgServer::shared().create_database("check_target_column").await;
    database.connect().await.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
    let expectations = [expectation(
        "t",
        &[("id", Some(INT4)), ("price", Some(ColumnType::Decimal { precision: Some(12), scale: Some(2) }))],
        &["id"],
    )];
    let findings = check_target(&database.url(), &offsets(), &expectations).await;
    let finding = expect_one(&findings, "target column public.t.price", Severity::Error);
    assert_eq!(finding.fix.as_deref(), Some("ALTER TABLE \"public\".\"t\" ADD COLUMN \"price\" numeric(12,2);"));
}

#[tokio::test]
async fn a_missing_table_is_reported_by_name() {
    let database = PgServer::shared().create_database("check_target_table").await;
    let expectations = [expectation("ghost", &[("id", None)], &["id"])];
    let findings = check_target(&database.url(), &offsets(), &expectations).await;
    let finding = expect_one(&findings, "target table public.ghost", Severity::Error);
    assert!(finding.message.contains("Table public.ghost does not exist"), "{finding:?}");
}

#[tokio::test]
async fn keys_not_null_generated_and_types_are_checked() {
    let database = PgServer::shared().create_database("check_target_shape").await;
    database
        .connect()
        .await
        .batch_execute(
            "CREATE TABLE t (id int, code int, small int, required text NOT NULL, \
             doubled int GENERATED ALWAYS AS (id * 2) STORED, UNIQUE (id, code))",
        )
        .await
        .unwrap();
    let expectations = [expectation(
        "t",
        &[("id", Some(INT4)), ("code", Some(TEXT)), ("small", Some(INT8)), ("doubled", Some(INT4))],
        &["id"],
    )];
    let findings = check_target(&database.url(), &offsets(), &expectations).await;
    let key = expect_one(&findings, "target table public.t", Severity::Error);
    assert_eq!(key.fix.as_deref(), Some("ALTER TABLE \"public\".\"t\" ADD PRIMARY KEY (\"id\");"));
    expect_one(&findings, "target column public.t.code", Severity::Error);
    expect_one(&findings, "target column public.t.small", Severity::Warning);
    let generated = expect_one(&findings, "target column public.t.doubled", Severity::Error);
    assert!(generated.message.contains("generated"), "{generated:?}");
    let required = expect_one(&findings, "target column public.t.required", Severity::Error);
    assert!(required.fix.as_deref().unwrap().contains("DROP NOT NULL"), "{required:?}");
}

#[tokio::test]
async fn a_role_without_privileges_is_told_the_grants() {
    let database = PgServer::shared().create_database("check_target_grants").await;
    database.connect().await.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
    let role = PlainRole::create(&database).await;
    let expectations = [expectation("t", &[("id", Some(INT4))], &["id"])];
    let findings = check_target(&role.url(), &offsets(), &expectations).await;
    let table = about(&findings, "target table public.t");
    let grant = format!("GRANT SELECT, INSERT, UPDATE, DELETE ON \"public\".\"t\" TO \"{}\";", role.name);
    assert!(
        table.iter().any(|f| f.severity == Severity::Error && f.fix.as_deref() == Some(grant.as_str())),
        "{findings:#?}"
    );
    let offsets_finding = expect_one(&findings, "offsets table sluice.offsets", Severity::Error);
    assert!(offsets_finding.fix.as_deref().unwrap().starts_with("GRANT CREATE ON DATABASE"), "{offsets_finding:?}");
    role.drop(&database).await;
}
