//! Changes arrive in the target exactly: every operation, every type,
//! unchanged TOAST values, schema changes while streaming, whole
//! transactions only.

use std::time::Duration;

use super::support::{Fixture, digest, wait_for};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn insert_update_delete_and_truncate_replicate() {
    let fixture = Fixture::new(
        "ops",
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int);
         CREATE TABLE other (id int PRIMARY KEY, v text);",
    )
    .await;
    fixture.write_config(&["public.items", "public.other"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;

    source
        .batch_execute(
            "INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 500) i;
             UPDATE items SET qty = qty * 10 WHERE id % 3 = 0;
             UPDATE items SET id = id + 1000 WHERE id <= 10;  -- key changes
             DELETE FROM items WHERE id % 7 = 0;
             INSERT INTO other VALUES (1, 'a'), (2, 'b');",
        )
        .await
        .unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    fixture.wait_equal("other", WAIT, &mut sluice).await;
    let moved: Vec<i64> = fixture
        .target_client
        .query("SELECT id FROM items WHERE id > 1000 OR id <= 10 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Keys 1..10 moved to 1001..1010; 1001 and 1008 were then deleted (multiples of 7).
    assert_eq!(moved, vec![1002, 1003, 1004, 1005, 1006, 1007, 1009, 1010]);

    source.batch_execute("TRUNCATE items").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    assert_eq!(digest(&fixture.target_client, "items").await.0, 0);
    assert_eq!(digest(&fixture.target_client, "other").await.0, 2, "truncate of one table leaves the other alone");
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_supported_type_round_trips_exactly() {
    let schema = "
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TABLE typed (
            id int PRIMARY KEY,
            b bool, i2 smallint, i4 integer, i8 bigint,
            f4 real, f8 double precision,
            n numeric, n_big numeric(65,30), n_money numeric(12,2),
            t text, vc varchar(20), c char(5),
            by bytea,
            bits bit(10), vbits varbit,
            d date, tm time, tmtz timetz(3), ts timestamp, tstz timestamptz, ts0 timestamp(0),
            iv interval,
            js json, jb jsonb,
            u uuid,
            e mood,
            ai int[], at text[], an numeric[], a2 int[][],
            ip inet, pt point
        );";
    let fixture = Fixture::new("types", schema).await;
    fixture.write_config(&["public.typed"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture
        .source_client
        .batch_execute(
            r#"
        INSERT INTO typed VALUES
        (1, true, -32768, -2147483648, -9223372036854775808,
         3.4028235e38, 1.7976931348623157e308,
         'NaN', 99999999999999999999999999999999999.999999999999999999999999999999, 12345678.90,
         E'tab\there "quotes" \\ back ünïcødé 漢字 🎉', 'varchar', 'ab',
         '\x00017f80ff'::bytea,
         B'1010101010', B'1',
         '4713-01-01 BC', '24:00:00', '23:59:59.999+05:30', '2024-02-29 23:59:59.999999', '1999-12-31 23:59:59.999999+00', '2000-01-01 00:00:01',
         '1 year 2 mons -3 days 04:05:06.789012',
         '{"a": [1, 2.50, null], "b": "x"}', '{"k": {"z": 1, "a": [true, false]}}',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
         'happy',
         '{1,NULL,-3}', '{"a,b","c\"d",NULL,"NULL",""}', '{1.10,NaN}', '{{1,2},{3,4}}',
         '192.168.0.1/24', '(1.5,-2)'),
        (2, false, 32767, 2147483647, 9223372036854775807,
         '-Infinity', 'Infinity',
         '-0.000000000000000000000000000001', -99999999999999999999999999999999999.999999999999999999999999999999, -0.01,
         '', NULL, NULL,
         ''::bytea,
         B'0000000000', B'',
         'infinity', '00:00:00', '00:00:00-12', '-infinity', 'infinity', '0001-01-01 00:00:00',
         '-178000000 years',
         'null', '[]',
         '00000000-0000-0000-0000-000000000000',
         'sad',
         '{}', '{}', '{}', '{}',
         '::1', '(0,0)'),
        (3, NULL, NULL, NULL, NULL, 'NaN', -0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (4, true, 1, 1, 1, 1.17549435e-38, 5e-324, 1e-30, 0, 0, 'x', 'x', 'x', '\xff'::bytea, B'1111111111', B'0101',
         '2000-02-29', '12:34:56.5', '12:00:00+00', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', '2038-01-19 03:14:08',
         '1 day', '{"n": 1e400}', '{"n": 1e400}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ok',
         '{2147483647}', '{"\\"}', '{-1.5}', '{{NULL,NULL}}', '10.0.0.0/8', '(1e300,1e-300)');
        UPDATE typed SET t = t || ' updated' WHERE id = 1;
        "#,
        )
        .await
        .unwrap();
    // Compare every column's text form under identical session settings.
    fixture.wait_equal("typed", WAIT, &mut sluice).await;
    let column_text = "SELECT id, b::text, i2::text, i4::text, i8::text, f4::text, f8::text, n::text, n_big::text, n_money::text,
        t, vc, c, by::text, bits::text, vbits::text, d::text, tm::text, tmtz::text, ts::text, tstz::text, ts0::text,
        iv::text, js::text, jb::text, u::text, e::text, ai::text, at::text, an::text, a2::text, ip::text, pt::text FROM typed ORDER BY id";
    for client in [&fixture.source_client, &fixture.target_client] {
        client.batch_execute("SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'").await.unwrap();
    }
    let source_rows = fixture.source_client.query(column_text, &[]).await.unwrap();
    let target_rows = fixture.target_client.query(column_text, &[]).await.unwrap();
    assert_eq!(source_rows.len(), 4);
    for (s, t) in source_rows.iter().zip(&target_rows) {
        for column in 0..s.len() {
            let sv: Option<String> = if column == 0 { None } else { s.get(column) };
            let tv: Option<String> = if column == 0 { None } else { t.get(column) };
            assert_eq!(sv, tv, "row {} column {}", s.get::<_, i32>(0), s.columns()[column].name());
        }
    }
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_toast_value_survives_an_update_of_another_column() {
    let fixture = Fixture::new("toast", "CREATE TABLE docs (id int PRIMARY KEY, body text, version int);").await;
    fixture.write_config(&["public.docs"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    // ~40 KB of incompressible text is stored out of line (TOAST).
    fixture
        .source_client
        .batch_execute(
            "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
             INSERT INTO docs SELECT 1, string_agg(md5(i::text), '') , 1 FROM generate_series(1, 1250) i;",
        )
        .await
        .unwrap();
    fixture.wait_equal("docs", WAIT, &mut sluice).await;
    fixture.source_client.batch_execute("UPDATE docs SET version = 2 WHERE id = 1").await.unwrap();
    fixture.wait_equal("docs", WAIT, &mut sluice).await;
    let row =
        fixture.target_client.query_one("SELECT length(body), version FROM docs WHERE id = 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 40_000, "the TOAST value must not be replaced by NULL or a placeholder");
    assert_eq!(row.get::<_, i32>(1), 2);
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn add_column_while_streaming_flows_into_the_target() {
    let fixture = Fixture::new("addcol", "CREATE TABLE items (id int PRIMARY KEY, name text);").await;
    fixture.write_config(&["public.items"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture.source_client.batch_execute("INSERT INTO items VALUES (1, 'before')").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    // The DBA adds the column to the target first, then to the source.
    fixture.target_client.batch_execute("ALTER TABLE items ADD COLUMN price numeric(10,2)").await.unwrap();
    fixture
        .source_client
        .batch_execute(
            "ALTER TABLE items ADD COLUMN price numeric(10,2);
             INSERT INTO items VALUES (2, 'after', 19.90);
             UPDATE items SET price = 1.50 WHERE id = 1;
             ALTER TABLE items DROP COLUMN name;
             INSERT INTO items VALUES (3, 7.25);",
        )
        .await
        .unwrap();
    wait_for(WAIT, &mut sluice, || async {
        fixture.target_client.query_one("SELECT count(*) FROM items WHERE id = 3", &[]).await.unwrap().get::<_, i64>(0)
            == 1
    })
    .await;
    let rows: Vec<(i32, Option<String>, Option<String>)> = fixture
        .target_client
        .query("SELECT id, name, price::text FROM items ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, Some("before".into()), Some("1.50".into())),
            (2, Some("after".into()), Some("19.90".into())),
            (3, None, Some("7.25".into())),
        ],
        "the dropped column keeps target values and is no longer written"
    );
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn column_added_only_in_the_source_stops_with_an_error_naming_it() {
    let fixture = Fixture::new("addcol_missing", "CREATE TABLE items (id int PRIMARY KEY, name text);").await;
    fixture.write_config(&["public.items"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture
        .source_client
        .batch_execute("ALTER TABLE items ADD COLUMN secret_sauce text; INSERT INTO items VALUES (1, 'x', 'y');")
        .await
        .unwrap();
    let code = sluice.wait_exit(WAIT);
    assert_eq!(code, Some(3), "a mapping that cannot work is a configuration error");
    let log = sluice.log();
    assert!(log.contains("secret_sauce") && log.contains("exclude"), "{}", sluice.log_tail());
    assert_eq!(digest(&fixture.target_client, "items").await.0, 0, "nothing of the failed transaction is written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_transaction_is_never_visible_half_applied() {
    let fixture = Fixture::new("atomic", "CREATE TABLE items (id int PRIMARY KEY, v int);").await;
    // Small statements and batches, so a 30k-row transaction spans many target statements.
    fixture.write_config(&["public.items"], "[apply]\nmax_rows_per_statement = 500\nmax_batch_rows = 1000\n");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture
        .source_client
        .batch_execute("INSERT INTO items SELECT i, 0 FROM generate_series(1, 30000) i")
        .await
        .unwrap();
    let mut observed = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let count: i64 = fixture.target_client.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
        observed.insert(count);
        if count == 30000 {
            break;
        }
        sluice.assert_running();
        assert!(std::time::Instant::now() < deadline, "not applied in time\n{}", sluice.log_tail());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(observed.iter().all(|c| *c == 0 || *c == 30000), "partial states observed: {observed:?}");
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_the_target_refuses_stops_loudly_without_printing_the_value() {
    let fixture = Fixture::new("refused", "CREATE TABLE items (id int PRIMARY KEY, code text);").await;
    fixture.target_client.batch_execute("ALTER TABLE items ALTER COLUMN code TYPE varchar(3)").await.unwrap();
    fixture.write_config(&["public.items"], "");
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture
        .source_client
        .batch_execute("INSERT INTO items VALUES (1, 'ok'); INSERT INTO items VALUES (2, 'SECRET-VALUE-123');")
        .await
        .unwrap();
    assert_eq!(sluice.wait_exit(WAIT), Some(1), "a data error stops the pipeline\n{}", sluice.log_tail());
    let log = sluice.log();
    assert!(log.contains("public.items"), "the error names the table\n{log}");
    assert!(log.contains("22001"), "the error carries the SQLSTATE (string_data_right_truncation)\n{log}");
    assert!(!log.contains("SECRET-VALUE-123"), "row values never appear in logs\n{log}");
    let rows: i64 = fixture.target_client.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert!(rows <= 1, "the refused transaction is not applied");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_without_primary_key_replicates_with_replica_identity_full_and_a_configured_key() {
    let fixture = Fixture::new("fullident", "CREATE TABLE codes (code text NOT NULL, v int);").await;
    fixture.source_client.batch_execute("ALTER TABLE codes REPLICA IDENTITY FULL").await.unwrap();
    fixture.target_client.batch_execute("ALTER TABLE codes ADD PRIMARY KEY (code)").await.unwrap();
    fixture.write_config(
        &[],
        "[[routes]]\nsource = \"src\"\ntable = \"public.codes\"\ntarget = \"dst\"\nkey = [\"code\"]\n",
    );
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture
        .source_client
        .batch_execute(
            "INSERT INTO codes SELECT 'c' || i, i FROM generate_series(1, 50) i;
             UPDATE codes SET v = -v WHERE v % 2 = 0;
             UPDATE codes SET code = 'renamed' WHERE code = 'c1';
             DELETE FROM codes WHERE v % 5 = 0;",
        )
        .await
        .unwrap();
    fixture.wait_equal("codes", WAIT, &mut sluice).await;
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_slot_is_acknowledged_only_up_to_what_every_target_holds() {
    let fixture = Fixture::new("twotargets", "CREATE TABLE items (id int PRIMARY KEY, v int);").await;
    let second = sluice_testkit::PgServer::shared().create_database("twotargets_dst2").await;
    let second_client = second.connect().await;
    second_client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, v int);").await.unwrap();
    fixture.write_config(
        &["public.items"],
        &format!(
            "[targets.dst2]\nkind = \"postgres\"\nurl = \"{}\"\n\n[[routes]]\nsource = \"src\"\ntable = \"public.items\"\ntarget = \"dst2\"\n",
            second.url()
        ),
    );
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    fixture.source_client.batch_execute("INSERT INTO items VALUES (1, 1)").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    wait_for(WAIT, &mut sluice, || async { digest(&second_client, "items").await.0 == 1 }).await;

    // Hold the second target: its writer blocks on the lock.
    let blocker = second.connect().await;
    blocker.batch_execute("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE;").await.unwrap();
    let confirmed_before = fixture.confirmed_flush().await;
    fixture.source_client.batch_execute("INSERT INTO items SELECT i, i FROM generate_series(2, 1000) i").await.unwrap();
    fixture.wait_equal("items", WAIT, &mut sluice).await;
    // The first target has everything; give the acknowledger time to (wrongly) move on.
    let first_target_lsn = offsets_lsn(&fixture.target_client).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let confirmed_while_blocked = fixture.confirmed_flush().await;
    assert!(
        confirmed_while_blocked < first_target_lsn,
        "slot confirmed {confirmed_while_blocked:X} must stay behind the blocked target (first target at {first_target_lsn:X})"
    );
    assert!(confirmed_while_blocked >= confirmed_before);

    blocker.batch_execute("COMMIT").await.unwrap();
    wait_for(WAIT, &mut sluice, || async {
        digest(&second_client, "items").await == digest(&fixture.source_client, "items").await
    })
    .await;
    wait_for(WAIT, &mut sluice, || async { fixture.confirmed_flush().await >= first_target_lsn }).await;
    assert_eq!(sluice.terminate(), Some(0));
}

async fn offsets_lsn(client: &tokio_postgres::Client) -> u64 {
    let position: String =
        client.query_one("SELECT position FROM sluice.offsets WHERE pipeline = 'src'", &[]).await.unwrap().get(0);
    let (hi, lo) = position.strip_prefix("pg:").unwrap().split_once('/').unwrap();
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sources_into_one_target_keep_separate_positions() {
    let fixture = Fixture::new("twosources", "CREATE TABLE erp_items (id int PRIMARY KEY, v int);").await;
    let second = sluice_testkit::PgServer::shared().create_database("twosources_crm").await;
    let second_client = second.connect().await;
    second_client.batch_execute("CREATE TABLE crm_items (id int PRIMARY KEY, v int);").await.unwrap();
    fixture.target_client.batch_execute("CREATE TABLE crm_items (id int PRIMARY KEY, v int);").await.unwrap();
    let crm_slot = format!("{}_crm", fixture.slot());
    fixture.write_config(
        &["public.erp_items"],
        &format!(
            "[sources.crm]\nkind = \"postgres\"\nurl = \"{}\"\nslot = \"{crm_slot}\"\npublication = \"{crm_slot}\"\n\n\
             [[routes]]\nsource = \"crm\"\ntable = \"public.crm_items\"\ntarget = \"dst\"\n",
            second.url()
        ),
    );
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    wait_for(WAIT, &mut sluice, || async {
        second_client.query_one(super::support::STREAMING, &[&crm_slot]).await.unwrap().get::<_, i64>(0) == 1
    })
    .await;
    fixture
        .source_client
        .batch_execute("INSERT INTO erp_items SELECT i, i FROM generate_series(1, 300) i")
        .await
        .unwrap();
    second_client.batch_execute("INSERT INTO crm_items SELECT i, -i FROM generate_series(1, 200) i").await.unwrap();
    fixture.wait_equal("erp_items", WAIT, &mut sluice).await;
    wait_for(WAIT, &mut sluice, || async {
        digest(&second_client, "crm_items").await == digest(&fixture.target_client, "crm_items").await
    })
    .await;
    let pipelines: Vec<String> = fixture
        .target_client
        .query("SELECT pipeline FROM sluice.offsets ORDER BY pipeline", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(pipelines, ["crm", "src"], "one offsets row per source");
    assert_eq!(sluice.terminate(), Some(0));
}
