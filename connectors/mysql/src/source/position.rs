//! Binlog positions: where a dump starts, and where the stream is.
//!
//! A Sluice binlog position is a file and the offset just past an event
//! group's last event (the commit), plus GTID metadata: for MariaDB the
//! full GTID state at that point (`domain-server-seq` per domain, comma
//! separated — what `@slave_connect_state` takes), for MySQL the last
//! transaction's `uuid:number`. Positions are compared by file and offset
//! only.
//!
//! # Starting
//!
//! With a resume position, the dump starts at its file and offset — after
//! checking `SHOW BINARY LOGS` that the file still exists and is at least
//! that long. A missing file means the server purged binlogs the targets
//! still need: that is a resnapshot, never a silent skip to the oldest
//! file. The one exception is a MariaDB position with a GTID state whose
//! file belongs to another binlog series (another base name, e.g. after a
//! failover to a replica): then the dump starts by GTID (MariaDB refuses
//! a GTID it no longer has, which also ends in a resnapshot error). MySQL
//! resumes by file and offset only; its GTID is kept for information.
//! Without a resume position the dump starts at the server's current
//! position (`SHOW MASTER STATUS`).

use std::collections::BTreeMap;

use sluice_api::{BinlogPosition, Position};

use super::events::MariaDbGtid;
use super::server::{BinaryLog, Flavor};
use crate::error::MySqlError;

/// Where the dump starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StartPlan {
    /// COM_BINLOG_DUMP from this file and offset.
    File { file: String, offset: u64 },
    /// MariaDB: `@slave_connect_state` = this GTID state, empty file name, offset 4.
    MariaDbGtid { state: String },
}

/// `mysql-bin.000012` → ("mysql-bin", 12).
fn series(file: &str) -> (&str, u64) {
    let (base, suffix) = file.rsplit_once('.').unwrap_or((file, ""));
    (base, suffix.parse().unwrap_or(0))
}

/// Decides where to start; `current` is the server's position (`SHOW MASTER STATUS`).
pub(crate) fn plan_start(
    flavor: Flavor,
    resume: Option<&Position>,
    logs: &[BinaryLog],
    current: &BinlogPosition,
) -> Result<StartPlan, MySqlError> {
    let resume = match resume {
        None => return Ok(StartPlan::File { file: current.file.clone(), offset: current.offset }),
        Some(Position::Binlog(position)) => position,
        Some(other) => {
            return Err(MySqlError::Config {
                setting: "resume position".into(),
                message: format!(
                    "Position {other} is not a binlog position; the checkpoints belong to another source \
                     (sluice checkpoints reset)"
                ),
            });
        }
    };
    if let Some(log) = logs.iter().find(|log| log.name == resume.file) {
        if resume.offset > log.size {
            return Err(MySqlError::ResnapshotNeeded {
                message: format!(
                    "Binlog file {} is {} bytes long but the targets hold position {}: the binlog was reset \
                     or belongs to another server",
                    log.name,
                    log.size,
                    Position::Binlog(resume.clone())
                ),
            });
        }
        return Ok(StartPlan::File { file: resume.file.clone(), offset: resume.offset.max(4) });
    }
    let other_series = logs.iter().all(|log| series(&log.name).0 != series(&resume.file).0);
    if let (Flavor::MariaDb, Some(state), true) = (flavor, &resume.gtid, other_series)
        && !state.is_empty()
    {
        return Ok(StartPlan::MariaDbGtid { state: state.clone() });
    }
    let oldest = logs.first().map_or("none".to_owned(), |log| log.name.clone());
    Err(MySqlError::ResnapshotNeeded {
        message: format!(
            "Binlog file {} (needed to resume at {}) is no longer on the server; its oldest binlog is {oldest}. \
             The binlogs were purged before Sluice read them",
            resume.file,
            Position::Binlog(resume.clone())
        ),
    })
}

/// The GTID metadata carried in positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GtidTracker {
    /// MariaDB: the last GTID per domain.
    MariaDb(BTreeMap<u32, (u32, u64)>),
    /// MySQL: the last transaction's GTID.
    MySql(Option<String>),
}

impl GtidTracker {
    /// A MariaDB state from its text form (`0-1-5,1-2-9`); `None` if malformed.
    pub(crate) fn mariadb(state: &str) -> Option<GtidTracker> {
        let mut domains = BTreeMap::new();
        for part in state.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.splitn(3, '-');
            let domain = fields.next()?.parse().ok()?;
            let server = fields.next()?.parse().ok()?;
            let sequence = fields.next()?.parse().ok()?;
            domains.insert(domain, (server, sequence));
        }
        Some(GtidTracker::MariaDb(domains))
    }

    pub(crate) fn record_mariadb(&mut self, gtid: &MariaDbGtid) {
        if let GtidTracker::MariaDb(domains) = self {
            domains.insert(gtid.domain, (gtid.server, gtid.sequence));
        }
    }

    /// MariaDB GTID_LIST (the state at the start of a file): fills in domains
    /// the tracker does not know yet; later GTIDs of known domains win.
    pub(crate) fn merge_mariadb_list(&mut self, list: &[MariaDbGtid]) {
        if let GtidTracker::MariaDb(domains) = self {
            for gtid in list {
                domains.entry(gtid.domain).or_insert((gtid.server, gtid.sequence));
            }
        }
    }

    pub(crate) fn record_mysql(&mut self, gtid: String) {
        if let GtidTracker::MySql(last) = self {
            *last = Some(gtid);
        }
    }

    /// The text carried in positions (`None` when nothing is known).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            GtidTracker::MariaDb(domains) if domains.is_empty() => None,
            GtidTracker::MariaDb(domains) => {
                Some(domains.iter().map(|(d, (s, n))| format!("{d}-{s}-{n}")).collect::<Vec<_>>().join(","))
            }
            GtidTracker::MySql(last) => last.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(name: &str, size: u64) -> BinaryLog {
        BinaryLog { name: name.into(), size }
    }

    fn at(file: &str, offset: u64, gtid: Option<&str>) -> BinlogPosition {
        BinlogPosition { file: file.into(), offset, gtid: gtid.map(str::to_owned) }
    }

    #[test]
    fn resumes_by_file_and_offset_when_the_file_exists() {
        let logs = [log("bin.000002", 900), log("bin.000003", 500)];
        let resume = Position::Binlog(at("bin.000002", 650, Some("0-1-9")));
        let plan = plan_start(Flavor::MariaDb, Some(&resume), &logs, &at("bin.000003", 500, None)).unwrap();
        assert_eq!(plan, StartPlan::File { file: "bin.000002".into(), offset: 650 });
        let plan = plan_start(Flavor::MySql, None, &logs, &at("bin.000003", 500, None)).unwrap();
        assert_eq!(plan, StartPlan::File { file: "bin.000003".into(), offset: 500 });
    }

    #[test]
    fn a_purged_file_needs_a_resnapshot_naming_it() {
        let logs = [log("bin.000005", 900)];
        let resume = Position::Binlog(at("bin.000002", 650, Some("0-1-9")));
        let error = plan_start(Flavor::MariaDb, Some(&resume), &logs, &at("bin.000005", 900, None)).unwrap_err();
        assert!(matches!(error, MySqlError::ResnapshotNeeded { .. }));
        let text = error.to_string();
        assert!(text.contains("bin.000002") && text.contains("bin.000005"), "{text}");
    }

    #[test]
    fn a_position_beyond_the_file_end_needs_a_resnapshot() {
        let logs = [log("bin.000002", 600)];
        let resume = Position::Binlog(at("bin.000002", 650, None));
        let error = plan_start(Flavor::MySql, Some(&resume), &logs, &at("bin.000002", 600, None)).unwrap_err();
        assert!(matches!(error, MySqlError::ResnapshotNeeded { .. }), "{error}");
    }

    #[test]
    fn mariadb_resumes_by_gtid_only_on_another_binlog_series() {
        let logs = [log("replica-bin.000001", 900)];
        let resume = Position::Binlog(at("primary-bin.000007", 650, Some("0-1-9,1-2-4")));
        let plan = plan_start(Flavor::MariaDb, Some(&resume), &logs, &at("replica-bin.000001", 900, None)).unwrap();
        assert_eq!(plan, StartPlan::MariaDbGtid { state: "0-1-9,1-2-4".into() });
        let error = plan_start(Flavor::MySql, Some(&resume), &logs, &at("replica-bin.000001", 900, None));
        assert!(error.is_err(), "MySQL never resumes by GTID");
        let no_gtid = Position::Binlog(at("primary-bin.000007", 650, None));
        assert!(plan_start(Flavor::MariaDb, Some(&no_gtid), &logs, &at("replica-bin.000001", 900, None)).is_err());
    }

    #[test]
    fn other_positions_are_config_errors() {
        let error = plan_start(Flavor::MySql, Some(&Position::Postgres(sluice_api::Lsn(5))), &[], &at("b.1", 4, None));
        assert!(matches!(error, Err(MySqlError::Config { .. })));
    }

    #[test]
    fn mariadb_gtid_state_round_trips_and_updates_per_domain() {
        let mut state = GtidTracker::mariadb("1-2-4, 0-1-9").unwrap();
        assert_eq!(state.text().as_deref(), Some("0-1-9,1-2-4"));
        state.record_mariadb(&MariaDbGtid { domain: 0, server: 3, sequence: 10, flags: 0 });
        state.record_mariadb(&MariaDbGtid { domain: 5, server: 1, sequence: 1, flags: 0 });
        assert_eq!(state.text().as_deref(), Some("0-3-10,1-2-4,5-1-1"));
        state.merge_mariadb_list(&[
            MariaDbGtid { domain: 0, server: 1, sequence: 2, flags: 0 },
            MariaDbGtid { domain: 7, server: 1, sequence: 3, flags: 0 },
        ]);
        assert_eq!(state.text().as_deref(), Some("0-3-10,1-2-4,5-1-1,7-1-3"));
        assert_eq!(GtidTracker::mariadb("").unwrap().text(), None);
        assert!(GtidTracker::mariadb("0-1").is_none());
        assert!(GtidTracker::mariadb("a-b-c").is_none());
    }
}
