//! End-to-end PostgreSQL → PostgreSQL benchmark, Sluice beside PostgreSQL's
//! own logical replication (PUBLICATION/SUBSCRIPTION), in one run on the
//! same two private servers.
//!
//! Workloads (each on a fresh pair of databases, for each system):
//! - `updates`: 200,000 single-row UPDATE statements in 1,000-row
//!   transactions on a 200,000-row table;
//! - `small-tx`: 20,000 one-row INSERT transactions;
//! - `latency`: one-row INSERT transactions at a steady 2,000 rows/s for
//!   `BENCH_LATENCY_SECS` (default 15); commit-to-visible latency per row is
//!   the target's `clock_timestamp()` at apply (an ALWAYS trigger, so it
//!   fires for native apply too) minus the source's at insert.
//!
//! Throughput is catch-up throughput: the workload is written while the
//! consumer is stopped (subscription disabled / sluice not running), then the
//! consumer starts and the clock runs until a marker row written last is
//! visible in the target. Both servers run with `fsync=off` (testkit
//! default), equally for both systems; `BENCH_DURABLE=1` keeps fsync on.
//!
//! `cargo bench --bench pg_to_pg` (or `make bench`) prints a Markdown table
//! for docs/BENCHMARKS.md. `BENCH_SCALE` (default 1.0) scales the row counts.
//! Each catch-up also reports where the CPU went while the clock ran: the
//! source server's processes (the walsender), the target server's (native
//! apply worker, Sluice's target backend, the marker poll) and the Sluice
//! process; `BENCH_CPU_DETAIL=1` lists the servers' processes one by one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sluice_testkit::{PgOptions, PgServer, TestDatabase};
use tokio_postgres::Client;

const TABLE: &str = "CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL, price numeric(12,2) NOT NULL,
    note text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), src_ts timestamptz);
    CREATE TABLE marker (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());";

#[derive(Clone, Copy, Debug, PartialEq)]
enum System {
    Native,
    Sluice,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Native => "PostgreSQL logical replication",
            System::Sluice => "Sluice",
        }
    }
}

struct Pair {
    source: TestDatabase,
    target: TestDatabase,
    source_client: Client,
    target_client: Client,
}

async fn fresh_pair(source_server: &PgServer, target_server: &PgServer, prefix: &str) -> Result<Pair> {
    let source = source_server.create_database(prefix).await;
    let target = target_server.create_database(prefix).await;
    let source_client = source.connect().await;
    let target_client = target.connect().await;
    source_client.batch_execute(TABLE).await?;
    target_client.batch_execute(TABLE).await?;
    Ok(Pair { source, target, source_client, target_client })
}

/// A consumer that can be started and stopped.
enum Consumer {
    Native { subscription: String },
    Sluice { config: PathBuf, child: Option<Child>, log: PathBuf },
}

impl Consumer {
    async fn prepare(system: System, pair: &Pair, work: &Path, name: &str) -> Result<Consumer> {
        match system {
            System::Native => {
                pair.source_client.batch_execute("CREATE PUBLICATION bench FOR TABLE items, marker").await?;
                let subscription = format!("bench_{name}");
                pair.target_client
                    .batch_execute(&format!(
                        "CREATE SUBSCRIPTION {subscription} CONNECTION '{}' PUBLICATION bench WITH (copy_data = false, enabled = false)",
                        pair.source.url().replace("postgres://", "postgresql://")
                    ))
                    .await
                    .context("creating the subscription")?;
                Ok(Consumer::Native { subscription })
            }
            System::Sluice => {
                let config = work.join(format!("{name}.toml"));
                let state = work.join(format!("{name}-state"));
                let _ = std::fs::remove_dir_all(&state);
                // `snapshot = "never"`, as the subscription's `copy_data =
                // false`: the target already holds the seed rows, and only
                // the stream is measured.
                std::fs::write(
                    &config,
                    format!(
                        "[checkpoints]\npath = \"{}\"\n[sources.src]\nkind = \"postgres\"\nurl = \"{}\"\n\
                         [targets.dst]\nkind = \"postgres\"\nurl = \"{}\"\n\
                         [[routes]]\nsource = \"src\"\ntable = \"public.items\"\ntarget = \"dst\"\nsnapshot = \"never\"\n\
                         [[routes]]\nsource = \"src\"\ntable = \"public.marker\"\ntarget = \"dst\"\nsnapshot = \"never\"\n",
                        state.display(),
                        pair.source.url(),
                        pair.target.url()
                    ) + &std::env::var("BENCH_SLUICE_EXTRA").unwrap_or_default().replace("\\n", "\n"),
                )?;
                Ok(Consumer::Sluice { config, child: None, log: work.join(format!("{name}.log")) })
            }
        }
    }

    /// Creates the slot (so the workload written next is retained) without consuming.
    async fn create_slot(&mut self, pair: &Pair) -> Result<()> {
        match self {
            Consumer::Native { subscription } => {
                // CREATE SUBSCRIPTION already created the slot named after it.
                let _ = subscription;
                Ok(())
            }
            Consumer::Sluice { .. } => {
                // Run sluice until its slot exists, then stop it: the slot then retains the workload.
                self.start()?;
                wait_until(Duration::from_secs(30), || async {
                    Ok(pair
                        .source_client
                        .query_one(
                            "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'sluice_src' AND r.state = 'streaming'",
                            &[],
                        )
                        .await?
                        .get::<_, i64>(0)
                        == 1)
                })
                .await
                .context("sluice did not start streaming")?;
                self.stop()?;
                Ok(())
            }
        }
    }

    /// The `application_name` its walsender shows in `pg_stat_replication`.
    fn application_name(&self) -> String {
        match self {
            Consumer::Native { subscription } => subscription.clone(),
            Consumer::Sluice { .. } => "sluice".to_owned(),
        }
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

    async fn start_async(&mut self, pair: &Pair) -> Result<()> {
        match self {
            Consumer::Native { subscription } => {
                pair.target_client.batch_execute(&format!("ALTER SUBSCRIPTION {subscription} ENABLE")).await?;
                Ok(())
            }
            Consumer::Sluice { .. } => self.start(),
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

    async fn shutdown(&mut self, pair: &Pair) -> Result<()> {
        match self {
            Consumer::Native { subscription } => {
                pair.target_client.batch_execute(&format!("DROP SUBSCRIPTION {subscription}")).await?;
                Ok(())
            }
            Consumer::Sluice { .. } => self.stop(),
        }
    }
}

/// CPU seconds so far of a server's processes (the postmaster's children:
/// walsenders, backends, the apply worker), summed. A process that exits
/// takes its CPU with it; the ones measured here (walsender, apply worker,
/// the consumer's target backend) live through the timed part.
fn server_cpu_seconds(server: &PgServer) -> f64 {
    let Some(postmaster) = std::fs::read_to_string(server.data_dir().join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next().and_then(|line| line.trim().parse::<u32>().ok()))
    else {
        return 0.0;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    let children: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_pid(*pid) == Some(postmaster))
        .collect();
    if std::env::var("BENCH_CPU_DETAIL").is_ok() {
        for pid in &children {
            let cmdline =
                std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().replace('\0', " ");
            eprintln!("    {pid} {:.2} s {cmdline}", cpu_seconds(*pid).unwrap_or(0.0));
        }
    }
    children.into_iter().filter_map(cpu_seconds).sum()
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds so far of the source server, the target server and the
/// consumer's own process (Sluice; native apply runs in the target server).
fn cpu_split(servers: (&PgServer, &PgServer), consumer: &Consumer) -> [f64; 3] {
    let own = match consumer {
        Consumer::Sluice { child: Some(child), .. } => cpu_seconds(child.id()).unwrap_or(0.0),
        _ => 0.0,
    };
    [server_cpu_seconds(servers.0), server_cpu_seconds(servers.1), own]
}

/// User+system CPU seconds of a process so far (Linux /proc).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
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

async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn marker_visible(target: &Client, id: i32) -> Result<bool> {
    Ok(target.query_one("SELECT count(*) FROM marker WHERE id = $1", &[&id]).await?.get::<_, i64>(0) == 1)
}

/// Throughput of one workload for one system: rows per second of catch-up.
async fn throughput(
    system: System,
    workload: &str,
    servers: (&PgServer, &PgServer),
    work: &Path,
    scale: f64,
) -> Result<(u64, f64)> {
    let pair = fresh_pair(servers.0, servers.1, &format!("{}_{workload}", short(system))).await?;
    let rows = match workload {
        "updates" => (200_000.0 * scale) as i64,
        _ => (20_000.0 * scale) as i64,
    };
    if workload == "updates" {
        let seed = format!(
            "INSERT INTO items (id, qty, price, note) SELECT i, 0, i * 1.25, md5(i::text) FROM generate_series(1, {rows}) i"
        );
        pair.source_client.batch_execute(&seed).await?;
        pair.target_client.batch_execute(&seed).await?;
    }
    let mut consumer = Consumer::prepare(system, &pair, work, &format!("{}_{workload}", short(system))).await?;
    consumer.create_slot(&pair).await?;

    // The workload, written while the consumer is stopped.
    let writer = &pair.source_client;
    match workload {
        "updates" => {
            let update = writer.prepare("UPDATE items SET qty = qty + 1, updated_at = now() WHERE id = $1").await?;
            let mut id = 1i64;
            while id <= rows {
                writer.batch_execute("BEGIN").await?;
                let end = (id + 1000).min(rows + 1);
                let futures: Vec<_> = (id..end)
                    .map(|i| {
                        let update = &update;
                        async move { writer.execute(update, &[&i]).await }
                    })
                    .collect();
                for result in futures_join(futures).await {
                    result?;
                }
                writer.batch_execute("COMMIT").await?;
                id = end;
            }
        }
        _ => {
            let insert = writer
                .prepare("INSERT INTO items (id, qty, price, note) VALUES ($1, 1, 9.99, 'one-row transaction')")
                .await?;
            let mut id = 1i64;
            while id <= rows {
                let end = (id + 64).min(rows + 1);
                let futures: Vec<_> = (id..end)
                    .map(|i| {
                        let insert = &insert;
                        async move { writer.execute(insert, &[&i]).await }
                    })
                    .collect();
                for result in futures_join(futures).await {
                    result?;
                }
                id = end;
            }
        }
    }
    writer.execute("INSERT INTO marker (id) VALUES (1)", &[]).await?;

    // The clock starts when the consumer's replication connection appears
    // on the source: launching the consumer (a new sluice process; the
    // subscription launcher, which may wait up to wal_retrieve_retry_interval
    // before starting an apply worker) is start-up, not catch-up.
    let application = consumer.application_name();
    consumer.start_async(&pair).await?;
    wait_until(Duration::from_secs(60), || async {
        Ok(pair
            .source_client
            .query_one("SELECT count(*) FROM pg_stat_replication WHERE application_name = $1", &[&application])
            .await?
            .get::<_, i64>(0)
            >= 1)
    })
    .await
    .with_context(|| format!("{} did not connect", system.name()))?;
    // Read before the clock starts: walking /proc takes milliseconds.
    let cpu_before = cpu_split(servers, &consumer);
    let started = Instant::now();
    wait_until(Duration::from_secs(900), || marker_visible(&pair.target_client, 1))
        .await
        .with_context(|| format!("{} did not catch up on {workload}", system.name()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = cpu_split(servers, &consumer);
    let [source_cpu, target_cpu, own_cpu] = [0, 1, 2].map(|i| cpu_after[i] - cpu_before[i]);
    eprintln!(
        "  CPU while catching up ({elapsed:.2} s): source server {source_cpu:.2} s, target server {target_cpu:.2} s, \
         consumer process {own_cpu:.2} s"
    );
    consumer.shutdown(&pair).await?;
    verify_equal(&pair).await?;
    Ok((rows as u64, elapsed))
}

/// Runs the futures concurrently on one connection: tokio-postgres pipelines
/// the requests, so the workload is written fast.
async fn futures_join<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    futures_util::future::join_all(futures).await
}

async fn latency(
    system: System,
    servers: (&PgServer, &PgServer),
    work: &Path,
    seconds: u64,
) -> Result<(u64, f64, f64, f64)> {
    let pair = fresh_pair(servers.0, servers.1, &format!("{}_latency", short(system))).await?;
    // Apply time in the target, for both systems (ENABLE ALWAYS: it fires
    // under native apply too). Only here: a trigger costs the same per row
    // for both, but fires twice per upsert (BEFORE INSERT, then UPDATE),
    // which would bias the throughput runs.
    pair.target_client
        .batch_execute(
            "ALTER TABLE items ADD COLUMN applied_ts timestamptz;
             CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.applied_ts := clock_timestamp(); RETURN NEW; END $$;
             CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION stamp();
             ALTER TABLE items ENABLE ALWAYS TRIGGER stamp;",
        )
        .await?;
    let mut consumer = Consumer::prepare(system, &pair, work, &format!("{}_latency", short(system))).await?;
    consumer.create_slot(&pair).await?;
    consumer.start_async(&pair).await?;
    // The clock starts only once the consumer streams (a native apply worker
    // takes a while to be launched; that start-up is not commit latency).
    let application = consumer.application_name();
    wait_until(Duration::from_secs(60), || async {
        Ok(pair
            .source_client
            .query_one(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                &[&application],
            )
            .await?
            .get::<_, i64>(0)
            >= 1)
    })
    .await
    .context("the consumer did not start streaming")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let insert = pair
        .source_client
        .prepare("INSERT INTO items (id, qty, price, note, src_ts) VALUES ($1, 1, 9.99, 'paced', clock_timestamp())")
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
        pair.source_client.execute(&insert, &[&(i as i64 + 1)]).await?;
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    pair.source_client.execute("INSERT INTO marker (id) VALUES (1)", &[]).await?;
    wait_until(Duration::from_secs(120), || marker_visible(&pair.target_client, 1)).await?;
    let row = pair
        .target_client
        .query_one(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), count(*)
             FROM (SELECT EXTRACT(EPOCH FROM applied_ts - src_ts) * 1000 AS ms FROM items) l",
            &[],
        )
        .await?;
    let p50: f64 = row.get(0);
    let p99: f64 = row.get(1);
    let count: i64 = row.get(2);
    consumer.shutdown(&pair).await?;
    if count as u64 != total {
        bail!("{}: {count} of {total} rows arrived", system.name());
    }
    Ok((total, achieved, p50, p99))
}

async fn verify_equal(pair: &Pair) -> Result<()> {
    let query = "SELECT count(*), coalesce(md5(string_agg(id || ':' || qty || ':' || price || ':' || note, ',' ORDER BY id)), '') FROM items";
    let source = pair.source_client.query_one(query, &[]).await?;
    let target = pair.target_client.query_one(query, &[]).await?;
    if source.get::<_, i64>(0) != target.get::<_, i64>(0) || source.get::<_, String>(1) != target.get::<_, String>(1) {
        bail!("target differs from source after the run");
    }
    Ok(())
}

fn short(system: System) -> &'static str {
    match system {
        System::Native => "native",
        System::Sluice => "sluice",
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // binary without it: don't run an hour of benchmark inside the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("pg_to_pg: run with `cargo bench --bench pg_to_pg` (make bench); skipped under cargo test");
        return Ok(());
    }
    let scale: f64 = std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let latency_secs: u64 = std::env::var("BENCH_LATENCY_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-pg-to-pg");
    std::fs::create_dir_all(&work)?;
    // BENCH_DURABLE=1: both servers keep fsync and full-page writes on, as
    // production servers do (the subscription still commits with its
    // default synchronous_commit = off; Sluice's target commits wait for
    // the flush).
    let durable = std::env::var("BENCH_DURABLE").is_ok_and(|v| v == "1");
    eprintln!("starting two private PostgreSQL servers{}", if durable { " (durable: fsync on)" } else { "" });
    let source = PgServer::start_with(PgOptions::new().setting("max_wal_size", "4GB").durable(durable));
    let target = PgServer::start_with(PgOptions::new().setting("max_wal_size", "4GB").durable(durable));
    let servers = (&source, &target);

    let mut lines = Vec::new();
    // BENCH_ONLY=updates,sluice … runs the matching parts only (for profiling).
    let only: Vec<String> =
        std::env::var("BENCH_ONLY").map(|s| s.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    // The machine is shared (a VM): throughput runs are repeated,
    // alternating the systems, and the median is reported with the range.
    let repeat: usize = std::env::var("BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    for workload in ["updates", "small_tx"].into_iter().filter(|w| wanted(w)) {
        let systems: Vec<System> = [System::Native, System::Sluice].into_iter().filter(|s| wanted(short(*s))).collect();
        let mut runs: Vec<Vec<(u64, f64)>> = vec![Vec::new(); systems.len()];
        for round in 0..repeat {
            for (index, system) in systems.iter().enumerate() {
                eprintln!("{workload}: {} (run {} of {repeat})", system.name(), round + 1);
                let (rows, secs) = throughput(*system, workload, servers, &work, scale).await?;
                eprintln!("  {rows} rows in {secs:.2} s = {:.0} rows/s", rows as f64 / secs);
                runs[index].push((rows, secs));
            }
        }
        for (system, runs) in systems.iter().zip(runs) {
            let rows = runs[0].0;
            let mut secs: Vec<f64> = runs.iter().map(|(_, s)| *s).collect();
            secs.sort_by(f64::total_cmp);
            let median = secs[secs.len() / 2];
            let (fastest, slowest) = (secs[0], secs[secs.len() - 1]);
            let line = format!(
                "| {workload} | {} | {rows} | {median:.2} s | {:.0} rows/s | {:.0}–{:.0} rows/s |",
                system.name(),
                rows as f64 / median,
                rows as f64 / slowest,
                rows as f64 / fastest
            );
            eprintln!("{line}");
            lines.push(line);
        }
    }
    let mut latency_lines = Vec::new();
    for system in [System::Native, System::Sluice].into_iter().filter(|s| wanted("latency") && wanted(short(*s))) {
        eprintln!("latency: {}", system.name());
        let (rows, achieved, p50, p99) = latency(system, servers, &work, latency_secs).await?;
        let line = format!("| {} | {rows} | {achieved:.0} rows/s | {p50:.1} ms | {p99:.1} ms |", system.name());
        eprintln!("{line}");
        latency_lines.push(line);
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
