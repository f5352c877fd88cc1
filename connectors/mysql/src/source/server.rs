//! The source server: its flavor, the settings the binlog source needs,
//! its binlog files and its current position.
//!
//! Prerequisites, checked before streaming (each failure is a Config error
//! that says which setting to change):
//! - `log_bin=ON` and `binlog_format=ROW` (row events are the only exact
//!   record of a change);
//! - `binlog_row_image=FULL` (complete before and after images);
//! - `binlog_row_metadata=FULL` (column names, signedness, character sets,
//!   ENUM/SET labels in every table map; without it BIGINT UNSIGNED max
//!   reads as -1 and an ALTER TABLE would shift columns);
//! - MySQL: `binlog_row_value_options` empty (partial JSON updates carry
//!   diffs, not values);
//! - Sluice's replica `server_id` differs from the server's own (the server
//!   drops a dump whose id equals its own or another replica's).
//!
//! Also read: MySQL's `gtid_mode`, `gtid_purged` and `gtid_executed`
//! (whether and how the source can resume by GTID set, `position.rs`), and
//! `lower_case_table_names` (how the server compares table names, which
//! routes must follow: `tables.rs`).
//!
//! Session settings (`binlog_format`, `binlog_row_image`) can differ per
//! connection; rows events written under other settings are still read
//! correctly (absent columns become `Unchanged`), and statement-based
//! writes to routed tables stop the stream (`ddl.rs`).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::BinlogPosition;

use super::gtid_set::GtidSet;
use super::position::MySqlGtidMode;
use crate::error::MySqlError;

/// Which server the source talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    MariaDb,
    MySql,
}

/// What the source needs to know about the server.
#[derive(Clone, Debug)]
pub(crate) struct ServerInfo {
    pub(crate) flavor: Flavor,
    pub(crate) version: String,
    /// CRC32 checksums on binlog events (`binlog_checksum`).
    pub(crate) checksum: bool,
    /// MySQL only: what the server says about GTIDs.
    pub(crate) gtid_mode: Option<MySqlGtidMode>,
    /// `lower_case_table_names`: 0 names are compared as written; 1 stored
    /// lowercase and compared so; 2 stored as written, compared lowercase.
    pub(crate) lower_case_table_names: u8,
}

pub(crate) async fn flavor(conn: &mut Conn) -> Result<(Flavor, String), MySqlError> {
    let version: Option<String> =
        conn.query_first("SELECT VERSION()").await.map_err(|e| MySqlError::driver("reading the server version", e))?;
    let version = version.unwrap_or_default();
    let flavor = if version.contains("MariaDB") { Flavor::MariaDb } else { Flavor::MySql };
    Ok((flavor, version))
}

async fn variable(conn: &mut Conn, name: &str) -> Result<Option<String>, MySqlError> {
    // `name` is one of this module's literals, never input.
    match conn.query_first::<Option<String>, _>(format!("SELECT @@GLOBAL.{name}")).await {
        Ok(value) => Ok(value.flatten()),
        // 1193: unknown system variable (an older server).
        Err(mysql_async::Error::Server(error)) if error.code == 1193 => Ok(None),
        Err(e) => Err(MySqlError::driver(format!("reading @@GLOBAL.{name}"), e)),
    }
}

fn setting(name: &str, message: String) -> MySqlError {
    MySqlError::Config { setting: name.to_owned(), message }
}

/// Reads the flavor and checks every prerequisite of the binlog source.
pub(crate) async fn check_prerequisites(conn: &mut Conn, replica_server_id: u32) -> Result<ServerInfo, MySqlError> {
    let (flavor, version) = flavor(conn).await?;
    let expect = |name: &str, value: Option<String>, wanted: &str, fix: &str| -> Result<(), MySqlError> {
        match value {
            Some(value) if value.eq_ignore_ascii_case(wanted) => Ok(()),
            Some(value) => Err(setting(name, format!("The server has {name}={value}; Sluice needs {wanted}: {fix}"))),
            None => Err(setting(
                name,
                format!("The server ({version}) has no {name} setting; Sluice needs {wanted}: {fix}"),
            )),
        }
    };
    let log_bin = variable(conn, "log_bin").await?;
    expect(
        "log_bin",
        log_bin.map(|v| if v == "1" { "ON".into() } else { v }),
        "ON",
        "start the server with --log-bin",
    )?;
    let format = variable(conn, "binlog_format").await?;
    expect("binlog_format", format, "ROW", "run SET GLOBAL binlog_format=ROW and set it in the server configuration")?;
    let image = variable(conn, "binlog_row_image").await?;
    expect(
        "binlog_row_image",
        image,
        "FULL",
        "run SET GLOBAL binlog_row_image=FULL and set it in the server configuration",
    )?;
    let metadata = variable(conn, "binlog_row_metadata").await?;
    expect(
        "binlog_row_metadata",
        metadata,
        "FULL",
        "run SET GLOBAL binlog_row_metadata=FULL and set it in the server configuration (MySQL 8.0.1+, MariaDB 10.5+)",
    )?;
    if flavor == Flavor::MySql
        && let Some(options) = variable(conn, "binlog_row_value_options").await?
        && !options.is_empty()
    {
        return Err(setting(
            "binlog_row_value_options",
            format!("The server has binlog_row_value_options={options}; run SET GLOBAL binlog_row_value_options=''"),
        ));
    }
    let server_id: Option<u32> = variable(conn, "server_id").await?.and_then(|id| id.parse().ok());
    if server_id == Some(replica_server_id) {
        return Err(setting(
            "server_id",
            format!("Sluice's replica server_id {replica_server_id} equals the source server's own; choose another"),
        ));
    }
    let checksum = variable(conn, "binlog_checksum").await?.is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
    let gtid_mode = match flavor {
        Flavor::MySql => Some(mysql_gtid_mode(conn).await?),
        Flavor::MariaDb => None,
    };
    let lower_case_table_names = lower_case_table_names(conn).await?;
    Ok(ServerInfo { flavor, version, checksum, gtid_mode, lower_case_table_names })
}

/// `@@lower_case_table_names` (0 when the server does not say).
pub(crate) async fn lower_case_table_names(conn: &mut Conn) -> Result<u8, MySqlError> {
    Ok(variable(conn, "lower_case_table_names").await?.and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}

/// MySQL: `gtid_mode`, `gtid_purged` and `gtid_executed`.
pub(crate) async fn mysql_gtid_mode(conn: &mut Conn) -> Result<MySqlGtidMode, MySqlError> {
    let on = variable(conn, "gtid_mode").await?.is_some_and(|mode| mode.eq_ignore_ascii_case("ON"));
    if !on {
        return Ok(MySqlGtidMode::default());
    }
    let purged = gtid_set_variable(conn, "gtid_purged").await?;
    // Only informative (a warning when a checkpoint holds more): never fatal.
    let executed = match gtid_set_variable(conn, "gtid_executed").await {
        Ok(executed) => Some(executed),
        Err(error) => {
            tracing::warn!(%error, "the server's gtid_executed could not be read");
            None
        }
    };
    Ok(MySqlGtidMode { on, purged, executed })
}

async fn gtid_set_variable(conn: &mut Conn, name: &str) -> Result<GtidSet, MySqlError> {
    let text = variable(conn, name).await?.unwrap_or_default();
    GtidSet::parse(&text)
        .map_err(|e| MySqlError::Protocol { what: "GTID set of the server", reason: format!("@@{name}: {e}") })
}

/// One binlog file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BinaryLog {
    pub(crate) name: String,
    pub(crate) size: u64,
}

/// `SHOW BINARY LOGS`, oldest first.
pub(crate) async fn binary_logs(conn: &mut Conn) -> Result<Vec<BinaryLog>, MySqlError> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| MySqlError::driver("listing binlogs (SHOW BINARY LOGS)", e))?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let name = row.get_opt::<String, _>(0)?.ok()?;
            let size = row.get_opt::<u64, _>(1)?.ok()?;
            Some(BinaryLog { name, size })
        })
        .collect())
}

/// The server's current binlog file and offset (`SHOW MASTER STATUS`, or
/// `SHOW BINARY LOG STATUS` on MySQL 8.4+).
pub(crate) async fn current_position(conn: &mut Conn) -> Result<BinlogPosition, MySqlError> {
    let rows: Vec<mysql_async::Row> = match conn.query("SHOW MASTER STATUS").await {
        Ok(rows) => rows,
        // 1064: syntax error — MySQL 8.4 renamed the statement.
        Err(mysql_async::Error::Server(error)) if error.code == 1064 => conn
            .query("SHOW BINARY LOG STATUS")
            .await
            .map_err(|e| MySqlError::driver("reading the binlog position (SHOW BINARY LOG STATUS)", e))?,
        Err(e) => return Err(MySqlError::driver("reading the binlog position (SHOW MASTER STATUS)", e)),
    };
    let row = rows.into_iter().next().ok_or_else(|| {
        setting(
            "log_bin",
            "The server reports no binlog position: binary logging is off; start it with --log-bin".into(),
        )
    })?;
    let file = row.get_opt::<String, _>(0).and_then(Result::ok);
    let offset = row.get_opt::<u64, _>(1).and_then(Result::ok);
    match (file, offset) {
        (Some(file), Some(offset)) => Ok(BinlogPosition { file, offset, gtid: None }),
        _ => Err(MySqlError::Protocol { what: "SHOW MASTER STATUS result", reason: "no file and position".into() }),
    }
}

/// MariaDB: the GTID state at a binlog position (`BINLOG_GTID_POS`).
pub(crate) async fn mariadb_gtid_at(conn: &mut Conn, file: &str, offset: u64) -> Result<Option<String>, MySqlError> {
    let state: Option<Option<String>> = conn
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file, offset))
        .await
        .map_err(|e| MySqlError::driver("reading the GTID state of the start position (BINLOG_GTID_POS)", e))?;
    Ok(state.flatten())
}

/// Where a source server's binlog is, for `sluice status` and `sluice check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinlogStatus {
    /// The file being written.
    pub file: String,
    /// Its current end.
    pub offset: u64,
    /// MariaDB: the GTID state at that position (`@@gtid_binlog_pos`);
    /// MySQL: the executed GTID set (`@@gtid_executed`) in the form positions
    /// carry it (`gtid_set=uuid:1-5,…`), when GTIDs are on.
    pub gtid: Option<String>,
    pub flavor: Flavor,
    /// The oldest binlog file still on the server: positions in older files
    /// cannot be resumed from.
    pub oldest_file: String,
}

/// Reads the server's binlog status.
pub async fn binlog_status(conn: &mut Conn) -> Result<BinlogStatus, MySqlError> {
    let (flavor, _) = flavor(conn).await?;
    let current = current_position(conn).await?;
    let gtid = match flavor {
        Flavor::MariaDb => variable(conn, "gtid_binlog_pos").await?.filter(|gtid| !gtid.is_empty()),
        Flavor::MySql => {
            let executed = variable(conn, "gtid_executed").await?.filter(|gtid| !gtid.trim().is_empty());
            // Normalized (MySQL prints ",\n" between UUIDs); unparsable text is shown as it is.
            executed.map(|text| match GtidSet::parse(&text) {
                Ok(set) => format!("{}{set}", BinlogPosition::MYSQL_GTID_SET),
                Err(_) => text,
            })
        }
    };
    let oldest_file = binary_logs(conn).await?.into_iter().next().map_or_else(|| current.file.clone(), |log| log.name);
    Ok(BinlogStatus { file: current.file, offset: current.offset, gtid, flavor, oldest_file })
}
