//! The running source: reads binlog events one at a time and sends
//! `SourceEvent`s into the bounded channel.
//!
//! # Event groups and positions
//!
//! A transaction is an event group: MariaDB starts it with a GTID event
//! (162) that replaces `BEGIN`, MySQL with a GTID/anonymous GTID event and a
//! `BEGIN` query; it ends with XID, or with a `COMMIT`/`ROLLBACK` query for
//! non-transactional tables. A MariaDB GTID with FL_STANDALONE (and any DDL
//! without a GTID) is a group of one statement. The transaction's position
//! is its first event (file + `log_pos - event_size`); its commit position
//! is the end of its last event (`log_pos` of the XID), which is where the
//! next group begins — exactly the contract of `Position::is_covered_by`.
//! Commit time is the first event's timestamp: the binlog has whole seconds
//! only, so `commit_time_micros` is a multiple of 1,000,000.
//!
//! Begin is emitted lazily at the first change of a routed table; a group
//! without one only advances idle progress (`Progress`, at most once per
//! second, also on heartbeats between groups). Groups at or before the
//! resume position are read but emit nothing ([`Cover`]: by file and
//! offset, or after a MySQL GTID resume by the executed set).
//!
//! # MySQL GTIDs
//!
//! With `gtid_mode=ON` every MySQL group starts with a GTID event (33, or
//! 42 when tagged); the tracker (`position.rs`) adds that GTID to the
//! executed set when the group ends, before the commit position is taken,
//! so every commit and progress position carries the set including its
//! transaction. The set's base is the resume set, or the PREVIOUS_GTIDS
//! event (35) of the file the dump starts in; an ANONYMOUS_GTID event (34)
//! ends tracking (`position.rs`). The begin position of a MySQL group
//! carries the group's own GTID (`gtid=uuid:n`) for
//! `Position::is_covered_by`; so does a MariaDB group's
//! (`mariadb_gtid=D-S-N`), which decides coverage against a position of
//! another binlog series (a target that last applied from the failed
//! primary).
//!
//! # Memory and backpressure
//!
//! Rows are decoded and sent one by one, so the channel's capacity bounds
//! what is buffered — a million-row transaction streams through in
//! constant memory. While the channel is full the task does not read, the
//! server's writes block, and the dump session's `net_write_timeout` (set
//! high in `mod.rs`) keeps the server from dropping the connection.
//!
//! # Errors
//!
//! Every error ends the stream (sent on the channel, then the task stops);
//! a lost connection, a server shutdown and a silent server (no event or
//! heartbeat for `read_timeout`) are Connection errors, which the engine
//! retries from the durable position.
//!
//! `group.rs` opens and ends event groups (Begin, Commit, Progress);
//! `statement.rs` handles Query statements and rows events.

mod group;
mod statement;

use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::BinlogStream;
use mysql_async::binlog::events::Event;
use sluice_api::{BinlogPosition, ConnectorError, Position, SourceEvent};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::ddl;
use super::events::{self, EventKind};
use super::position::GtidTracker;
use super::tables::Tables;
use crate::error::MySqlError;
use group::{GroupStart, OpenGroup};

pub(crate) type EventSender = mpsc::Sender<Result<SourceEvent, ConnectorError>>;

/// Which groups are already in every target: read, emit nothing.
#[derive(Clone, Debug)]
pub(crate) enum Cover {
    /// Groups that begin before this position (none without one).
    Before(Option<BinlogPosition>),
    /// MySQL GTID resume: groups whose GTID the executed set holds (the
    /// server skips those itself; a resent one would be skipped here).
    ExecutedGtids,
}

/// Why the reader stopped.
pub(crate) enum Stop {
    /// The engine dropped the events receiver.
    Closed,
    Failed(MySqlError),
}

impl From<MySqlError> for Stop {
    fn from(error: MySqlError) -> Stop {
        Stop::Failed(error)
    }
}

/// The stream's decoding state.
pub(crate) struct Decoder {
    events: EventSender,
    tables: Tables,
    cover: Cover,
    file: String,
    /// End of the last event read: where the next event starts.
    end: u64,
    gtids: GtidTracker,
    /// Binlog checksums are on: the first Rotate still carries its 4 bytes.
    checksum: bool,
    seen_format_description: bool,
    /// Byte sizes of table ids in TABLE_MAP and rows events (6, or 4 for pre-5.1 servers).
    id_size: usize,
    start: Option<GroupStart>,
    group: Option<OpenGroup>,
    /// MySQL transaction compression: the end of the payload event holding the group.
    payload_end: Option<u64>,
    last_position: Option<BinlogPosition>,
    last_progress: Option<Instant>,
    /// A position the engine waits for (see `SourceStream::progress_wanted`).
    wanted: watch::Receiver<Option<Position>>,
    wanted_open: bool,
}

impl Decoder {
    pub(crate) fn new(
        events: EventSender,
        tables: Tables,
        resume: Option<BinlogPosition>,
        file: String,
        end: u64,
        gtids: GtidTracker,
        checksum: bool,
    ) -> Decoder {
        // Nothing is wanted until `with_progress_wanted`.
        let (_, wanted) = watch::channel(None);
        Decoder {
            events,
            tables,
            last_position: resume.clone(),
            cover: Cover::Before(resume),
            file,
            end,
            gtids,
            checksum,
            seen_format_description: false,
            id_size: 6,
            start: None,
            group: None,
            payload_end: None,
            last_progress: None,
            wanted,
            wanted_open: false,
        }
    }

    /// Decides coverage otherwise than by the resume position.
    pub(crate) fn with_cover(mut self, cover: Cover) -> Decoder {
        self.cover = cover;
        self
    }

    /// Listens for positions the engine waits for (`SourceStream::progress_wanted`).
    pub(crate) fn with_progress_wanted(mut self, wanted: watch::Receiver<Option<Position>>) -> Decoder {
        self.wanted = wanted;
        self.wanted_open = true;
        self
    }

    /// Reads events until the connection fails or the engine drops the receiver.
    async fn read_loop(&mut self, mut binlog: BinlogStream, read_timeout: Duration) -> Result<(), Stop> {
        loop {
            // Stop as soon as the engine drops the receiver, even on an idle
            // stream (a binlog source has no final acknowledgement to send).
            let next = tokio::select! {
                biased;
                _ = self.events.closed() => return Err(Stop::Closed),
                // The engine waits for a position this stream may already
                // have read past (an idle binlog sends nothing more).
                changed = self.wanted.changed(), if self.wanted_open => {
                    if changed.is_err() {
                        // The engine dropped its end: nothing will be wanted again.
                        self.wanted_open = false;
                    } else if self.group.is_none() && self.start.is_none() {
                        let position = self.position(self.end);
                        self.progress(position).await?;
                    }
                    continue;
                }
                next = tokio::time::timeout(read_timeout, binlog.next()) => next,
            };
            let event = match next {
                Err(_) => return Err(super::silent_server(read_timeout).into()),
                Ok(None) => return Err(super::stream_closed().into()),
                Ok(Some(Err(error))) => {
                    return Err(super::read_error(error, &Position::Binlog(self.position(self.end))).into());
                }
                Ok(Some(Ok(event))) => event,
            };
            self.handle(&event).await?;
        }
    }

    fn position(&self, offset: u64) -> BinlogPosition {
        BinlogPosition { file: self.file.clone(), offset, gtid: self.gtids.text() }
    }

    async fn emit(&self, event: SourceEvent) -> Result<(), Stop> {
        self.events.send(Ok(event)).await.map_err(|_| Stop::Closed)
    }

    async fn handle(&mut self, event: &Event) -> Result<(), Stop> {
        let header = event.header();
        let event_type = header.event_type_raw();
        let log_pos = u64::from(header.log_pos());
        let artificial = header.flags_raw() & events::FLAG_ARTIFICIAL != 0 || log_pos == 0;
        let in_payload = self.payload_end.is_some();
        let event_start =
            if artificial || in_payload { self.end } else { log_pos.saturating_sub(u64::from(header.event_size())) };
        let body = event.data();
        match events::classify(event_type, header.flags_raw()) {
            EventKind::Rotate => {
                let rotate = events::parse_rotate(body, self.checksum && !self.seen_format_description)?;
                if !artificial {
                    self.tables.forget_ids();
                }
                tracing::debug!(file = %rotate.file, position = rotate.position, "binlog rotated");
                self.file = rotate.file;
                self.end = rotate.position;
                return Ok(());
            }
            EventKind::FormatDescription => {
                self.seen_format_description = true;
                let fde = event.fde();
                let post_header = fde.get_event_type_header_length(mysql_async::binlog::EventType::TABLE_MAP_EVENT);
                self.id_size = if post_header == 6 { 4 } else { 6 };
            }
            EventKind::MariaDbGtid => {
                let gtid = events::parse_mariadb_gtid(body, header.server_id())?;
                self.expect_no_group("MariaDB GTID event")?;
                self.gtids.record_mariadb(&gtid);
                let start = GroupStart {
                    offset: event_start,
                    gtid: Some(gtid.text()),
                    timestamp: header.timestamp(),
                    xa: gtid.is_prepared_xa(),
                    mysql_gtid: None,
                };
                self.start = Some(start);
                if !gtid.is_standalone() {
                    self.open_group(event_start, header.timestamp(), false);
                }
            }
            EventKind::MySqlGtid | EventKind::MySqlTaggedGtid => {
                let gtid = if event_type == events::GTID_TAGGED {
                    events::parse_mysql_tagged_gtid(body)?
                } else {
                    events::parse_mysql_gtid(body)?
                };
                self.expect_no_group("GTID event")?;
                self.gtids.begin_mysql(gtid.clone());
                self.start = Some(GroupStart {
                    offset: event_start,
                    gtid: Some(gtid.to_string()),
                    timestamp: header.timestamp(),
                    xa: false,
                    mysql_gtid: Some(gtid),
                });
            }
            EventKind::AnonymousGtid => {
                self.expect_no_group("anonymous GTID event")?;
                self.gtids.anonymous_mysql();
                self.start = Some(GroupStart {
                    offset: event_start,
                    gtid: None,
                    timestamp: header.timestamp(),
                    xa: false,
                    mysql_gtid: None,
                });
            }
            EventKind::PreviousGtids => self.gtids.previous_mysql(&events::parse_previous_gtids(body)?),
            EventKind::TransactionPayload => {
                self.payload_end = Some(log_pos);
                return Ok(());
            }
            EventKind::Query { compressed } => {
                let query = events::parse_query(body, compressed)?;
                let statement = ddl::classify(&String::from_utf8_lossy(&query.statement), &query.schema);
                self.statement(statement, event_start, header.timestamp(), log_pos).await?;
            }
            EventKind::TableMap => {
                if self.group.as_ref().is_none_or(|group| !group.covered) {
                    self.tables.table_map(body, self.id_size).await?;
                }
            }
            EventKind::Rows => self.rows(event_type, body).await?,
            EventKind::Xid => self.commit(log_pos).await?,
            EventKind::XaPrepare => {
                // The prepare phase ends the group; its changes are refused at the first routed row.
                if self.group.is_some() {
                    self.commit(log_pos).await?;
                }
            }
            EventKind::Heartbeat => {
                let between_groups = self.group.is_none() && self.start.is_none() && !in_payload;
                if between_groups && log_pos > 0 && event_type == events::HEARTBEAT {
                    self.progress(self.position(log_pos)).await?;
                }
                return Ok(());
            }
            EventKind::GtidList => self.gtids.merge_mariadb_list(&events::parse_gtid_list(body)?),
            EventKind::BinlogCheckpoint => {
                tracing::debug!(file = %events::parse_binlog_checkpoint(body)?, "binlog checkpoint");
            }
            EventKind::Harmless => {}
            EventKind::Incident => {
                return Err(MySqlError::ResnapshotNeeded {
                    message: format!(
                        "The server logged an INCIDENT event at {}: changes may be missing from its binlog",
                        Position::Binlog(self.position(event_start))
                    ),
                }
                .into());
            }
            EventKind::Unsupported(fix) => {
                return Err(MySqlError::Config {
                    setting: "binlog".into(),
                    message: format!(
                        "Binlog event type {event_type} at {}: {fix}",
                        Position::Binlog(self.position(event_start))
                    ),
                }
                .into());
            }
            EventKind::Unknown => {
                return Err(MySqlError::Protocol {
                    what: "binlog event",
                    reason: format!(
                        "unknown event type {event_type} at {}:{event_start}, which may carry rows",
                        self.file
                    ),
                }
                .into());
            }
        }
        if !artificial && !in_payload {
            self.end = log_pos;
        }
        Ok(())
    }
}

/// Runs a decoder until it stops; reports the error on the channel.
pub(crate) async fn run(
    mut decoder: Decoder,
    binlog: BinlogStream,
    read_timeout: Duration,
    durable: watch::Receiver<Option<Position>>,
) {
    let events = decoder.events.clone();
    let outcome = decoder.read_loop(binlog, read_timeout).await;
    drop(durable);
    match outcome {
        Ok(()) | Err(Stop::Closed) => tracing::info!("mysql source stopped: events receiver dropped"),
        Err(Stop::Failed(error)) => {
            tracing::warn!(%error, "mysql source stream ended");
            let _ = events.send(Err(ConnectorError::from(error))).await;
        }
    }
}

#[cfg(test)]
#[path = "stream/tests.rs"]
mod tests;
