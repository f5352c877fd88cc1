//! MySQL/MariaDB through the engine, every direction: MariaDB → MariaDB,
//! MariaDB → PostgreSQL, PostgreSQL → MariaDB. Private MariaDB servers
//! (row binlog, FULL metadata) come from sluice-testkit.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDbServer, PgServer};

use super::mysql_support::{
    Target, WAIT, maria_rows, mysql_source, mysql_target, pg_rows, route, wait_binlog_streaming, wait_until,
    write_config,
};
use super::support::{Sluice, digest};

const MARIA_TABLE: &str = "CREATE TABLE orders (
    id BIGINT UNSIGNED PRIMARY KEY,
    amount DECIMAL(65,30) NOT NULL,
    qty INT NOT NULL,
    note VARCHAR(100) CHARACTER SET gbk,
    status ENUM('new','paid','shipped') NOT NULL,
    placed DATETIME(6) NOT NULL,
    stamped TIMESTAMP(6) NULL,
    doc JSON
)";

const MARIA_ROWS: &str = "INSERT INTO orders VALUES
    (18446744073709551615, 99999999999999999999999999999999999.999999999999999999999999999999, -2147483648,
     '订单备注', 'new', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999', '{\"a\": [1, 2.5]}'),
    (1, 0.000000000000000000000000000001, 7, NULL, 'paid', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', NULL),
    (2, -1.5, 0, 'plain', 'shipped', '9999-12-31 23:59:59.999999', NULL, '[]')";

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_to_mariadb_replicates_every_operation_and_type_exactly() {
    let server = MariaDbServer::shared();
    let source = server.create_database("m2m_src").await;
    let target = server.create_database("m2m_dst").await;
    let mut source_conn = source.connect().await;
    let mut target_conn = target.connect().await;
    source_conn.query_drop(MARIA_TABLE).await.unwrap();
    target_conn.query_drop(MARIA_TABLE).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &mysql_source(&source),
        &mysql_target(&target),
        &route(&format!("{}.orders", source.name), &format!("{}.orders", target.name), None),
    );
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Maria(&target)).await;
    source_conn.query_drop(MARIA_ROWS).await.unwrap();
    source_conn.query_drop("UPDATE orders SET qty = qty + 1, status = 'shipped' WHERE id = 1").await.unwrap();
    source_conn.query_drop("UPDATE orders SET id = 3 WHERE id = 2").await.unwrap();
    source_conn.query_drop("DELETE FROM orders WHERE id = 1").await.unwrap();
    let query = "SELECT id, amount, qty, note, status, placed, stamped, doc FROM orders";
    let expected = maria_rows(&mut source_conn, query).await;
    assert_eq!(expected.len(), 2);
    wait_until(&mut sluice, "target equal to source", || {
        let target = &target;
        let expected = &expected;
        async move { maria_rows(&mut target.connect().await, query).await == *expected }
    })
    .await;
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_to_postgres_converts_every_type_exactly() {
    let server = MariaDbServer::shared();
    let source = server.create_database("m2p_src").await;
    let mut source_conn = source.connect().await;
    source_conn.query_drop(MARIA_TABLE).await.unwrap();
    let target = PgServer::shared().create_database("m2p_dst").await;
    let target_client = target.connect().await;
    target_client
        .batch_execute(
            "CREATE TABLE orders (id numeric(20) PRIMARY KEY, amount numeric(65,30) NOT NULL, qty int NOT NULL, note text,
             status text NOT NULL, placed timestamp(6) NOT NULL, stamped timestamptz, doc jsonb)",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &mysql_source(&source),
        &super::mysql_support::pg_target(&target.url()),
        &route(&format!("{}.orders", source.name), "public.orders", None),
    );
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Postgres(&target_client)).await;
    source_conn.query_drop(MARIA_ROWS).await.unwrap();
    source_conn.query_drop("UPDATE orders SET note = '更新' WHERE id = 2").await.unwrap();
    wait_until(&mut sluice, "three rows in the target", || async { digest(&target_client, "orders").await.0 == 3 })
        .await;
    target_client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    let rows = pg_rows(
        &target_client,
        "SELECT id::text, amount::text, qty::text, note, status, placed::text, stamped::text, doc::text FROM orders",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            vec![
                "1",
                "0.000000000000000000000000000001",
                "7",
                "NULL",
                "paid",
                "1000-01-01 00:00:00",
                "1970-01-01 00:00:01+00",
                "NULL",
            ],
            vec![
                "18446744073709551615",
                "99999999999999999999999999999999999.999999999999999999999999999999",
                "-2147483648",
                "订单备注",
                "new",
                "2024-02-29 23:59:59.999999",
                "2024-02-29 23:59:59.999999+00",
                "{\"a\": [1, 2.5]}",
            ],
            vec![
                "2",
                "-1.500000000000000000000000000000",
                "0",
                "更新",
                "shipped",
                "9999-12-31 23:59:59.999999",
                "NULL",
                "[]"
            ],
        ]
        .into_iter()
        .map(|r| r.into_iter().map(str::to_owned).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_to_mariadb_maps_numeric_timestamptz_uuid_jsonb_bytea_and_text() {
    let source = PgServer::shared().create_database("p2m_src").await;
    let source_client = source.connect().await;
    source_client
        .batch_execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, price numeric(30,10), at timestamptz, ref uuid, doc jsonb,
             blob bytea, name text)",
        )
        .await
        .unwrap();
    let target = MariaDbServer::shared().create_database("p2m_dst").await;
    let mut target_conn = target.connect().await;
    target_conn
        .query_drop(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, price DECIMAL(30,10), at DATETIME(6), ref CHAR(36), doc JSON,
             `blob` LONGBLOB, name TEXT CHARACTER SET utf8mb4)",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let slot = format!("p2m_{}", std::process::id());
    let config = write_config(
        dir.path(),
        &format!(
            "[sources.src]\nkind = \"postgres\"\nurl = \"{}\"\nslot = \"{slot}\"\npublication = \"{slot}\"\n",
            source.url()
        ),
        &mysql_target(&target),
        &route("public.items", &format!("{}.items", target.name), None),
    );
    let mut sluice = Sluice::spawn(&config, dir.path());
    let streaming = super::support::STREAMING;
    wait_until(&mut sluice, "slot streaming", || async {
        source_client.query_one(streaming, &[&slot]).await.unwrap().get::<_, i64>(0) == 1
    })
    .await;
    source_client
        .batch_execute(
            "INSERT INTO items VALUES
             (1, 12345678901234567890.0123456789, '2024-06-30 23:59:59.123456+08', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
              '{\"k\": [1, \"x\"]}', '\\x00ff10', 'Grüße 漢字 🎉'),
             (2, NULL, NULL, NULL, NULL, NULL, NULL);
             UPDATE items SET name = 'renamed' WHERE id = 2;",
        )
        .await
        .unwrap();
    let query = "SELECT id, price, at, ref, doc, HEX(`blob`), name FROM items";
    wait_until(&mut sluice, "two rows in MariaDB", || {
        let target = &target;
        async move { maria_rows(&mut target.connect().await, query).await.len() == 2 }
    })
    .await;
    let rows = maria_rows(&mut target_conn, query).await;
    assert_eq!(rows[0][1], "12345678901234567890.0123456789");
    assert_eq!(rows[0][2], "2024-06-30 15:59:59.123456", "timestamptz arrives as UTC");
    assert_eq!(rows[0][3], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert!(rows[0][4].contains("\"k\"") && rows[0][4].contains("\"x\""), "{:?}", rows[0][4]);
    assert_eq!(rows[0][5], "00FF10");
    assert_eq!(rows[0][6], "Grüße 漢字 🎉");
    assert_eq!(rows[1][6], "renamed");
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_kill_9_mid_workload_then_restart_ends_equal_in_postgres() {
    let MariaIntoPostgres { source, mut source_conn, target: _target, target_client, dir, config } =
        maria_into_postgres(
            MariaDbServer::shared(),
            "m2p_kill",
            "events",
            "CREATE TABLE events (id BIGINT PRIMARY KEY, n INT NOT NULL, payload VARCHAR(64))",
            "CREATE TABLE events (id bigint PRIMARY KEY, n int NOT NULL, payload text)",
        )
        .await;
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Postgres(&target_client)).await;
    let mut writer = source.connect().await;
    let workload = tokio::spawn(async move {
        for t in 0..300i64 {
            let values: Vec<String> =
                (0..100).map(|i| format!("({}, {t}, MD5({}))", t * 100 + i + 1, t * 100 + i)).collect();
            writer.query_drop(format!("INSERT INTO events VALUES {}", values.join(","))).await.unwrap();
            writer.query_drop(format!("UPDATE events SET n = n + 1 WHERE id = {}", t * 100 + 1)).await.unwrap();
        }
    });
    wait_until(&mut sluice, "a third of the rows applied", || async {
        digest(&target_client, "events").await.0 >= 10_000
    })
    .await;
    sluice.kill9();
    workload.await.unwrap();
    let mut sluice = Sluice::spawn(&config, dir.path());
    let query = "SELECT id, n, payload FROM events";
    let expected = maria_rows(&mut source_conn, query).await;
    assert_eq!(expected.len(), 30_000);
    let pg_query = "SELECT id::text, n::text, payload FROM events";
    wait_until(&mut sluice, "target equal to source after restart", || {
        let expected = &expected;
        let target_client = &target_client;
        async move { pg_rows(target_client, pg_query).await == *expected }
    })
    .await;
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_add_column_while_streaming_flows_into_postgres() {
    let MariaIntoPostgres { source: _source, mut source_conn, target: _target, target_client, dir, config } =
        maria_into_postgres(
            MariaDbServer::shared(),
            "m2p_ddl",
            "items",
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))",
            "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2))",
        )
        .await;
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Postgres(&target_client)).await;
    source_conn.query_drop("INSERT INTO items VALUES (1, 'before')").await.unwrap();
    source_conn.query_drop("ALTER TABLE items ADD COLUMN price DECIMAL(10,2)").await.unwrap();
    source_conn.query_drop("INSERT INTO items VALUES (2, 'after', 19.90)").await.unwrap();
    source_conn.query_drop("UPDATE items SET price = 1.50 WHERE id = 1").await.unwrap();
    source_conn.query_drop("ALTER TABLE items MODIFY COLUMN name VARCHAR(40)").await.unwrap();
    source_conn.query_drop("INSERT INTO items VALUES (3, 'a longer name after modify', NULL)").await.unwrap();
    let query = "SELECT id::text, name, price::text FROM items";
    wait_until(&mut sluice, "three rows with prices", || async { pg_rows(&target_client, query).await.len() == 3 })
        .await;
    assert_eq!(
        pg_rows(&target_client, query).await,
        vec![
            vec!["1".to_owned(), "before".into(), "1.50".into()],
            vec!["2".to_owned(), "after".into(), "19.90".into()],
            vec!["3".to_owned(), "a longer name after modify".into(), "NULL".into()],
        ]
    );
    assert_eq!(sluice.terminate(), Some(0));
}

/// A MariaDB table routed into the PostgreSQL table of the same name, both
/// created from the given DDL, with the config written (sluice not started).
struct MariaIntoPostgres {
    source: sluice_testkit::TestMariaDb,
    source_conn: mysql_async::Conn,
    target: sluice_testkit::TestDatabase,
    target_client: tokio_postgres::Client,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

async fn maria_into_postgres(
    server: &MariaDbServer,
    prefix: &str,
    table: &str,
    maria_ddl: &str,
    pg_ddl: &str,
) -> MariaIntoPostgres {
    let source = server.create_database(&format!("{prefix}_src")).await;
    let mut source_conn = source.connect().await;
    source_conn.query_drop(maria_ddl).await.unwrap();
    let target = PgServer::shared().create_database(&format!("{prefix}_dst")).await;
    let target_client = target.connect().await;
    target_client.batch_execute(pg_ddl).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &mysql_source(&source),
        &super::mysql_support::pg_target(&target.url()),
        &route(&format!("{}.{table}", source.name), &format!("public.{table}"), None),
    );
    MariaIntoPostgres { source, source_conn, target, target_client, dir, config }
}

/// `items (id, v)` on both sides.
async fn items_into_postgres(server: &MariaDbServer, prefix: &str) -> MariaIntoPostgres {
    maria_into_postgres(
        server,
        prefix,
        "items",
        "CREATE TABLE items (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE items (id int PRIMARY KEY, v int)",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_restart_mid_stream_is_retried_and_ends_equal() {
    let server = MariaDbServer::start();
    let MariaIntoPostgres { source, mut source_conn, target: _target, target_client, dir, config } =
        items_into_postgres(&server, "m2p_restart").await;
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Postgres(&target_client)).await;
    source_conn.query_drop("INSERT INTO items SELECT seq, 1 FROM seq_1_to_500").await.unwrap();
    wait_until(&mut sluice, "first rows", || async { digest(&target_client, "items").await.0 == 500 }).await;
    drop(source_conn);

    server.kill();
    server.start_again();
    let mut source_conn = source.connect().await;
    source_conn.query_drop("INSERT INTO items SELECT seq, 2 FROM seq_501_to_1500").await.unwrap();
    source_conn.query_drop("UPDATE items SET v = 9 WHERE id <= 10").await.unwrap();
    let expected = maria_rows(&mut source_conn, "SELECT id, v FROM items").await;
    wait_until(&mut sluice, "target equal after the source restart", || {
        let expected = &expected;
        let target_client = &target_client;
        async move { pg_rows(target_client, "SELECT id::text, v::text FROM items").await == *expected }
    })
    .await;
    assert!(sluice.log().contains("restarting"), "the reconnect is logged\n{}", sluice.log_tail());
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purged_binlog_at_resume_stops_with_resnapshot_needed() {
    let server = MariaDbServer::start();
    let MariaIntoPostgres { source: _source, mut source_conn, target: _target, target_client, dir, config } =
        items_into_postgres(&server, "m2p_purge").await;
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Postgres(&target_client)).await;
    source_conn.query_drop("INSERT INTO items VALUES (1, 1)").await.unwrap();
    wait_until(&mut sluice, "first row", || async { digest(&target_client, "items").await.0 == 1 }).await;
    assert_eq!(sluice.terminate(), Some(0));

    // While sluice is stopped, changes are written and the binlog holding them is purged.
    source_conn.query_drop("INSERT INTO items VALUES (2, 2)").await.unwrap();
    // MariaDB keeps a binlog until its binlog checkpoint has moved on: flush
    // and purge until the file the targets' position needs is really gone.
    let needed: String = target_client
        .query_one("SELECT position FROM sluice.offsets WHERE pipeline = 'src'", &[])
        .await
        .unwrap()
        .get::<_, String>(0)
        .split(':')
        .nth(1)
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + WAIT;
    loop {
        source_conn.query_drop("FLUSH BINARY LOGS").await.unwrap();
        let logs: Vec<(String, u64)> = source_conn.query("SHOW BINARY LOGS").await.unwrap();
        let newest = logs.last().unwrap().0.clone();
        source_conn.query_drop(format!("PURGE BINARY LOGS TO '{newest}'")).await.unwrap();
        let logs: Vec<(String, u64)> = source_conn.query("SHOW BINARY LOGS").await.unwrap();
        if logs.iter().all(|(name, _)| *name != needed) {
            break;
        }
        assert!(Instant::now() < deadline, "binlog {needed} was not purged in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut sluice = Sluice::spawn(&config, dir.path());
    assert_eq!(sluice.wait_exit(WAIT), Some(4), "resnapshot needed\n{}", sluice.log_tail());
    let log = sluice.log();
    assert!(log.contains(&needed), "the message names the missing binlog file\n{log}");
    assert_eq!(digest(&target_client, "items").await.0, 1, "nothing skipped ahead");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_routed_table_stops_the_route_instead_of_leaving_stale_rows() {
    let server = MariaDbServer::shared();
    let MariaIntoPostgres { source: _source, mut source_conn, target: _target, target_client, dir, config } =
        items_into_postgres(server, "m2p_drop").await;
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Postgres(&target_client)).await;
    source_conn.query_drop("INSERT INTO items VALUES (1, 1), (2, 2)").await.unwrap();
    wait_until(&mut sluice, "rows applied", || async { digest(&target_client, "items").await.0 == 2 }).await;
    source_conn.query_drop("DROP TABLE items").await.unwrap();
    assert_eq!(sluice.wait_exit(WAIT), Some(4), "a dropped routed table needs a decision\n{}", sluice.log_tail());
    let log = sluice.log();
    assert!(log.contains("was dropped") && log.contains(".items"), "the message names the table\n{log}");
}

/// A MariaDB source routed into `items (id, v)` of a MariaDB target (`dst`)
/// and of a PostgreSQL target (`dst2`).
struct TwoTargets {
    source: sluice_testkit::TestMariaDb,
    maria: sluice_testkit::TestMariaDb,
    _pg: sluice_testkit::TestDatabase,
    pg_client: tokio_postgres::Client,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

async fn items_into_two_targets(prefix: &str) -> TwoTargets {
    let server = MariaDbServer::shared();
    let source = server.create_database(&format!("{prefix}_src")).await;
    let maria = server.create_database(&format!("{prefix}_dst")).await;
    let pg = PgServer::shared().create_database(&format!("{prefix}_dst2")).await;
    for db in [&source, &maria] {
        db.connect().await.query_drop("CREATE TABLE items (id INT PRIMARY KEY, v INT)").await.unwrap();
    }
    let pg_client = pg.connect().await;
    pg_client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, v int)").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let table = format!("{}.items", source.name);
    let targets = format!("{}\n[targets.dst2]\nkind = \"postgres\"\nurl = \"{}\"\n", mysql_target(&maria), pg.url());
    let routes = format!(
        "{}[[routes]]\nsource = \"src\"\ntable = \"{table}\"\ntarget = \"dst2\"\ninto = \"public.items\"\n",
        route(&table, &format!("{}.items", maria.name), None)
    );
    let config = write_config(dir.path(), &mysql_source(&source), &targets, &routes);
    TwoTargets { source, maria, _pg: pg, pg_client, dir, config }
}

impl TwoTargets {
    const MARIA_ITEMS: &'static str = "SELECT id, v FROM items";
    const PG_ITEMS: &'static str = "SELECT id::text, v::text FROM items";

    /// Waits until both targets hold exactly the source's rows.
    async fn wait_both_equal(&self, sluice: &mut Sluice, what: &str) {
        let expected = maria_rows(&mut self.source.connect().await, Self::MARIA_ITEMS).await;
        wait_until(sluice, what, || {
            let expected = &expected;
            async move {
                maria_rows(&mut self.maria.connect().await, Self::MARIA_ITEMS).await == *expected
                    && pg_rows(&self.pg_client, Self::PG_ITEMS).await == *expected
            }
        })
        .await;
    }

    /// Rewrites both targets' offsets rows (`None`: leave it).
    async fn set_positions(&self, maria: Option<&str>, pg: Option<&str>) {
        if let Some(position) = maria {
            let update = format!("UPDATE `{}`.sluice_offsets SET position = ? WHERE pipeline = 'src'", self.maria.name);
            self.maria.connect().await.exec_drop(update, (position,)).await.unwrap();
        }
        if let Some(position) = pg {
            let update = "UPDATE sluice.offsets SET position = $1 WHERE pipeline = 'src'";
            assert_eq!(self.pg_client.execute(update, &[&position]).await.unwrap(), 1);
        }
    }
}

/// The GTID (`D-S-N`) of the last transaction `conn` committed.
async fn last_gtid(conn: &mut mysql_async::Conn) -> String {
    conn.query_first("SELECT @@last_gtid").await.unwrap().expect("a GTID")
}

/// After a failover, one target holds a position of the failed primary (a
/// binlog series this server never had) and an earlier GTID state; the
/// other holds this server's position, ahead. The source resumes by the
/// lagging target's GTID state, and each target skips exactly what it
/// holds: the lagging one by GTID (its file says nothing here), the other
/// by file and offset. ("zz-…" sorts after this server's "mysql-bin":
/// ordered by file name, every transaction would look covered for it.)
#[tokio::test(flavor = "multi_thread")]
async fn mariadb_target_holding_a_failed_primarys_position_catches_up_by_gtid() {
    let two = items_into_two_targets("m2two_fail").await;
    let mut source_conn = two.source.connect().await;
    let mut sluice = Sluice::spawn(&two.config, two.dir.path());
    wait_binlog_streaming(&mut sluice, Target::Maria(&two.maria)).await;
    wait_binlog_streaming(&mut sluice, Target::Postgres(&two.pg_client)).await;
    source_conn.query_drop("INSERT INTO items VALUES (1, 1)").await.unwrap();
    two.wait_both_equal(&mut sluice, "the first row in both targets").await;
    // The PostgreSQL target's GTID state now, before the next transactions.
    let position: String = two
        .pg_client
        .query_one("SELECT position FROM sluice.offsets WHERE pipeline = 'src'", &[])
        .await
        .unwrap()
        .get(0);
    let state = position.splitn(4, ':').nth(3).expect("a MariaDB position carries its GTID state").to_owned();
    source_conn.query_drop("INSERT INTO items VALUES (2, 2)").await.unwrap();
    source_conn.query_drop("INSERT INTO items VALUES (3, 3)").await.unwrap();
    two.wait_both_equal(&mut sluice, "three rows in both targets").await;
    assert_eq!(sluice.terminate(), Some(0));

    // The PostgreSQL target followed the failed primary up to the first row.
    two.set_positions(None, Some(&format!("binlog:zz-failed-primary-bin.000042:1234:{state}"))).await;
    two.pg_client.batch_execute("DELETE FROM items WHERE id > 1").await.unwrap();
    source_conn.query_drop("INSERT INTO items VALUES (4, 4)").await.unwrap();

    let mut sluice = Sluice::spawn(&two.config, two.dir.path());
    two.wait_both_equal(&mut sluice, "both targets caught up after the restart").await;
    source_conn.query_drop("UPDATE items SET v = 50 WHERE id = 2; INSERT INTO items VALUES (5, 5)").await.unwrap();
    two.wait_both_equal(&mut sluice, "both targets follow the stream").await;
    assert_eq!(sluice.terminate(), Some(0));
}

/// Two targets that followed different servers, each ahead of the other in
/// one GTID domain (domain 0 and domain 7): no target's position is safe
/// to resume from, so the source resumes by the per-domain lowest state,
/// and each target applies exactly the transactions it lacks.
#[tokio::test(flavor = "multi_thread")]
async fn mariadb_targets_ahead_in_different_domains_resume_by_the_per_domain_lowest_state() {
    let two = items_into_two_targets("m2two_domains").await;
    let mut domain_0 = two.source.connect().await;
    let mut domain_7 = two.source.connect().await;
    domain_7.query_drop("SET SESSION gtid_domain_id = 7").await.unwrap();
    let mut sluice = Sluice::spawn(&two.config, two.dir.path());
    wait_binlog_streaming(&mut sluice, Target::Maria(&two.maria)).await;
    wait_binlog_streaming(&mut sluice, Target::Postgres(&two.pg_client)).await;
    let mut gtids = Vec::new();
    for id in 1..=4 {
        let conn = if id % 2 == 1 { &mut domain_0 } else { &mut domain_7 };
        conn.query_drop(format!("INSERT INTO items VALUES ({id}, {id})")).await.unwrap();
        gtids.push(last_gtid(conn).await);
    }
    assert!(gtids[1].starts_with("7-") && gtids[2].starts_with("0-"), "{gtids:?}");
    two.wait_both_equal(&mut sluice, "four rows in both targets").await;
    assert_eq!(sluice.terminate(), Some(0));

    // The MariaDB target holds rows 1-3 (its server had not received row 4
    // yet), the PostgreSQL target rows 1, 2 and 4 (its server replicated
    // domain 7 first).
    let maria_state = format!("{},{}", gtids[2], gtids[1]);
    let pg_state = format!("{},{}", gtids[0], gtids[3]);
    two.set_positions(
        Some(&format!("binlog:zz-failed-primary-bin.000007:650:{maria_state}")),
        Some(&format!("binlog:zz-other-replica-bin.000003:900:{pg_state}")),
    )
    .await;
    two.maria.connect().await.query_drop("DELETE FROM items WHERE id = 4").await.unwrap();
    two.pg_client.batch_execute("DELETE FROM items WHERE id = 3").await.unwrap();
    domain_0.query_drop("INSERT INTO items VALUES (5, 5)").await.unwrap();

    let mut sluice = Sluice::spawn(&two.config, two.dir.path());
    two.wait_both_equal(&mut sluice, "both targets caught up after the restart").await;
    domain_7.query_drop("UPDATE items SET v = 40 WHERE id = 4").await.unwrap();
    domain_0.query_drop("INSERT INTO items VALUES (6, 6)").await.unwrap();
    two.wait_both_equal(&mut sluice, "both targets follow the stream").await;
    let log = sluice.log();
    assert!(log.contains("resuming by the GTID state no target is past"), "{}", sluice.log_tail());
    assert!(log.contains(&format!("{},{}", gtids[0], gtids[1])), "the combined state is logged\n{}", sluice.log_tail());
    assert_eq!(sluice.terminate(), Some(0));
}
