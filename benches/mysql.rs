//! End-to-end MariaDB benchmark: Sluice MariaDB → MariaDB and MariaDB →
//! PostgreSQL beside MariaDB's own primary → replica replication, in one run
//! on private servers started here.
//!
//! Servers: a MariaDB primary (the source of every system), a second MariaDB
//! (`server_id=2`) that is the native replica (`CHANGE MASTER TO … ; START
//! SLAVE`, row events, default single-threaded apply) and also the target of
//! Sluice MariaDB → MariaDB, and a PostgreSQL target. The systems run one
//! after another — all native runs first, then the replica is stopped for
//! good, so it never competes with a Sluice run and never has other runs'
//! events to skip.
//!
//! Workloads (each on fresh databases, for each system):
//! - `updates`: 200,000 single-row UPDATE statements in 1,000-row
//!   transactions on a 200,000-row table;
//! - `small_tx`: 20,000 one-row INSERT transactions;
//! - `latency`: one-row INSERT transactions at a steady 2,000 rows/s for
//!   `BENCH_LATENCY_SECS` (default 15); per row, the target's time at apply
//!   (a `BEFORE INSERT` trigger) minus the source's `NOW(6)` at insert.
//!   MariaDB triggers use `SYSDATE(6)`: a replica's `NOW()` is the primary's
//!   event timestamp, not the apply time. Replica triggers fire for row
//!   events only with `slave_run_triggers_for_rbr=YES`, set on the replica.
//!
//! Throughput is catch-up throughput: the workload is written while the
//! consumer is stopped (`STOP SLAVE` / sluice not running, with its position
//! checkpointed), then the consumer starts and the clock runs until a marker
//! row written last is visible in the target. MariaDB servers run with
//! `innodb_flush_log_at_trx_commit=2`, `sync_binlog=0` and PostgreSQL with
//! `fsync=off` (testkit defaults), equally for every system.
//!
//! `cargo bench --bench mysql` (or `make bench`) prints Markdown tables for
//! docs/BENCHMARKS.md. `BENCH_SCALE` (default 1.0) scales the row counts;
//! `BENCH_ONLY=updates,replica …` runs the matching parts only.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDbOptions, MariaDbServer, PgServer, TestDatabase, TestMariaDb};
use tokio_postgres::Client;

const MARIA_TABLES: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, qty INT NOT NULL, price DECIMAL(12,2) NOT NULL,
    note VARCHAR(100) NOT NULL, updated_at DATETIME(6) NOT NULL DEFAULT NOW(6), src_ts DATETIME(6) NULL);
    CREATE TABLE marker (id INT PRIMARY KEY, at DATETIME(6) NOT NULL DEFAULT NOW(6));";

const PG_TABLES: &str = "CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL, price numeric(12,2) NOT NULL,
    note text NOT NULL, updated_at timestamp(6) NOT NULL, src_ts timestamp(6));
    CREATE TABLE marker (id int PRIMARY KEY, at timestamp(6) NOT NULL);";

#[derive(Clone, Copy, Debug, PartialEq)]
enum System {
    Replica,
    SluiceMaria,
    SluicePg,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Replica => "MariaDB replica",
            System::SluiceMaria => "Sluice MariaDB → MariaDB",
            System::SluicePg => "Sluice MariaDB → PostgreSQL",
        }
    }

    fn short(self) -> &'static str {
        match self {
            System::Replica => "replica",
            System::SluiceMaria => "sluice_maria",
            System::SluicePg => "sluice_pg",
        }
    }
}

struct Servers {
    primary: MariaDbServer,
    replica: MariaDbServer,
    postgres: PgServer,
}

/// Where one run's rows land.
enum TargetDb {
    /// The native replica's copy of the source database (same name).
    Replicated {
        name: String,
    },
    Maria(TestMariaDb),
    Postgres(TestDatabase, Client),
}

struct Run {
    source: TestMariaDb,
    source_conn: Conn,
    target: TargetDb,
}

impl Run {
    async fn fresh(system: System, servers: &Servers, prefix: &str) -> Result<Run> {
        let source = servers.primary.create_database(prefix).await;
        let mut source_conn = source.connect().await;
        // On the primary with the replica running, the DDL replicates too.
        source_conn.query_drop(MARIA_TABLES).await?;
        let target = match system {
            System::Replica => TargetDb::Replicated { name: source.name.clone() },
            System::SluiceMaria => {
                let db = servers.replica.create_database(prefix).await;
                db.connect().await.query_drop(MARIA_TABLES).await?;
                TargetDb::Maria(db)
            }
            System::SluicePg => {
                let db = servers.postgres.create_database(prefix).await;
                let client = db.connect().await;
                client.batch_execute(PG_TABLES).await?;
                TargetDb::Postgres(db, client)
            }
        };
        let run = Run { source, source_conn, target };
        if system == System::Replica {
            // The replicated DDL must be in place before anything else.
            let mut replica = servers.replica.connect("").await;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let tables: Option<i64> = replica
                    .exec_first(
                        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'marker'",
                        (&run.source.name,),
                    )
                    .await?;
                if tables == Some(1) {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("the replica did not create {}", run.source.name);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(run)
    }

    /// A MariaDB connection to the target database (replica or Sluice MariaDB target).
    async fn maria_target(&self, servers: &Servers) -> Option<Conn> {
        match &self.target {
            TargetDb::Replicated { name } => Some(servers.replica.connect(name).await),
            TargetDb::Maria(db) => Some(db.connect().await),
            TargetDb::Postgres(..) => None,
        }
    }

    /// Waits until the marker row `id` is visible in the target.
    async fn wait_marker(&self, servers: &Servers, id: i32, limit: Option<Duration>) -> Result<()> {
        let limit = limit.unwrap_or(Duration::from_secs(60));
        let deadline = Instant::now() + limit;
        let mut maria = self.maria_target(servers).await;
        loop {
            let seen = match (&self.target, maria.as_mut()) {
                (TargetDb::Postgres(_, client), _) => client
                    .query_one("SELECT count(*) FROM marker WHERE id = $1", &[&id])
                    .await
                    .map(|row| row.get::<_, i64>(0) == 1)
                    .unwrap_or(false),
                (_, Some(conn)) => {
                    let count: Result<Option<i64>, _> =
                        conn.exec_first("SELECT COUNT(*) FROM marker WHERE id = ?", (id,)).await;
                    match count {
                        Ok(Some(n)) => n == 1,
                        _ => false,
                    }
                }
                _ => false,
            };
            if seen {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("marker {id} not visible within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A consumer that can be started and stopped.
enum Consumer {
    Replica,
    Sluice { config: PathBuf, child: Option<Child>, log: PathBuf },
}

impl Consumer {
    fn prepare(system: System, run: &Run, work: &Path, name: &str) -> Result<Consumer> {
        let target = match &run.target {
            TargetDb::Replicated { .. } => return Ok(Consumer::Replica),
            TargetDb::Maria(db) => format!(
                "[targets.dst]\nkind = \"mysql\"\nurl = \"{}\"\noffsets_table = \"{}.sluice_offsets\"\n",
                db.url(),
                db.name
            ),
            TargetDb::Postgres(db, _) => format!("[targets.dst]\nkind = \"postgres\"\nurl = \"{}\"\n", db.url()),
        };
        let into = |table: &str| match system {
            System::SluicePg => format!("public.{table}"),
            _ => match &run.target {
                TargetDb::Maria(db) => format!("{}.{table}", db.name),
                _ => unreachable!(),
            },
        };
        let config = work.join(format!("{name}.toml"));
        let state = work.join(format!("{name}-state"));
        let _ = std::fs::remove_dir_all(&state);
        let mut text = format!(
            "[checkpoints]\npath = \"{}\"\n[sources.src]\nkind = \"mysql\"\nurl = \"{}\"\nserver_id = 100\n{target}",
            state.display(),
            run.source.url(),
        );
        // The target already holds the seed (as the replica does): no
        // initial snapshot, only the stream is measured.
        for table in ["items", "marker"] {
            text.push_str(&format!(
                "[[routes]]\nsource = \"src\"\ntable = \"{}.{table}\"\ntarget = \"dst\"\ninto = \"{}\"\nsnapshot = \"never\"\n",
                run.source.name,
                into(table)
            ));
        }
        text.push_str(&std::env::var("BENCH_SLUICE_EXTRA").unwrap_or_default().replace("\\n", "\n"));
        std::fs::write(&config, text)?;
        Ok(Consumer::Sluice { config, child: None, log: work.join(format!("{name}.log")) })
    }

    /// Checkpoints the current binlog position and stops: a MySQL source
    /// without a checkpoint starts at the server's current position, so
    /// sluice must have run once before the workload is written.
    async fn checkpoint(&mut self, run: &Run, servers: &Servers) -> Result<()> {
        if let Consumer::Sluice { .. } = self {
            self.start()?;
            wait_streaming(run, servers).await.context("sluice did not start streaming")?;
            self.stop()?;
        }
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        if let Consumer::Sluice { config, child, log } = self {
            let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&*log)?;
            *child = Some(
                Command::new(sluice_binary())
                    .args(["run", "-c"])
                    .arg(&*config)
                    .env("SLUICE_LOG", std::env::var("BENCH_SLUICE_LOG").unwrap_or_else(|_| "warn".into()))
                    .stdout(Stdio::null())
                    .stderr(log_file)
                    .spawn()?,
            );
        }
        Ok(())
    }

    async fn start_async(&mut self, servers: &Servers) -> Result<()> {
        match self {
            Consumer::Replica => replica_command(servers, "START SLAVE").await,
            Consumer::Sluice { .. } => self.start(),
        }
    }

    async fn stop_async(&mut self, servers: &Servers) -> Result<()> {
        match self {
            Consumer::Replica => replica_command(servers, "STOP SLAVE").await,
            Consumer::Sluice { .. } => self.stop(),
        }
    }

    fn stop(&mut self) -> Result<()> {
        if let Consumer::Sluice { child: Some(child), .. } = self {
            if let Some(cpu) = cpu_seconds(child.id()) {
                eprintln!("  sluice process CPU: {cpu:.2} s (user+system)");
            }
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
            let status = child.wait()?;
            if !status.success() {
                bail!("sluice exited with {status}");
            }
        }
        if let Consumer::Sluice { child, .. } = self {
            *child = None;
        }
        Ok(())
    }
}

impl Drop for Consumer {
    /// A failed run must not leave a sluice process behind.
    fn drop(&mut self) {
        if let Consumer::Sluice { child: Some(child), .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn replica_command(servers: &Servers, sql: &str) -> Result<()> {
    servers.replica.connect("").await.query_drop(sql).await.with_context(|| format!("{sql} on the replica"))
}

/// Sluice streams once its first commit (idle progress) is in the target's offsets table.
async fn wait_streaming(run: &Run, servers: &Servers) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let streaming = match &run.target {
            TargetDb::Postgres(_, client) => client
                .query_one("SELECT count(*) FROM sluice.offsets", &[])
                .await
                .map(|row| row.get::<_, i64>(0) > 0)
                .unwrap_or(false),
            _ => {
                let mut conn = run.maria_target(servers).await.context("no MariaDB target")?;
                conn.query_first::<i64, _>("SELECT COUNT(*) FROM sluice_offsets").await.ok().flatten().unwrap_or(0) > 0
            }
        };
        if streaming {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// User+system CPU seconds of a process so far (Linux /proc).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Throughput of one workload for one system: rows per second of catch-up.
async fn throughput(system: System, workload: &str, servers: &Servers, work: &Path, scale: f64) -> Result<(u64, f64)> {
    let name = format!("{}_{workload}", system.short());
    let mut run = Run::fresh(system, servers, &name).await?;
    let rows = match workload {
        "updates" => (200_000.0 * scale) as i64,
        _ => (20_000.0 * scale) as i64,
    };
    if workload == "updates" {
        let seed = format!(
            "INSERT INTO items (id, qty, price, note) SELECT seq, 0, seq * 1.25, MD5(seq) FROM seq_1_to_{rows}"
        );
        run.source_conn.query_drop(&seed).await?;
        match &run.target {
            // The replica gets the seed by replication.
            TargetDb::Replicated { .. } => {}
            TargetDb::Maria(db) => db.connect().await.query_drop(&seed).await?,
            TargetDb::Postgres(_, client) => {
                client
                    .batch_execute(&format!(
                        "INSERT INTO items (id, qty, price, note, updated_at)
                         SELECT i, 0, i * 1.25, md5(i::text), now() FROM generate_series(1, {rows}) i"
                    ))
                    .await?
            }
        }
    }
    if system == System::Replica {
        run.source_conn.query_drop("INSERT INTO marker (id) VALUES (0)").await?;
        run.wait_marker(servers, 0, Some(Duration::from_secs(300))).await.context("seed not replicated")?;
    }
    let mut consumer = Consumer::prepare(system, &run, work, &name)?;
    consumer.checkpoint(&run, servers).await?;
    if system == System::Replica {
        // The seed has arrived; the workload waits in the primary's binlog.
        consumer.stop_async(servers).await?;
    }

    // The workload, written while the consumer is stopped; multi-statement
    // queries of single-row statements, so the client is not the bottleneck.
    let writer = &mut run.source_conn;
    match workload {
        "updates" => {
            let mut id = 1i64;
            while id <= rows {
                let end = (id + 1000).min(rows + 1);
                let mut batch = String::from("BEGIN;");
                for i in id..end {
                    batch.push_str(&format!("UPDATE items SET qty = qty + 1, updated_at = NOW(6) WHERE id = {i};"));
                }
                batch.push_str("COMMIT");
                writer.query_drop(batch).await?;
                id = end;
            }
        }
        _ => {
            let mut id = 1i64;
            while id <= rows {
                let end = (id + 100).min(rows + 1);
                let batch: String = (id..end)
                    .map(|i| {
                        format!(
                            "INSERT INTO items (id, qty, price, note) VALUES ({i}, 1, 9.99, 'one-row transaction');"
                        )
                    })
                    .collect();
                writer.query_drop(batch).await?;
                id = end;
            }
        }
    }
    writer.query_drop("INSERT INTO marker (id) VALUES (1)").await?;

    let started = Instant::now();
    consumer.start_async(servers).await?;
    run.wait_marker(servers, 1, Some(Duration::from_secs(900)))
        .await
        .with_context(|| format!("{} did not catch up on {workload}", system.name()))?;
    let elapsed = started.elapsed().as_secs_f64();
    if system != System::Replica {
        consumer.stop()?;
    }
    verify_equal(&mut run, servers).await?;
    Ok((rows as u64, elapsed))
}

async fn verify_equal(run: &mut Run, servers: &Servers) -> Result<()> {
    let maria = "SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(':', id, qty, price, note) ORDER BY id SEPARATOR ',')), '') FROM items";
    let source = maria_digest(&mut run.source_conn, maria).await?;
    let target = match &run.target {
        TargetDb::Postgres(_, client) => {
            let row = client
                .query_one(
                    "SELECT count(*), coalesce(md5(string_agg(concat_ws(':', id, qty, price, note), ',' ORDER BY id)), '') FROM items",
                    &[],
                )
                .await?;
            (row.get::<_, i64>(0), row.get::<_, String>(1))
        }
        _ => {
            let mut conn = run.maria_target(servers).await.context("no MariaDB target")?;
            maria_digest(&mut conn, maria).await?
        }
    };
    if source != target {
        bail!("target differs from source after the run ({} vs {} rows)", target.0, source.0);
    }
    Ok(())
}

async fn maria_digest(conn: &mut Conn, query: &str) -> Result<(i64, String)> {
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824").await?;
    let row: Option<(i64, String)> = conn.query_first(query).await?;
    row.context("no digest row")
}

async fn latency(system: System, servers: &Servers, work: &Path, seconds: u64) -> Result<(u64, f64, f64, f64)> {
    let name = format!("{}_latency", system.short());
    let mut run = Run::fresh(system, servers, &name).await?;
    // Apply time in the target, by a trigger for every system. Only here: a
    // trigger costs the same per row for all, but would bias throughput.
    match &run.target {
        TargetDb::Postgres(_, client) => {
            client
                .batch_execute(
                    "ALTER TABLE items ADD COLUMN applied_ts timestamp(6);
                     CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN NEW.applied_ts := clock_timestamp() AT TIME ZONE 'UTC'; RETURN NEW; END $$;
                     CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION stamp();",
                )
                .await?
        }
        _ => {
            let mut conn = run.maria_target(servers).await.context("no MariaDB target")?;
            // Directly on the replica (not replicated): the extra last column
            // is allowed in a row-based replica.
            conn.query_drop("ALTER TABLE items ADD COLUMN applied_ts DATETIME(6) NULL").await?;
            conn.query_drop("CREATE TRIGGER stamp BEFORE INSERT ON items FOR EACH ROW SET NEW.applied_ts = SYSDATE(6)")
                .await?;
        }
    }
    let mut consumer = Consumer::prepare(system, &run, work, &name)?;
    consumer.checkpoint(&run, servers).await?;
    consumer.start_async(servers).await?;
    match system {
        System::Replica => {}
        _ => wait_streaming(&run, servers).await.context("sluice did not start streaming")?,
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let insert = run
        .source_conn
        .prep("INSERT INTO items (id, qty, price, note, src_ts) VALUES (?, 1, 9.99, 'paced', NOW(6))")
        .await?;
    let rate = 2_000u64;
    let total = rate * seconds;
    let started = Instant::now();
    for i in 0..total {
        let due = started + Duration::from_micros(i * 1_000_000 / rate);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        run.source_conn.exec_drop(&insert, (i as i64 + 1,)).await?;
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    run.source_conn.query_drop("INSERT INTO marker (id) VALUES (1)").await?;
    run.wait_marker(servers, 1, Some(Duration::from_secs(120))).await?;

    let mut millis: Vec<f64> = match &run.target {
        TargetDb::Postgres(_, client) => client
            .query("SELECT (EXTRACT(EPOCH FROM applied_ts - src_ts) * 1000)::float8 FROM items", &[])
            .await?
            .iter()
            .map(|row| row.get::<_, f64>(0))
            .collect(),
        _ => {
            let mut conn = run.maria_target(servers).await.context("no MariaDB target")?;
            conn.query::<i64, _>("SELECT TIMESTAMPDIFF(MICROSECOND, src_ts, applied_ts) FROM items")
                .await?
                .into_iter()
                .map(|micros| micros as f64 / 1000.0)
                .collect()
        }
    };
    if system != System::Replica {
        consumer.stop()?;
    }
    if millis.len() as u64 != total {
        bail!("{}: {} of {total} rows arrived", system.name(), millis.len());
    }
    millis.sort_by(f64::total_cmp);
    let percentile = |p: f64| millis[((millis.len() - 1) as f64 * p).round() as usize];
    Ok((total, achieved, percentile(0.5), percentile(0.99)))
}

/// Points the replica at the primary's current binlog position and starts it.
async fn start_replication(servers: &Servers) -> Result<()> {
    let mut primary = servers.primary.connect("").await;
    let status: Option<mysql_async::Row> = primary.query_first("SHOW MASTER STATUS").await?;
    let status = status.context("the primary has no binlog")?;
    let file: String = status.get(0).context("no binlog file")?;
    let position: u64 = status.get(1).context("no binlog position")?;
    let mut replica = servers.replica.connect("").await;
    replica
        .query_drop(format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', MASTER_PASSWORD='', \
             MASTER_LOG_FILE='{file}', MASTER_LOG_POS={position}",
            servers.primary.port()
        ))
        .await?;
    replica.query_drop("START SLAVE").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row: Option<mysql_async::Row> = replica.query_first("SHOW SLAVE STATUS").await?;
        let running = row.is_some_and(|row| {
            row.get::<String, _>("Slave_IO_Running").as_deref() == Some("Yes")
                && row.get::<String, _>("Slave_SQL_Running").as_deref() == Some("Yes")
        });
        if running {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the replica did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // binary without it: don't run the benchmark inside the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("mysql: run with `cargo bench --bench mysql` (make bench); skipped under cargo test");
        return Ok(());
    }
    let scale: f64 = std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let latency_secs: u64 = std::env::var("BENCH_LATENCY_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-mysql");
    std::fs::create_dir_all(&work)?;
    eprintln!("starting two private MariaDB servers and a PostgreSQL server");
    let servers = Servers {
        primary: MariaDbServer::start(),
        replica: MariaDbServer::start_with(
            MariaDbOptions::new().setting("server-id", "2").setting("slave-run-triggers-for-rbr", "YES"),
        ),
        postgres: PgServer::start_with(sluice_testkit::PgOptions::new().setting("max_wal_size", "4GB")),
    };
    start_replication(&servers).await?;

    let only: Vec<String> =
        std::env::var("BENCH_ONLY").map(|s| s.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    let repeat: usize = std::env::var("BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let mut lines = Vec::new();
    let mut latency_lines = Vec::new();
    for system in [System::Replica, System::SluiceMaria, System::SluicePg].into_iter().filter(|s| wanted(s.short())) {
        if system != System::Replica {
            // The replica never runs beside Sluice.
            replica_command(&servers, "STOP SLAVE").await?;
        }
        for workload in ["updates", "small_tx"].into_iter().filter(|w| wanted(w)) {
            // The machine is a shared VM: repeat, report the median and the range.
            let mut runs = Vec::with_capacity(repeat);
            for round in 0..repeat {
                eprintln!("{workload}: {} (run {} of {repeat})", system.name(), round + 1);
                if system == System::Replica {
                    replica_command(&servers, "START SLAVE").await?;
                }
                let (rows, secs) = throughput(system, workload, &servers, &work, scale).await?;
                eprintln!("  {rows} rows in {secs:.2} s = {:.0} rows/s", rows as f64 / secs);
                runs.push((rows, secs));
            }
            let rows = runs[0].0;
            let mut secs: Vec<f64> = runs.iter().map(|(_, s)| *s).collect();
            secs.sort_by(f64::total_cmp);
            let median = secs[secs.len() / 2];
            let line = format!(
                "| {workload} | {} | {rows} | {median:.2} s | {:.0} rows/s | {:.0}–{:.0} rows/s |",
                system.name(),
                rows as f64 / median,
                rows as f64 / secs[secs.len() - 1],
                rows as f64 / secs[0]
            );
            eprintln!("{line}");
            lines.push(line);
        }
        if wanted("latency") {
            eprintln!("latency: {}", system.name());
            if system == System::Replica {
                replica_command(&servers, "START SLAVE").await?;
            }
            let (rows, achieved, p50, p99) = latency(system, &servers, &work, latency_secs).await?;
            let line = format!("| {} | {rows} | {achieved:.0} rows/s | {p50:.1} ms | {p99:.1} ms |", system.name());
            eprintln!("{line}");
            latency_lines.push(line);
        }
    }

    println!("\n### Catch-up throughput (scale {scale})\n");
    println!(
        "| workload | system | rows | median time | median throughput | range over {repeat} runs |\n|---|---|---|---|---|---|"
    );
    for line in lines {
        println!("{line}");
    }
    println!("\n### Commit-to-visible latency, one-row transactions at 2,000 rows/s for {latency_secs} s\n");
    println!("| system | rows | achieved rate | p50 | p99 |\n|---|---|---|---|---|");
    for line in latency_lines {
        println!("{line}");
    }
    Ok(())
}

/// The sluice binary: `SLUICE_BIN` (a wrapper for profiling, say) or the one cargo built.
fn sluice_binary() -> PathBuf {
    std::env::var_os("SLUICE_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sluice")), PathBuf::from)
}
