//! Event groups: opening a transaction at its first event, emitting Begin
//! lazily, and ending it with a Commit (routed changes) or idle Progress.
//!
//! A group opens at a MariaDB GTID event (which stands for `BEGIN`), at a
//! `BEGIN`/`XA START` query (MySQL, after its GTID event), or at a
//! standalone statement (DDL). Its position is its first event: the GTID
//! event when there is one. It ends at XID, at a `COMMIT`/`ROLLBACK` query,
//! at XA_PREPARE, or right after a standalone statement; the end of that
//! last event is the commit position, where the next group starts.
//!
//! Progress is emitted only between groups and only when it moves past the
//! last emitted position, at most once per second: a group without routed
//! changes, and heartbeats while idle, both produce it.

use std::sync::Arc;
use std::time::Duration;

use sluice_api::{BinlogPosition, Position, SourceEvent, Transaction};
use tokio::time::Instant;

use super::{Cover, Decoder, Stop};
use crate::error::MySqlError;
use crate::source::gtid_set::Gtid;
use crate::source::position::GtidTracker;

/// Idle progress is emitted at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The first event of a group, until the group is known to be a transaction or a statement.
#[derive(Clone, Debug)]
pub(super) struct GroupStart {
    pub(super) offset: u64,
    pub(super) gtid: Option<String>,
    pub(super) timestamp: u32,
    pub(super) xa: bool,
    /// MySQL: the group's GTID.
    pub(super) mysql_gtid: Option<Gtid>,
}

/// The event group being read.
pub(super) struct OpenGroup {
    pub(super) transaction: Arc<Transaction>,
    /// Already in every target: read, emit nothing.
    pub(super) covered: bool,
    pub(super) xa: bool,
    /// Begin has been emitted.
    pub(super) begun: bool,
}

impl Decoder {
    pub(super) fn expect_no_group(&self, what: &str) -> Result<(), MySqlError> {
        if self.group.is_some() {
            return Err(MySqlError::Protocol {
                what: "binlog event group",
                reason: format!("a {what} at {}:{} inside an unfinished transaction", self.file, self.end),
            });
        }
        Ok(())
    }

    /// Opens a group whose first event is the pending GTID event (if any) or the one at `offset`.
    pub(super) fn open_group(&mut self, offset: u64, timestamp: u32, xa: bool) {
        let start =
            self.start.take().unwrap_or(GroupStart { offset, gtid: None, timestamp, xa: false, mysql_gtid: None });
        // The begin position carries no GTID state: resuming from it by GTID
        // would skip this very transaction. The group's own GTID rides along
        // (MySQL `gtid=uuid:n`, MariaDB `mariadb_gtid=D-S-N`), so that
        // coverage can be decided by GTID against a position of another
        // server (`Position::is_covered_by`).
        let gtid = match (&start.mysql_gtid, &start.gtid, &self.gtids) {
            (Some(gtid), _, _) => Some(format!("{}{gtid}", BinlogPosition::MYSQL_GTID)),
            (None, Some(gtid), GtidTracker::MariaDb(_)) => Some(format!("{}{gtid}", BinlogPosition::MARIADB_GTID)),
            _ => None,
        };
        let position = BinlogPosition { file: self.file.clone(), offset: start.offset, gtid };
        let covered = match (&self.cover, &start.mysql_gtid) {
            (Cover::ExecutedGtids, Some(gtid)) => self.gtids.mysql_contains(gtid),
            (Cover::ExecutedGtids, None) => false,
            (Cover::Before(resume), _) => resume.as_ref().is_some_and(|resume| position < *resume),
        };
        let id = start.gtid.unwrap_or_else(|| format!("{}:{}", self.file, start.offset));
        let transaction = Arc::new(Transaction {
            id,
            position: Position::Binlog(position),
            commit_time_micros: i64::from(start.timestamp) * 1_000_000,
            origin: None,
        });
        self.group = Some(OpenGroup { transaction, covered, xa: xa || start.xa, begun: false });
    }

    pub(super) async fn begin_if_needed(&mut self) -> Result<Arc<Transaction>, Stop> {
        let group = self.group.as_mut().ok_or_else(|| MySqlError::Protocol {
            what: "binlog event group",
            reason: "a change outside a transaction".into(),
        })?;
        let transaction = Arc::clone(&group.transaction);
        if !group.begun {
            group.begun = true;
            self.emit(SourceEvent::Begin(Arc::clone(&transaction))).await?;
        }
        Ok(transaction)
    }

    /// Ends the open group at `log_pos` (inside a compressed payload: the payload's end).
    pub(super) async fn commit(&mut self, log_pos: u64) -> Result<(), Stop> {
        let end = self.payload_end.take().unwrap_or(log_pos);
        // The group's MySQL GTID is executed now, covered or not: the
        // position taken below carries the set including it.
        self.gtids.commit_mysql();
        let Some(group) = self.group.take() else {
            return Err(MySqlError::Protocol {
                what: "binlog event group",
                reason: format!("a commit outside a transaction at {}:{end}", self.file),
            }
            .into());
        };
        self.end = end;
        let position = self.position(end);
        if group.covered {
            return Ok(());
        }
        if group.begun {
            self.emit(SourceEvent::Commit {
                transaction: group.transaction,
                position: Position::Binlog(position.clone()),
            })
            .await?;
            self.last_position = Some(position);
            return Ok(());
        }
        self.progress(position).await
    }

    /// Emits `Progress(position)` when it is news, at most once per [`PROGRESS_EVERY`].
    pub(super) async fn progress(&mut self, position: BinlogPosition) -> Result<(), Stop> {
        let news = self.last_position.as_ref().is_none_or(|last| position > *last);
        let awaited = matches!(&*self.wanted.borrow(), Some(Position::Binlog(wanted)) if position >= *wanted);
        let throttled = !awaited && self.last_progress.is_some_and(|at| at.elapsed() < PROGRESS_EVERY);
        // Never a position inside the covered head a MySQL dump reads to learn its GTID set.
        let covered = matches!(&self.cover, Cover::Before(Some(start)) if position < *start);
        if !news || throttled || covered {
            return Ok(());
        }
        self.emit(SourceEvent::Progress(Position::Binlog(position.clone()))).await?;
        self.last_position = Some(position);
        self.last_progress = Some(Instant::now());
        Ok(())
    }
}
