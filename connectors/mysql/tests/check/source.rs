//! Source checks: binlog settings, privileges, server ids, binlog retention
//! against a checkpoint, and routed tables. Server ids 70001–70006 are
//! this module's (the source tests count up from 1000).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn};
use sluice_api::{BinlogPosition, TableName};
use sluice_mysql::{Finding, Severity, check_source};
use sluice_testkit::{MARIADB_PASSWORD, MARIADB_USER, MariaDbOptions, MariaDbServer};

use super::{about, errors};

fn at(file: &str, offset: u64) -> BinlogPosition {
    BinlogPosition { file: file.into(), offset, gtid: None }
}

#[tokio::test]
async fn a_well_configured_mariadb_source_has_no_errors() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_source_ok").await;
    let mut conn = database.connect().await;
    conn.query_drop("CREATE TABLE orders (id int PRIMARY KEY, total decimal(10,2))").await.unwrap();
    conn.query_drop("CREATE TABLE codes (code varchar(10) NOT NULL, UNIQUE KEY (code))").await.unwrap();
    let tables = [TableName::new(&database.name, "orders"), TableName::new(&database.name, "codes")];

    let url = server.url_as(MARIADB_USER, MARIADB_PASSWORD, "");
    let findings = check_source(&url, 70001, &tables, None).await;
    assert!(errors(&findings).is_empty(), "{findings:#?}");
    for setting in ["log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata"] {
        assert!(findings.iter().any(|f| f.severity == Severity::Ok && f.message.starts_with(setting)), "{setting}");
    }
    assert_eq!(about(&findings, Severity::Ok, "privileges").len(), 2, "{findings:#?}");
    assert_eq!(about(&findings, Severity::Ok, "table ").len(), 2, "{findings:#?}");
    assert_eq!(about(&findings, Severity::Ok, "server_id 70001").len(), 1, "{findings:#?}");
}

#[test]
fn statement_binlogs_compression_and_minimal_metadata_are_errors() {
    let server = MariaDbServer::start_with(
        MariaDbOptions::new()
            .setting("binlog_format", "STATEMENT")
            .setting("binlog_row_metadata", "MINIMAL")
            .setting("log_bin_compress", "ON"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let findings = runtime.block_on(check_source(&server.url(""), 70002, &[], None));
    let binlog = about(&findings, Severity::Error, "binlog");
    let find = |text: &str| binlog.iter().find(|f| f.message.contains(text)).copied();
    let format = find("binlog_format is STATEMENT").unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(format.fix.as_deref().unwrap().contains("SET GLOBAL binlog_format = 'ROW'"));
    assert!(find("binlog_row_metadata is MINIMAL").is_some(), "{findings:#?}");
    assert!(find("log_bin_compress is ON").is_some(), "{findings:#?}");
    assert_eq!(binlog.len(), 3, "{findings:#?}");
}

#[tokio::test]
async fn missing_tables_and_tables_without_a_usable_key_are_errors() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_source_tables").await;
    let mut conn = database.connect().await;
    conn.query_drop("CREATE TABLE loose (a int, b int)").await.unwrap();
    conn.query_drop("CREATE TABLE nullable_unique (a int NULL, UNIQUE KEY (a))").await.unwrap();
    let tables = ["loose", "nullable_unique", "absent"].map(|name| TableName::new(&database.name, name));

    let findings = check_source(&server.url(""), 70003, &tables, None).await;
    let table_errors = about(&findings, Severity::Error, "table ");
    assert_eq!(table_errors.len(), 3, "{findings:#?}");
    assert!(table_errors[0].message.contains("neither a primary key"));
    assert!(table_errors[0].fix.as_deref().unwrap().contains("ADD PRIMARY KEY"));
    assert!(table_errors[2].message.contains("does not exist"));
}

#[tokio::test]
async fn an_account_without_replication_privileges_or_table_access_gets_the_grants() {
    let server = MariaDbServer::shared();
    let database = server.create_database("check_source_grants").await;
    let user = format!("reader_{}", database.name);
    let mut root = server.connect("").await;
    root.query_drop(format!("CREATE TABLE `{}`.open (id int PRIMARY KEY)", database.name)).await.unwrap();
    root.query_drop(format!("CREATE TABLE `{}`.closed (id int PRIMARY KEY)", database.name)).await.unwrap();
    root.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")).await.unwrap();
    root.query_drop(format!("GRANT SELECT ON `{}`.open TO '{user}'@'%'", database.name)).await.unwrap();
    root.query_drop(format!("GRANT SHOW VIEW ON `{}`.closed TO '{user}'@'%'", database.name)).await.unwrap();

    let tables = ["open", "closed"].map(|name| TableName::new(&database.name, name));
    let findings = check_source(&server.url_as(&user, "pw", ""), 70004, &tables, None).await;
    let privileges = about(&findings, Severity::Error, "privileges");
    assert_eq!(privileges.len(), 2, "{findings:#?}");
    assert!(privileges[0].fix.as_deref().unwrap().starts_with("GRANT REPLICATION SLAVE ON *.*"));
    assert!(privileges[1].fix.as_deref().unwrap().starts_with("GRANT BINLOG MONITOR ON *.*"));
    assert_eq!(about(&findings, Severity::Ok, &format!("table {}.open", database.name)).len(), 1, "{findings:#?}");
    let closed = about(&findings, Severity::Error, &format!("table {}.closed", database.name));
    assert!(closed[0].message.contains("may not read"), "{findings:#?}");
    root.query_drop(format!("DROP USER '{user}'@'%'")).await.unwrap();
}

#[tokio::test]
async fn server_ids_of_the_server_or_a_connected_replica_are_errors() {
    let server = MariaDbServer::shared();
    for (id, text) in [(0, "non-zero"), (1, "own server_id")] {
        let findings = check_source(&server.url(""), id, &[], None).await;
        let clash = about(&findings, Severity::Error, &format!("server_id {id}"));
        assert!(clash.len() == 1 && clash[0].message.contains(text), "{findings:#?}");
    }

    // A registered binlog reader, as a replica or a running pipeline is.
    let replica = Conn::new(mysql_async::Opts::from_url(&server.url("")).unwrap()).await.unwrap();
    let _stream = replica.get_binlog_stream(BinlogStreamRequest::new(70005)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let findings: Vec<Finding> = check_source(&server.url(""), 70005, &[], None).await;
        let clash = about(&findings, Severity::Error, "server_id 70005");
        if clash.len() == 1 && clash[0].message.contains("connected replica") {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never showed: {findings:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn checkpoints_into_purged_or_expiring_binlogs_are_reported() {
    let server = MariaDbServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let url = server.url("");
        let mut conn = server.connect("").await;
        let first: (String, u64) = conn
            .query_first("SHOW MASTER STATUS")
            .await
            .unwrap()
            .map(|row: mysql_async::Row| (row.get::<String, _>(0).unwrap(), row.get::<u64, _>(1).unwrap()))
            .unwrap();
        let current = check_source(&url, 70006, &[], Some(&at(&first.0, first.1))).await;
        assert!(about(&current, Severity::Ok, "checkpoint")[0].message.contains("current binlog file"), "{current:#?}");
        let beyond = check_source(&url, 70006, &[], Some(&at(&first.0, first.1 + 1_000_000))).await;
        assert!(about(&beyond, Severity::Error, "checkpoint")[0].message.contains("beyond the end"), "{beyond:#?}");
        // A MariaDB checkpoint of another server (after a failover) or naming
        // no file (a state chosen across targets) resumes by its GTID state.
        for file in ["failed-primary-bin.000007", ""] {
            let elsewhere = BinlogPosition { gtid: Some("0-1-1".into()), ..at(file, 650) };
            let findings = check_source(&url, 70006, &[], Some(&elsewhere)).await;
            let ok = about(&findings, Severity::Ok, "checkpoint");
            assert!(ok.first().is_some_and(|f| f.message.contains("resumes by its GTID state")), "{findings:#?}");
            assert!(errors(&findings).is_empty(), "{findings:#?}");
        }

        conn.query_drop("FLUSH BINARY LOGS").await.unwrap();
        conn.query_drop("FLUSH BINARY LOGS").await.unwrap();
        let never_purged = check_source(&url, 70006, &[], Some(&at(&first.0, 4))).await;
        assert!(
            about(&never_purged, Severity::Ok, "checkpoint")[0].message.contains("not purged automatically"),
            "{never_purged:#?}"
        );

        // One second of retention: the first file (closed when the second was
        // created) soon passes 80% of it. Nothing rotates, so nothing is purged.
        conn.query_drop("SET GLOBAL binlog_expire_logs_seconds = 1").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let findings = check_source(&url, 70006, &[], Some(&at(&first.0, 4))).await;
            let warnings = about(&findings, Severity::Warning, "checkpoint");
            if warnings.first().is_some_and(|w| w.message.contains("purges binlogs after")) {
                break;
            }
            assert!(errors(&findings).is_empty(), "{findings:#?}");
            assert!(Instant::now() < deadline, "no retention warning: {findings:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // MariaDB keeps a file until its binlog checkpoint has moved on (and
        // while a dump thread still reads it): purge until it is gone.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await.unwrap();
            let oldest: String = logs[0].get(0).unwrap();
            if oldest != first.0 {
                break;
            }
            assert!(Instant::now() < deadline, "{} was never purged", first.0);
            let second: String = logs[1].get(0).unwrap();
            conn.query_drop(format!("PURGE BINARY LOGS TO '{second}'")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let purged = check_source(&url, 70006, &[], Some(&at(&first.0, 4))).await;
        let gone = about(&purged, Severity::Error, "checkpoint");
        assert!(gone[0].message.contains("no longer on the server"), "{purged:#?}");
        assert!(gone[0].fix.as_deref().unwrap().contains("new snapshot"));
        // A GTID state does not help a file of this server's own series: it was purged.
        let with_state = BinlogPosition { gtid: Some("0-1-1".into()), ..at(&first.0, 4) };
        let purged = check_source(&url, 70006, &[], Some(&with_state)).await;
        assert!(about(&purged, Severity::Error, "checkpoint")[0].message.contains("no longer on the server"));
    });
}
