//! The MySQL/MariaDB binlog source.
//!
//! `start` checks the server's prerequisites, decides where to start
//! (`position.rs`), registers as a replica and asks for the binlog on one
//! connection (mysql_async's binlog stream), keeps a second connection for
//! information_schema lookups, and spawns the stream task that turns binlog
//! events into `SourceEvent`s. The pieces:
//! - `server.rs`: flavor, prerequisites, binlog files, status;
//! - `position.rs`: start planning and GTID state; `gtid_set.rs`: MySQL GTID sets;
//! - `resume.rs`: which of the targets' positions a source with several targets resumes from;
//! - `events.rs`, `compressed.rs`, `wire.rs`: event bodies (MariaDB's included);
//! - `table_map.rs`, `schema.rs`, `catalog.rs`, `tables.rs`: table descriptions;
//! - `rows.rs`, `decode.rs`, `time.rs`, `decimal.rs`, `json.rs`, `charset.rs`: row values;
//! - `ddl.rs`: what Query events mean; `stream.rs`: the running stream.
//!
//! MySQL keeps no replica bookmark, so nothing is acknowledged to the
//! server: the `durable` watch is held but unused, and binlog retention
//! (`binlog_expire_logs_seconds` / `expire_logs_days`) must outlast the
//! longest pause of the pipeline — `binlog_status` reports the oldest file.

mod catalog;
mod charset;
mod compressed;
mod ddl;
mod decimal;
mod decode;
mod events;
#[cfg(test)]
mod fixtures;
mod gtid_set;
mod json;
mod position;
mod resume;
mod rows;
mod schema;
mod server;
mod stream;
mod table_map;
mod tables;
mod time;
mod wire;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use mysql_async::BinlogStreamRequest;
use mysql_async::prelude::Queryable;
use sluice_api::{BinlogPosition, ConnectorError, Position, Source, SourceStream, TableName};
use tokio::sync::{mpsc, watch};

pub use catalog::describe_source_table;
pub use resume::resume_position;
pub use server::{BinlogStatus, Flavor, binlog_status};
// For the snapshot reader, which decodes query results like the stream.
pub(crate) use catalog::{Collations, load_collations};
pub(crate) use charset::Charset;
pub(crate) use decode::{bit_string, inet6_text};
pub(crate) use gtid_set::GtidSet;
pub(crate) use position::mariadb_state;
pub(crate) use schema::quote_table;
pub(crate) use server::current_position;

use crate::connect::connect;
use crate::error::MySqlError;
use position::{GtidTracker, MySqlGtids, StartPlan};
use tables::{NameCase, Routes, Tables};

/// Settings of one MySQL/MariaDB source.
#[derive(Clone, Debug)]
pub struct MySqlSourceConfig {
    /// Connection URL (already `${ENV}`-interpolated), e.g.
    /// `mysql://sluice:secret@db:3306/?ssl-mode=verify_identity&ssl-ca=/etc/ca.pem`
    /// (see `connect.rs`). The user needs REPLICATION SLAVE and REPLICATION
    /// CLIENT (MariaDB: BINLOG MONITOR) and SELECT on the routed tables
    /// (for their information_schema rows and indexes).
    pub url: String,
    /// The replica server id Sluice registers with: unique among the
    /// server's replicas and different from its own `server_id`.
    pub server_id: u32,
    /// The routed source tables (`database.table`); rows of other tables are
    /// skipped. Empty means every table outside the system schemas.
    pub tables: Vec<TableName>,
    /// Capacity of the events channel (default 4096 events).
    pub channel_capacity: usize,
    /// How often the server sends a heartbeat when it has nothing to send
    /// (default 5 s); idle progress and dead-connection detection follow it.
    pub heartbeat: Duration,
}

impl MySqlSourceConfig {
    pub const DEFAULT_CHANNEL_CAPACITY: usize = 4096;
    pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);

    /// A configuration with the default channel capacity and heartbeat.
    pub fn new(url: impl Into<String>, server_id: u32, tables: Vec<TableName>) -> MySqlSourceConfig {
        MySqlSourceConfig {
            url: url.into(),
            server_id,
            tables,
            channel_capacity: Self::DEFAULT_CHANNEL_CAPACITY,
            heartbeat: Self::DEFAULT_HEARTBEAT,
        }
    }
}

/// The MySQL/MariaDB binlog source.
pub struct MySqlSource {
    config: MySqlSourceConfig,
}

/// MariaDB replica capability MARIA_SLAVE_CAPABILITY_GTID: the server sends
/// its own events (GTID, GTID_LIST, …) instead of dummy Query events.
const MARIADB_CAPABILITY_GTID: u32 = 4;
/// How long the server may block writing to Sluice while the pipeline is
/// backpressured before it drops the dump (session `net_write_timeout`).
const DUMP_WRITE_TIMEOUT_SECONDS: u32 = 3600;

impl MySqlSource {
    pub fn new(config: MySqlSourceConfig) -> MySqlSource {
        MySqlSource { config }
    }

    async fn open(self, resume: Option<Position>) -> Result<SourceStream, MySqlError> {
        let config = self.config;
        let mut conn = connect(&config.url).await?;
        let server = server::check_prerequisites(&mut conn, config.server_id).await?;
        let mariadb = server.flavor == Flavor::MariaDb;
        let logs = server::binary_logs(&mut conn).await?;
        let current = server::current_position(&mut conn).await?;
        let plan = position::plan_start(server.flavor, resume.as_ref(), &logs, &current, server.gtid_mode.as_ref())?;
        let mut resume = match resume {
            Some(Position::Binlog(position)) => Some(position),
            _ => None,
        };
        let mut cover = None;
        let (file, offset, gtids) = match &plan {
            StartPlan::File { file, offset } => {
                let gtids = if mariadb {
                    let state = server::mariadb_gtid_at(&mut conn, file, *offset).await?.unwrap_or_default();
                    GtidTracker::mariadb(&state).unwrap_or(GtidTracker::MariaDb(Default::default()))
                } else {
                    GtidTracker::MySql(MySqlGtids::off())
                };
                (file.clone(), *offset, gtids)
            }
            StartPlan::MariaDbGtid { state } => {
                let gtids = GtidTracker::mariadb(state).ok_or_else(|| MySqlError::Config {
                    setting: "resume position".into(),
                    message: format!(
                        "The resume position's GTID state {state:?} is not MariaDB's domain-server-seq list"
                    ),
                })?;
                // The server sends exactly what the state lacks (per domain,
                // strict mode), and the resume position's file and offset
                // belong to another server (or to none: a state chosen
                // across targets, `resume.rs`): comparing this server's
                // positions with them would cover groups by the files' names.
                resume = None;
                (String::new(), 4, gtids)
            }
            StartPlan::MySqlGtid { executed } => {
                // The resume position may be another server's: its file and
                // offset mean nothing here, the set decides what is covered.
                resume = None;
                cover = Some(stream::Cover::ExecutedGtids);
                (String::new(), 4, GtidTracker::MySql(MySqlGtids::from(executed.clone())))
            }
            StartPlan::MySqlFileLearningGtids { file, offset } => {
                let start = BinlogPosition { file: file.clone(), offset: *offset, gtid: None };
                cover = Some(stream::Cover::Before(Some(start)));
                (file.clone(), 4, GtidTracker::MySql(MySqlGtids::learning()))
            }
        };
        let collations = catalog::load_collations(&mut conn, mariadb).await?;
        let catalog_conn = connect(&config.url).await?;

        let heartbeat_nanos = config.heartbeat.as_nanos().clamp(1_000_000, 4_294_967_000_000_000);
        let setup = [
            format!("SET @master_heartbeat_period = {heartbeat_nanos}"),
            format!("SET @@SESSION.net_write_timeout = {DUMP_WRITE_TIMEOUT_SECONDS}"),
        ];
        for statement in setup {
            conn.query_drop(&statement)
                .await
                .map_err(|e| MySqlError::driver("preparing the binlog dump session", e))?;
        }
        if mariadb {
            conn.query_drop(format!("SET @mariadb_slave_capability = {MARIADB_CAPABILITY_GTID}"))
                .await
                .map_err(|e| MySqlError::driver("announcing MariaDB replica capabilities", e))?;
        }
        if let StartPlan::MariaDbGtid { state } = &plan {
            conn.exec_drop("SET @slave_connect_state = ?", (state,))
                .await
                .map_err(|e| MySqlError::driver("setting the GTID start state", e))?;
            conn.query_drop("SET @slave_gtid_strict_mode = 1")
                .await
                .map_err(|e| MySqlError::driver("setting GTID strict mode", e))?;
        }
        let mut request = BinlogStreamRequest::new(config.server_id)
            .with_filename(file.as_bytes())
            .with_pos(offset)
            .with_hostname(b"sluice");
        if let StartPlan::MySqlGtid { executed } = &plan {
            // COM_BINLOG_DUMP_GTID: empty file name, position 4, the executed set (`gtid_set.rs`).
            let sids = executed.sids().map_err(|e| MySqlError::Config {
                setting: "resume position".into(),
                message: format!("The GTID set {executed} cannot be sent to the server: {e}"),
            })?;
            request = request.with_gtid().with_gtid_set(sids);
        }
        let start_position = Position::Binlog(BinlogPosition { file: file.clone(), offset, gtid: gtids.text() });
        let binlog = conn.get_binlog_stream(request).await.map_err(|e| read_error(e, &start_position))?;
        tracing::info!(
            version = %server.version,
            start = %start_position,
            by_gtid = matches!(plan, StartPlan::MariaDbGtid { .. } | StartPlan::MySqlGtid { .. }),
            tables = config.tables.len(),
            "binlog streaming started"
        );

        let (events, receiver) = mpsc::channel(config.channel_capacity.max(1));
        let (durable, durable_receiver) = watch::channel(None);
        let (progress_wanted, wanted) = watch::channel(None);
        let routes = Routes::new(config.tables, NameCase::of(server.lower_case_table_names));
        let tables = Tables::new(routes, mariadb, collations, catalog_conn);
        let mut decoder = stream::Decoder::new(events.clone(), tables, resume, file, offset, gtids, server.checksum)
            .with_progress_wanted(wanted);
        if let Some(cover) = cover {
            decoder = decoder.with_cover(cover);
        }
        let read_timeout = config.heartbeat * 4 + Duration::from_secs(10);
        let task = tokio::spawn(async move {
            let run = AssertUnwindSafe(stream::run(decoder, binlog, read_timeout, durable_receiver)).catch_unwind();
            if run.await.is_err() {
                let error = MySqlError::Protocol { what: "binlog stream", reason: "the binlog reader panicked".into() };
                tracing::error!(%error, "mysql source stream ended");
                let _ = events.send(Err(ConnectorError::from(error))).await;
            }
        });
        Ok(SourceStream { events: receiver, durable, progress_wanted, task })
    }
}

impl Source for MySqlSource {
    async fn start(self, resume: Option<Position>) -> Result<SourceStream, ConnectorError> {
        Box::pin(self.open(resume)).await.map_err(ConnectorError::from)
    }
}

/// A binlog read failed. Error 1236 means the server cannot send the binlog
/// from the requested position (purged, reset, unknown GTID): a resnapshot.
fn read_error(error: mysql_async::Error, position: &Position) -> MySqlError {
    match &error {
        mysql_async::Error::Server(server) if server.code == 1236 && !server.message.contains("same server") => {
            MySqlError::BinlogUnavailable { position: position.to_string(), source: error }
        }
        _ => MySqlError::driver("reading the binlog", error),
    }
}

/// The server ended the dump (it is shutting down or killed the session).
fn stream_closed() -> MySqlError {
    MySqlError::driver("reading the binlog", mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed))
}

/// Neither events nor heartbeats arrived in time: the connection is dead.
fn silent_server(timeout: Duration) -> MySqlError {
    let io = std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no binlog event or heartbeat for {} s", timeout.as_secs()),
    );
    MySqlError::driver("reading the binlog", mysql_async::Error::Io(mysql_async::IoError::Io(io)))
}
