//! The ERP/CRM/OA example's systems, their users' traffic and the rules the
//! example promises — shared by `make demo` (examples/demo.rs) and the
//! example's end-to-end test (tests/engine/example.rs), so both run the same
//! SQL files and the same `sluice.toml`, and check the same rules.
//!
//! - [`Systems`]: three private servers (sluice-testkit) in temp dirs on free
//!   ports — PostgreSQL with the ERP and OA databases, PostgreSQL with the
//!   reporting database, MariaDB with the CRM and web-shop databases —
//!   created from the example's SQL files; the environment `sluice.toml`
//!   reads its URLs from; [`Systems::sluice`] runs sluice commands with it.
//! - `generator`: the seed rows and the traffic of each system's users.
//! - `rules`: every rule of the example, checked row for row.

pub mod generator;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
use mysql_async::prelude::Queryable;
use sluice_api::{BinlogPosition, Lsn, Position};
use sluice_testkit::{MARIADB_PASSWORD, MARIADB_USER, MariaDbServer, PgServer};
use tokio_postgres::Client;

/// The example's config, used as it is (its URLs and state path come from
/// the environment [`Systems::env`] sets).
pub const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/erp-crm-oa/sluice.toml");

const CRM_SQL: &str = include_str!("../crm.sql");
const SHOP_SQL: &str = include_str!("../shop.sql");
const ERP_SQL: &str = include_str!("../erp.sql");
const OA_SQL: &str = include_str!("../oa.sql");
const REPORT_SQL: &str = include_str!("../report.sql");

/// The application name the ERP's own users' sessions carry; the ERP's
/// workflow log records it for every move.
pub const ERP_UI: &str = "erp-ui";

/// Connection URLs of the five databases, for the generator and the rules.
#[derive(Clone, Debug)]
pub struct Urls {
    /// `mysql://…/crm` (the generator's and checker's sessions).
    pub crm: String,
    pub shop: String,
    pub erp: String,
    pub oa: String,
    pub report: String,
}

impl Urls {
    pub async fn crm(&self) -> Result<mysql_async::Conn> {
        maria_connect(&self.crm).await
    }

    pub async fn shop(&self) -> Result<mysql_async::Conn> {
        maria_connect(&self.shop).await
    }

    pub async fn erp(&self) -> Result<Client> {
        pg_connect(&self.erp).await
    }

    pub async fn oa(&self) -> Result<Client> {
        pg_connect(&self.oa).await
    }

    pub async fn report(&self) -> Result<Client> {
        pg_connect(&self.report).await
    }
}

/// The running servers with the example's databases.
pub struct Systems {
    /// PostgreSQL with the `erp` and `oa` databases.
    pub erp_server: PgServer,
    /// PostgreSQL with the `report` database.
    pub report_server: PgServer,
    /// MariaDB with the `crm` and `shop` databases.
    pub maria: MariaDbServer,
    pub urls: Urls,
    /// Directory of Sluice's checkpoint store (`SLUICE_STATE`).
    pub state: PathBuf,
}

impl Systems {
    /// Starts the three servers (in parallel), creates the databases and
    /// runs the example's SQL files in them. `state` is where Sluice's
    /// checkpoint store goes (it must not exist yet, or be empty).
    pub async fn start(state: &Path) -> Result<Systems> {
        let erp_server = tokio::task::spawn_blocking(PgServer::start);
        let report_server = tokio::task::spawn_blocking(PgServer::start);
        let maria = tokio::task::spawn_blocking(MariaDbServer::start);
        let (erp_server, report_server, maria) = (erp_server.await?, report_server.await?, maria.await?);

        let admin = erp_server.connect("postgres").await;
        admin.batch_execute("CREATE DATABASE erp").await?;
        admin.batch_execute("CREATE DATABASE oa").await?;
        report_server.connect("postgres").await.batch_execute("CREATE DATABASE report").await?;
        let mut root = maria.connect("").await;
        root.query_drop("CREATE DATABASE crm; CREATE DATABASE shop;").await?;
        root.disconnect().await?;

        let maria_url = |db: &str| {
            // prefer_socket=false: stay on TCP (the account is 'sluice'@'%').
            format!("{}?prefer_socket=false", maria.url_as(MARIADB_USER, MARIADB_PASSWORD, db))
        };
        let urls = Urls {
            crm: maria_url("crm"),
            shop: maria_url("shop"),
            erp: erp_server.url("erp"),
            oa: erp_server.url("oa"),
            report: report_server.url("report"),
        };
        urls.erp().await?.batch_execute(ERP_SQL).await.context("creating the ERP schema (erp.sql)")?;
        urls.oa().await?.batch_execute(OA_SQL).await.context("creating the OA schema (oa.sql)")?;
        urls.report().await?.batch_execute(REPORT_SQL).await.context("creating the reporting schema (report.sql)")?;
        urls.crm().await?.query_drop(CRM_SQL).await.context("creating the CRM schema (crm.sql)")?;
        urls.shop().await?.query_drop(SHOP_SQL).await.context("creating the shop schema (shop.sql)")?;
        Ok(Systems { erp_server, report_server, maria, urls, state: state.to_owned() })
    }

    /// The environment `sluice.toml` reads: one URL per system and the state directory.
    pub fn env(&self) -> Vec<(String, String)> {
        let mysql = self.maria.url_as(MARIADB_USER, MARIADB_PASSWORD, "");
        vec![
            ("CRM_URL".into(), mysql.clone()),
            ("SHOP_URL".into(), mysql),
            ("ERP_URL".into(), self.erp_server.url("erp")),
            ("OA_URL".into(), self.erp_server.url("oa")),
            ("REPORT_URL".into(), self.report_server.url("report")),
            ("SLUICE_STATE".into(), self.state.display().to_string()),
        ]
    }

    /// `sluice ARGS -c sluice.toml` with the example's environment, not yet run.
    pub fn sluice(&self, bin: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(bin);
        command.args(args).arg("-c").arg(CONFIG).envs(self.env());
        command
    }

    /// Runs `sluice ARGS` and returns its output; an error when it cannot start.
    pub fn sluice_output(&self, bin: &Path, args: &[&str]) -> Result<Output> {
        self.sluice(bin, args).output().with_context(|| format!("running {} {}", bin.display(), args.join(" ")))
    }
}

/// A MariaDB session in UTC (timestamps compare as instants).
pub async fn maria_connect(url: &str) -> Result<mysql_async::Conn> {
    let opts = mysql_async::Opts::from_url(url).with_context(|| format!("MariaDB URL {url}"))?;
    let mut conn = mysql_async::Conn::new(opts).await.context("connecting to MariaDB")?;
    conn.query_drop("SET time_zone = '+00:00'").await?;
    Ok(conn)
}

/// A PostgreSQL session in UTC; its connection task runs on the current runtime.
pub async fn pg_connect(url: &str) -> Result<Client> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client.batch_execute("SET TimeZone = 'UTC'").await?;
    Ok(client)
}

/// Rows of a PostgreSQL query whose columns are all text (NULL as `NULL`), sorted.
pub async fn pg_rows(client: &Client, query: &str) -> Result<Vec<Vec<String>>> {
    let rows = client.query(query, &[]).await.with_context(|| format!("query: {query}"))?;
    let mut out: Vec<Vec<String>> = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| row.get::<_, Option<String>>(i).unwrap_or_else(|| "NULL".into())).collect())
        .collect();
    out.sort();
    Ok(out)
}

/// Rows of a MariaDB query in the text protocol (NULL as `NULL`), sorted.
pub async fn maria_rows(conn: &mut mysql_async::Conn, query: &str) -> Result<Vec<Vec<String>>> {
    let rows: Vec<mysql_async::Row> = conn.query(query).await.with_context(|| format!("query: {query}"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            cells.push(match row.as_ref(i) {
                Some(mysql_async::Value::NULL) | None => "NULL".to_owned(),
                Some(mysql_async::Value::Bytes(bytes)) => String::from_utf8(bytes.clone())?,
                Some(other) => bail!("query {query}: column {i} is not text ({other:?}); cast it"),
            });
        }
        out.push(cells);
    }
    out.sort();
    Ok(out)
}

/// One number from a PostgreSQL query.
pub async fn pg_count(client: &Client, query: &str) -> Result<i64> {
    Ok(client.query_one(query, &[]).await.with_context(|| format!("query: {query}"))?.get(0))
}

/// One number from a MariaDB query.
pub async fn maria_count(conn: &mut mysql_async::Conn, query: &str) -> Result<i64> {
    conn.query_first::<i64, _>(query).await.with_context(|| format!("query: {query}"))?.context("no row")
}

/// Where the source logs stood at one moment: PostgreSQL's WAL on the ERP
/// server (the `erp` and `oa` sources) and the MariaDB binlog (`crm`).
#[derive(Clone, Debug)]
pub struct LogMarks {
    wal: Lsn,
    binlog: BinlogPosition,
}

impl Systems {
    /// The source servers' current log positions.
    pub async fn log_marks(&self) -> Result<LogMarks> {
        let erp = self.urls.erp().await?;
        let wal: String = erp.query_one("SELECT pg_current_wal_lsn()::text", &[]).await?.get(0);
        let mut crm = self.urls.crm().await?;
        let row: mysql_async::Row = crm.query_first("SHOW MASTER STATUS").await?.context("binlog is off")?;
        let file: String = row.get(0).context("binlog file")?;
        let offset: u64 = row.get(1).context("binlog position")?;
        Ok(LogMarks { wal: wal.parse()?, binlog: BinlogPosition { file, offset, gtid: None } })
    }

    /// The `source -> target` pairs of `sluice.toml` whose target's offsets
    /// table does not yet hold a position at or past `marks` (empty: every
    /// target holds everything the sources had logged at `marks`).
    pub async fn lagging(&self, marks: &LogMarks) -> Result<Vec<String>> {
        let mut lagging = Vec::new();
        for (target, sources) in config_pairs()? {
            let positions = self.offsets(&target).await?;
            for source in sources {
                let mark = match source.as_str() {
                    "crm" => Position::Binlog(marks.binlog.clone()),
                    _ => Position::Postgres(marks.wal),
                };
                let held = positions.get(&source).map(|p| Position::decode(p)).transpose()?;
                if held.as_ref().is_none_or(|held| *held < mark) {
                    let at = held.map_or_else(|| "nothing".to_owned(), |p| p.encode());
                    lagging.push(format!("{source} -> {target} at {at}, not yet {}", mark.encode()));
                }
            }
        }
        Ok(lagging)
    }

    /// pipeline -> position in one target's offsets table (see sluice.toml's targets).
    async fn offsets(&self, target: &str) -> Result<BTreeMap<String, String>> {
        let rows = match target {
            "erp" => pg_rows(&self.urls.erp().await?, "SELECT pipeline, position FROM sluice.offsets").await,
            "report" => pg_rows(&self.urls.report().await?, "SELECT pipeline, position FROM sluice.offsets").await,
            "crm" => maria_rows(&mut self.urls.crm().await?, "SELECT pipeline, position FROM crm.sluice_offsets").await,
            "shop" => {
                maria_rows(&mut self.urls.shop().await?, "SELECT pipeline, position FROM shop.sluice_offsets").await
            }
            other => bail!("sluice.toml has a target {other} this scenario does not know"),
        };
        // No offsets table yet: nothing written yet.
        Ok(rows.unwrap_or_default().into_iter().map(|mut r| (r.remove(0), r.remove(0))).collect())
    }
}

/// target -> the sources routed into it, from sluice.toml's routes.
fn config_pairs() -> Result<BTreeMap<String, BTreeSet<String>>> {
    let config: toml::Table = std::fs::read_to_string(CONFIG)?.parse()?;
    let mut pairs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for route in config.get("routes").and_then(toml::Value::as_array).context("sluice.toml has no routes")? {
        let field = |name: &str| route.get(name).and_then(toml::Value::as_str).map(str::to_owned);
        let (Some(source), Some(target)) = (field("source"), field("target")) else {
            bail!("a route without source/target")
        };
        pairs.entry(target).or_default().insert(source);
    }
    Ok(pairs)
}
