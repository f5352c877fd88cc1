//! Where a PostgreSQL source with several targets resumes: the lowest of
//! the targets' positions. WAL locations of one server (and of its
//! physical replicas, which replay the same WAL) are totally ordered, so
//! the lowest LSN is a point no target is past; each target's writer then
//! skips what its own position covers (`Position::is_covered_by`).

use sluice_api::Position;

use crate::error::PostgresError;

/// The position to resume `source` from, given the position each target
/// holds (`(target, position)`; targets without one are left out by the
/// caller): the lowest LSN, `None` when no target holds one. A position of
/// another kind is a configuration error naming the target.
pub fn resume_position(source: &str, held: &[(String, Position)]) -> Result<Option<Position>, PostgresError> {
    let mut lowest = None;
    for (target, position) in held {
        let Position::Postgres(lsn) = position else {
            return Err(PostgresError::Config {
                setting: "resume position".into(),
                message: format!(
                    "Target {target} holds position {position} for source {source}, which is not a PostgreSQL \
                     position: its offsets row belongs to another source. Reset it (sluice checkpoints reset \
                     --source {source}) and copy the tables again"
                ),
            });
        };
        if lowest.is_none_or(|low| *lsn < low) {
            lowest = Some(*lsn);
        }
    }
    Ok(lowest.map(Position::Postgres))
}

#[cfg(test)]
mod tests {
    use sluice_api::{BinlogPosition, ErrorKind, HasErrorKind, Lsn};

    use super::*;

    fn held(positions: &[(&str, Position)]) -> Vec<(String, Position)> {
        positions.iter().map(|(target, position)| ((*target).to_owned(), position.clone())).collect()
    }

    #[test]
    fn resumes_from_the_lowest_lsn() {
        let positions = held(&[
            ("erp", Position::Postgres(Lsn(0x1_0000_0010))),
            ("crm", Position::Postgres(Lsn(0x16B_3748))),
            ("oa", Position::Postgres(Lsn(0x2_0000_0000))),
        ]);
        assert_eq!(resume_position("src", &positions).unwrap(), Some(Position::Postgres(Lsn(0x16B_3748))));
        assert_eq!(resume_position("src", &[]).unwrap(), None);
    }

    #[test]
    fn a_binlog_position_is_a_configuration_error_naming_the_target() {
        let binlog = Position::Binlog(BinlogPosition { file: "b.000001".into(), offset: 4, gtid: None });
        let positions = held(&[("erp", Position::Postgres(Lsn(5))), ("crm", binlog)]);
        let error = resume_position("src", &positions).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.to_string().contains("Target crm"), "{error}");
    }
}
