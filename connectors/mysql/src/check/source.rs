//! Source checks: what a MySQL/MariaDB server must provide for Sluice to
//! read its binlog.
//!
//! - Binlog settings: `log_bin=ON`, `binlog_format=ROW`,
//!   `binlog_row_image=FULL` (every column in both images: the sink writes
//!   whole rows), `binlog_row_metadata=FULL` (column names, signedness and
//!   ENUM/SET labels travel in the table map; without it BIGINT UNSIGNED
//!   max decodes as -1), MariaDB `log_bin_compress=OFF` (compressed events
//!   cannot be decoded; skipping them would lose rows), MySQL
//!   `binlog_row_value_options` without `PARTIAL_JSON` (partial JSON updates
//!   carry diffs, not values).
//! - Privileges: `REPLICATION SLAVE` (the dump itself) and `REPLICATION
//!   CLIENT` — called `BINLOG MONITOR` on MariaDB 10.5+ — for `SHOW BINARY
//!   LOGS`; SELECT on every routed table (the initial snapshot).
//! - Server id: Sluice's `server_id` must not be the server's own nor a
//!   connected replica's; the server drops an older dump connection when a
//!   new one registers with the same id, so a clash would cut off a replica.
//! - Retention, against a checkpoint: the binlog file the checkpoint points
//!   into must still exist (else the changes since are gone: a resnapshot is
//!   needed), and it should not be close to being purged. The server purges
//!   a file once its last write is older than `binlog_expire_logs_seconds`
//!   (or `expire_logs_days`); a file's last write is when the next file was
//!   created, read from that file's first event (see `binlog_age`). A
//!   warning comes at 80% of the retention period.
//!   With MySQL and `gtid_mode=ON` a checkpoint carrying an executed GTID
//!   set is resumed by that set, on whichever server of the topology: then
//!   what counts is that `@@gtid_purged` is a subset of the checkpoint's
//!   set (nothing the targets lack has been purged), not where its file is.
//!   A MariaDB checkpoint of another server's binlog series (or naming no
//!   file: a GTID state chosen across targets of different servers) is
//!   resumed by its GTID state, which the server checks itself.
//! - MySQL GTIDs: `gtid_mode` and `enforce_gtid_consistency` say whether
//!   the source resumes by GTID set (ON: also after a failover to another
//!   server of the replication topology) or by file and offset (which only
//!   this server knows); the permissive modes of a migration allow
//!   transactions without GTIDs, so they resume by file and offset too.
//! - Tables: each routed table exists and has a primary key or a unique
//!   key of NOT NULL columns, by which changes are applied. Names are
//!   matched as the server matches them (`lower_case_table_names`).

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use sluice_api::{BinlogPosition, TableName};

use super::{Finding, binlog_age, server_code};
use crate::connect::{ConnectSettings, ServerFlavor};
use crate::error::MySqlError;
use crate::sink::{describe, quote_ident, quote_table};
use crate::source::{GtidSet, mariadb_state};

const SERVER: &str = "source server";
const BINLOG: &str = "binlog";

/// Share of the retention period after which a needed binlog file is reported as at risk.
const RETENTION_WARNING_SHARE: f64 = 0.8;

/// `ER_SPECIFIC_ACCESS_DENIED_ERROR` and `ER_TABLEACCESS_DENIED_ERROR`.
const PRIVILEGE_NEEDED: u16 = 1227;
const TABLE_ACCESS_DENIED: u16 = 1142;

const VARIABLES_SQL: &str = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', \
     'binlog_row_image', 'binlog_row_metadata', 'log_bin_compress', 'binlog_row_value_options', 'server_id', \
     'expire_logs_days', 'binlog_expire_logs_seconds', 'gtid_mode', 'enforce_gtid_consistency', 'gtid_purged')";

const GTIDS: &str = "GTIDs";

/// Checks a binlog source for a pipeline that reads it as `server_id`,
/// routes `tables` and, if it has run before, resumes at `checkpoint`.
pub async fn check_source(
    url: &str,
    server_id: u32,
    tables: &[TableName],
    checkpoint: Option<&BinlogPosition>,
) -> Vec<Finding> {
    let settings = match ConnectSettings::parse(url) {
        Ok(settings) => settings,
        Err(error) => return vec![Finding::failed(SERVER, "read the source URL", &error)],
    };
    let mut conn = match settings.connect_with(&|builder| builder).await {
        Ok(conn) => conn,
        Err(error) => return vec![Finding::failed(SERVER, "connect to the source", &error)],
    };
    let mut findings = Vec::new();
    let flavor = match ServerFlavor::detect(&mut conn).await {
        Ok(flavor) => {
            let (major, minor, patch) = flavor.version;
            findings.push(Finding::ok(SERVER, format!("{} {major}.{minor}.{patch}", flavor.name())));
            flavor
        }
        Err(error) => return vec![Finding::failed(SERVER, "read the server version", &error)],
    };
    let variables = match variables(&mut conn).await {
        Ok(variables) => variables,
        Err(error) => {
            findings.push(Finding::failed(SERVER, "read the server variables", &error));
            return findings;
        }
    };
    binlog_settings(&variables, &flavor, &mut findings);
    let by_gtid = !flavor.mariadb && mysql_gtids(&variables, &mut findings);
    privileges(&mut conn, &flavor, &mut findings).await;
    server_ids(&mut conn, &flavor, server_id, &variables, &mut findings).await;
    if let Some(checkpoint) = checkpoint {
        let resumes_by_set = by_gtid && gtid_retention(checkpoint, &variables, &mut findings);
        let state =
            flavor.mariadb && checkpoint.gtid.as_deref().and_then(mariadb_state).is_some_and(|gtids| !gtids.is_empty());
        let resumes_by = match (resumes_by_set, state) {
            (true, _) => ResumesBy::MySqlSet,
            (false, true) => ResumesBy::MariaDbStateElsewhere,
            (false, false) => ResumesBy::File,
        };
        retention(&mut conn, &settings, checkpoint, &variables, resumes_by, &mut findings).await;
    }
    for table in tables {
        source_table(&mut conn, &flavor, table, &mut findings).await;
    }
    let _ = conn.disconnect().await;
    findings
}

async fn variables(conn: &mut Conn) -> Result<HashMap<String, String>, MySqlError> {
    let rows: Vec<(String, String)> =
        conn.query(VARIABLES_SQL).await.map_err(|e| MySqlError::driver("reading server variables", e))?;
    Ok(rows.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect())
}

fn binlog_settings(variables: &HashMap<String, String>, flavor: &ServerFlavor, findings: &mut Vec<Finding>) {
    let value = |name: &str| variables.get(name).map(|v| v.to_ascii_uppercase());
    let persist = if flavor.mariadb { "in the server's my.cnf" } else { "with SET PERSIST or in my.cnf" };
    if value("log_bin").as_deref() == Some("ON") {
        findings.push(Finding::ok(BINLOG, "log_bin is ON"));
    } else {
        findings.push(Finding::error(
            BINLOG,
            "The binary log is off (log_bin=OFF): there is no change stream to read",
            Some("Start the server with log_bin=mysql-bin and a server_id (my.cnf [mysqld] section)".into()),
        ));
    }
    let required = [
        ("binlog_format", "ROW", "row events carry the changed rows; STATEMENT and MIXED carry SQL text"),
        ("binlog_row_image", "FULL", "every column must be in the row images, since the sink writes whole rows"),
        (
            "binlog_row_metadata",
            "FULL",
            "column names, signedness and ENUM/SET labels travel in the table map only with FULL \
             (without it BIGINT UNSIGNED max decodes as -1)",
        ),
    ];
    for (name, wanted, why) in required {
        match value(name) {
            Some(actual) if actual == wanted => findings.push(Finding::ok(BINLOG, format!("{name} is {wanted}"))),
            Some(actual) => findings.push(Finding::error(
                BINLOG,
                format!("{name} is {actual}, Sluice needs {wanted}: {why}"),
                Some(format!(
                    "SET GLOBAL {name} = '{wanted}'; and set it {persist}; sessions already connected keep \
                     the old value until they reconnect"
                )),
            )),
            None => findings.push(Finding::error(
                BINLOG,
                format!("The server has no {name} setting: it is too old for Sluice (MySQL 8.0.1+ or MariaDB 10.5+)"),
                Some("Upgrade the server".into()),
            )),
        }
    }
    if value("log_bin_compress").as_deref() == Some("ON") {
        findings.push(Finding::error(
            BINLOG,
            "log_bin_compress is ON: compressed binlog events cannot be decoded, and skipping them would lose rows",
            Some(format!("SET GLOBAL log_bin_compress = OFF; and set it {persist}")),
        ));
    }
    if value("binlog_row_value_options").is_some_and(|v| v.contains("PARTIAL_JSON")) {
        findings.push(Finding::error(
            BINLOG,
            "binlog_row_value_options includes PARTIAL_JSON: JSON updates would carry diffs instead of values",
            Some(format!("SET GLOBAL binlog_row_value_options = ''; and set it {persist}")),
        ));
    }
}

/// MySQL: explains `gtid_mode` and `enforce_gtid_consistency`; true when
/// the source resumes by GTID set.
fn mysql_gtids(variables: &HashMap<String, String>, findings: &mut Vec<Finding>) -> bool {
    let value = |name: &str| variables.get(name).map(|v| v.to_ascii_uppercase());
    let consistency = value("enforce_gtid_consistency").unwrap_or_else(|| "unknown".into());
    let steps = "SET PERSIST enforce_gtid_consistency = WARN (until the error log stays free of GTID \
                 warnings), then = ON; SET PERSIST gtid_mode = OFF_PERMISSIVE; SET PERSIST gtid_mode = \
                 ON_PERMISSIVE; wait until SHOW STATUS LIKE 'ONGOING_ANONYMOUS_TRANSACTION_COUNT' is 0; \
                 SET PERSIST gtid_mode = ON;";
    match value("gtid_mode").as_deref() {
        Some("ON") if consistency == "ON" => {
            findings.push(Finding::ok(
                GTIDS,
                "gtid_mode and enforce_gtid_consistency are ON: positions carry the executed GTID set and Sluice \
                 resumes by it (COM_BINLOG_DUMP_GTID), also after a failover to another server of this \
                 replication topology",
            ));
            true
        }
        Some("ON") => {
            findings.push(Finding::warning(
                GTIDS,
                format!(
                    "gtid_mode is ON but enforce_gtid_consistency is {consistency}; Sluice resumes by GTID set, \
                     and statements unsafe for GTIDs may fail or replicate oddly"
                ),
                Some("SET PERSIST enforce_gtid_consistency = ON;".into()),
            ));
            true
        }
        Some(mode @ ("OFF_PERMISSIVE" | "ON_PERMISSIVE")) => {
            findings.push(Finding::warning(
                GTIDS,
                format!(
                    "gtid_mode is {mode} (a migration step): transactions without GTIDs can occur, so Sluice \
                     resumes by binlog file and offset, which only this server knows; after a failover the \
                     pipeline needs a new snapshot"
                ),
                Some(format!("Finish the migration to gtid_mode = ON: {steps}")),
            ));
            false
        }
        Some(mode) => {
            findings.push(Finding::ok(
                GTIDS,
                format!(
                    "gtid_mode is {mode}: Sluice resumes by binlog file and offset, which only this server knows \
                     (after a failover to a replica the pipeline needs a new snapshot). To resume by GTID set \
                     instead: {steps}"
                ),
            ));
            false
        }
        None => false,
    }
}

/// MySQL resuming by GTID set: the server must still hold every
/// transaction the checkpoint's set lacks. True when the checkpoint carries
/// a set (and the source resumes by it).
fn gtid_retention(
    checkpoint: &BinlogPosition,
    variables: &HashMap<String, String>,
    findings: &mut Vec<Finding>,
) -> bool {
    let Some(text) = checkpoint.mysql_gtid_set() else {
        findings.push(Finding::ok(
            GTIDS,
            "The checkpoint carries no GTID set (written before GTIDs were on or tracked): the next start resumes \
             by file and offset and learns the set from there",
        ));
        return false;
    };
    let subject = "checkpoint GTID set";
    let reset = "Reset the pipeline's checkpoints and take a new snapshot (sluice checkpoints reset, then run)";
    let executed = match GtidSet::parse(text) {
        Ok(set) => set,
        Err(error) => {
            findings.push(Finding::error(
                subject,
                format!("The checkpoint's GTID set is malformed: {error}"),
                Some(reset.into()),
            ));
            return true;
        }
    };
    let purged = match GtidSet::parse(variables.get("gtid_purged").map_or("", String::as_str)) {
        Ok(set) => set,
        Err(error) => {
            findings.push(Finding::warning(subject, format!("@@gtid_purged could not be read: {error}"), None));
            return true;
        }
    };
    if purged.is_subset_of(&executed) {
        findings.push(Finding::ok(
            subject,
            "Every transaction the checkpoint lacks is still in the server's binlogs (gtid_purged is a subset of \
             the checkpoint's set)",
        ));
    } else {
        findings.push(Finding::error(
            subject,
            format!(
                "The server purged transactions {} that the targets never received: the changes since the \
                 checkpoint are incomplete",
                purged.difference(&executed)
            ),
            Some(reset.into()),
        ));
    }
    true
}

/// The privilege names of the account's global grants (`GRANT … ON *.* TO …`).
async fn global_privileges(conn: &mut Conn) -> Result<Vec<String>, MySqlError> {
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.map_err(|e| MySqlError::driver("SHOW GRANTS", e))?;
    let mut privileges = Vec::new();
    for grant in grants {
        let upper = grant.to_ascii_uppercase();
        let Some(list) = upper.strip_prefix("GRANT ").and_then(|rest| rest.split_once(" ON *.* TO ")).map(|(l, _)| l)
        else {
            continue;
        };
        privileges.extend(list.split(',').map(|p| p.trim().to_owned()));
    }
    Ok(privileges)
}

async fn privileges(conn: &mut Conn, flavor: &ServerFlavor, findings: &mut Vec<Finding>) {
    let account: Option<String> = conn.query_first("SELECT CURRENT_USER()").await.ok().flatten();
    let account = account.unwrap_or_else(|| "the account".into());
    let grantee = match account.rsplit_once('@') {
        Some((user, host)) => format!("'{user}'@'{host}'"),
        None => account.clone(),
    };
    let privileges = match global_privileges(conn).await {
        Ok(privileges) => privileges,
        Err(error) => {
            findings.push(Finding::failed("privileges", "read the account's grants", &error));
            return;
        }
    };
    let has = |names: &[&str]| privileges.iter().any(|p| p == "ALL PRIVILEGES" || names.contains(&p.as_str()));
    if has(&["REPLICATION SLAVE"]) {
        findings.push(Finding::ok("privileges", format!("{account} has REPLICATION SLAVE")));
    } else {
        findings.push(Finding::error(
            "privileges",
            format!("{account} lacks REPLICATION SLAVE, which reading the binlog needs"),
            Some(format!("GRANT REPLICATION SLAVE ON *.* TO {grantee};")),
        ));
    }
    let client = if flavor.mariadb && flavor.version >= (10, 5, 0) { "BINLOG MONITOR" } else { "REPLICATION CLIENT" };
    if has(&["REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"]) {
        findings.push(Finding::ok("privileges", format!("{account} has {client}")));
    } else {
        findings.push(Finding::error(
            "privileges",
            format!("{account} lacks {client}, which SHOW BINARY LOGS and SHOW MASTER STATUS need"),
            Some(format!("GRANT {client} ON *.* TO {grantee};")),
        ));
    }
}

async fn server_ids(
    conn: &mut Conn,
    flavor: &ServerFlavor,
    server_id: u32,
    variables: &HashMap<String, String>,
    findings: &mut Vec<Finding>,
) {
    let subject = format!("server_id {server_id}");
    let fix = Some("Set the pipeline's server_id to a number no server or replica of this topology uses".to_owned());
    if server_id == 0 {
        findings.push(Finding::error(subject, "Sluice needs a non-zero server_id to register as a replica", fix));
        return;
    }
    if variables.get("server_id").is_some_and(|own| own.trim() == server_id.to_string()) {
        findings.push(Finding::error(subject, "This is the source server's own server_id", fix));
        return;
    }
    // MySQL 8.0.22 renamed the statement (and 8.4 dropped the old name);
    // the first two columns are the replica's server id and host either way.
    let statement = if !flavor.mariadb && flavor.version >= (8, 0, 22) { "SHOW REPLICAS" } else { "SHOW SLAVE HOSTS" };
    let replicas: Result<Vec<Row>, _> = conn.query(statement).await;
    match replicas {
        Ok(rows) => {
            let clash = rows.iter().find(|row| row.get::<u32, _>(0) == Some(server_id));
            match clash {
                Some(row) => {
                    let host: String = row.get(1).unwrap_or_default();
                    findings.push(Finding::error(
                        subject,
                        format!(
                            "A connected replica ({host}) uses this server_id; the server drops one dump \
                             connection when another registers with the same id (if this is the running \
                             Sluice pipeline itself, ignore this)"
                        ),
                        fix,
                    ));
                }
                None => findings.push(Finding::ok(subject, "No connected replica uses this server_id")),
            }
        }
        Err(error) => findings.push(Finding::warning(
            subject,
            format!(
                "Could not list connected replicas ({}); make sure no replica uses this server_id",
                match server_code(&error) {
                    Some(PRIVILEGE_NEEDED) => "SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN on MariaDB".to_owned(),
                    _ => error.to_string(),
                }
            ),
            None,
        )),
    }
}

/// Seconds after which the server purges binlog files; 0: never.
fn retention_seconds(variables: &HashMap<String, String>) -> f64 {
    let seconds = variables.get("binlog_expire_logs_seconds").and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    if seconds > 0.0 {
        return seconds;
    }
    variables.get("expire_logs_days").and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) * 86_400.0
}

/// How the source will resume from the checkpoint, as far as its binlog file matters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResumesBy {
    /// By file and offset: the file must be on the server.
    File,
    /// MySQL, by the executed GTID set (`gtid_retention` decided): the file
    /// only matters for its age, and may well be on another server.
    MySqlSet,
    /// MariaDB with a GTID state: by file and offset when the file's
    /// series is on the server, by the state when it is another server's
    /// (or the checkpoint names no file: a state chosen across targets).
    MariaDbStateElsewhere,
}

/// Retention of the checkpoint's binlog file.
async fn retention(
    conn: &mut Conn,
    settings: &ConnectSettings,
    checkpoint: &BinlogPosition,
    variables: &HashMap<String, String>,
    resumes_by: ResumesBy,
    findings: &mut Vec<Finding>,
) {
    let by_gtid_set = resumes_by == ResumesBy::MySqlSet;
    let subject = match checkpoint.file.as_str() {
        "" => "checkpoint GTID state".to_owned(),
        file => format!("checkpoint {file}:{}", checkpoint.offset),
    };
    let logs: Vec<Row> = match conn.query("SHOW BINARY LOGS").await {
        Ok(logs) => logs,
        Err(error) => {
            findings.push(Finding::failed(subject, "list the binlog files (SHOW BINARY LOGS)", &error));
            return;
        }
    };
    let files: Vec<(String, u64)> =
        logs.iter().filter_map(|row| Some((row.get::<String, _>(0)?, row.get::<u64, _>(1).unwrap_or(0)))).collect();
    let series = |file: &str| file.rsplit_once('.').map_or(file, |(base, _)| base).to_owned();
    let other_series = files.iter().all(|(name, _)| series(name) != series(&checkpoint.file));
    if resumes_by == ResumesBy::MariaDbStateElsewhere && (checkpoint.file.is_empty() || other_series) {
        findings.push(Finding::ok(
            subject,
            "The checkpoint is of another server's binlog (after a failover) or names none: the source resumes by \
             its GTID state, and MariaDB refuses (a resnapshot is needed) if it purged transactions the state lacks",
        ));
        return;
    }
    let Some(index) = files.iter().position(|(name, _)| *name == checkpoint.file) else {
        if by_gtid_set {
            findings.push(Finding::ok(
                subject,
                format!(
                    "{} is not on this server (a server before a failover, or purged); the source resumes by \
                     GTID set, which does not need it",
                    checkpoint.file
                ),
            ));
            return;
        }
        findings.push(Finding::error(
            subject,
            format!(
                "Binlog file {} is no longer on the server (purged; the oldest is {}): the changes since the \
                 checkpoint are gone",
                checkpoint.file,
                files.first().map_or("none", |(name, _)| name.as_str())
            ),
            Some(
                "Reset the pipeline's checkpoints and take a new snapshot (sluice checkpoints reset, then run)".into(),
            ),
        ));
        return;
    };
    if checkpoint.offset > files[index].1 && !by_gtid_set {
        findings.push(Finding::error(
            subject,
            format!(
                "The checkpoint lies beyond the end of {} ({} bytes): it belongs to another server or a \
                 binlog that was reset",
                checkpoint.file, files[index].1
            ),
            Some("Reset the pipeline's checkpoints and take a new snapshot".into()),
        ));
        return;
    }
    let retention = retention_seconds(variables);
    let Some((next_file, _)) = files.get(index + 1) else {
        findings.push(Finding::ok(subject, format!("{} is the current binlog file", checkpoint.file)));
        return;
    };
    if retention <= 0.0 {
        findings.push(Finding::ok(
            subject,
            format!("{} is on the server, and binlogs are not purged automatically", checkpoint.file),
        ));
        return;
    }
    let now: Option<u64> = conn.query_first("SELECT UNIX_TIMESTAMP()").await.ok().flatten();
    let created = binlog_age::created_at(settings, next_file).await;
    let (Some(now), Ok(Some(closed))) = (now, created) else {
        findings.push(Finding::warning(
            subject,
            format!(
                "{} is on the server, but its age could not be read; it is purged {} h after its last write",
                checkpoint.file,
                hours(retention)
            ),
            None,
        ));
        return;
    };
    let age = now.saturating_sub(u64::from(closed)) as f64;
    if age >= retention * RETENTION_WARNING_SHARE {
        findings.push(Finding::warning(
            subject,
            format!(
                "{} was last written {} h ago and the server purges binlogs after {} h: the pipeline must catch \
                 up before then, or the checkpoint is lost and a new snapshot is needed",
                checkpoint.file,
                hours(age),
                hours(retention)
            ),
            Some("Raise the retention (SET GLOBAL binlog_expire_logs_seconds = …) or let the pipeline catch up".into()),
        ));
    } else {
        findings.push(Finding::ok(
            subject,
            format!("{} was last written {} h ago; retention is {} h", checkpoint.file, hours(age), hours(retention)),
        ));
    }
}

fn hours(seconds: f64) -> String {
    format!("{:.1}", seconds / 3600.0)
}

async fn source_table(conn: &mut Conn, flavor: &ServerFlavor, table: &TableName, findings: &mut Vec<Finding>) {
    let subject = format!("table {table}");
    let described = match describe(conn, flavor, table).await {
        Ok(Some(described)) => described,
        Ok(None) => {
            findings.push(Finding::error(
                subject,
                format!("Source table {table} does not exist (or this account cannot see it)"),
                Some("Fix the route's source table, or grant SELECT on it".into()),
            ));
            return;
        }
        Err(error) => {
            findings.push(Finding::failed(subject, "describe the table", &error));
            return;
        }
    };
    let info = &described.info;
    let has_key = !info.primary_key.is_empty() || info.unique_keys.iter().any(|key| info.has_unique_key(key));
    if !has_key {
        findings.push(Finding::error(
            subject.clone(),
            format!(
                "Source table {table} has neither a primary key nor a unique key of NOT NULL columns: \
                 its changes cannot be applied by key"
            ),
            Some(format!("ALTER TABLE {} ADD PRIMARY KEY (…);", quote_table(table))),
        ));
    }
    let probe = format!("SELECT 1 FROM {} LIMIT 0", quote_table(table));
    match conn.query_drop(probe).await {
        Ok(()) if has_key => findings.push(Finding::ok(subject, "exists, has a key and is readable")),
        Ok(()) => {}
        Err(error) if server_code(&error) == Some(TABLE_ACCESS_DENIED) => findings.push(Finding::error(
            subject,
            format!("This account may not read {table}, which the initial snapshot needs"),
            Some(format!(
                "GRANT SELECT ON {}.{} TO <sluice account>;",
                quote_ident(&table.schema),
                quote_ident(&table.name)
            )),
        )),
        Err(error) => findings.push(Finding::failed(subject, "read the table", &error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Severity;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn gtid_mode_is_explained() {
        let mut findings = Vec::new();
        assert!(mysql_gtids(&vars(&[("gtid_mode", "ON"), ("enforce_gtid_consistency", "ON")]), &mut findings));
        assert_eq!(findings[0].severity, Severity::Ok);
        assert!(findings[0].message.contains("failover"), "{}", findings[0].message);
        assert!(!mysql_gtids(&vars(&[("gtid_mode", "ON_PERMISSIVE")]), &mut findings));
        assert_eq!(findings[1].severity, Severity::Warning);
        assert!(findings[1].fix.as_deref().is_some_and(|fix| fix.contains("gtid_mode = ON")));
        assert!(!mysql_gtids(&vars(&[("gtid_mode", "OFF"), ("enforce_gtid_consistency", "OFF")]), &mut findings));
        assert!(findings[2].message.contains("file and offset"), "{}", findings[2].message);
        assert!(!mysql_gtids(&vars(&[]), &mut findings), "MariaDB has no gtid_mode");
        assert_eq!(findings.len(), 3);
    }

    #[test]
    fn gtid_retention_wants_purged_within_the_checkpoint_set() {
        let at = |gtid: Option<String>| BinlogPosition { file: "binlog.000007".into(), offset: 900, gtid };
        let checkpoint = at(Some(format!("gtid_set={A}:1-40")));
        let mut findings = Vec::new();
        assert!(gtid_retention(&checkpoint, &vars(&[("gtid_purged", &format!("{A}:1-30"))]), &mut findings));
        assert_eq!(findings[0].severity, Severity::Ok);
        assert!(gtid_retention(&checkpoint, &vars(&[("gtid_purged", &format!("{A}:1-45"))]), &mut findings));
        assert_eq!(findings[1].severity, Severity::Error);
        assert!(findings[1].message.contains(&format!("{A}:41-45")), "{}", findings[1].message);
        assert!(!gtid_retention(&at(None), &vars(&[]), &mut findings), "no set: file and offset");
        assert!(!gtid_retention(&at(Some(format!("{A}:23"))), &vars(&[]), &mut findings), "a bare GTID is no set");
    }

    #[test]
    fn retention_prefers_seconds_over_days() {
        assert_eq!(retention_seconds(&vars(&[("expire_logs_days", "1.500000")])), 129_600.0);
        assert_eq!(retention_seconds(&vars(&[("expire_logs_days", "1"), ("binlog_expire_logs_seconds", "60")])), 60.0);
        assert_eq!(retention_seconds(&vars(&[("binlog_expire_logs_seconds", "0")])), 0.0);
    }
}
