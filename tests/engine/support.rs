//! Fixtures for end-to-end tests: a source and a target database, a config
//! file, a `sluice` child process that is killed when dropped, and polling
//! with deadlines (never sleep-and-hope).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sluice_testkit::{PgServer, TestDatabase};
use tokio_postgres::Client;

pub const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// A walsender is streaming from the slot: START_REPLICATION has been
/// issued, so the slot's consistent point is behind us and every change
/// committed from now on will be decoded. (An `active` slot is not enough:
/// it is active while CREATE_REPLICATION_SLOT still waits for running
/// transactions, and changes committed then belong to the slot's snapshot.)
pub const STREAMING: &str = "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s \
    ON s.active_pid = r.pid WHERE s.slot_name = $1 AND r.state = 'streaming'";

/// A source database, a target database and a config routing between them.
pub struct Fixture {
    pub source: TestDatabase,
    pub target: TestDatabase,
    pub source_client: Client,
    pub target_client: Client,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Fixture {
    /// Databases on the shared server; `schema` is created on both sides.
    pub async fn new(prefix: &str, schema: &str) -> Fixture {
        Fixture::on(PgServer::shared(), PgServer::shared(), prefix, schema).await
    }

    pub async fn on(source_server: &PgServer, target_server: &PgServer, prefix: &str, schema: &str) -> Fixture {
        let source = source_server.create_database(&format!("{prefix}_src")).await;
        let target = target_server.create_database(&format!("{prefix}_dst")).await;
        let source_client = source.connect().await;
        let target_client = target.connect().await;
        source_client.batch_execute(schema).await.expect("source schema");
        target_client.batch_execute(schema).await.expect("target schema");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("sluice.toml");
        Fixture { source, target, source_client, target_client, dir, config }
    }

    /// Writes a config with one route per table (same name on both sides),
    /// `extra` appended verbatim (more routes, [apply] …).
    pub fn write_config(&self, tables: &[&str], extra: &str) {
        self.write_config_with(tables, "", extra);
    }

    /// Like `write_config`, with `route_options` (e.g. `snapshot = "never"`) in every route.
    pub fn write_config_with(&self, tables: &[&str], route_options: &str, extra: &str) {
        let mut text = format!(
            "[checkpoints]\npath = \"{}\"\n\n[sources.src]\nkind = \"postgres\"\nurl = \"{}\"\nslot = \"{}\"\npublication = \"{}\"\n\n\
             [targets.dst]\nkind = \"postgres\"\nurl = \"{}\"\n\n",
            self.state_path().display(),
            self.source.url(),
            self.slot(),
            self.slot(),
            self.target.url()
        );
        for table in tables {
            text.push_str(&format!(
                "[[routes]]\nsource = \"src\"\ntable = \"{table}\"\ntarget = \"dst\"\n{route_options}\n"
            ));
        }
        text.push_str(extra);
        std::fs::write(&self.config, text).expect("write config");
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Slot names must be unique per server; derive one from the database name.
    pub fn slot(&self) -> String {
        format!("s_{}", self.source.name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
    }

    pub fn spawn(&self) -> Sluice {
        Sluice::spawn(&self.config, self.dir.path())
    }

    pub fn command(&self, args: &[&str]) -> Output {
        Command::new(SLUICE).args(args).arg("-c").arg(&self.config).output().expect("run sluice")
    }

    /// Waits until the target table has the same rows as the source table.
    pub async fn wait_equal(&self, table: &str, limit: Duration, sluice: &mut Sluice) {
        let deadline = Instant::now() + limit;
        loop {
            let source = digest(&self.source_client, table).await;
            let target = digest(&self.target_client, table).await;
            if source == target {
                return;
            }
            sluice.assert_running();
            if Instant::now() > deadline {
                let differing = differing_rows(&self.source_client, &self.target_client, table).await;
                panic!(
                    "{table}: target ({} rows) did not become equal to source ({} rows) within {limit:?}\n{differing}\n{}",
                    target.0,
                    source.0,
                    sluice.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The slot's confirmed_flush_lsn as a number (0 when absent).
    pub async fn confirmed_flush(&self) -> u64 {
        let row = self
            .source_client
            .query_opt(
                "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot()],
            )
            .await
            .expect("slot query");
        row.map_or(0, |r| r.get::<_, i64>(0) as u64)
    }

    pub async fn wait_streaming(&self, sluice: &mut Sluice) {
        let slot = self.slot();
        // Creating a slot waits until every transaction holding an xid on
        // the (shared) server has ended; other tests hold some for seconds
        // (one waited 27 s in a full run), so this allows more than that.
        wait_for(Duration::from_secs(90), sluice, || async {
            self.source_client.query_one(STREAMING, &[&slot]).await.expect("slot query").get::<_, i64>(0) == 1
        })
        .await;
    }
}

/// The first rows (as text) only the source or only the target holds.
async fn differing_rows(source: &Client, target: &Client, table: &str) -> String {
    let rows = |rows: Vec<tokio_postgres::Row>| {
        rows.iter().map(|row| row.get::<_, String>(0)).collect::<std::collections::BTreeSet<_>>()
    };
    let sql = format!("SELECT t::text FROM {table} t");
    let (Ok(in_source), Ok(in_target)) = (source.query(&sql, &[]).await, target.query(&sql, &[]).await) else {
        return "(rows not readable)".into();
    };
    let (in_source, in_target) = (rows(in_source), rows(in_target));
    let clip = |text: &String| text.chars().take(120).collect::<String>();
    let only_source: Vec<String> = in_source.difference(&in_target).take(5).map(clip).collect();
    let only_target: Vec<String> = in_target.difference(&in_source).take(5).map(clip).collect();
    format!("only in the source: {only_source:?}\nonly in the target: {only_target:?}")
}

/// Row count and an order-independent digest of a table's rows.
pub async fn digest(client: &Client, table: &str) -> (i64, String) {
    let row = client
        .query_one(
            &format!("SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("digest of {table}: {e}"));
    (row.get(0), row.get(1))
}

/// Polls `check` until it returns true; panics with the sluice log after `limit`.
pub async fn wait_for<F, Fut>(limit: Duration, sluice: &mut Sluice, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        sluice.assert_running();
        if Instant::now() > deadline {
            panic!("condition not reached within {limit:?}\n{}", sluice.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `sluice run`, killed (SIGKILL) when dropped.
pub struct Sluice {
    child: Option<Child>,
    log: PathBuf,
}

impl Sluice {
    pub fn spawn(config: &Path, dir: &Path) -> Sluice {
        Sluice::spawn_with_env(config, dir, &[])
    }

    pub fn spawn_with_env(config: &Path, dir: &Path, env: &[(&str, &str)]) -> Sluice {
        let log = dir.join("sluice.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let mut command = Command::new(SLUICE);
        command
            .args(["run", "-c"])
            .arg(config)
            .env("SLUICE_LOG", "info,sluice=debug")
            .stdout(Stdio::null())
            .stderr(file);
        for (name, value) in env {
            command.env(name, value);
        }
        Sluice { child: Some(command.spawn().expect("spawn sluice")), log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id while it runs (for /proc measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!("--- sluice log (last 40 lines) ---\n{}", lines[lines.len().saturating_sub(40)..].join("\n"))
    }

    pub fn assert_running(&mut self) {
        if let Some(child) = &mut self.child
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("sluice exited early with {status}\n{}", self.log_tail());
        }
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sluice did not stop within 30 s of SIGTERM\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit by itself; returns the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sluice did not exit within {limit:?}\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        self.kill9();
    }
}
