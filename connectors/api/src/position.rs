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
/// transaction's commit event, plus the transaction's GTID when the server
/// uses GTIDs (MariaDB `domain-server-seq`, MySQL `uuid:n`).
///
/// Ordered by the file's numeric suffix (`mysql-bin.000009` <
/// `mysql-bin.000010` < `mysql-bin.1000000`), then the offset; the GTID
/// does not take part in ordering (it is resumption metadata).
#[derive(Clone, Debug)]
pub struct BinlogPosition {
    pub file: String,
    pub offset: u64,
    pub gtid: Option<String>,
}

impl BinlogPosition {
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
    pub fn is_covered_by(&self, applied: &Position) -> bool {
        match (self, applied) {
            (Position::Postgres(tx), Position::Postgres(done)) => tx < done,
            (Position::Binlog(tx), Position::Binlog(done)) => tx < done,
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
