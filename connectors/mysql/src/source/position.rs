//! Binlog positions: where a dump starts, and where the stream is.
//!
//! A Sluice binlog position is a file and the offset just past an event
//! group's last event (the commit), plus GTID metadata (`BinlogPosition`
//! in sluice-api documents the text forms): for MariaDB the full GTID
//! state at that point (`domain-server-seq` per domain, comma separated —
//! what `@slave_connect_state` takes); for MySQL with `gtid_mode=ON` the
//! executed GTID set including the transaction (`gtid_set=uuid:1-5,…`).
//! Positions are compared by file and offset only; a MySQL begin position
//! carries its transaction's GTID (`gtid=uuid:n`) so that coverage is
//! decided by GTID across servers.
//!
//! # Starting
//!
//! MariaDB, and MySQL without `gtid_mode=ON`: with a resume position, the
//! dump starts at its file and offset — after checking `SHOW BINARY LOGS`
//! that the file still exists and is at least that long. A missing file
//! means the server purged binlogs the targets still need: that is a
//! resnapshot, never a silent skip to the oldest file. The exceptions are
//! MariaDB positions with a GTID state whose file belongs to another
//! binlog series (another base name, e.g. after a failover to a replica)
//! or that name no file at all (a state combined from several targets'
//! positions, `resume.rs`): then the dump starts by GTID (MariaDB refuses
//! a GTID it no longer has, which also ends in a resnapshot error), and
//! nothing is covered by file and offset — the server sends exactly what
//! the state lacks. Without a resume position the dump starts at the
//! server's current position (`SHOW MASTER STATUS`).
//!
//! MySQL with `gtid_mode=ON` (`GTID_MODE` below), the way a replica with
//! `SOURCE_AUTO_POSITION=1` (and Debezium, go-mysql) does it:
//! - a resume position carrying an executed set resumes by that set with
//!   COM_BINLOG_DUMP_GTID, whatever the file names — the server finds the
//!   first transaction not in the set, also on another server of the
//!   topology after a failover. Before asking, `@@gtid_purged` must be a
//!   subset of the set: otherwise transactions the targets lack are gone
//!   from every binlog of the server, and that is a resnapshot;
//! - without a set (no resume position, or one written before GTIDs were
//!   on or tracked), the dump starts at offset 4 of the start file (the
//!   resume file, or the current one) and everything before the start
//!   offset is read as already covered: the file's PREVIOUS_GTIDS event
//!   plus every GTID event up to the start make the executed set exact at
//!   the start — no second query can race a commit. (Reading
//!   `@@gtid_executed` beside `SHOW MASTER STATUS` can: a commit between
//!   the two makes the set wrong by one transaction, which a later GTID
//!   resume would skip or repeat.) It costs reading that one file's head.
//!
//! A MySQL set is tracked only while every transaction has a GTID: an
//! anonymous transaction (`gtid_mode` lowered to a permissive mode) makes
//! the set incomplete, so from there on positions carry none and the next
//! start resumes by file and offset.

use std::collections::BTreeMap;

use sluice_api::{BinlogPosition, Position};

use super::events::MariaDbGtid;
use super::gtid_set::{Gtid, GtidSet};
use super::server::{BinaryLog, Flavor};
use crate::error::MySqlError;

/// Where the dump starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StartPlan {
    /// COM_BINLOG_DUMP from this file and offset.
    File { file: String, offset: u64 },
    /// MariaDB: `@slave_connect_state` = this GTID state, empty file name, offset 4.
    MariaDbGtid { state: String },
    /// MySQL, `gtid_mode=ON`: COM_BINLOG_DUMP_GTID with this executed set.
    MySqlGtid { executed: GtidSet },
    /// MySQL, `gtid_mode=ON`, no set known: COM_BINLOG_DUMP from offset 4 of
    /// `file`, reading the groups before `offset` as covered, to learn the
    /// executed set at `offset` from the file's PREVIOUS_GTIDS event on.
    MySqlFileLearningGtids { file: String, offset: u64 },
}

/// What the MySQL source server says about GTIDs, read before planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MySqlGtidMode {
    /// `@@gtid_mode` is ON: every transaction has a GTID, resumption by GTID set is possible.
    pub(crate) on: bool,
    /// `@@gtid_purged`: transactions no binlog of the server holds any more.
    pub(crate) purged: GtidSet,
    /// `@@gtid_executed`, for a warning when a checkpoint holds more.
    pub(crate) executed: Option<GtidSet>,
}

/// `mysql-bin.000012` → ("mysql-bin", 12).
fn series(file: &str) -> (&str, u64) {
    let (base, suffix) = file.rsplit_once('.').unwrap_or((file, ""));
    (base, suffix.parse().unwrap_or(0))
}

/// Decides where to start; `current` is the server's position (`SHOW
/// MASTER STATUS`), `gtid_mode` what a MySQL server says about GTIDs (`None`
/// for MariaDB).
pub(crate) fn plan_start(
    flavor: Flavor,
    resume: Option<&Position>,
    logs: &[BinaryLog],
    current: &BinlogPosition,
    gtid_mode: Option<&MySqlGtidMode>,
) -> Result<StartPlan, MySqlError> {
    let resume = match resume {
        None => {
            return Ok(match gtid_mode {
                Some(mode) if flavor == Flavor::MySql && mode.on => {
                    StartPlan::MySqlFileLearningGtids { file: current.file.clone(), offset: current.offset }
                }
                _ => StartPlan::File { file: current.file.clone(), offset: current.offset },
            });
        }
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
    let mysql_gtids = gtid_mode.filter(|mode| flavor == Flavor::MySql && mode.on);
    if let (Some(mode), Some(text)) = (mysql_gtids, resume.mysql_gtid_set()) {
        return plan_mysql_gtid(resume, text, mode);
    }
    if resume.file.is_empty() {
        // A MariaDB GTID state chosen across targets that hold positions of
        // different servers (`resume.rs`): there is no file to start from.
        return match (flavor, &resume.gtid) {
            (Flavor::MariaDb, Some(state)) if mariadb_state(state).is_some_and(|gtids| !gtids.is_empty()) => {
                Ok(StartPlan::MariaDbGtid { state: state.clone() })
            }
            _ => Err(MySqlError::Config {
                setting: "resume position".into(),
                message: format!(
                    "Position {} names no binlog file and carries no GTID state this server can resume from",
                    Position::Binlog(resume.clone())
                ),
            }),
        };
    }
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
        let (file, offset) = (resume.file.clone(), resume.offset.max(4));
        return Ok(match mysql_gtids {
            Some(_) => StartPlan::MySqlFileLearningGtids { file, offset },
            None => StartPlan::File { file, offset },
        });
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

/// MySQL resumption by the executed set `text` of `resume`: refused when
/// the server purged transactions the set lacks.
fn plan_mysql_gtid(resume: &BinlogPosition, text: &str, mode: &MySqlGtidMode) -> Result<StartPlan, MySqlError> {
    let executed = GtidSet::parse(text).map_err(|e| MySqlError::Config {
        setting: "resume position".into(),
        message: format!(
            "The resume position {} carries a malformed MySQL GTID set: {e}",
            Position::Binlog(resume.clone())
        ),
    })?;
    let missing = mode.purged.difference(&executed);
    if !missing.is_empty() {
        return Err(MySqlError::ResnapshotNeeded {
            message: format!(
                "The server purged transactions {missing} (gtid_purged is {}) which the targets never received \
                 (they hold {}): the binlogs were purged before Sluice read them",
                mode.purged,
                Position::Binlog(resume.clone())
            ),
        });
    }
    let ahead = mode.executed.as_ref().map(|server| executed.difference(server)).unwrap_or_default();
    if !ahead.is_empty() {
        tracing::warn!(
            %ahead,
            "the targets hold transactions this server has not executed (yet): a replica still applying its \
             relay log will send them when it has; a server that lost them has diverged from the targets"
        );
    }
    Ok(StartPlan::MySqlGtid { executed })
}

/// The GTIDs of a MariaDB state's text form (`0-1-5,1-2-9`), in the order
/// written (empty entries are skipped); `None` if one is not
/// `domain-server-seq`.
pub(crate) fn mariadb_state(state: &str) -> Option<Vec<MariaDbGtid>> {
    let mut gtids = Vec::new();
    for part in state.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut fields = part.splitn(3, '-');
        let domain = fields.next()?.parse().ok()?;
        let server = fields.next()?.parse().ok()?;
        let sequence = fields.next()?.parse().ok()?;
        gtids.push(MariaDbGtid { domain, server, sequence, flags: 0 });
    }
    Some(gtids)
}

/// The GTID metadata carried in positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GtidTracker {
    /// MariaDB: the last GTID per domain.
    MariaDb(BTreeMap<u32, (u32, u64)>),
    /// MySQL: the executed GTID set.
    MySql(MySqlGtids),
}

/// MySQL's executed set as the stream advances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MySqlGtids {
    state: MySqlState,
    /// The GTID of the group being read: added to the set when the group ends.
    pending: Option<Gtid>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum MySqlState {
    /// No set is carried (`gtid_mode` not ON, or the set became unknowable).
    Off,
    /// Reading a file from its start: the set is known from its PREVIOUS_GTIDS event on.
    AwaitingPrevious,
    Tracking(GtidSet),
}

impl MySqlGtids {
    /// Not tracking (`gtid_mode` is not ON).
    pub(crate) fn off() -> MySqlGtids {
        MySqlGtids { state: MySqlState::Off, pending: None }
    }

    /// Tracking from a known set (a GTID resume).
    pub(crate) fn from(executed: GtidSet) -> MySqlGtids {
        MySqlGtids { state: MySqlState::Tracking(executed), pending: None }
    }

    /// Learning the set from the start file's PREVIOUS_GTIDS event.
    pub(crate) fn learning() -> MySqlGtids {
        MySqlGtids { state: MySqlState::AwaitingPrevious, pending: None }
    }

    fn lose(&mut self, why: &str) {
        if self.state != MySqlState::Off {
            tracing::warn!(
                "{why}: positions carry no GTID set from here on, and the next start resumes by file and offset"
            );
            self.state = MySqlState::Off;
        }
    }
}

impl GtidTracker {
    /// A MariaDB state from its text form (`0-1-5,1-2-9`); `None` if malformed.
    pub(crate) fn mariadb(state: &str) -> Option<GtidTracker> {
        let domains = mariadb_state(state)?.into_iter().map(|gtid| (gtid.domain, (gtid.server, gtid.sequence)));
        Some(GtidTracker::MariaDb(domains.collect()))
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

    /// A MySQL GTID event: the group it starts adds `gtid` when it ends.
    pub(crate) fn begin_mysql(&mut self, gtid: Gtid) {
        // A GTID whose group never ended cannot occur; were it to, the
        // server executed it all the same.
        self.commit_mysql();
        if let GtidTracker::MySql(mysql) = self {
            mysql.pending = Some(gtid);
        }
    }

    /// The end of a MySQL group: its GTID joins the executed set.
    pub(crate) fn commit_mysql(&mut self) {
        let GtidTracker::MySql(mysql) = self else { return };
        let Some(gtid) = mysql.pending.take() else { return };
        match &mut mysql.state {
            MySqlState::Tracking(set) => set.add(&gtid),
            MySqlState::AwaitingPrevious => {
                mysql.lose("A GTID transaction came before the binlog file's PREVIOUS_GTIDS event");
            }
            MySqlState::Off => {}
        }
    }

    /// A MySQL anonymous transaction (no GTID): the set cannot describe the stream any more.
    pub(crate) fn anonymous_mysql(&mut self) {
        if let GtidTracker::MySql(mysql) = self {
            mysql.pending = None;
            mysql.lose("An anonymous (GTID-less) transaction is in the binlog (gtid_mode is no longer ON)");
        }
    }

    /// MySQL PREVIOUS_GTIDS: everything executed before the file; the
    /// starting set when learning it, otherwise already contained (a union
    /// changes nothing).
    pub(crate) fn previous_mysql(&mut self, previous: &GtidSet) {
        if let GtidTracker::MySql(mysql) = self {
            match &mut mysql.state {
                MySqlState::AwaitingPrevious => mysql.state = MySqlState::Tracking(previous.clone()),
                MySqlState::Tracking(set) => set.union(previous),
                MySqlState::Off => {}
            }
        }
    }

    /// Whether the executed MySQL set already holds `gtid` (a group to skip after a GTID resume).
    pub(crate) fn mysql_contains(&self, gtid: &Gtid) -> bool {
        matches!(self, GtidTracker::MySql(MySqlGtids { state: MySqlState::Tracking(set), .. }) if set.contains(gtid))
    }

    /// The text carried in positions (`None` when nothing is known).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            GtidTracker::MariaDb(domains) if domains.is_empty() => None,
            GtidTracker::MariaDb(domains) => {
                Some(domains.iter().map(|(d, (s, n))| format!("{d}-{s}-{n}")).collect::<Vec<_>>().join(","))
            }
            GtidTracker::MySql(MySqlGtids { state: MySqlState::Tracking(set), .. }) => {
                Some(format!("{}{set}", BinlogPosition::MYSQL_GTID_SET))
            }
            GtidTracker::MySql(_) => None,
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

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    fn off() -> MySqlGtidMode {
        MySqlGtidMode::default()
    }

    fn on(purged: &str, executed: &str) -> MySqlGtidMode {
        MySqlGtidMode {
            on: true,
            purged: GtidSet::parse(purged).unwrap(),
            executed: Some(GtidSet::parse(executed).unwrap()),
        }
    }

    fn gtid(text: &str) -> Gtid {
        Gtid::parse(text).unwrap()
    }

    #[test]
    fn mysql_with_gtids_resumes_by_the_set_whatever_the_files() {
        let mode = on(&format!("{A}:1-10"), &format!("{A}:1-99"));
        let resume = Position::Binlog(at("old-primary.000010", 5000, Some(&format!("gtid_set={A}:1-40"))));
        // The file is on no server of this name: the set decides.
        let logs = [log("replica.000001", 900)];
        let plan = plan_start(Flavor::MySql, Some(&resume), &logs, &at("replica.000001", 900, None), Some(&mode));
        assert_eq!(plan.unwrap(), StartPlan::MySqlGtid { executed: GtidSet::parse(&format!("{A}:1-40")).unwrap() });
        // Also when the file exists: file names do not survive a failover, sets do.
        let logs = [log("old-primary.000010", 9000)];
        let plan = plan_start(Flavor::MySql, Some(&resume), &logs, &at("old-primary.000010", 9000, None), Some(&mode));
        assert!(matches!(plan.unwrap(), StartPlan::MySqlGtid { .. }));
        // gtid_mode OFF: the set is ignored, file and offset decide.
        let plan = plan_start(Flavor::MySql, Some(&resume), &logs, &at("old-primary.000010", 9000, None), Some(&off()));
        assert_eq!(plan.unwrap(), StartPlan::File { file: "old-primary.000010".into(), offset: 5000 });
    }

    #[test]
    fn mysql_purged_transactions_the_set_lacks_need_a_resnapshot() {
        let mode = on(&format!("{A}:1-50"), &format!("{A}:1-99"));
        let resume = Position::Binlog(at("b.000010", 5000, Some(&format!("gtid_set={A}:1-40"))));
        let error = plan_start(Flavor::MySql, Some(&resume), &[], &at("b.000011", 4, None), Some(&mode)).unwrap_err();
        assert!(matches!(error, MySqlError::ResnapshotNeeded { .. }), "{error}");
        assert_eq!(sluice_api::HasErrorKind::kind(&error), sluice_api::ErrorKind::ResnapshotNeeded);
        assert!(error.to_string().contains(&format!("{A}:41-50")), "names what is gone: {error}");
        // Purged transactions of another server the set lacks are just as gone.
        let mode = on(&format!("{A}:1-10,8d5b4a8c-0000-4000-8000-000000000001:1"), &format!("{A}:1-99"));
        let error = plan_start(Flavor::MySql, Some(&resume), &[], &at("b.000011", 4, None), Some(&mode));
        assert!(matches!(error, Err(MySqlError::ResnapshotNeeded { .. })));
        // A malformed set is a configuration error, never a silent file/offset resume.
        let broken = Position::Binlog(at("b.000010", 5000, Some("gtid_set=garbage")));
        let error = plan_start(Flavor::MySql, Some(&broken), &[], &at("b.000011", 4, None), Some(&mode));
        assert!(matches!(error, Err(MySqlError::Config { .. })));
    }

    #[test]
    fn mysql_without_a_set_learns_it_from_the_start_file() {
        let mode = on("", &format!("{A}:1-99"));
        let logs = [log("b.000002", 900), log("b.000003", 500)];
        let plan = plan_start(Flavor::MySql, None, &logs, &at("b.000003", 500, None), Some(&mode)).unwrap();
        assert_eq!(plan, StartPlan::MySqlFileLearningGtids { file: "b.000003".into(), offset: 500 });
        // A position from before GTIDs were tracked: its bare last GTID is not a set.
        let older = Position::Binlog(at("b.000002", 650, Some(&format!("{A}:23"))));
        let plan = plan_start(Flavor::MySql, Some(&older), &logs, &at("b.000003", 500, None), Some(&mode)).unwrap();
        assert_eq!(plan, StartPlan::MySqlFileLearningGtids { file: "b.000002".into(), offset: 650 });
        let gone = Position::Binlog(at("b.000001", 650, None));
        assert!(plan_start(Flavor::MySql, Some(&gone), &logs, &at("b.000003", 500, None), Some(&mode)).is_err());
    }

    #[test]
    fn mysql_tracker_adds_each_gtid_when_its_group_ends() {
        let mut tracker = GtidTracker::MySql(MySqlGtids::learning());
        assert_eq!(tracker.text(), None, "unknown until PREVIOUS_GTIDS");
        tracker.previous_mysql(&GtidSet::parse(&format!("{A}:1-5")).unwrap());
        assert_eq!(tracker.text(), Some(format!("gtid_set={A}:1-5")));
        tracker.begin_mysql(gtid(&format!("{A}:6")));
        assert_eq!(tracker.text(), Some(format!("gtid_set={A}:1-5")), "not before the group ends");
        assert!(!tracker.mysql_contains(&gtid(&format!("{A}:6"))));
        tracker.commit_mysql();
        assert_eq!(tracker.text(), Some(format!("gtid_set={A}:1-6")));
        tracker.begin_mysql(gtid(&format!("{A}:t:1")));
        tracker.commit_mysql();
        tracker.commit_mysql();
        assert_eq!(tracker.text(), Some(format!("gtid_set={A}:1-6:t:1")));
        assert!(tracker.mysql_contains(&gtid(&format!("{A}:3"))));
        // A later file's PREVIOUS_GTIDS holds nothing new.
        tracker.previous_mysql(&GtidSet::parse(&format!("{A}:1-6:t:1")).unwrap());
        assert_eq!(tracker.text(), Some(format!("gtid_set={A}:1-6:t:1")));
        // An anonymous transaction: the set no longer describes the stream.
        tracker.anonymous_mysql();
        assert_eq!(tracker.text(), None);
        tracker.begin_mysql(gtid(&format!("{A}:7")));
        tracker.commit_mysql();
        assert_eq!(tracker.text(), None, "never comes back by itself");

        let mut early = GtidTracker::MySql(MySqlGtids::learning());
        early.begin_mysql(gtid(&format!("{A}:1")));
        early.commit_mysql();
        early.previous_mysql(&GtidSet::new());
        assert_eq!(early.text(), None, "a GTID before PREVIOUS_GTIDS leaves the set unknowable");
        let mut off = GtidTracker::MySql(MySqlGtids::off());
        off.previous_mysql(&GtidSet::new());
        assert_eq!(off.text(), None);
    }

    #[test]
    fn resumes_by_file_and_offset_when_the_file_exists() {
        let logs = [log("bin.000002", 900), log("bin.000003", 500)];
        let resume = Position::Binlog(at("bin.000002", 650, Some("0-1-9")));
        let plan = plan_start(Flavor::MariaDb, Some(&resume), &logs, &at("bin.000003", 500, None), None).unwrap();
        assert_eq!(plan, StartPlan::File { file: "bin.000002".into(), offset: 650 });
        let plan = plan_start(Flavor::MySql, None, &logs, &at("bin.000003", 500, None), Some(&off())).unwrap();
        assert_eq!(plan, StartPlan::File { file: "bin.000003".into(), offset: 500 });
    }

    #[test]
    fn a_purged_file_needs_a_resnapshot_naming_it() {
        let logs = [log("bin.000005", 900)];
        let resume = Position::Binlog(at("bin.000002", 650, Some("0-1-9")));
        let error = plan_start(Flavor::MariaDb, Some(&resume), &logs, &at("bin.000005", 900, None), None).unwrap_err();
        assert!(matches!(error, MySqlError::ResnapshotNeeded { .. }));
        let text = error.to_string();
        assert!(text.contains("bin.000002") && text.contains("bin.000005"), "{text}");
    }

    #[test]
    fn a_position_beyond_the_file_end_needs_a_resnapshot() {
        let logs = [log("bin.000002", 600)];
        let resume = Position::Binlog(at("bin.000002", 650, None));
        let error =
            plan_start(Flavor::MySql, Some(&resume), &logs, &at("bin.000002", 600, None), Some(&off())).unwrap_err();
        assert!(matches!(error, MySqlError::ResnapshotNeeded { .. }), "{error}");
    }

    #[test]
    fn mariadb_resumes_by_gtid_only_on_another_binlog_series() {
        let logs = [log("replica-bin.000001", 900)];
        let resume = Position::Binlog(at("primary-bin.000007", 650, Some("0-1-9,1-2-4")));
        let plan =
            plan_start(Flavor::MariaDb, Some(&resume), &logs, &at("replica-bin.000001", 900, None), None).unwrap();
        assert_eq!(plan, StartPlan::MariaDbGtid { state: "0-1-9,1-2-4".into() });
        let error = plan_start(Flavor::MySql, Some(&resume), &logs, &at("replica-bin.000001", 900, None), Some(&off()));
        assert!(error.is_err(), "MySQL without gtid_mode=ON never resumes by GTID");
        let no_gtid = Position::Binlog(at("primary-bin.000007", 650, None));
        assert!(
            plan_start(Flavor::MariaDb, Some(&no_gtid), &logs, &at("replica-bin.000001", 900, None), None).is_err()
        );
    }

    #[test]
    fn a_position_without_a_file_resumes_by_its_mariadb_state_or_not_at_all() {
        // A state chosen across targets of different servers (`resume.rs`).
        let logs = [log("bin.000002", 900)];
        let combined = Position::Binlog(at("", 4, Some("0-1-100,1-2-9")));
        let plan = plan_start(Flavor::MariaDb, Some(&combined), &logs, &at("bin.000002", 900, None), None).unwrap();
        assert_eq!(plan, StartPlan::MariaDbGtid { state: "0-1-100,1-2-9".into() });
        // Never by offset, and never a guess: MySQL without a usable set, no state, a malformed state.
        for (flavor, gtid, mode) in [
            (Flavor::MySql, Some("0-1-100"), Some(off())),
            (Flavor::MySql, Some(&format!("gtid_set={A}:1-5") as &str), Some(off())),
            (Flavor::MariaDb, None, None),
            (Flavor::MariaDb, Some("0-1"), None),
        ] {
            let position = Position::Binlog(at("", 4, gtid));
            let error = plan_start(flavor, Some(&position), &logs, &at("bin.000002", 900, None), mode.as_ref());
            assert!(matches!(error, Err(MySqlError::Config { .. })), "{gtid:?}: {error:?}");
        }
        // MySQL with gtid_mode=ON resumes by the set, whatever the file.
        let set = Position::Binlog(at("", 4, Some(&format!("gtid_set={A}:1-5"))));
        let mode = on("", &format!("{A}:1-9"));
        let plan = plan_start(Flavor::MySql, Some(&set), &logs, &at("bin.000002", 900, None), Some(&mode)).unwrap();
        assert!(matches!(plan, StartPlan::MySqlGtid { .. }));
    }

    #[test]
    fn other_positions_are_config_errors() {
        let error =
            plan_start(Flavor::MySql, Some(&Position::Postgres(sluice_api::Lsn(5))), &[], &at("b.1", 4, None), None);
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
