//! Helpers shared by the MySQL/MariaDB end-to-end tests: config snippets,
//! rows read back as text from either server, and waiting until a binlog
//! source streams.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sluice_testkit::TestMariaDb;

use super::support::Sluice;

pub const WAIT: Duration = Duration::from_secs(90);

/// Replica server ids: unique per source server (tests share servers) and
/// per test process.
pub fn server_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    7000 + (std::process::id() % 1000) * 50 + NEXT.fetch_add(1, Ordering::Relaxed)
}

pub fn write_config(dir: &std::path::Path, source: &str, target: &str, routes: &str) -> std::path::PathBuf {
    let path = dir.join("sluice.toml");
    std::fs::write(
        &path,
        format!("[checkpoints]\npath = \"{}\"\n\n{source}\n{target}\n{routes}", dir.join("state").display()),
    )
    .unwrap();
    path
}

pub fn mysql_source(db: &TestMariaDb) -> String {
    format!("[sources.src]\nkind = \"mysql\"\nurl = \"{}\"\nserver_id = {}\n", db.url(), server_id())
}

/// The offsets table lives in the test's own database: the default
/// `sluice.offsets` is server-wide, and tests share the server.
pub fn mysql_target(db: &TestMariaDb) -> String {
    format!("[targets.dst]\nkind = \"mysql\"\nurl = \"{}\"\noffsets_table = \"{}.sluice_offsets\"\n", db.url(), db.name)
}

pub fn pg_source(url: &str, slot: &str) -> String {
    format!("[sources.src]\nkind = \"postgres\"\nurl = \"{url}\"\nslot = \"{slot}\"\npublication = \"{slot}\"\n")
}

pub fn pg_target(url: &str) -> String {
    format!("[targets.dst]\nkind = \"postgres\"\nurl = \"{url}\"\n")
}

/// A route; `zero_dates` is the route's policy (`None`: the default, keep).
pub fn route(table: &str, into: &str, zero_dates: Option<&str>) -> String {
    let policy = zero_dates.map(|p| format!("zero_dates = \"{p}\"\n")).unwrap_or_default();
    format!("[[routes]]\nsource = \"src\"\ntable = \"{table}\"\ntarget = \"dst\"\ninto = \"{into}\"\n{policy}\n")
}

/// Rows of a MariaDB query in the text protocol (NULL as "NULL"), sorted.
pub async fn maria_rows(conn: &mut mysql_async::Conn, query: &str) -> Vec<Vec<String>> {
    let rows: Vec<mysql_async::Row> = conn.query(query).await.unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut out: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(mysql_async::Value::NULL) | None => "NULL".to_owned(),
                    Some(mysql_async::Value::Bytes(bytes)) => String::from_utf8(bytes.clone()).expect("utf-8 text"),
                    Some(other) => other.as_sql(true).trim_matches('\'').to_owned(),
                })
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// Rows of a PostgreSQL query whose columns are all text, sorted.
pub async fn pg_rows(client: &tokio_postgres::Client, query: &str) -> Vec<Vec<String>> {
    let rows = client.query(query, &[]).await.unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut out: Vec<Vec<String>> = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| row.get::<_, Option<String>>(i).unwrap_or_else(|| "NULL".into())).collect())
        .collect();
    out.sort();
    out
}

/// Polls `check` until true; panics with the sluice log after [`WAIT`].
pub async fn wait_until<F, Fut>(sluice: &mut Sluice, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        sluice.assert_running();
        assert!(Instant::now() < deadline, "{what} not reached within {WAIT:?}\n{}", sluice.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where a test's target is.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    Maria(&'a TestMariaDb),
    Postgres(&'a tokio_postgres::Client),
}

/// Waits until this sluice streams: its first commit (idle progress) has
/// reached the target's offsets table, so its start position — the server's
/// position when it started, as nothing is checkpointed yet — lies behind
/// us, and every change made from now on will be read. (A `Binlog Dump`
/// thread in the processlist could be another test's.)
pub async fn wait_binlog_streaming(sluice: &mut Sluice, target: Target<'_>) {
    wait_until(sluice, "sluice reading the binlog", || async {
        match target {
            Target::Maria(db) => {
                let query = format!("SELECT COUNT(*) FROM `{}`.sluice_offsets", db.name);
                db.connect().await.query_first::<i64, _>(query).await.ok().flatten().unwrap_or(0) > 0
            }
            Target::Postgres(client) => client
                .query_one("SELECT count(*) FROM sluice.offsets", &[])
                .await
                .is_ok_and(|row| row.get::<_, i64>(0) > 0),
        }
    })
    .await;
}
