//! Sluice's own tables (crosswalk, dead letters): created when missing,
//! written through the ordinary write path, read with `select_text` — and
//! `select_text` on any table.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use sluice_api::owned::{CROSSWALK_COLUMNS, CROSSWALK_KEY, DEAD_LETTER_COLUMNS, DEAD_LETTER_KEY, OwnedTables};
use sluice_api::{ErrorKind, HasErrorKind, RowWrite, Sink, TableName, TargetTable, Value};
use sluice_mysql::{MySqlError, MySqlSink, MySqlSinkConfig};
use sluice_testkit::{MariaDbServer, TestMariaDb};

use super::{Target, config, expect, position, table, text, upsert};

/// The owned tables inside the test's database.
fn owned(database: &TestMariaDb) -> OwnedTables {
    OwnedTables {
        crosswalk: TableName::new(&database.name, "crosswalk"),
        dead_letters: TableName::new(&database.name, "dead_letters"),
    }
}

fn target_table(name: &TableName, columns: &[&str], key: &[usize]) -> Arc<TargetTable> {
    let columns = columns.iter().map(|c| (*c).to_owned()).collect();
    Arc::new(TargetTable::new(&name.schema, &name.name, columns, key.to_vec()))
}

/// `column type nullable default collation` of a table, in column order.
async fn columns_of(target: &mut Target, database: &str, table: &str) -> Vec<String> {
    target
        .conn
        .exec_map(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, table),
            |(name, ty, nullable, default, collation): (String, String, String, Option<String>, Option<String>)| {
                format!("{name} {ty} {nullable} {} {}", default.unwrap_or_default(), collation.unwrap_or_default())
                    .trim_end()
                    .to_owned()
            },
        )
        .await
        .unwrap()
}

/// `index: columns` of a table's indexes, unique ones marked, sorted.
async fn indexes_of(target: &mut Target, database: &str, table: &str) -> Vec<String> {
    let mut indexes: Vec<String> = target
        .conn
        .exec_map(
            "SELECT INDEX_NAME, MIN(NON_UNIQUE), GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             GROUP BY INDEX_NAME",
            (database, table),
            |(name, non_unique, columns): (String, i64, String)| {
                format!("{name}{}: {columns}", if non_unique == 0 { " unique" } else { "" })
            },
        )
        .await
        .unwrap();
    indexes.sort();
    indexes
}

#[tokio::test]
async fn ensure_owned_tables_creates_both_tables_once() {
    let mut target = Target::new("sink_owned_create", "").await;
    let db = target.database.name.clone();
    let tables = owned(&target.database);
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    let mut other = target.another_sink().await;
    other.ensure_owned_tables(&tables).await.unwrap();

    assert_eq!(
        columns_of(&mut target, &db, "crosswalk").await,
        [
            "name varchar(190) NO  utf8mb4_bin",
            "source_key varchar(500) NO  utf8mb4_bin",
            "target_key text NO  utf8mb4_bin",
            "created_at datetime(6) NO current_timestamp(6)",
        ]
    );
    assert_eq!(indexes_of(&mut target, &db, "crosswalk").await, ["PRIMARY unique: name,source_key"]);
    assert_eq!(
        columns_of(&mut target, &db, "dead_letters").await,
        [
            "pipeline varchar(190) NO  utf8mb4_bin",
            "route varchar(190) NO  utf8mb4_bin",
            "source_key varchar(500) NO  utf8mb4_bin",
            "seq varchar(64) NO  utf8mb4_bin",
            "source_table varchar(400) NO  utf8mb4_bin",
            "operation varchar(16) NO  utf8mb4_bin",
            "position text NO  utf8mb4_bin",
            "error text NO  utf8mb4_bin",
            "change longtext NO  utf8mb4_bin",
            "recorded_at datetime(6) NO current_timestamp(6)",
        ]
    );
    assert_eq!(
        indexes_of(&mut target, &db, "dead_letters").await,
        ["PRIMARY unique: route,source_key,seq", "pipeline: pipeline"]
    );
    let engines: Vec<String> = target
        .conn
        .exec("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", (&db,))
        .await
        .unwrap();
    assert!(engines.iter().all(|e| e == "InnoDB"), "{engines:?}");
}

#[tokio::test]
async fn a_missing_database_is_created_and_an_account_without_create_is_told_what_to_run() {
    let server = MariaDbServer::shared();
    let mut target = Target::new("sink_owned_denied", "").await;
    let db = target.database.name.clone();
    let elsewhere_db = format!("{db}_own");
    let elsewhere = OwnedTables {
        crosswalk: TableName::new(&elsewhere_db, "crosswalk"),
        dead_letters: TableName::new(&elsewhere_db, "dead_letters"),
    };
    // An account that may write the test database (its offsets table exists), nothing more.
    let user = format!("w_{db}");
    let mut root = server.connect("").await;
    root.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")).await.unwrap();
    root.query_drop(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO '{user}'@'%'")).await.unwrap();
    let mut limited = MySqlSink::connect(MySqlSinkConfig {
        url: target.database.url_as(&user, "pw"),
        ..config(&target.database, 100)
    })
    .await
    .unwrap();

    // No CREATE on the database.
    let error = limited.ensure_owned_tables(&owned(&target.database)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(matches!(error, MySqlError::Setup { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&format!("GRANT CREATE, SELECT, INSERT, UPDATE, DELETE ON `{db}`.*")), "{message}");
    assert!(message.contains(&format!("CREATE TABLE IF NOT EXISTS `{db}`.`crosswalk` (")), "{message}");
    assert!(!message.contains("pw'"), "{message}");
    // No database at all, and no right to create one.
    let error = limited.ensure_owned_tables(&elsewhere).await.unwrap_err();
    assert!(error.to_string().contains(&format!("CREATE DATABASE IF NOT EXISTS `{elsewhere_db}`")), "{error}");

    // An account that may creates the database and the tables; then the limited one finds them.
    target.sink.ensure_owned_tables(&elsewhere).await.unwrap();
    target.sink.ensure_owned_tables(&owned(&target.database)).await.unwrap();
    limited.ensure_owned_tables(&owned(&target.database)).await.unwrap();
    let found: Vec<String> = target
        .conn
        .exec("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1", (&elsewhere_db,))
        .await
        .unwrap();
    assert_eq!(found, ["crosswalk", "dead_letters"]);

    root.query_drop(format!("DROP DATABASE `{elsewhere_db}`")).await.unwrap();
    root.query_drop(format!("DROP USER '{user}'@'%'")).await.unwrap();
}

#[tokio::test]
async fn a_crosswalk_row_round_trips_through_the_write_path() {
    let mut target = Target::new("sink_owned_crosswalk", "").await;
    let tables = owned(&target.database);
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    let xwalk = target_table(&tables.crosswalk, &CROSSWALK_COLUMNS, &CROSSWALK_KEY);
    let entry =
        |source: &str, target_key: &str| upsert(&xwalk, vec![text("customers"), text(source), text(target_key)]);
    // Keys compare byte for byte: case and accents make different entries.
    let writes = vec![entry("[\"abc\"]", "1001"), entry("[\"ABC\"]", "1002"), entry("[\"abç\"]", "1003")];
    target.sink.write(writes).await.unwrap();
    let read = |key: &'static str| [("name", "customers"), ("source_key", key)];
    let found = target.sink.select_text(&tables.crosswalk, &["target_key"], &read("[\"ABC\"]"), &[], None).await;
    assert_eq!(found.unwrap(), expect(&[&[Some("1002")]]));
    target.sink.commit("erp", &position(1)).await.unwrap();
    let found = target.sink.select_text(&tables.crosswalk, &["target_key"], &read("[\"abç\"]"), &[], None).await;
    assert_eq!(found.unwrap(), expect(&[&[Some("1003")]]));
    let all = Sink::select_text(
        &mut target.sink,
        &tables.crosswalk,
        &["source_key", "target_key"],
        &[("name", "customers")],
        &["source_key"],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        all,
        expect(&[
            &[Some("[\"ABC\"]"), Some("1002")],
            &[Some("[\"abc\"]"), Some("1001")],
            &[Some("[\"abç\"]"), Some("1003")],
        ])
    );
    let created: Vec<u64> = target
        .conn
        .query(format!(
            "SELECT COUNT(*) FROM `{}`.crosswalk WHERE created_at > UTC_TIMESTAMP(6) - INTERVAL 1 HOUR",
            target.database.name
        ))
        .await
        .unwrap();
    assert_eq!(created, [3]);
    let key = vec![text("customers"), text("[\"abc\"]")];
    target.sink.write(vec![RowWrite::Delete { table: Arc::clone(&xwalk), key }]).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    let found = target.sink.select_text(&tables.crosswalk, &["target_key"], &read("[\"abc\"]"), &[], None).await;
    assert!(found.unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_letter_with_a_large_change_round_trips() {
    let mut target = Target::new("sink_owned_dead_letter", "").await;
    let tables = owned(&target.database);
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    let dlq = target_table(&tables.dead_letters, &DEAD_LETTER_COLUMNS, &DEAD_LETTER_KEY);
    let change = format!(
        "{{\"table\":\"shop.orders\",\"after\":[{}],\"note\":\"é ✓ 🦀 \\\"quoted\\\"\"}}",
        (0..200_000).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    assert!(change.len() > 1_000_000);
    let letter = |seq: &str, change: &str| {
        let cells = [
            "erp",
            "orders_to_crm",
            "[42]",
            seq,
            "shop.orders",
            "update",
            "binlog:mysql-bin.000003:1234",
            "Table crm.orders, column total (decimal(5,2)): out of range",
            change,
        ];
        upsert(&dlq, cells.iter().map(|c| text(c)).collect())
    };
    target
        .sink
        .write(vec![letter("000003:0000001234:00002", &change), letter("000003:0000001234:00001", "{}")])
        .await
        .unwrap();
    target.sink.write(vec![letter("000003:0000001234:00002", &change)]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    let filter = [("route", "orders_to_crm"), ("source_key", "[42]")];
    let rows =
        target.sink.select_text(&tables.dead_letters, &DEAD_LETTER_COLUMNS, &filter, &["seq"], None).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][3].as_deref(), Some("000003:0000001234:00001"));
    assert_eq!(rows[1][8].as_deref(), Some(change.as_str()));
    assert_eq!(
        rows[1][..8].to_vec(),
        [
            "erp",
            "orders_to_crm",
            "[42]",
            "000003:0000001234:00002",
            "shop.orders",
            "update",
            "binlog:mysql-bin.000003:1234",
            "Table crm.orders, column total (decimal(5,2)): out of range"
        ]
        .map(|c| Some(c.to_owned()))
    );
    let first =
        target.sink.select_text(&tables.dead_letters, &["seq"], &[("pipeline", "erp")], &["seq"], Some(1)).await;
    assert_eq!(first.unwrap(), expect(&[&[Some("000003:0000001234:00001")]]));
}

#[tokio::test]
async fn select_text_filters_orders_limits_and_reads_nulls_on_any_table() {
    let ddl = "CREATE TABLE notes (id int PRIMARY KEY, owner varchar(10), body text, at date) ENGINE=InnoDB; \
               INSERT INTO notes VALUES (1, 'ann', 'b1', '2024-01-03'), (2, 'bob', NULL, NULL), \
               (3, 'ann', NULL, '2024-01-01'), (4, 'ann', 'b4', '2024-01-02')";
    let mut target = Target::new("sink_select_text", ddl).await;
    let notes = TableName::new(&target.database.name, "notes");
    let by_owner = |owner: &'static str| [("owner", owner)];
    let read = target.sink.select_text(&notes, &["id", "body", "at"], &by_owner("ann"), &["at"], None).await.unwrap();
    assert_eq!(
        read,
        expect(&[
            &[Some("3"), None, Some("2024-01-01")],
            &[Some("4"), Some("b4"), Some("2024-01-02")],
            &[Some("1"), Some("b1"), Some("2024-01-03")],
        ])
    );
    let read = target.sink.select_text(&notes, &["id"], &by_owner("ann"), &["at"], Some(2)).await.unwrap();
    assert_eq!(read, expect(&[&[Some("3")], &[Some("4")]]));
    let read = target.sink.select_text(&notes, &["owner"], &[("id", "2"), ("owner", "bob")], &[], None).await.unwrap();
    assert_eq!(read, expect(&[&[Some("bob")]]));
    let read = target.sink.select_text(&notes, &["id"], &[], &["owner", "id"], Some(10)).await.unwrap();
    assert_eq!(read, expect(&[&[Some("1")], &[Some("3")], &[Some("4")], &[Some("2")]]));
    assert!(target.sink.select_text(&notes, &["id"], &by_owner("nobody"), &[], None).await.unwrap().is_empty());

    // Inside an open transaction: its own writes, gone after a rollback.
    let t = table(&target.database, "notes", &["id", "owner", "body"], 1);
    target.sink.write(vec![upsert(&t, vec![Value::Int(5), text("cy"), Value::Null])]).await.unwrap();
    let read = target.sink.select_text(&notes, &["id", "body"], &by_owner("cy"), &[], None).await.unwrap();
    assert_eq!(read, expect(&[&[Some("5"), None]]));
    target.sink.rollback().await.unwrap();
    assert!(target.sink.select_text(&notes, &["id"], &by_owner("cy"), &[], None).await.unwrap().is_empty());

    let error = target.sink.select_text(&notes, &["nope`"], &[], &[], None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    let ghost = TableName::new(&target.database.name, "ghost");
    let error = target.sink.select_text(&ghost, &["id"], &[], &[], None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(error.to_string().contains("ghost"), "{error}");
}
