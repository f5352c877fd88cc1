//! Choosing where a binlog source with several targets resumes: each
//! branch of `resume_position` (MySQL sets, MariaDB states, file and
//! offset), and the refusals.

use sluice_api::{ErrorKind, HasErrorKind, Lsn};

use super::*;

const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const B: &str = "8d5b4a8c-0000-4000-8000-000000000001";

fn at(file: &str, offset: u64, gtid: Option<&str>) -> Position {
    Position::Binlog(BinlogPosition { file: file.into(), offset, gtid: gtid.map(str::to_owned) })
}

fn held(positions: &[(&str, Position)]) -> Vec<(String, Position)> {
    positions.iter().map(|(target, position)| ((*target).to_owned(), position.clone())).collect()
}

fn resume(positions: &[(&str, Position)]) -> Result<Option<Position>, MySqlError> {
    resume_position("erp", &held(positions))
}

fn binlog(position: Position) -> BinlogPosition {
    match position {
        Position::Binlog(position) => position,
        Position::Postgres(_) => panic!("not a binlog position"),
    }
}

#[test]
fn no_target_position_means_no_resume_position() {
    assert_eq!(resume(&[]).unwrap(), None);
}

#[test]
fn mysql_sets_resume_from_the_target_whose_set_is_the_intersection() {
    // crm is behind erp_pg: its set lies inside erp_pg's. After a failover
    // their files are of different servers, and the order by name would
    // pick erp_pg ("new-…" < "old-…"), skipping 41-50 for crm.
    let behind = at("old-primary-bin.000010", 5000, Some(&format!("gtid_set={A}:1-40")));
    let ahead = at("new-primary-bin.000002", 300, Some(&format!("gtid_set={A}:1-50,{B}:1-3")));
    let chosen = binlog(resume(&[("erp_pg", ahead.clone()), ("crm", behind.clone())]).unwrap().unwrap());
    assert_eq!(chosen.file, "old-primary-bin.000010", "the position unchanged");
    assert_eq!(chosen.offset, 5000);
    assert_eq!(chosen.gtid, binlog(behind.clone()).gtid);
    // The same sets, upper case and unordered, are equal sets.
    let same = at("new-primary-bin.000002", 100, Some(&format!("gtid_set={}:21-40:1-20", A.to_uppercase())));
    let chosen = binlog(resume(&[("a", same), ("b", behind.clone()), ("c", ahead)]).unwrap().unwrap());
    assert_eq!((chosen.file.as_str(), chosen.offset), ("new-primary-bin.000002", 100), "the earlier of two equal");
    // One target: its own position.
    assert_eq!(binlog(resume(&[("crm", behind.clone())]).unwrap().unwrap()).gtid, binlog(behind).gtid);
}

#[test]
fn mysql_sets_that_diverge_resume_from_their_intersection() {
    // Each target holds transactions the other lacks.
    let first = at("old-primary-bin.000010", 5000, Some(&format!("gtid_set={A}:1-100,{B}:1-2")));
    let second = at("new-primary-bin.000003", 900, Some(&format!("gtid_set={A}:1-98,{B}:1-3")));
    let chosen = binlog(resume(&[("erp_pg", first), ("crm", second)]).unwrap().unwrap());
    assert_eq!(chosen.mysql_gtid_set(), Some(format!("{A}:1-98,{B}:1-2").as_str()));
    // File and offset of the target with the smaller set (98 + 3 < 100 + 2), informational only.
    assert_eq!((chosen.file.as_str(), chosen.offset), ("new-primary-bin.000003", 900));
    // The set survives the round trip through text, as the source reads it.
    let decoded = binlog(Position::decode(&Position::Binlog(chosen.clone()).encode()).unwrap());
    assert_eq!(GtidSet::parse(decoded.mysql_gtid_set().unwrap()).unwrap().to_string(), format!("{A}:1-98,{B}:1-2"));
    // An empty executed set is a set: the intersection is empty, nothing is skipped.
    let nothing = at("new-primary-bin.000001", 4, Some("gtid_set="));
    let with_nothing = binlog(resume(&[("a", nothing), ("b", Position::Binlog(chosen))]).unwrap().unwrap());
    assert_eq!((with_nothing.mysql_gtid_set(), with_nothing.offset), (Some(""), 4));
}

#[test]
fn mariadb_states_resume_per_domain_from_the_lowest_sequence_number() {
    // After a failover from server 1 to server 2: erp_pg followed the new
    // primary in domain 0; crm is ahead in domain 1, which the old primary
    // wrote until it failed.
    let erp = at("new-primary-bin.000002", 700, Some("0-2-105,1-1-40"));
    let crm = at("old-primary-bin.000007", 650, Some("0-1-100,1-1-42"));
    let chosen = binlog(resume(&[("erp_pg", erp.clone()), ("crm", crm.clone())]).unwrap().unwrap());
    assert_eq!(chosen.gtid.as_deref(), Some("0-1-100,1-1-40"));
    assert_eq!(chosen.file, "", "no file: the source resumes by GTID, never by another server's offset");
    // When one target's state is the lowest in every domain, its position unchanged.
    let behind = at("old-primary-bin.000007", 400, Some("0-1-99,1-1-40"));
    let chosen = binlog(resume(&[("erp_pg", erp), ("crm", crm), ("oa", behind)]).unwrap().unwrap());
    assert_eq!((chosen.file.as_str(), chosen.offset), ("old-primary-bin.000007", 400));
    assert_eq!(chosen.gtid.as_deref(), Some("0-1-99,1-1-40"));
    // One server: per-domain minimum and file order agree.
    let early = at("b.000003", 100, Some("0-1-5,1-1-2"));
    let late = at("b.000004", 100, Some("0-1-9,1-1-2"));
    assert_eq!(binlog(resume(&[("x", late), ("y", early.clone())]).unwrap().unwrap()), binlog(early));
}

#[test]
fn a_mariadb_domain_missing_from_one_target_starts_from_its_first_transaction() {
    // oa's position predates domain 1: it needs the whole domain, and a
    // connect state without the domain asks MariaDB for exactly that.
    let erp = at("new-primary-bin.000002", 700, Some("0-2-105,1-2-9"));
    let oa = at("old-primary-bin.000003", 120, Some("0-1-80"));
    let chosen = binlog(resume(&[("erp_pg", erp), ("oa", oa.clone())]).unwrap().unwrap());
    assert_eq!(chosen, binlog(oa), "oa's state is the lowest: its position");
    assert_eq!(chosen.gtid.as_deref(), Some("0-1-80"));
    // Domain 1 left out (oa lacks it), domain 0 from oa, domain 2 from crm: no one's state.
    let erp = at("new-primary-bin.000002", 700, Some("0-2-105,1-2-9,2-1-6"));
    let oa = at("old-primary-bin.000003", 120, Some("0-1-80,2-1-7"));
    let crm = at("new-primary-bin.000004", 90, Some("0-2-101,1-2-9,2-1-5"));
    let chosen = binlog(resume(&[("erp_pg", erp.clone()), ("oa", oa), ("crm", crm)]).unwrap().unwrap());
    assert_eq!((chosen.file.as_str(), chosen.gtid.as_deref()), ("", Some("0-1-80,2-1-5")));
    // Domains 1 and 2, which `late` lacks, are left out; domain 0 is erp_pg's, the lower.
    let late = at("old-primary-bin.000009", 50, Some("0-1-110"));
    let chosen = binlog(resume(&[("erp_pg", erp), ("late", late)]).unwrap().unwrap());
    assert_eq!((chosen.file.as_str(), chosen.gtid.as_deref()), ("", Some("0-2-105")));
    // No domain in common at all: no shared history.
    let other = at("x-bin.000001", 4, Some("7-3-1"));
    let error = resume(&[("a", at("b.000001", 4, Some("0-1-5"))), ("b", other)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ResnapshotNeeded, "{error}");
}

#[test]
fn mariadb_targets_with_different_transactions_at_one_sequence_number_stop_the_start() {
    let first = at("old-primary-bin.000007", 650, Some("0-1-100"));
    let second = at("new-primary-bin.000001", 300, Some("0-2-100"));
    let error = resume(&[("erp_pg", first), ("crm", second)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ResnapshotNeeded);
    let text = error.to_string();
    assert!(text.contains("erp_pg: binlog:old-primary-bin.000007:650:0-1-100"), "{text}");
    assert!(text.contains("crm: binlog:new-primary-bin.000001:300:0-2-100"), "{text}");
}

#[test]
fn without_gtids_one_series_resumes_from_the_earliest_file_and_offset() {
    let positions = [
        ("erp_pg", at("mysql-bin.000010", 4, None)),
        ("crm", at("mysql-bin.000009", 9000, None)),
        ("oa", at("mysql-bin.000009", 9100, None)),
    ];
    assert_eq!(binlog(resume(&positions).unwrap().unwrap()), binlog(at("mysql-bin.000009", 9000, None)));
    // Mixed forms (a set on one, none on another, an older bare GTID) on one series: file and offset.
    let mixed = [
        ("erp_pg", at("mysql-bin.000010", 4, Some(&format!("gtid_set={A}:1-9")))),
        ("crm", at("mysql-bin.000009", 9000, None)),
        ("oa", at("mysql-bin.000009", 8000, Some(&format!("{A}:3")))),
    ];
    assert_eq!(binlog(resume(&mixed).unwrap().unwrap()), binlog(at("mysql-bin.000009", 8000, None)));
}

#[test]
fn without_gtids_positions_of_different_servers_stop_the_start_naming_them() {
    let positions =
        [("erp_pg", at("new-primary-bin.000002", 300, None)), ("crm", at("old-primary-bin.000010", 5000, None))];
    let error = resume(&positions).unwrap_err();
    assert!(matches!(error, MySqlError::ResnapshotNeeded { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::ResnapshotNeeded);
    let text = error.to_string();
    for expected in [
        "erp_pg: binlog:new-primary-bin.000002:300",
        "crm: binlog:old-primary-bin.000010:5000",
        "sluice checkpoints reset --source erp",
        "backfill",
        "gtid_mode=ON",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from: {text}");
    }
    // A set on only one of them does not help: the other's transactions are unknown.
    let half = [
        ("erp_pg", at("new-primary-bin.000002", 300, Some(&format!("gtid_set={A}:1-9")))),
        ("crm", at("old-primary-bin.000010", 5000, None)),
    ];
    assert_eq!(resume(&half).unwrap_err().kind(), ErrorKind::ResnapshotNeeded);
}

#[test]
fn malformed_or_mixed_metadata_is_a_configuration_error_naming_the_target() {
    let good = ("crm", at("b.000001", 4, Some(&format!("gtid_set={A}:1-9"))));
    for (gtid, what) in [
        ("gtid_set=garbage", "not a GTID set"),
        (&format!("gtid={A}:5") as &str, "not the GTID metadata of an applied position"),
        ("mariadb_gtid=0-1-5", "not the GTID metadata of an applied position"),
        ("0-1", "not a MariaDB GTID state"),
        ("0-1-5,0-2-6", "names domain 0 twice"),
    ] {
        let bad = ("erp_pg", at("b.000002", 4, Some(gtid)));
        let error = resume(&[good.clone(), bad]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config, "{gtid}: {error}");
        let text = error.to_string();
        assert!(text.contains("Target erp_pg") && text.contains(what), "{gtid}: {text}");
    }
    // MySQL sets beside MariaDB states.
    let maria = ("erp_pg", at("b.000002", 4, Some("0-1-5")));
    let error = resume(&[good.clone(), maria]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    // A PostgreSQL position in a binlog source's targets.
    let error = resume(&[good, ("oa", Position::Postgres(Lsn(5)))]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("Target oa"), "{error}");
}
