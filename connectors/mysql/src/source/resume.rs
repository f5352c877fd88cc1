//! Where a binlog source with several targets resumes.
//!
//! Each target holds the position of the last transaction it applied from
//! this source (its offsets row); the source is read once for all of them,
//! from a position no target is past, and each target's writer skips what
//! its own position covers (`Position::is_covered_by`). While every
//! position comes from one server, the earliest by file and offset is that
//! position. After a failover the targets may hold positions of different
//! servers, whose file names and offsets are unrelated: the choice then
//! goes by GTIDs, or stops.
//!
//! - **MySQL GTID sets on every position** (`gtid_set=…`): the resume set is
//!   the intersection of the targets' executed sets — every transaction in
//!   it is in every target, and nothing outside it is skipped for anyone.
//!   When it equals one target's set, that target's position is returned
//!   unchanged. Otherwise the returned position carries the intersection,
//!   and its file and offset (those of the target with the smallest set)
//!   are informational: a MySQL server with `gtid_mode=ON` resumes by the
//!   set (COM_BINLOG_DUMP_GTID, `position.rs`) whatever the file says.
//! - **MariaDB GTID states on every position** (`0-1-7,1-2-9`): per domain
//!   the lowest sequence number (MariaDB numbers each domain's transactions
//!   in one increasing sequence on every server of a topology with
//!   `gtid_strict_mode`). A domain missing from some target's state is left
//!   out: for `@slave_connect_state` a missing domain means "from the
//!   domain's first transaction", which is what that target needs, and the
//!   server refuses (error 1236, resnapshot) if those binlogs are purged —
//!   it never skips. When the result is one target's state, that target's
//!   position is returned unchanged (the source resumes by file and offset
//!   when the file is on the server, by GTID otherwise). Otherwise the
//!   position names no file, and the source resumes by GTID
//!   (`plan_start`): a real file name would make it start there by offset.
//!   Two targets holding different transactions at the same sequence number
//!   of a domain (diverged histories) stop the start.
//! - **Anything else** (some or all positions without GTID metadata,
//!   including the bare `uuid:n` older positions carry): the earliest by
//!   file and offset when all files belong to one binlog series (one base
//!   name); positions of different series stop the start with an error
//!   naming each target's position, since nothing says which transactions
//!   each one lacks. GTID metadata that only some positions carry is
//!   reported (warning), never used half-way.
//!
//! Malformed metadata (a `gtid_set=` that does not parse, a MariaDB state
//! that is not `domain-server-seq` or repeats a domain, MySQL sets mixed
//! with MariaDB states, a begin position's `gtid=` in an offsets row) is a
//! configuration error naming the target, never ignored.

use std::collections::BTreeMap;

use sluice_api::{BinlogPosition, Position};

use super::gtid_set::GtidSet;
use super::position::mariadb_state;
use crate::error::MySqlError;

/// A MariaDB GTID state: domain → (server id, sequence number).
type MariaDbState = BTreeMap<u32, (u32, u64)>;

/// What a target's position carries for resuming.
enum Metadata {
    /// No GTID metadata Sluice can resume by.
    None,
    MySql(GtidSet),
    MariaDb(MariaDbState),
}

/// The position to resume `source` from, given the position each target
/// holds (`(target, position)`; targets without one are left out by the
/// caller). `None` when no target holds one. See the module docs.
pub fn resume_position(source: &str, held: &[(String, Position)]) -> Result<Option<Position>, MySqlError> {
    let mut positions = Vec::with_capacity(held.len());
    for (target, position) in held {
        let Position::Binlog(binlog) = position else {
            return Err(MySqlError::Config {
                setting: "resume position".into(),
                message: format!(
                    "Target {target} holds position {position} for source {source}, which is not a binlog \
                     position: its offsets row belongs to another source. Reset it (sluice checkpoints reset \
                     --source {source}) and copy the tables again"
                ),
            });
        };
        positions.push((target.as_str(), binlog, metadata(target, binlog)?));
    }
    if positions.is_empty() {
        return Ok(None);
    }
    let mysql: Vec<&GtidSet> =
        positions.iter().filter_map(|(_, _, m)| if let Metadata::MySql(set) = m { Some(set) } else { None }).collect();
    let mariadb: Vec<&MariaDbState> = positions
        .iter()
        .filter_map(|(_, _, m)| if let Metadata::MariaDb(state) = m { Some(state) } else { None })
        .collect();
    if !mysql.is_empty() && !mariadb.is_empty() {
        return Err(MySqlError::Config {
            setting: "resume position".into(),
            message: format!(
                "The targets of source {source} hold positions with MySQL GTID sets and others with MariaDB GTID \
                 states ({}): they cannot come from one server. Check that every target's offsets row belongs to \
                 this source; reset the positions (sluice checkpoints reset --source {source}) and copy the \
                 tables again",
                list(&positions)
            ),
        });
    }
    if mysql.len() == positions.len() {
        return Ok(Some(by_mysql_sets(&positions, &mysql)));
    }
    if mariadb.len() == positions.len() {
        return by_mariadb_states(source, &positions, &mariadb).map(Some);
    }
    if !mysql.is_empty() || !mariadb.is_empty() {
        let without: Vec<&str> =
            positions.iter().filter(|(_, _, m)| matches!(m, Metadata::None)).map(|(t, _, _)| *t).collect();
        tracing::warn!(
            source,
            targets_without_gtids = %without.join(", "),
            positions = %list(&positions),
            "not every target's position carries GTIDs: choosing where to resume by file and offset, which is \
             exact only while all positions come from one server"
        );
    }
    by_file_and_offset(source, &positions).map(Some)
}

/// The position's GTID metadata; malformed metadata is an error naming the target.
fn metadata(target: &str, position: &BinlogPosition) -> Result<Metadata, MySqlError> {
    let malformed = |what: String| MySqlError::Config {
        setting: "resume position".into(),
        message: format!(
            "Target {target} holds position {} whose GTID part {what}; Sluice never writes such a position: \
             check the target's offsets row",
            Position::Binlog(position.clone())
        ),
    };
    let Some(text) = position.gtid.as_deref().map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(Metadata::None);
    };
    if let Some(set) = position.mysql_gtid_set() {
        return GtidSet::parse(set).map(Metadata::MySql).map_err(|e| malformed(format!("is not a GTID set ({e})")));
    }
    if text.contains('=') {
        return Err(malformed("is not the GTID metadata of an applied position".into()));
    }
    if text.contains(':') {
        // A bare `uuid:n` (positions from before Sluice tracked MySQL
        // sets): the last transaction, information only.
        return Ok(Metadata::None);
    }
    let gtids =
        mariadb_state(text).ok_or_else(|| malformed("is not a MariaDB GTID state (domain-server-seq)".into()))?;
    let mut state = MariaDbState::new();
    for gtid in gtids {
        if state.insert(gtid.domain, (gtid.server, gtid.sequence)).is_some() {
            return Err(malformed(format!("names domain {} twice", gtid.domain)));
        }
    }
    Ok(Metadata::MariaDb(state))
}

/// MySQL: the intersection of the executed sets.
fn by_mysql_sets(positions: &[(&str, &BinlogPosition, Metadata)], sets: &[&GtidSet]) -> Position {
    let mut common = sets[0].clone();
    for set in &sets[1..] {
        common = common.intersection(set);
    }
    let equal = positions.iter().zip(sets).filter(|(_, set)| ***set == common).map(|((_, p, _), _)| *p).min();
    if let Some(position) = equal {
        return Position::Binlog(position.clone());
    }
    for ((target, position, _), set) in positions.iter().zip(sets) {
        let beyond = set.difference(&common);
        if beyond.is_empty() {
            continue;
        }
        tracing::warn!(
            target_name = target,
            position = %Position::Binlog((*position).clone()),
            holds_beyond_the_others = %beyond,
            "the targets' GTID sets diverge (each holds transactions another lacks): resuming from their \
             intersection; a target holding transactions the source server never executed has diverged from it"
        );
    }
    let (_, smallest, _) =
        positions.iter().zip(sets).min_by_key(|(_, set)| set.len()).map(|(p, _)| p).expect("at least one position");
    Position::Binlog(BinlogPosition {
        file: smallest.file.clone(),
        offset: smallest.offset,
        gtid: Some(format!("{}{common}", BinlogPosition::MYSQL_GTID_SET)),
    })
}

/// MariaDB: per domain the lowest sequence number; a domain some target lacks is left out.
fn by_mariadb_states(
    source: &str,
    positions: &[(&str, &BinlogPosition, Metadata)],
    states: &[&MariaDbState],
) -> Result<Position, MySqlError> {
    let mut lowest = MariaDbState::new();
    for (&domain, &first) in states[0] {
        let mut chosen = Some(first);
        for state in &states[1..] {
            chosen = match (chosen, state.get(&domain)) {
                (Some((server, sequence)), Some(&(other_server, other_sequence))) => {
                    if other_sequence == sequence && other_server != server {
                        return Err(diverged(source, positions, domain, sequence));
                    }
                    Some(if other_sequence < sequence { (other_server, other_sequence) } else { (server, sequence) })
                }
                _ => None,
            };
        }
        if let Some(gtid) = chosen {
            lowest.insert(domain, gtid);
        }
    }
    let equal = positions.iter().zip(states).filter(|(_, state)| ***state == lowest).map(|((_, p, _), _)| *p).min();
    if let Some(position) = equal {
        return Ok(Position::Binlog(position.clone()));
    }
    if lowest.is_empty() {
        return Err(MySqlError::ResnapshotNeeded {
            message: format!(
                "The targets of source {source} hold MariaDB GTID states without a domain in common ({}): they do \
                 not follow one history. Check that every target's offsets row belongs to this source",
                list(positions)
            ),
        });
    }
    let state = lowest.iter().map(|(d, (s, n))| format!("{d}-{s}-{n}")).collect::<Vec<_>>().join(",");
    tracing::info!(
        source,
        state = %state,
        positions = %list(positions),
        "the targets hold positions of different servers: resuming by the GTID state no target is past \
         (per domain the lowest sequence number)"
    );
    // No file: the source resumes by GTID (`plan_start`).
    Ok(Position::Binlog(BinlogPosition { file: String::new(), offset: 4, gtid: Some(state) }))
}

fn diverged(source: &str, positions: &[(&str, &BinlogPosition, Metadata)], domain: u32, sequence: u64) -> MySqlError {
    MySqlError::ResnapshotNeeded {
        message: format!(
            "The targets of source {source} hold different transactions as sequence number {sequence} of GTID \
             domain {domain} ({}): they followed servers whose histories diverged (transactions lost in a \
             failover?). Resuming from either would skip or repeat transactions for the other. Find which \
             target followed the server now read; delete the other's offsets row for pipeline {source} and copy \
             its tables again with sluice backfill (or reset every target: sluice checkpoints reset --source \
             {source})",
            list(positions)
        ),
    }
}

/// No usable GTIDs: file and offset, within one binlog series only.
fn by_file_and_offset(source: &str, positions: &[(&str, &BinlogPosition, Metadata)]) -> Result<Position, MySqlError> {
    let series = positions[0].1.base_name();
    if positions.iter().all(|(_, p, _)| p.base_name() == series) {
        let earliest = positions.iter().map(|(_, p, _)| *p).min().expect("at least one position");
        return Ok(Position::Binlog(earliest.clone()));
    }
    Err(MySqlError::ResnapshotNeeded {
        message: format!(
            "The targets of source {source} hold positions in the binlogs of different servers ({}), and not every \
             position carries GTIDs: file names and offsets of different servers say nothing about which \
             transactions each target lacks, so no resume position is safe for all of them (a failover, or \
             log_bin renamed). For each target whose position is not of the server the source now reads, delete \
             its offsets row for pipeline {source} (it then receives the stream from where the others resume) and \
             copy its tables again with sluice backfill; or forget every target's position (sluice checkpoints \
             reset --source {source}) and copy all of them. To follow the next failover by itself, run the \
             servers with GTIDs (MySQL: gtid_mode=ON; see OPERATIONS.md, \"Failover with several targets\")",
            list(positions)
        ),
    })
}

/// `target: position, …` for messages.
fn list(positions: &[(&str, &BinlogPosition, Metadata)]) -> String {
    positions
        .iter()
        .map(|(target, position, _)| format!("{target}: {}", Position::Binlog((*position).clone())))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "resume/tests.rs"]
mod tests;
