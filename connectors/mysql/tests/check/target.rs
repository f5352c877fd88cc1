//! Target checks: tables, columns and types, keys, privileges and the
//! offsets table.

use mysql_async::prelude::Queryable;
use sluice_api::{ColumnType, TableName};
use sluice_mysql::{Severity, TargetExpectation, check_target};
use sluice_testkit::MariaDbServer;

use super::{about, errors};

fn expectation(table: TableName, columns: &[(&str, Option<ColumnType>)], key: &[&str]) -> TargetExpectation {
    TargetExpectation {
        table,
        columns: columns.iter().map(|(name, source)| ((*name).to_owned(), source.clone())).collect(),
        key: key.iter().map(|k| (*k).to_owned()).collect(),
    }
}

const INT: ColumnType = ColumnType::Int { bytes: 4, unsigned: false };
const BIGINT: ColumnType = ColumnType::Int { bytes: 8, unsigned: false };

#[tokio::test]
async fn a_matching_target_has_no_errors_and_its_offsets_table_can_be_created() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_target_ok").await;
    let mut conn = database.connect().await;
    conn.query_drop(
        "CREATE TABLE orders (id bigint PRIMARY KEY, note varchar(100), total decimal(12,2), extra int DEFAULT 0)",
    )
    .await
    .unwrap();
    let orders = expectation(
        TableName::new(&database.name, "orders"),
        &[
            ("id", Some(INT)),
            ("note", Some(ColumnType::Text { max_chars: Some(50) })),
            ("total", Some(ColumnType::Decimal { precision: Some(10), scale: Some(2) })),
        ],
        &["id"],
    );
    let offsets = TableName::new(&database.name, "offsets");
    let findings = check_target(&database.url(), &offsets, &[orders]).await;
    assert!(errors(&findings).is_empty(), "{findings:#?}");
    assert!(findings.iter().all(|f| f.severity == Severity::Ok), "{findings:#?}");
    assert!(about(&findings, Severity::Ok, "offsets table")[0].message.contains("will create"), "{findings:#?}");
}

#[tokio::test]
async fn missing_tables_columns_keys_and_unfilled_columns_are_errors() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_target_missing").await;
    let mut conn = database.connect().await;
    conn.query_drop(
        "CREATE TABLE items (id int, name varchar(10), twice int AS (id * 2), required int NOT NULL) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    conn.query_drop("CREATE TABLE flat (id int PRIMARY KEY) ENGINE=MyISAM").await.unwrap();
    let items = expectation(
        TableName::new(&database.name, "items"),
        &[("id", Some(INT)), ("name", None), ("colour", None), ("twice", None)],
        &["id"],
    );
    let flat = expectation(TableName::new(&database.name, "flat"), &[("id", Some(INT))], &["id"]);
    let absent = expectation(TableName::new(&database.name, "absent"), &[("id", Some(INT))], &["id"]);
    let offsets = TableName::new(&database.name, "offsets");
    let findings = check_target(&database.url(), &offsets, &[items, flat, absent]).await;

    let name = &database.name;
    let error_about = |subject: String, text: &str| {
        let found = about(&findings, Severity::Error, &subject);
        assert!(found.iter().any(|f| f.message.contains(text)), "{subject} / {text}: {findings:#?}");
    };
    error_about(format!("column {name}.items.colour"), "has no column");
    error_about(format!("column {name}.items.twice"), "generated");
    error_about(format!("column {name}.items.required"), "NOT NULL without a default");
    error_about(format!("table {name}.items"), "no primary key or unique key");
    error_about(format!("table {name}.flat"), "MyISAM");
    error_about(format!("table {name}.absent"), "does not exist");
    assert!(about(&findings, Severity::Ok, &format!("table {name}.items")).is_empty());
}

#[tokio::test]
async fn types_that_cannot_fit_are_errors_and_narrowing_is_a_warning() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_target_types").await;
    let mut conn = database.connect().await;
    conn.query_drop(
        "CREATE TABLE typed (id int PRIMARY KEY, n int, label varchar(10) CHARACTER SET gbk, span int, \
         email varchar(40) NOT NULL, UNIQUE KEY uk_email (email)) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    let typed = expectation(
        TableName::new(&database.name, "typed"),
        &[
            ("id", Some(INT)),
            ("n", Some(BIGINT)),
            ("label", Some(ColumnType::Text { max_chars: Some(10) })),
            ("span", Some(ColumnType::Interval)),
            ("email", Some(ColumnType::Text { max_chars: Some(40) })),
        ],
        &["id"],
    );
    let offsets = TableName::new(&database.name, "offsets");
    let findings = check_target(&database.url(), &offsets, &[typed]).await;
    let name = &database.name;
    assert!(about(&findings, Severity::Warning, &format!("column {name}.typed.n"))[0].message.contains("range"));
    assert!(
        about(&findings, Severity::Warning, &format!("column {name}.typed.label"))[0].message.contains("character set")
    );
    assert!(about(&findings, Severity::Error, &format!("column {name}.typed.span"))[0].message.contains("interval"));
    let unique = about(&findings, Severity::Warning, &format!("table {name}.typed"));
    assert!(unique[0].message.contains("uk_email (email)") && unique[0].message.contains("guarded"), "{findings:#?}");
}

#[tokio::test]
async fn missing_privileges_and_an_uncreatable_offsets_table_get_the_grants() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_target_grants").await;
    let user = format!("writer_{}", database.name);
    let mut root = server.connect("").await;
    root.query_drop(format!("CREATE TABLE `{}`.items (id int PRIMARY KEY)", database.name)).await.unwrap();
    root.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")).await.unwrap();
    root.query_drop(format!("GRANT SELECT ON `{}`.items TO '{user}'@'%'", database.name)).await.unwrap();

    let items = expectation(TableName::new(&database.name, "items"), &[("id", Some(INT))], &["id"]);
    let offsets = TableName::new(&database.name, "offsets");
    let findings = check_target(&database.url_as(&user, "pw"), &offsets, &[items]).await;
    let name = &database.name;
    let table = about(&findings, Severity::Error, &format!("table {name}.items"));
    assert!(table[0].message.contains("lacks INSERT, UPDATE, DELETE"), "{findings:#?}");
    assert!(table[0].fix.as_deref().unwrap().starts_with("GRANT INSERT, UPDATE, DELETE ON"));
    let offsets = about(&findings, Severity::Error, "offsets table");
    assert!(offsets[0].message.contains("lacks CREATE"), "{findings:#?}");
    root.query_drop(format!("DROP USER '{user}'@'%'")).await.unwrap();
}
