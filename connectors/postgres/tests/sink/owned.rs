//! Sluice's own tables (crosswalk, dead letters): created when missing,
//! written through the ordinary write path, read with `select_text` — and
//! `select_text` on any table.

use std::sync::Arc;

use sluice_api::owned::{CROSSWALK_COLUMNS, CROSSWALK_KEY, DEAD_LETTER_COLUMNS, DEAD_LETTER_KEY, OwnedTables};
use sluice_api::{ErrorKind, HasErrorKind, Lsn, Position, RowWrite, Sink, TableName, TargetTable, Value};
use sluice_postgres::{PostgresError, PostgresSink, PostgresSinkConfig};
use sluice_testkit::{PgServer, SCRAM_PASSWORD, SCRAM_USER};

use super::{Target, expect, table, text, upsert};

fn position(lsn: u64) -> Position {
    Position::Postgres(Lsn(lsn))
}

fn crosswalk(tables: &OwnedTables) -> Arc<TargetTable> {
    let t = &tables.crosswalk;
    let columns = CROSSWALK_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    Arc::new(TargetTable::new(&t.schema, &t.name, columns, CROSSWALK_KEY.to_vec()))
}

fn dead_letters(tables: &OwnedTables) -> Arc<TargetTable> {
    let t = &tables.dead_letters;
    let columns = DEAD_LETTER_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    Arc::new(TargetTable::new(&t.schema, &t.name, columns, DEAD_LETTER_KEY.to_vec()))
}

/// `column type [NOT NULL]` of a table, in column order.
async fn columns_of(target: &Target, table: &str) -> Vec<String> {
    let rows = target
        .client
        .query(
            "SELECT attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END \
             || CASE WHEN atthasdef THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&table],
        )
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

/// The definitions of a table's indexes, sorted.
async fn indexes_of(target: &Target, table: &str) -> Vec<String> {
    let rows = target
        .client
        .query(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::text::regclass ORDER BY 1",
            &[&table],
        )
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn ensure_owned_tables_creates_both_tables_once() {
    let mut target = Target::new("sink_owned_create", "SELECT 1").await;
    let tables = OwnedTables::defaults();
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    // Idempotent, also from another sink.
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    let mut other = PostgresSink::connect(PostgresSinkConfig::new(target.database.url())).await.unwrap();
    other.ensure_owned_tables(&tables).await.unwrap();

    assert_eq!(
        columns_of(&target, "sluice.crosswalk").await,
        [
            "name text NOT NULL",
            "source_key text NOT NULL",
            "target_key text NOT NULL",
            "created_at timestamp with time zone NOT NULL DEFAULT now()",
        ]
    );
    assert_eq!(
        indexes_of(&target, "sluice.crosswalk").await,
        ["CREATE UNIQUE INDEX crosswalk_pkey ON sluice.crosswalk USING btree (name, source_key)"]
    );
    assert_eq!(
        columns_of(&target, "sluice.dead_letters").await,
        [
            "pipeline text NOT NULL",
            "route text NOT NULL",
            "source_key text NOT NULL",
            "seq text NOT NULL",
            "source_table text NOT NULL",
            "operation text NOT NULL",
            "position text NOT NULL",
            "error text NOT NULL",
            "change text NOT NULL",
            "recorded_at timestamp with time zone NOT NULL DEFAULT now()",
        ]
    );
    assert_eq!(
        indexes_of(&target, "sluice.dead_letters").await,
        [
            "CREATE INDEX dead_letters_pipeline_idx ON sluice.dead_letters USING btree (pipeline)",
            "CREATE UNIQUE INDEX dead_letters_pkey ON sluice.dead_letters USING btree (route, source_key, seq)",
        ]
    );
}

#[tokio::test]
async fn sinks_racing_to_create_the_tables_both_succeed() {
    let target = Target::new("sink_owned_race", "SELECT 1").await;
    let tables = OwnedTables {
        crosswalk: TableName::new("Race Schema", "xwalk"),
        dead_letters: TableName::new("Race Schema", "dlq"),
    };
    let mut sinks = Vec::new();
    for _ in 0..4 {
        sinks.push(PostgresSink::connect(PostgresSinkConfig::new(target.database.url())).await.unwrap());
    }
    let results = futures_util::future::join_all(sinks.iter_mut().map(|sink| sink.ensure_owned_tables(&tables))).await;
    for result in results {
        result.unwrap();
    }
    assert_eq!(indexes_of(&target, r#""Race Schema".dlq"#).await.len(), 2);
}

#[tokio::test]
async fn a_role_that_may_not_create_the_tables_is_told_what_to_run() {
    let database = PgServer::shared().create_database("sink_owned_denied").await;
    let admin = database.connect().await;
    // The role may use an existing offsets table, nothing more.
    let role = format!("\"{SCRAM_USER}\"");
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA sluice; CREATE TABLE sluice.offsets (pipeline text PRIMARY KEY, position text NOT NULL, \
             updated_at timestamptz NOT NULL); GRANT USAGE ON SCHEMA sluice TO {role}; \
             GRANT SELECT, INSERT, UPDATE ON sluice.offsets TO {role};"
        ))
        .await
        .unwrap();
    let url = database.url_as(SCRAM_USER, SCRAM_PASSWORD);
    let mut sink = PostgresSink::connect(PostgresSinkConfig::new(url)).await.unwrap();

    // The schema exists: CREATE on it is missing.
    let error = sink.ensure_owned_tables(&OwnedTables::defaults()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(matches!(error, PostgresError::Setup { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&format!("GRANT USAGE, CREATE ON SCHEMA \"sluice\" TO {role};")), "{message}");
    assert!(message.contains("CREATE TABLE IF NOT EXISTS \"sluice\".\"crosswalk\" ("), "{message}");
    assert!(!message.contains(SCRAM_PASSWORD), "{message}");

    // The schema does not exist: CREATE on the database is missing.
    let elsewhere = OwnedTables {
        crosswalk: TableName::new("audit", "crosswalk"),
        dead_letters: TableName::new("audit", "dead_letters"),
    };
    let error = sink.ensure_owned_tables(&elsewhere).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("GRANT CREATE ON DATABASE \"{}\" TO {role};", database.name)), "{message}");
    assert!(message.contains("CREATE SCHEMA IF NOT EXISTS \"audit\""), "{message}");

    // Created by someone else but not granted: the grant to run.
    let mut admin_sink = PostgresSink::connect(PostgresSinkConfig::new(database.url())).await.unwrap();
    admin_sink.ensure_owned_tables(&OwnedTables::defaults()).await.unwrap();
    let error = sink.ensure_owned_tables(&OwnedTables::defaults()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("GRANT SELECT, INSERT, UPDATE, DELETE ON \"sluice\".\"crosswalk\" TO {role};")),
        "{message}"
    );
    admin
        .batch_execute(&format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sluice TO {role}"))
        .await
        .unwrap();
    sink.ensure_owned_tables(&OwnedTables::defaults()).await.unwrap();
}

#[tokio::test]
async fn a_crosswalk_row_round_trips_through_the_write_path() {
    let mut target = Target::new("sink_owned_crosswalk", "SELECT 1").await;
    let tables = OwnedTables::defaults();
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    let xwalk = crosswalk(&tables);
    let entry =
        |source: &str, target_key: &str| upsert(&xwalk, vec![text("customers"), text(source), text(target_key)]);
    target.sink.write(vec![entry("[1]", "1001"), entry("[2]", "1002"), entry("[\"a'b\"]", "1003")]).await.unwrap();
    // Read back inside the transaction, by the full key.
    let read = |key: &'static str| [("name", "customers"), ("source_key", key)];
    let found = target.sink.select_text(&tables.crosswalk, &["target_key"], &read("[2]"), &[], None).await.unwrap();
    assert_eq!(found, expect(&[&[Some("1002")]]));
    target.sink.commit("erp", &position(1)).await.unwrap();
    // Outside a transaction (autocommit).
    let found =
        target.sink.select_text(&tables.crosswalk, &["target_key"], &read("[\"a'b\"]"), &[], None).await.unwrap();
    assert_eq!(found, expect(&[&[Some("1003")]]));
    let all = target
        .sink
        .select_text(&tables.crosswalk, &["source_key", "target_key"], &[("name", "customers")], &["source_key"], None)
        .await
        .unwrap();
    assert_eq!(
        all,
        expect(&[&[Some("[\"a'b\"]"), Some("1003")], &[Some("[1]"), Some("1001")], &[Some("[2]"), Some("1002")]])
    );
    let created: i64 = target
        .client
        .query_one("SELECT count(*) FROM sluice.crosswalk WHERE created_at > now() - interval '1 hour'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(created, 3);
    // A delete by key removes the entry.
    let key = vec![text("customers"), text("[1]")];
    target.sink.write(vec![RowWrite::Delete { table: Arc::clone(&xwalk), key }]).await.unwrap();
    target.sink.commit("erp", &position(2)).await.unwrap();
    assert!(
        target.sink.select_text(&tables.crosswalk, &["target_key"], &read("[1]"), &[], None).await.unwrap().is_empty()
    );
}

#[tokio::test]
async fn a_dead_letter_with_a_large_change_round_trips() {
    let mut target = Target::new("sink_owned_dead_letter", "SELECT 1").await;
    let tables = OwnedTables::defaults();
    target.sink.ensure_owned_tables(&tables).await.unwrap();
    let dlq = dead_letters(&tables);
    let change = format!(
        "{{\"table\":\"public.orders\",\"after\":[{}],\"note\":\"é ✓ \\\"quoted\\\"\"}}",
        (0..40_000).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    assert!(change.len() > 200_000);
    let letter = |seq: &str, change: &str| {
        let cells = [
            "erp",
            "orders_to_crm",
            "[42]",
            seq,
            "public.orders",
            "update",
            "pg:0/16B3748",
            "Table crm.orders, column total (numeric(5,2)): out of range",
            change,
        ];
        upsert(&dlq, cells.iter().map(|c| text(c)).collect())
    };
    target
        .sink
        .write(vec![letter("0000000016B3748:00002", &change), letter("0000000016B3748:00001", "{}")])
        .await
        .unwrap();
    // A replay writes the same rows again.
    target.sink.write(vec![letter("0000000016B3748:00002", &change)]).await.unwrap();
    target.sink.commit("erp", &position(1)).await.unwrap();

    let all_columns: Vec<&str> = DEAD_LETTER_COLUMNS.to_vec();
    let filter = [("route", "orders_to_crm"), ("source_key", "[42]")];
    let rows = target.sink.select_text(&tables.dead_letters, &all_columns, &filter, &["seq"], None).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][3].as_deref(), Some("0000000016B3748:00001"));
    assert_eq!(rows[1][8].as_deref(), Some(change.as_str()));
    assert_eq!(
        rows[1][..8].to_vec(),
        [
            "erp",
            "orders_to_crm",
            "[42]",
            "0000000016B3748:00002",
            "public.orders",
            "update",
            "pg:0/16B3748",
            "Table crm.orders, column total (numeric(5,2)): out of range"
        ]
        .map(|c| Some(c.to_owned()))
    );
    let first =
        target.sink.select_text(&tables.dead_letters, &["seq"], &[("pipeline", "erp")], &["seq"], Some(1)).await;
    assert_eq!(first.unwrap(), expect(&[&[Some("0000000016B3748:00001")]]));
}

#[tokio::test]
async fn select_text_filters_orders_limits_and_reads_nulls_on_any_table() {
    let ddl = "CREATE TABLE notes (id int PRIMARY KEY, owner text, body text, at date); \
               INSERT INTO notes VALUES (1, 'ann', 'b1', '2024-01-03'), (2, 'bob', NULL, NULL), \
               (3, 'ann', NULL, '2024-01-01'), (4, 'ann', 'b4', '2024-01-02')";
    let mut target = Target::new("sink_select_text", ddl).await;
    let notes = TableName::new("public", "notes");
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
    // Filters on non-text columns compare their text; no filter reads everything.
    let read = target.sink.select_text(&notes, &["owner"], &[("id", "2"), ("owner", "bob")], &[], None).await.unwrap();
    assert_eq!(read, expect(&[&[Some("bob")]]));
    let read = target.sink.select_text(&notes, &["id"], &[], &["owner", "id"], Some(10)).await.unwrap();
    assert_eq!(read, expect(&[&[Some("1")], &[Some("3")], &[Some("4")], &[Some("2")]]));
    assert!(target.sink.select_text(&notes, &["id"], &by_owner("nobody"), &[], None).await.unwrap().is_empty());

    // Inside an open transaction: its own writes, gone after a rollback.
    let t = table("notes", &["id", "owner", "body"], 1);
    target.sink.write(vec![upsert(&t, vec![Value::Int(5), text("cy"), Value::Null])]).await.unwrap();
    let read = Sink::select_text(&mut target.sink, &notes, &["id", "body"], &by_owner("cy"), &[], None).await;
    assert_eq!(read.unwrap(), expect(&[&[Some("5"), None]]));
    target.sink.rollback().await.unwrap();
    assert!(target.sink.select_text(&notes, &["id"], &by_owner("cy"), &[], None).await.unwrap().is_empty());

    // Quoted identifiers; a missing table or column is a config error.
    let error = target.sink.select_text(&notes, &["nope\""], &[], &[], None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    let error = target.sink.select_text(&TableName::new("public", "ghost"), &["id"], &[], &[], None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(error.to_string().contains("public.ghost"), "{error}");
}
