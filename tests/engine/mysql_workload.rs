//! MariaDB → PostgreSQL under load from a real client and under one huge
//! transaction, each on its own private MariaDB server (so neither slows the
//! binlog readers of the other tests on the shared server).
//!
//! The client is `sysbench oltp_write_only` (`make setup` installs it):
//! index and non-index UPDATEs, DELETE and re-INSERT of the same id, from
//! several threads at once. A MySQL source without a checkpoint starts at the
//! server's current binlog position — there is no initial snapshot yet — so
//! the rows `sysbench prepare` writes are copied into PostgreSQL by the test
//! itself, and the workload starts only once sluice streams.

use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDbServer, PgServer, TestDatabase, TestMariaDb};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::support::Sluice;

const TABLES: usize = 4;
const TABLE_SIZE: usize = 2_000;

/// Sluice's replica id; each test has its own server (whose own id is 1).
const SERVER_ID: u32 = 100;

fn write_config(
    dir: &std::path::Path,
    source: &TestMariaDb,
    target: &TestDatabase,
    tables: &[String],
) -> std::path::PathBuf {
    let mut text = format!(
        "[checkpoints]\npath = \"{}\"\n\n[sources.src]\nkind = \"mysql\"\nurl = \"{}\"\nserver_id = {}\n\n\
         [targets.dst]\nkind = \"postgres\"\nurl = \"{}\"\n\n",
        dir.join("state").display(),
        source.url(),
        SERVER_ID,
        target.url()
    );
    for table in tables {
        text.push_str(&format!(
            "[[routes]]\nsource = \"src\"\ntable = \"{}.{table}\"\ntarget = \"dst\"\ninto = \"public.{table}\"\n\n",
            source.name
        ));
    }
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Sluice streams once its first commit (idle progress) is in the target's
/// offsets table: its start position — the server's position when it
/// started, as nothing is checkpointed — then lies behind us.
async fn wait_streaming(target: &Client, sluice: &mut Sluice) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let streaming = target
            .query_one("SELECT count(*) FROM sluice.offsets", &[])
            .await
            .map(|row| row.get::<_, i64>(0) > 0)
            .unwrap_or(false);
        if streaming {
            return;
        }
        sluice.assert_running();
        assert!(Instant::now() < deadline, "sluice did not start reading the binlog\n{}", sluice.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `sysbench oltp_write_only <command>` against `db` and returns its output.
async fn sysbench(server: &MariaDbServer, db: &TestMariaDb, command: &'static str, extra: &[&str]) -> String {
    let mut args = vec![
        "oltp_write_only".to_owned(),
        "--db-driver=mysql".to_owned(),
        format!("--mysql-host={}", server.host()),
        format!("--mysql-port={}", server.port()),
        "--mysql-user=root".to_owned(),
        "--mysql-password=".to_owned(),
        format!("--mysql-db={}", db.name),
        format!("--tables={TABLES}"),
        format!("--table-size={TABLE_SIZE}"),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    args.push(command.to_owned());
    let output = tokio::task::spawn_blocking(move || Command::new("sysbench").args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("Could not run sysbench (install it with `make setup`): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "sysbench {command} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Count and md5 of the rows as `id:k:c:pad`, ordered by id, in MariaDB.
async fn maria_digest(conn: &mut mysql_async::Conn, table: &str) -> (i64, String) {
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824").await.unwrap();
    let query = format!(
        "SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(':', id, k, c, pad) ORDER BY id SEPARATOR '|')), '') FROM `{table}`"
    );
    conn.query_first::<(i64, String), _>(query).await.unwrap_or_else(|e| panic!("digest of {table}: {e}")).unwrap()
}

/// The same digest in PostgreSQL.
async fn pg_digest(client: &Client, table: &str) -> (i64, String) {
    let query = format!(
        "SELECT count(*), coalesce(md5(string_agg(concat_ws(':', id, k, c, pad), '|' ORDER BY id)), '') FROM \"{table}\""
    );
    let row = client.query_one(&query, &[]).await.unwrap_or_else(|e| panic!("digest of {table}: {e}"));
    (row.get(0), row.get(1))
}

/// Copies the prepared rows of `table` into PostgreSQL (the snapshot sluice does not take yet).
async fn copy_prepared(conn: &mut mysql_async::Conn, client: &Client, table: &str) {
    let rows: Vec<(i32, i32, String, String)> =
        conn.query(format!("SELECT id, k, c, pad FROM `{table}` ORDER BY id")).await.unwrap();
    assert_eq!(rows.len(), TABLE_SIZE);
    let mut sql = format!("INSERT INTO \"{table}\" (id, k, c, pad) VALUES ");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 4);
    for (i, (id, k, c, pad)) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4));
        params.extend([id as &(dyn ToSql + Sync), k, c, pad]);
    }
    client.execute(&sql, &params).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sysbench_write_workload_on_mariadb_leaves_postgres_equal_row_for_row() {
    let server = MariaDbServer::start();
    let source = server.create_database("sysbench").await;
    let target = PgServer::shared().create_database("sysbench_dst").await;
    let client = target.connect().await;
    sysbench(&server, &source, "prepare", &[]).await;

    let tables: Vec<String> = (1..=TABLES).map(|n| format!("sbtest{n}")).collect();
    let mut conn = source.connect().await;
    let mut prepared = Vec::new();
    for table in &tables {
        // Text, not char(n): PostgreSQL would pad char(n) on output, MariaDB strips trailing spaces.
        client
            .batch_execute(&format!(
                "CREATE TABLE \"{table}\" (id int PRIMARY KEY, k int NOT NULL, c text NOT NULL, pad text NOT NULL)"
            ))
            .await
            .unwrap();
        copy_prepared(&mut conn, &client, table).await;
        let digest = maria_digest(&mut conn, table).await;
        assert_eq!(pg_digest(&client, table).await, digest, "{table}: the copy differs");
        prepared.push(digest);
    }

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &source, &target, &tables);
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_streaming(&client, &mut sluice).await;

    // Bounded: 15 s of two client threads at 500 transactions/s in all
    // (unpaced, a quiet machine writes ≈ 3,300/s, which a debug build of
    // sluice needs ≈ 45 s to catch up with: too slow for the test suite).
    let report =
        sysbench(&server, &source, "run", &["--time=15", "--threads=2", "--rate=500", "--report-interval=0"]).await;
    assert!(report.contains("transactions:"), "sysbench printed no summary:\n{report}");
    let caught_up = Instant::now();
    eprintln!(
        "{}",
        report.lines().filter(|l| l.contains("transactions:") || l.contains("queries:")).collect::<Vec<_>>().join("\n")
    );

    let deadline = Instant::now() + Duration::from_secs(180);
    for (table, before) in tables.iter().zip(&prepared) {
        let expected = maria_digest(&mut conn, table).await;
        assert_ne!(&expected, before, "{table}: the workload did not change it");
        loop {
            let actual = pg_digest(&client, table).await;
            if actual == expected {
                break;
            }
            sluice.assert_running();
            assert!(
                Instant::now() < deadline,
                "{table}: PostgreSQL ({} rows) did not become equal to MariaDB ({} rows)\n{}",
                actual.0,
                expected.0,
                sluice.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!("catch-up took {:?}", caught_up.elapsed());
    assert_eq!(sluice.terminate(), Some(0));
}

/// Rows in the one transaction.
const HUGE_ROWS: i64 = 1_000_000;
/// Bytes of text per row.
const NOTE_BYTES: usize = 250;
/// Peak resident memory allowed for the sluice process. Holding the
/// transaction's decoded rows would need at least the cell bytes, 1,000,000 ×
/// 250 B = 250 MB, plus per-row allocations (a values vector, the text's own
/// heap block, the key: ≳ 100 B a row, another 100 MB) — ≳ 350 MB. A
/// streaming pipeline holds only what the bounded channels and one
/// statement batch carry, a few MB of rows on top of the process's base.
const PEAK_RSS_LIMIT_KB: u64 = 200 * 1024;

/// Peak resident set size of a process (`VmHWM`, Linux), in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

#[tokio::test(flavor = "multi_thread")]
async fn million_row_mariadb_transaction_reaches_postgres_in_bounded_memory() {
    let server = MariaDbServer::start();
    let source = server.create_database("huge").await;
    let target = PgServer::shared().create_database("huge_dst").await;
    let client = target.connect().await;
    let mut conn = source.connect().await;
    conn.query_drop("CREATE TABLE big (id INT PRIMARY KEY, note VARCHAR(255) NOT NULL)").await.unwrap();
    client.batch_execute("CREATE TABLE big (id int PRIMARY KEY, note text NOT NULL)").await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &source, &target, &["big".to_owned()]);
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_streaming(&client, &mut sluice).await;
    let pid = sluice.pid().unwrap();
    let base_kb = peak_rss_kb(pid);

    // One autocommit statement: one transaction of HUGE_ROWS row events
    // (the sequence engine's seq_1_to_N table generates the ids).
    conn.query_drop(format!(
        "INSERT INTO big SELECT seq, REPEAT(CHAR(97 + seq % 26), {NOTE_BYTES}) FROM seq_1_to_{HUGE_ROWS}"
    ))
    .await
    .unwrap();

    // The target commits the source transaction whole: the count jumps from 0.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let count: i64 = client.query_one("SELECT count(*) FROM big", &[]).await.unwrap().get(0);
        if count == HUGE_ROWS {
            break;
        }
        assert_eq!(count, 0, "the source transaction was split across target commits");
        sluice.assert_running();
        assert!(Instant::now() < deadline, "the transaction did not arrive\n{}", sluice.log_tail());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let peak_kb = peak_rss_kb(pid);
    eprintln!("sluice peak RSS: {} MB (at streaming start: {} MB)", peak_kb / 1024, base_kb / 1024);
    assert!(
        peak_kb < PEAK_RSS_LIMIT_KB,
        "sluice peaked at {} MB for one {HUGE_ROWS}-row transaction (limit {} MB): it buffers the transaction",
        peak_kb / 1024,
        PEAK_RSS_LIMIT_KB / 1024
    );
    let sample = client
        .query_one(
            "SELECT count(*) FROM big WHERE length(note) = $1 AND note = repeat(chr(97 + id % 26), $1)",
            &[&(NOTE_BYTES as i32)],
        )
        .await
        .unwrap();
    assert_eq!(sample.get::<_, i64>(0), HUGE_ROWS, "some rows arrived altered");
    assert_eq!(sluice.terminate(), Some(0));
}
