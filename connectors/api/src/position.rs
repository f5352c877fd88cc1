//! Source positions: where in a source's log a transaction commits.
//!
//! A position is what Sluice writes into each target's offsets table in the
//! same transaction as the rows, what it keeps in the checkpoint store, and
//! what it acknowledges to the source once every target holds it durably.
//! Positions of one source are totally ordered; positions of different
//! sources are never compared.

use std::fmt;
use std::str::FromStr;

/// A PostgreSQL WAL location (`XLogRecPtr`), printed `X/Y` as PostgreSQL does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = InvalidPosition;

    fn from_str(s: &str) -> Result<Lsn, InvalidPosition> {
        let (hi, lo) = s.split_once('/').ok_or_else(|| InvalidPosition(s.to_owned()))?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| InvalidPosition(s.to_owned()))?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| InvalidPosition(s.to_owned()))?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

/// A MySQL/MariaDB binlog coordinate: file and byte offset just past a
/// transaction's commit event, plus GTID metadata when the server uses
/// GTIDs. The metadata is text of one of these forms, told apart by their
/// shape:
/// - MariaDB: the GTID state, `domain-server-seq` per domain, comma
///   separated (`0-1-7,1-2-9`; never contains `:` or `=`);
/// - MySQL, on commit and progress positions: `gtid_set=` and the executed
///   GTID set including the transaction (`gtid_set=3e11fa47-…:1-5:11-18,…`,
///   tags as `uuid:tag:1-3`, [`BinlogPosition::MYSQL_GTID_SET`]);
/// - MySQL, on a transaction's begin position (`Transaction::position`):
///   `gtid=` and that transaction's own GTID (`gtid=3e11fa47-…:23`,
///   [`BinlogPosition::MYSQL_GTID`]);
/// - MariaDB, on a transaction's begin position: `mariadb_gtid=` and that
///   transaction's own GTID (`mariadb_gtid=0-1-8`,
///   [`BinlogPosition::MARIADB_GTID`]; never a state to resume from, which
///   would skip the transaction itself);
/// - anything else is information only (positions written before Sluice
///   tracked MySQL GTID sets carry the last transaction's bare `uuid:n`,
///   which must never be read as a set).
///
/// Ordered by the file's base name, then its numeric suffix
/// (`mysql-bin.000009` < `mysql-bin.000010` < `mysql-bin.1000000`), then
/// the offset; the GTID does not take part in ordering, equality or
/// [`Position::sort_key`] (it is resumption metadata). Positions of
/// different servers (after a failover) do not order meaningfully by file
/// and offset: [`Position::is_covered_by`] decides by GTID across servers
/// (MySQL sets always, MariaDB states when the base names differ), and
/// choosing where a source with several targets resumes is the
/// connector's business (`resume_position` in each connector).
#[derive(Clone, Debug)]
pub struct BinlogPosition {
    pub file: String,
    pub offset: u64,
    pub gtid: Option<String>,
}

impl BinlogPosition {
    /// Marks a MySQL executed GTID set in [`BinlogPosition::gtid`].
    pub const MYSQL_GTID_SET: &'static str = "gtid_set=";
    /// Marks one MySQL transaction's GTID in [`BinlogPosition::gtid`].
    pub const MYSQL_GTID: &'static str = "gtid=";
    /// Marks one MariaDB transaction's GTID in [`BinlogPosition::gtid`].
    pub const MARIADB_GTID: &'static str = "mariadb_gtid=";

    /// The MySQL executed GTID set this position carries (text after [`Self::MYSQL_GTID_SET`]).
    pub fn mysql_gtid_set(&self) -> Option<&str> {
        self.gtid.as_deref()?.strip_prefix(Self::MYSQL_GTID_SET)
    }

    /// The MySQL GTID of the transaction this begin position starts (text after [`Self::MYSQL_GTID`]).
    pub fn mysql_gtid(&self) -> Option<&str> {
        self.gtid.as_deref()?.strip_prefix(Self::MYSQL_GTID)
    }

    /// The MariaDB GTID (`domain-server-seq`) of the transaction this begin
    /// position starts (text after [`Self::MARIADB_GTID`]).
    pub fn mariadb_gtid(&self) -> Option<&str> {
        self.gtid.as_deref()?.strip_prefix(Self::MARIADB_GTID)
    }

    /// The file's name without its numeric suffix (`mysql-bin` of
    /// `mysql-bin.000010`): one server's binlog series. Positions order
    /// meaningfully by file and offset only within one series.
    pub fn base_name(&self) -> &str {
        self.sequence().1
    }

    fn sequence(&self) -> (u64, &str) {
        let (base, suffix) = self.file.rsplit_once('.').unwrap_or(("", self.file.as_str()));
        (suffix.parse().unwrap_or(0), base)
    }
}

impl PartialEq for BinlogPosition {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for BinlogPosition {}

impl std::hash::Hash for BinlogPosition {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: the GTID does not take part.
        self.sequence().hash(state);
        self.offset.hash(state);
    }
}

impl PartialOrd for BinlogPosition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BinlogPosition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (seq_a, base_a) = self.sequence();
        let (seq_b, base_b) = other.sequence();
        base_a.cmp(base_b).then(seq_a.cmp(&seq_b)).then(self.offset.cmp(&other.offset))
    }
}

/// A position in one source's change log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// PostgreSQL: the end LSN of a transaction's commit record (pgoutput
    /// Commit `end_lsn`), or a keepalive's WAL end when the stream is idle.
    Postgres(Lsn),
    /// MySQL/MariaDB binlog.
    Binlog(BinlogPosition),
}

impl Position {
    /// True when the transaction whose `Transaction::position` is `self` is
    /// already contained in `applied` (a commit position: the end of the last
    /// applied transaction), so replaying it would duplicate its effect.
    /// Strict for both engines, because the next transaction may begin
    /// exactly where the previous one ended: PostgreSQL — its commit record
    /// starts before the applied commit record's end (adjacent commit
    /// records: the next one's LSN equals the previous `end_lsn`); binlog —
    /// its first event starts before the applied commit event's end.
    ///
    /// MySQL with GTIDs: when the transaction's begin position names its
    /// GTID and the applied position carries the executed GTID set, covered
    /// means the set contains the GTID — exact also when the two positions
    /// come from different servers of one replication topology (after a
    /// failover, file names and offsets of the servers are unrelated).
    ///
    /// MariaDB: when the two positions lie in different binlog series
    /// (another server's files, after a failover), the transaction's GTID
    /// `D-S-N` is covered when the applied GTID state holds domain `D` at a
    /// sequence number of at least `N` — how a MariaDB replica with
    /// `gtid_strict_mode` decides it. Within one series file and offset
    /// decide (exact there, also without strict mode).
    ///
    /// Metadata that cannot be read falls back to file and offset.
    pub fn is_covered_by(&self, applied: &Position) -> bool {
        match (self, applied) {
            (Position::Postgres(tx), Position::Postgres(done)) => tx < done,
            (Position::Binlog(tx), Position::Binlog(done)) => {
                let by_gtid = match (tx.mysql_gtid(), done.mysql_gtid_set(), tx.mariadb_gtid(), done.gtid.as_deref()) {
                    (Some(gtid), Some(set), _, _) => mysql_gtid_set_contains(set, gtid),
                    (_, _, Some(gtid), Some(state)) if tx.base_name() != done.base_name() => {
                        mariadb_state_contains(state, gtid)
                    }
                    _ => None,
                };
                by_gtid.unwrap_or_else(|| tx < done)
            }
            // Positions of different kinds never belong to one source.
            _ => false,
        }
    }

    /// Fixed-width text that sorts as the positions do (within one source):
    /// `pg:` + 16 hex digits, or `binlog:` + the file's numeric suffix and
    /// the offset as 20 digits each. Used where positions are ordered by a
    /// database (the dead-letter table's `seq`).
    pub fn sort_key(&self) -> String {
        match self {
            Position::Postgres(lsn) => format!("pg:{:016X}", lsn.0),
            Position::Binlog(position) => {
                let (sequence, _) = position.sequence();
                format!("binlog:{sequence:020}:{:020}", position.offset)
            }
        }
    }

    /// The stable text form stored in offsets tables and checkpoints (`pg:0/16B3748`).
    pub fn encode(&self) -> String {
        match self {
            Position::Postgres(lsn) => format!("pg:{lsn}"),
            Position::Binlog(BinlogPosition { file, offset, gtid: None }) => format!("binlog:{file}:{offset}"),
            Position::Binlog(BinlogPosition { file, offset, gtid: Some(gtid) }) => {
                format!("binlog:{file}:{offset}:{gtid}")
            }
        }
    }

    pub fn decode(text: &str) -> Result<Position, InvalidPosition> {
        match text.split_once(':') {
            Some(("pg", lsn)) => Ok(Position::Postgres(lsn.parse()?)),
            Some(("binlog", rest)) => {
                let invalid = || InvalidPosition(text.to_owned());
                let mut parts = rest.splitn(3, ':');
                let file = parts.next().filter(|f| !f.is_empty()).ok_or_else(invalid)?;
                let offset = parts.next().and_then(|o| o.parse().ok()).ok_or_else(invalid)?;
                let gtid = parts.next().map(str::to_owned);
                Ok(Position::Binlog(BinlogPosition { file: file.to_owned(), offset, gtid }))
            }
            _ => Err(InvalidPosition(text.to_owned())),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// Whether MySQL GTID set text (`uuid:1-5:11-18:tag:1-3,uuid2:1-27`)
/// contains the GTID `uuid:n` or `uuid:tag:n`; `None` when either is
/// malformed. UUIDs and tags compare case-insensitively, as MySQL's do.
/// (The MySQL connector owns the full set arithmetic; this is the one
/// question the engine asks.)
fn mysql_gtid_set_contains(set: &str, gtid: &str) -> Option<bool> {
    let uuid_like = |text: &str| {
        let hex = text.bytes().filter(u8::is_ascii_hexdigit).count();
        hex == 32 && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
    };
    let tag_like = |text: &str| {
        text.len() <= 32
            && text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let parts: Vec<&str> = gtid.split(':').map(str::trim).collect();
    let (uuid, tag, number) = match parts.as_slice() {
        [uuid, number] => (*uuid, "", number.parse::<i64>().ok()?),
        [uuid, tag, number] if tag_like(tag) => (*uuid, *tag, number.parse::<i64>().ok()?),
        _ => return None,
    };
    if !uuid_like(uuid) {
        return None;
    }
    if set.trim().is_empty() {
        return Some(false);
    }
    let mut contained = false;
    for uuid_set in set.split(',') {
        let mut items = uuid_set.split(':').map(str::trim);
        let this_uuid = items.next().filter(|u| uuid_like(u))?;
        let same_uuid = this_uuid.eq_ignore_ascii_case(uuid);
        let mut current_tag = "";
        let mut intervals = 0;
        for item in items {
            if !item.starts_with(|c: char| c.is_ascii_digit()) {
                current_tag = Some(item).filter(|t| tag_like(t))?;
                continue;
            }
            let (start, end) = match item.split_once('-') {
                Some((start, end)) => (start.trim().parse::<i64>().ok()?, end.trim().parse::<i64>().ok()?),
                None => (item.parse::<i64>().ok()?, item.parse::<i64>().ok()?),
            };
            if start < 1 || end < start {
                return None;
            }
            intervals += 1;
            if same_uuid && current_tag.eq_ignore_ascii_case(tag) && (start..=end).contains(&number) {
                contained = true;
            }
        }
        if intervals == 0 {
            return None;
        }
    }
    Some(contained)
}

/// Whether a MariaDB GTID state (`0-1-7,1-2-9`) holds the GTID `D-S-N`:
/// its domain `D` is there with a sequence number of at least `N` (the
/// server id does not matter: with `gtid_strict_mode` sequence numbers only
/// grow within a domain, whichever server writes). `None` when either is
/// malformed or the state is empty.
fn mariadb_state_contains(state: &str, gtid: &str) -> Option<bool> {
    let parse = |text: &str| -> Option<(u32, u64)> {
        let mut fields = text.trim().splitn(3, '-');
        let domain = fields.next()?.parse().ok()?;
        let _server: u32 = fields.next()?.parse().ok()?;
        let sequence = fields.next()?.parse().ok()?;
        Some((domain, sequence))
    };
    let (domain, sequence) = parse(gtid)?;
    if state.trim().is_empty() {
        return None;
    }
    let mut contained = false;
    for entry in state.split(',') {
        let (d, s) = parse(entry)?;
        contained |= d == domain && s >= sequence;
    }
    Some(contained)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Not a Sluice position: {0:?}; expected e.g. \"pg:0/16B3748\"")]
pub struct InvalidPosition(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_sort_as_positions_do() {
        let pg = [Position::Postgres(Lsn(0x9A)), Position::Postgres(Lsn(0x16B_3748)), Position::Postgres(Lsn(1 << 40))];
        let binlog = |file: &str, offset| Position::Binlog(BinlogPosition { file: file.into(), offset, gtid: None });
        let binlog = [binlog("b.000009", 900), binlog("b.000010", 4), binlog("b.000010", 120), binlog("b.1000000", 4)];
        for positions in [&pg[..], &binlog[..]] {
            for pair in positions.windows(2) {
                assert!(pair[0] < pair[1]);
                assert!(pair[0].sort_key() < pair[1].sort_key(), "{} vs {}", pair[0].sort_key(), pair[1].sort_key());
            }
        }
    }

    #[test]
    fn lsn_text_round_trips_like_postgres_prints_it() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert!("16B374D848".parse::<Lsn>().is_err());
    }

    #[test]
    fn position_encoding_round_trips() {
        let p = Position::Postgres(Lsn(0x1_0000_0010));
        assert_eq!(p.encode(), "pg:1/10");
        assert_eq!(Position::decode("pg:1/10").unwrap(), p);
        assert!(Position::decode("mysql:1/10").is_err());
        let binlog =
            Position::Binlog(BinlogPosition { file: "mysql-bin.000003".into(), offset: 4, gtid: Some("0-1-7".into()) });
        assert_eq!(binlog.encode(), "binlog:mysql-bin.000003:4:0-1-7");
        assert_eq!(Position::decode(&binlog.encode()).unwrap(), binlog);
        assert!(Position::decode("binlog::4").is_err());
    }

    #[test]
    fn binlog_positions_order_by_file_number_then_offset() {
        let at = |file: &str, offset| BinlogPosition { file: file.into(), offset, gtid: None };
        assert!(at("b.000009", 900) < at("b.000010", 4));
        assert!(at("b.999999", 900) < at("b.1000000", 4));
        assert!(at("b.000010", 4) < at("b.000010", 5));
        assert_eq!(at("b.000010", 4), BinlogPosition { gtid: Some("x".into()), ..at("b.000010", 4) });
    }

    #[test]
    fn gtid_metadata_round_trips_and_takes_no_part_in_order() {
        let set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18:tag:1-3,8d5b4a8c-0000-4000-8000-000000000001:1-27";
        let at = |file: &str, offset, gtid: Option<String>| BinlogPosition { file: file.into(), offset, gtid };
        let mysql = Position::Binlog(at("binlog.000003", 1234, Some(format!("gtid_set={set}"))));
        assert_eq!(mysql.encode(), format!("binlog:binlog.000003:1234:gtid_set={set}"));
        let decoded = Position::decode(&mysql.encode()).unwrap();
        let Position::Binlog(decoded) = &decoded else { panic!() };
        assert_eq!(decoded.mysql_gtid_set(), Some(set));
        assert_eq!(decoded.mysql_gtid(), None);
        // MariaDB states and bare (older) MySQL GTIDs are not MySQL sets.
        for other in ["0-1-7,1-2-9", "3e11fa47-71ca-11e1-9e33-c80aa9429562:23"] {
            let position = at("b.000001", 4, Some(other.into()));
            assert_eq!(position.mysql_gtid_set(), None, "{other}");
            assert_eq!(position.mysql_gtid(), None, "{other}");
        }
        let begin = at("binlog.000003", 900, Some("gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:19".into()));
        assert_eq!(begin.mysql_gtid(), Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:19"));
        // Equality, order and sort keys ignore the metadata.
        let plain = Position::Binlog(at("binlog.000003", 1234, None));
        assert_eq!(mysql, plain);
        assert_eq!(mysql.sort_key(), plain.sort_key());
        assert!(Position::Binlog(begin) < mysql);
    }

    #[test]
    fn mysql_gtids_decide_coverage_across_servers() {
        let set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18:tag:1-3,8d5b4a8c-0000-4000-8000-000000000001:1-27";
        let applied = Position::Binlog(BinlogPosition {
            file: "old-primary-bin.000010".into(),
            offset: 5000,
            gtid: Some(format!("gtid_set={set}")),
        });
        // After a failover the new server's offsets say nothing: the GTID decides.
        let begin = |offset, gtid: &str| {
            Position::Binlog(BinlogPosition {
                file: "replica-bin.000002".into(),
                offset,
                gtid: Some(format!("gtid={gtid}")),
            })
        };
        assert!(begin(300, "3E11FA47-71CA-11E1-9E33-C80AA9429562:12").is_covered_by(&applied));
        assert!(!begin(300, "3e11fa47-71ca-11e1-9e33-c80aa9429562:19").is_covered_by(&applied));
        assert!(begin(300, "3e11fa47-71ca-11e1-9e33-c80aa9429562:TAG:3").is_covered_by(&applied));
        assert!(!begin(300, "3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:4").is_covered_by(&applied));
        assert!(!begin(300, "3e11fa47-71ca-11e1-9e33-c80aa9429562:other:1").is_covered_by(&applied));
        assert!(begin(9_000_000, "8d5b4a8c-0000-4000-8000-000000000001:27").is_covered_by(&applied));
        assert!(!begin(1, "8d5b4a8c-0000-4000-8000-000000000001:28").is_covered_by(&applied));
        // Without a set on the applied side (or a GTID on the transaction), file and offset decide.
        let plain = Position::Binlog(BinlogPosition { file: "b.000001".into(), offset: 200, gtid: None });
        let tx = Position::Binlog(BinlogPosition {
            file: "b.000001".into(),
            offset: 100,
            gtid: Some("gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1".into()),
        });
        assert!(tx.is_covered_by(&plain));
        // A malformed set falls back to file and offset; the empty set contains nothing.
        for malformed in [
            "gtid_set=nonsense:1",
            "gtid_set=3e11fa47-71ca-11e1-9e33-c80aa9429562:x",
            "gtid_set=3e11fa47-71ca-11e1-9e33-c80aa9429562",
        ] {
            let broken = Position::Binlog(BinlogPosition { gtid: Some(malformed.into()), ..binlog(&plain) });
            assert!(tx.is_covered_by(&broken), "{malformed}");
        }
        let empty = Position::Binlog(BinlogPosition { gtid: Some("gtid_set=".into()), ..binlog(&plain) });
        assert!(!tx.is_covered_by(&empty), "nothing executed: nothing covered");
    }

    #[test]
    fn mariadb_gtids_decide_coverage_only_across_binlog_series() {
        let at = |file: &str, offset, gtid: &str| {
            Position::Binlog(BinlogPosition { file: file.into(), offset, gtid: Some(gtid.into()) })
        };
        // The target holds a position of the failed primary; the stream reads the new one.
        let applied = at("old-primary-bin.000007", 650, "0-1-100,1-1-9");
        let begin = |gtid: &str| at("a-new-primary-bin.000002", 4_000, &format!("mariadb_gtid={gtid}"));
        assert!(begin("0-1-99").is_covered_by(&applied));
        assert!(begin("0-2-100").is_covered_by(&applied), "the sequence number decides, not the server");
        assert!(!begin("0-2-101").is_covered_by(&applied));
        assert!(begin("1-1-9").is_covered_by(&applied));
        assert!(!begin("1-3-10").is_covered_by(&applied));
        assert!(!begin("2-1-1").is_covered_by(&applied), "a domain the state lacks is not applied");
        // The same series: file and offset decide, whatever the GTID says.
        let same = at("old-primary-bin.000007", 700, "mariadb_gtid=0-1-50");
        assert!(!same.is_covered_by(&applied));
        let Position::Binlog(bytes) = &applied else { panic!() };
        assert_eq!(bytes.base_name(), "old-primary-bin");
        // Unreadable metadata falls back to file and offset ("a-new…" sorts before "old-…").
        for (tx, done) in [
            (begin("0-1-200"), at("old-primary-bin.000007", 650, "nonsense")),
            (begin("0-x-200"), applied.clone()),
            (begin("0-1-200"), at("old-primary-bin.000007", 650, "")),
        ] {
            assert!(tx.is_covered_by(&done), "{tx} vs {done}");
        }
        let Position::Binlog(tx) = begin("0-1-5") else { panic!() };
        assert_eq!((tx.mariadb_gtid(), tx.mysql_gtid(), tx.mysql_gtid_set()), (Some("0-1-5"), None, None));
    }

    fn binlog(position: &Position) -> BinlogPosition {
        match position {
            Position::Binlog(position) => position.clone(),
            Position::Postgres(_) => panic!(),
        }
    }

    #[test]
    fn covered_means_at_or_before() {
        let a = Position::Postgres(Lsn(10));
        let b = Position::Postgres(Lsn(20));
        assert!(a.is_covered_by(&b));
        assert!(!b.is_covered_by(&b), "a commit record starting at the applied end is the next transaction");
        assert!(!b.is_covered_by(&a));
        let at = |offset| Position::Binlog(BinlogPosition { file: "b.000001".into(), offset, gtid: None });
        assert!(at(100).is_covered_by(&at(200)), "a transaction that began before the applied end is applied");
        assert!(!at(200).is_covered_by(&at(200)), "the next transaction begins exactly at the applied end");
    }
}
