//! Initial-copy (snapshot) benchmark for issue 4: one 1,000,000-row table
//! (`id bigint primary key, qty int, note text, price numeric(12,2),
//! updated_at timestamptz` — MariaDB `datetime(6)` — and a 100-byte `pad`,
//! MariaDB `varchar(100)`) copied into an existing, empty target table of the
//! same shape, by Sluice and by the usual tools, side by side in one run on
//! private servers started here (one MariaDB, a PostgreSQL source and a
//! PostgreSQL target; testkit defaults: `fsync=off`,
//! `innodb_flush_log_at_trx_commit=2`, equally for every system):
//!
//! - MariaDB → PostgreSQL: `pgloader` (a `LOAD DATABASE … WITH data only,
//!   create no tables` command file, default workers and batch sizes) and
//!   `sluice backfill -c … --source src --once`;
//! - PostgreSQL → PostgreSQL: `pg_dump -t items -a | psql`, `pgcopydb copy
//!   table-data` (default `--table-jobs`; it also runs `VACUUM ANALYZE` on
//!   the target table, inside its wall time) and `sluice backfill`.
//!
//! The source tables are generated once (server-side `generate_series`, the
//! MariaDB `seq_1_to_N` sequence engine) and vacuumed/analyzed; every run
//! copies into a fresh target database. Each copy runs as child processes of
//! this benchmark, each wrapped in GNU `/usr/bin/time`: the wall time is from
//! spawning the first process to the exit of the last (start-up included),
//! peak memory is the maximum RSS of each process (`%M`; for a tool that
//! forks, its largest process), and for tools with several processes
//! (`pg_dump | psql`, pgcopydb's workers) the process tree's summed PSS is
//! sampled every 20 ms from `/proc` (shared pages counted once).
//! Memory of the database servers' own backends is not counted for anyone.
//! After every run the target must match the source in row count,
//! `sum(qty)`, `count(DISTINCT note)` and the sum of every row's MD5 (first
//! 60 bits, over all columns, timestamps as UTC text); a run that copied
//! nothing or anything else fails the bench. Both PostgreSQL servers run with
//! `TimeZone=UTC`: a MariaDB DATETIME is a civil time, which Sluice writes
//! into `timestamptz` as UTC and pgloader's text COPY reads in the session's
//! zone.
//!
//! Every system runs `BENCH_REPEAT` times (default 3), alternating; the
//! median wall time is reported with the range and the largest peak memory.
//! The goals of issue 4 are printed as ratios: Sluice ≥ 2× pgloader's rows/s,
//! Sluice ≥ 0.8× `pg_dump | psql`'s, Sluice's peak memory < 300 MB.
//!
//! `cargo bench --bench snapshot` (or `make bench`) prints Markdown tables
//! for docs/BENCHMARKS.md. `BENCH_SCALE` (default 1.0) scales the row count;
//! `BENCH_ONLY=pgloader,pgcopydb,…` runs the matching systems only (`pgloader`,
//! `pg_dump`, `pgcopydb`, `sluice_maria`, `sluice_pg`, `sluice_pg_live`:
//! `sluice backfill` without `--once`, reconciled with the stream like an
//! initial snapshot in `sluice run`); `BENCH_SLUICE_EXTRA`
//! appends TOML to Sluice's config (e.g. `[snapshot]\nworkers = 2`);
//! `SLUICE_BIN` runs another sluice binary than the release build `cargo
//! bench` makes (`target/release/sluice`); if that binary has no `backfill`
//! subcommand, Sluice's rows read "sluice backfill not available".

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDbServer, PgOptions, PgServer, TestDatabase, TestMariaDb, pg_program};
use tokio_postgres::Client;

const GNU_TIME: &str = "/usr/bin/time";
/// How often the process tree's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// A copy that takes longer than this has hung.
const RUN_LIMIT: Duration = Duration::from_secs(3600);

const PG_TABLE: &str = "CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL, note text NOT NULL,
    price numeric(12,2) NOT NULL, updated_at timestamptz NOT NULL, pad text NOT NULL)";

const MARIA_TABLE: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, qty INT NOT NULL, note TEXT NOT NULL,
    price DECIMAL(12,2) NOT NULL, updated_at DATETIME(6) NOT NULL, pad VARCHAR(100) NOT NULL)";

/// Row count, `sum(qty)`, `count(DISTINCT note)` and the sum over all rows
/// of the first 60 bits of each row's MD5 over every column (timestamps as
/// UTC text): an exact, order-free digest that needs no huge string.
const PG_DIGEST: &str = "SELECT count(*), coalesce(sum(qty), 0)::int8, count(DISTINCT note),
    coalesce(sum(('x' || substr(md5(concat_ws('|', id, qty, note, price,
        to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), pad)), 1, 15))::bit(60)::int8), 0)::text
    FROM items";

const MARIA_DIGEST: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(qty), 0) AS SIGNED), COUNT(DISTINCT note),
    CAST(COALESCE(SUM(CAST(CONV(SUBSTR(MD5(CONCAT_WS('|', id, qty, note, price,
        DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'), pad)), 1, 15), 16, 10) AS UNSIGNED)), 0) AS CHAR)
    FROM items";

type Digest = (i64, i64, i64, String);

#[derive(Clone, Copy, Debug, PartialEq)]
enum System {
    Pgloader,
    PgDumpPsql,
    Pgcopydb,
    SluiceMaria,
    SluicePg,
    /// `sluice backfill` without `--once`: the stream runs, chunks are
    /// reconciled with it and written by the route's one writer — the path
    /// of an initial snapshot inside `sluice run`.
    SluicePgLive,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Pgloader => "pgloader",
            System::PgDumpPsql => "pg_dump | psql",
            System::Pgcopydb => "pgcopydb copy table-data",
            System::SluiceMaria | System::SluicePg => "Sluice backfill",
            System::SluicePgLive => "Sluice backfill, streaming (as in `sluice run`)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            System::Pgloader => "pgloader",
            System::PgDumpPsql => "pg_dump",
            System::Pgcopydb => "pgcopydb",
            System::SluiceMaria => "sluice_maria",
            System::SluicePg => "sluice_pg",
            System::SluicePgLive => "sluice_pg_live",
        }
    }

    fn is_sluice(self) -> bool {
        matches!(self, System::SluiceMaria | System::SluicePg | System::SluicePgLive)
    }
}

struct Servers {
    maria: MariaDbServer,
    pg_source: PgServer,
    pg_target: PgServer,
}

/// The two source tables, generated once and only read afterwards.
struct Sources {
    maria: TestMariaDb,
    maria_digest: Digest,
    pg: TestDatabase,
    pg_digest: Digest,
}

/// One process of a copy: a program, its arguments and environment.
struct Stage {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

impl Stage {
    fn new(label: &'static str, program: impl Into<PathBuf>, args: &[&str]) -> Stage {
        Stage { label, program: program.into(), args: args.iter().map(|a| (*a).to_owned()).collect(), env: Vec::new() }
    }
}

/// What one run of one system measured.
#[derive(Clone, Debug)]
struct Measured {
    wall: f64,
    /// Per stage: label, max RSS in KiB (GNU time `%M`).
    stage_peaks: Vec<(&'static str, u64)>,
    /// Peak of the summed PSS of every process of the run (sampled), KiB.
    tree_peak: u64,
    /// Names of the distinct processes seen (the GNU time wrappers not counted).
    processes: Vec<String>,
    /// User + system CPU seconds of all stages (GNU time `%U + %S`).
    cpu: f64,
}

impl Measured {
    /// The figure the goal is about: the largest single process, or the
    /// sampled sum when the stages run side by side or fork workers.
    fn peak_mib(&self) -> f64 {
        let largest = self.stage_peaks.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
        largest.max(if self.stage_peaks.len() > 1 || self.processes.len() > 1 { self.tree_peak } else { 0 }) as f64
            / 1024.0
    }
}

/// Runs `stages` (a pipeline when `piped`: each stage's stdout into the next
/// one's stdin), each under GNU time, sampling their process tree's memory,
/// and fails with the end of the log when one exits unsuccessfully.
fn run_measured(stages: Vec<Stage>, piped: bool, work: &Path, name: &str) -> Result<Measured> {
    let log_path = work.join(format!("{name}.log"));
    let log = File::create(&log_path)?;
    let mut children: Vec<(&'static str, Child, PathBuf)> = Vec::new();
    let started = Instant::now();
    let count = stages.len();
    for (index, stage) in stages.into_iter().enumerate() {
        let time_file = work.join(format!("{name}.{index}.time"));
        let mut command = Command::new(GNU_TIME);
        command.args(["-f", "%M %U %S", "-o"]).arg(&time_file).arg(&stage.program).args(&stage.args);
        command.envs(stage.env.iter().map(|(k, v)| (*k, v.as_str())));
        command.stderr(log.try_clone()?);
        if piped && index > 0 {
            let upstream = children[index - 1].1.stdout.take().context("no pipe from the previous stage")?;
            command.stdin(Stdio::from(upstream));
        } else {
            command.stdin(Stdio::null());
        }
        if piped && index + 1 < count {
            command.stdout(Stdio::piped());
        } else {
            command.stdout(log.try_clone()?);
        }
        let child = command.spawn().with_context(|| format!("starting {}", stage.program.display()))?;
        children.push((stage.label, child, time_file));
    }
    let roots: Vec<u32> = children.iter().map(|(_, child, _)| child.id()).collect();
    let mut sampler = TreeSampler::default();
    let mut statuses: Vec<Option<ExitStatus>> = vec![None; children.len()];
    loop {
        sampler.sample(&roots);
        for (index, (_, child, _)) in children.iter_mut().enumerate() {
            if statuses[index].is_none() {
                statuses[index] = child.try_wait()?;
            }
        }
        if statuses.iter().all(Option::is_some) {
            break;
        }
        if started.elapsed() > RUN_LIMIT {
            // The whole tree: killing the GNU time wrappers alone would leave
            // the tools running.
            let mut tree = Vec::new();
            let mut pending = roots.clone();
            while let Some(pid) = pending.pop() {
                pending.extend(children_of(pid));
                tree.push(pid.to_string());
            }
            let _ = Command::new("kill").arg("-KILL").args(&tree).status();
            for (_, child, _) in &mut children {
                let _ = child.wait();
            }
            bail!("{name} still running after {RUN_LIMIT:?}; killed (log: {})", log_path.display());
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    let wall = started.elapsed().as_secs_f64();
    for ((label, _, _), status) in children.iter().zip(&statuses) {
        let status = status.expect("all exited");
        if !status.success() {
            bail!("{name}: {label} exited with {status}; end of {}:\n{}", log_path.display(), tail(&log_path, 40));
        }
    }
    let mut stage_peaks = Vec::new();
    let mut cpu = 0.0;
    for (label, _, time_file) in &children {
        let text = std::fs::read_to_string(time_file).with_context(|| format!("reading {}", time_file.display()))?;
        let fields: Vec<&str> = text.lines().last().unwrap_or_default().split_whitespace().collect();
        let [kib, user, system] = fields[..] else { bail!("unexpected GNU time output {text:?}") };
        stage_peaks.push((*label, kib.parse()?));
        cpu += user.parse::<f64>()? + system.parse::<f64>()?;
    }
    Ok(Measured {
        wall,
        stage_peaks,
        tree_peak: sampler.peak_kib,
        processes: sampler.seen.into_values().collect(),
        cpu,
    })
}

/// Samples the summed memory of a process tree from `/proc`: PSS
/// (`smaps_rollup`), so pages that forked workers share (libraries, the
/// parent's heap) count once, not once per process.
#[derive(Default)]
struct TreeSampler {
    peak_kib: u64,
    seen: BTreeMap<u32, String>,
}

impl TreeSampler {
    fn sample(&mut self, roots: &[u32]) {
        let mut pending: Vec<u32> = roots.to_vec();
        let mut total = 0;
        while let Some(pid) = pending.pop() {
            pending.extend(children_of(pid));
            // The roots are the GNU time wrappers (before their exec, forks
            // of this process); the measured programs are their children.
            if roots.contains(&pid) {
                continue;
            }
            let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else { continue };
            let name = comm.trim().to_owned();
            let pss: u64 = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|line| line.strip_prefix("Pss:"))
                        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
                })
                .unwrap_or(0);
            total += pss;
            self.seen.insert(pid, name);
        }
        self.peak_kib = self.peak_kib.max(total);
    }
}

/// Children of every thread of `pid` (`/proc/PID/task/TID/children`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| text.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

async fn pg_digest(client: &Client) -> Result<Digest> {
    let row = client.query_one(PG_DIGEST, &[]).await?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}

async fn maria_digest(db: &TestMariaDb) -> Result<Digest> {
    let mut conn = db.connect().await;
    let row: Option<(i64, i64, i64, String)> = conn.query_first(MARIA_DIGEST).await?;
    row.context("no digest row")
}

async fn create_sources(servers: &Servers, rows: u64) -> Result<Sources> {
    eprintln!("generating {rows} rows in MariaDB and in PostgreSQL");
    let maria = servers.maria.create_database("snap_src").await;
    let mut conn = maria.connect().await;
    conn.query_drop(MARIA_TABLE).await?;
    conn.query_drop(format!(
        "INSERT INTO items SELECT seq, (seq * 7) % 1000, CONCAT('note ', seq % 10007), (seq % 100000) / 100,
           TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL (seq % 1000000) MICROSECOND,
           RPAD(MD5(seq), 100, '.')
         FROM seq_1_to_{rows}"
    ))
    .await?;
    conn.query_drop("ANALYZE TABLE items").await?;
    drop(conn);
    let maria_digest = maria_digest(&maria).await?;

    let pg = servers.pg_source.create_database("snap_src").await;
    let client = pg.connect().await;
    client.batch_execute(PG_TABLE).await?;
    client
        .batch_execute(&format!(
            "INSERT INTO items SELECT i, (i * 7) % 1000, 'note ' || (i % 10007), (i % 100000) / 100.0,
               timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' + (i % 1000000) * interval '1 microsecond',
               rpad(md5(i::text), 100, '.')
             FROM generate_series(1, {rows}) i"
        ))
        .await?;
    // Hint bits and statistics now, so no system pays for them in its run.
    client.batch_execute("VACUUM (FREEZE, ANALYZE) items").await?;
    let pg_digest = pg_digest(&client).await?;
    if maria_digest.0 as u64 != rows || pg_digest.0 as u64 != rows {
        bail!("generated {} MariaDB and {} PostgreSQL rows, wanted {rows}", maria_digest.0, pg_digest.0);
    }
    if maria_digest != pg_digest {
        bail!("the two generated tables differ: {maria_digest:?} vs {pg_digest:?}");
    }
    Ok(Sources { maria, maria_digest, pg, pg_digest })
}

/// The copy command(s) of `system`, from its source into `target`.
fn stages(system: System, sources: &Sources, target: &TestDatabase, work: &Path, name: &str) -> Result<Vec<Stage>> {
    let sluice = |source: String, once: bool| -> Result<Vec<Stage>> {
        let config = work.join(format!("{name}.toml"));
        let state = work.join(format!("{name}-state"));
        let _ = std::fs::remove_dir_all(&state);
        let extra = std::env::var("BENCH_SLUICE_EXTRA").unwrap_or_default().replace("\\n", "\n");
        std::fs::write(
            &config,
            format!(
                "[checkpoints]\npath = \"{}\"\n{source}[targets.dst]\nkind = \"postgres\"\nurl = \"{}\"\n{extra}\n",
                state.display(),
                target.url()
            ),
        )?;
        let config = config.to_string_lossy();
        let mut args = vec!["backfill", "-c", &config, "--source", "src"];
        if once {
            args.push("--once");
        }
        let mut stage = Stage::new("sluice", sluice_bin(), &args);
        stage.env.push(("SLUICE_LOG", std::env::var("BENCH_SLUICE_LOG").unwrap_or_else(|_| "warn".into())));
        Ok(vec![stage])
    };
    match system {
        System::Pgloader => {
            let root = work.join(format!("{name}-pgloader"));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root)?;
            let command = root.join("items.load");
            // pgloader maps a MySQL database to a PostgreSQL schema of the same
            // name: rename it to `public`, where the target table is.
            std::fs::write(
                &command,
                format!(
                    "LOAD DATABASE\n  FROM {}\n  INTO {}\n\
                     WITH data only, create no tables, no truncate, on error stop\n\
                     INCLUDING ONLY TABLE NAMES MATCHING 'items'\n\
                     ALTER SCHEMA '{}' RENAME TO 'public';\n",
                    sources.maria.url(),
                    target.url().replace("postgres://", "postgresql://"),
                    sources.maria.name
                ),
            )?;
            Ok(vec![Stage::new(
                "pgloader",
                "pgloader",
                &["--root-dir", &root.to_string_lossy(), &command.to_string_lossy()],
            )])
        }
        System::PgDumpPsql => Ok(vec![
            Stage::new(
                "pg_dump",
                pg_program("pg_dump"),
                &["--dbname", &sources.pg.url(), "--data-only", "-t", "public.items"],
            ),
            Stage::new("psql", pg_program("psql"), &["-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", &target.url()]),
        ]),
        System::Pgcopydb => {
            let dir = work.join(format!("{name}-pgcopydb"));
            let _ = std::fs::remove_dir_all(&dir);
            Ok(vec![Stage::new(
                "pgcopydb",
                "pgcopydb",
                &[
                    "copy",
                    "table-data",
                    "--source",
                    &sources.pg.url(),
                    "--target",
                    &target.url(),
                    "--dir",
                    &dir.to_string_lossy(),
                ],
            )])
        }
        System::SluiceMaria => sluice(
            format!(
                "[sources.src]\nkind = \"mysql\"\nurl = \"{}\"\nserver_id = 100\n\
             [[routes]]\nsource = \"src\"\ntable = \"{}.items\"\ntarget = \"dst\"\ninto = \"public.items\"\n",
                sources.maria.url(),
                sources.maria.name
            ),
            true,
        ),
        System::SluicePg => sluice(
            format!(
                "[sources.src]\nkind = \"postgres\"\nurl = \"{}\"\n\
             [[routes]]\nsource = \"src\"\ntable = \"public.items\"\ntarget = \"dst\"\n",
                sources.pg.url()
            ),
            true,
        ),
        // The route itself never snapshots: only the backfill job copies.
        System::SluicePgLive => sluice(
            format!(
                "[sources.src]\nkind = \"postgres\"\nurl = \"{}\"\n\
             [[routes]]\nsource = \"src\"\ntable = \"public.items\"\ntarget = \"dst\"\nsnapshot = \"never\"\n",
                sources.pg.url()
            ),
            false,
        ),
    }
}

/// One copy by `system` into a fresh target database, verified against the source.
async fn run_once(system: System, servers: &Servers, sources: &Sources, work: &Path, round: usize) -> Result<Measured> {
    let target = servers.pg_target.create_database(&format!("snap_{}", system.short())).await;
    let client = target.connect().await;
    client.batch_execute(PG_TABLE).await?;
    let name = format!("{}_{round}", system.short());
    let stages = stages(system, sources, &target, work, &name)?;
    let piped = system == System::PgDumpPsql;
    let work = work.to_owned();
    let measured = tokio::task::spawn_blocking(move || run_measured(stages, piped, &work, &name)).await??;
    let expected = match system {
        System::Pgloader | System::SluiceMaria => &sources.maria_digest,
        _ => &sources.pg_digest,
    };
    let got = pg_digest(&client).await?;
    if &got != expected {
        bail!(
            "{}: the target differs from the source after the copy: (rows, sum(qty), distinct notes, row hash sum) = {got:?}, expected {expected:?}",
            system.name()
        );
    }
    Ok(measured)
}

/// The release build `cargo bench` made (the bench profile is the release
/// profile), or `SLUICE_BIN`.
fn sluice_bin() -> PathBuf {
    std::env::var_os("SLUICE_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sluice")), PathBuf::from)
}

/// `sluice backfill --help` succeeds once the subcommand exists.
fn sluice_backfill_available() -> bool {
    Command::new(sluice_bin())
        .args(["backfill", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The result row of one system: its runs, or why it has none.
struct Row {
    system: System,
    rows: u64,
    runs: Result<Vec<Measured>, &'static str>,
}

impl Row {
    fn median(&self) -> Option<&Measured> {
        let runs = self.runs.as_ref().ok()?;
        let mut sorted: Vec<&Measured> = runs.iter().collect();
        sorted.sort_by(|a, b| a.wall.total_cmp(&b.wall));
        sorted.get(sorted.len() / 2).copied()
    }

    fn rows_per_sec(&self) -> Option<f64> {
        self.median().map(|m| self.rows as f64 / m.wall)
    }

    /// Largest peak over the runs, MiB.
    fn peak_mib(&self) -> Option<f64> {
        let runs = self.runs.as_ref().ok()?;
        runs.iter().map(Measured::peak_mib).max_by(f64::total_cmp)
    }

    fn markdown(&self) -> String {
        let runs = match &self.runs {
            Ok(runs) => runs,
            Err(why) => return format!("| {} | — | {why} | | | | |", self.system.name().replace('|', "\\|")),
        };
        let median = self.median().expect("at least one run");
        let fastest = runs.iter().map(|m| m.wall).min_by(f64::total_cmp).unwrap_or(median.wall);
        let slowest = runs.iter().map(|m| m.wall).max_by(f64::total_cmp).unwrap_or(median.wall);
        let mut memory = Vec::new();
        for (index, (label, _)) in median.stage_peaks.iter().enumerate() {
            let kib = runs.iter().map(|m| m.stage_peaks[index].1).max().unwrap_or(0);
            memory.push(format!("{label} {:.0} MB", kib as f64 / 1024.0));
        }
        let processes = runs.iter().map(|m| m.processes.len()).max().unwrap_or(1);
        if median.stage_peaks.len() > 1 || processes > 1 {
            let tree = runs.iter().map(|m| m.tree_peak).max().unwrap_or(0);
            memory.push(format!("{processes} processes together {:.0} MB PSS", tree as f64 / 1024.0));
        }
        format!(
            "| {} | {} | {:.2} s | {:.0} rows/s | {:.0}–{:.0} rows/s | {} | {:.1} s |",
            self.system.name().replace('|', "\\|"),
            thousands(self.rows),
            median.wall,
            self.rows as f64 / median.wall,
            self.rows as f64 / slowest,
            self.rows as f64 / fastest,
            memory.join(", ").replace('|', "\\|"),
            median.cpu
        )
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, c) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn goal(label: &str, value: Option<f64>, met: impl Fn(f64) -> bool, unit: &str) -> String {
    match value {
        Some(value) => {
            let digits = if unit == "×" { 2 } else { 0 };
            format!("- {label}: {value:.digits$}{unit} — {}", if met(value) { "**met**" } else { "**not met**" })
        }
        None => format!("- {label}: n/a (sluice backfill not available, or the run was skipped)"),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // binary without it: don't run the benchmark inside the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("snapshot: run with `cargo bench --bench snapshot` (make bench); skipped under cargo test");
        return Ok(());
    }
    let scale: f64 = std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let repeat: usize = std::env::var("BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let only: Vec<String> =
        std::env::var("BENCH_ONLY").map(|s| s.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let wanted = |system: System| only.is_empty() || only.iter().any(|o| o == system.short());
    let rows = ((1_000_000.0 * scale) as u64).max(1);
    if !Path::new(GNU_TIME).is_file() {
        bail!("{GNU_TIME} (Debian package `time`) is needed to measure peak memory; run `make setup`");
    }
    for tool in ["pgloader", "pgcopydb"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            bail!("{tool} is not installed; run `make setup`");
        }
    }
    let backfill = sluice_backfill_available();
    if !backfill {
        eprintln!("sluice backfill not available: Sluice's rows are skipped");
    }
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-snapshot");
    std::fs::create_dir_all(&work)?;

    eprintln!("starting a private MariaDB server and two PostgreSQL servers");
    // TimeZone UTC: a MariaDB DATETIME is a civil time; pgloader's text COPY
    // into timestamptz reads it in the session's zone, Sluice as UTC.
    let pg_options = || PgOptions::new().setting("max_wal_size", "4GB").setting("timezone", "UTC");
    let servers = Servers {
        maria: MariaDbServer::start(),
        pg_source: PgServer::start_with(pg_options()),
        pg_target: PgServer::start_with(pg_options()),
    };
    let sources = create_sources(&servers, rows).await?;

    let directions: [(&str, Vec<System>); 2] = [
        ("MariaDB → PostgreSQL", vec![System::Pgloader, System::SluiceMaria]),
        ("PostgreSQL → PostgreSQL", vec![System::PgDumpPsql, System::Pgcopydb, System::SluicePg, System::SluicePgLive]),
    ];
    let mut tables: Vec<(&str, Vec<Row>)> = Vec::new();
    for (direction, systems) in directions {
        let systems: Vec<System> = systems.into_iter().filter(|s| wanted(*s)).collect();
        let mut runs: Vec<Result<Vec<Measured>, &'static str>> = systems
            .iter()
            .map(|s| if s.is_sluice() && !backfill { Err("sluice backfill not available") } else { Ok(Vec::new()) })
            .collect();
        for round in 0..repeat {
            for (system, runs) in systems.iter().zip(runs.iter_mut()) {
                let Ok(runs) = runs else { continue };
                eprintln!("{direction}: {} (run {} of {repeat})", system.name(), round + 1);
                let measured = run_once(*system, &servers, &sources, &work, round)
                    .await
                    .with_context(|| format!("{direction}: {}", system.name()))?;
                eprintln!(
                    "  {rows} rows in {:.2} s = {:.0} rows/s, peak {:.0} MB ({:?}; tree {:.0} MB PSS: {:?}), CPU {:.1} s",
                    measured.wall,
                    rows as f64 / measured.wall,
                    measured.peak_mib(),
                    measured.stage_peaks,
                    measured.tree_peak as f64 / 1024.0,
                    measured.processes,
                    measured.cpu
                );
                runs.push(measured);
            }
        }
        let rows_of = systems.into_iter().zip(runs).map(|(system, runs)| Row { system, rows, runs }).collect();
        tables.push((direction, rows_of));
    }

    for (direction, rows_of) in tables.iter().filter(|(_, rows_of)| !rows_of.is_empty()) {
        println!("\n### {direction}: {} rows (scale {scale})\n", thousands(rows));
        println!(
            "| system | rows | median wall time | median throughput | range over {repeat} runs | peak memory (max RSS) | CPU (user+sys, median run) |\n|---|---|---|---|---|---|---|"
        );
        for row in rows_of {
            println!("{}", row.markdown());
        }
    }
    let find = |system: System| tables.iter().flat_map(|(_, rows)| rows).find(|row| row.system == system);
    let rate = |system: System| find(system).and_then(Row::rows_per_sec);
    let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    println!("\n### Against the goals\n");
    println!(
        "{}",
        goal(
            "Sluice MariaDB → PostgreSQL at least 2× pgloader's rows/s",
            ratio(rate(System::SluiceMaria), rate(System::Pgloader)),
            |r| r >= 2.0,
            "×"
        )
    );
    println!(
        "{}",
        goal(
            "Sluice PostgreSQL → PostgreSQL at least 0.8× `pg_dump | psql`'s rows/s",
            ratio(rate(System::SluicePg), rate(System::PgDumpPsql)),
            |r| r >= 0.8,
            "×"
        )
    );
    println!(
        "{}",
        goal(
            "(for reference) Sluice PostgreSQL → PostgreSQL against pgcopydb's rows/s",
            ratio(rate(System::SluicePg), rate(System::Pgcopydb)),
            |_| true,
            "×"
        )
        .replace(" — **met**", "")
    );
    println!(
        "{}",
        goal(
            "(for reference) Sluice streaming backfill (initial-snapshot path) against `pg_dump | psql`'s rows/s",
            ratio(rate(System::SluicePgLive), rate(System::PgDumpPsql)),
            |_| true,
            "×"
        )
        .replace(" — **met**", "")
    );
    for system in [System::SluiceMaria, System::SluicePg] {
        println!(
            "{}",
            goal(
                &format!(
                    "Sluice peak memory under 300 MB ({})",
                    if system == System::SluiceMaria { "MariaDB source" } else { "PostgreSQL source" }
                ),
                find(system).and_then(Row::peak_mib),
                |mib| mib < 300.0,
                " MB"
            )
        );
    }
    std::io::stdout().flush()?;
    Ok(())
}
