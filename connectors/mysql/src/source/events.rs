//! Binlog event types and the bodies Sluice parses itself.
//!
//! mysql_async frames the stream into events (19-byte header: u32
//! timestamp, u8 type, u32 server id, u32 event size, u32 `log_pos` = the
//! offset just past the event in its file, u16 flags) and strips the CRC32
//! checksum once it has seen the FormatDescription event. The bodies are
//! parsed here and in `table_map.rs` / `rows.rs`, not by mysql_common,
//! because mysql_common does not know MariaDB's events (160–171) and
//! indexes some bodies without bounds checks.
//!
//! Bodies parsed here (all integers little-endian):
//! - Rotate (4): u64 position, file name. The first, artificial Rotate of a
//!   dump arrives before the FormatDescription event, so its checksum is
//!   still attached: 4 bytes to strip from the name when the server uses
//!   checksums (mysql_async issue 189).
//! - Query (2) and MariaDB Query_compressed (165): u32 thread id, u32 exec
//!   time, u8 schema length, u16 error code, u16 status-variables length,
//!   the status variables, the schema name and a NUL, then the statement —
//!   zlib-compressed in 165 (`compressed.rs`).
//! - MariaDB GTID (162): u64 sequence number, u32 domain id, u8 flags
//!   (+ u64 commit id with FL_GROUP_COMMIT_ID, and more in newer servers);
//!   the server id is the event header's. FL_STANDALONE (1) marks an event
//!   group without BEGIN/XID: one statement (DDL), ending by itself.
//! - MariaDB GTID_LIST (163): u32 count (low 28 bits; the top 4 are flags),
//!   then per entry u32 domain, u32 server id, u64 sequence number.
//! - MariaDB BINLOG_CHECKPOINT (161): u32 length, file name. Informational.
//! - MariaDB ANNOTATE_ROWS (160): the SQL text behind the following rows
//!   events; it contains row values, so it is never parsed or logged.
//! - MySQL GTID (33): u8 flags, 16-byte source UUID, i64 transaction number
//!   (then logical clocks and commit timestamps, not needed here). An
//!   ANONYMOUS_GTID (34) has the same layout with a zero UUID and number 0:
//!   a transaction without a GTID (`gtid_mode` OFF or permissive).
//! - MySQL tagged GTID (42, MySQL 8.3+, only for tagged GTIDs): a message
//!   of MySQL's serialization library (`libs/mysql/serialization`, varlen
//!   integers in `wire.rs`): varlen format version (1) — which also serves
//!   as the message's field id —, varlen message size counted from the
//!   version byte, varlen last non-ignorable field id, then fields as
//!   (varlen field id, value) in ascending id order, each one optional:
//!   0 flags (varlen), 1 UUID (16 varlen bytes), 2 number (signed varlen),
//!   3 tag (varlen length + bytes), 4 last_committed, 5 sequence_number,
//!   6 immediate and 7 original commit timestamp, 8 transaction length,
//!   9 immediate and 10 original server version, 11 commit group ticket
//!   (`Gtid_event::define_fields` in `control_events.h`). Sluice reads
//!   fields 0–3; a last non-ignorable id beyond 12 means a newer MySQL
//!   added a field readers must understand, and is refused.
//! - MySQL PREVIOUS_GTIDS (35): the GTID set executed before the file, in
//!   `Gtid_set::encode` form (`gtid_set.rs`).
//! - Heartbeat (27): the current file name; `log_pos` is the position.

use super::gtid_set::{Gtid, GtidSet, Tsid, Uuid, normalize_tag};
use super::wire::{Reader, Truncated};
use crate::error::MySqlError;

pub(crate) const QUERY: u8 = 2;
pub(crate) const STOP: u8 = 3;
pub(crate) const ROTATE: u8 = 4;
pub(crate) const INTVAR: u8 = 5;
pub(crate) const RAND: u8 = 13;
pub(crate) const USER_VAR: u8 = 14;
pub(crate) const FORMAT_DESCRIPTION: u8 = 15;
pub(crate) const XID: u8 = 16;
pub(crate) const TABLE_MAP: u8 = 19;
pub(crate) const WRITE_ROWS_V1: u8 = 23;
pub(crate) const UPDATE_ROWS_V1: u8 = 24;
pub(crate) const DELETE_ROWS_V1: u8 = 25;
pub(crate) const INCIDENT: u8 = 26;
pub(crate) const HEARTBEAT: u8 = 27;
pub(crate) const IGNORABLE: u8 = 28;
pub(crate) const ROWS_QUERY: u8 = 29;
pub(crate) const WRITE_ROWS: u8 = 30;
pub(crate) const UPDATE_ROWS: u8 = 31;
pub(crate) const DELETE_ROWS: u8 = 32;
pub(crate) const GTID: u8 = 33;
pub(crate) const ANONYMOUS_GTID: u8 = 34;
pub(crate) const PREVIOUS_GTIDS: u8 = 35;
pub(crate) const TRANSACTION_CONTEXT: u8 = 36;
pub(crate) const VIEW_CHANGE: u8 = 37;
pub(crate) const XA_PREPARE: u8 = 38;
pub(crate) const PARTIAL_UPDATE_ROWS: u8 = 39;
pub(crate) const TRANSACTION_PAYLOAD: u8 = 40;
pub(crate) const HEARTBEAT_V2: u8 = 41;
pub(crate) const GTID_TAGGED: u8 = 42;
pub(crate) const ANNOTATE_ROWS: u8 = 160;
pub(crate) const BINLOG_CHECKPOINT: u8 = 161;
pub(crate) const MARIADB_GTID: u8 = 162;
pub(crate) const GTID_LIST: u8 = 163;
pub(crate) const START_ENCRYPTION: u8 = 164;
pub(crate) const QUERY_COMPRESSED: u8 = 165;
pub(crate) const WRITE_ROWS_COMPRESSED_V1: u8 = 166;
pub(crate) const DELETE_ROWS_COMPRESSED: u8 = 171;

/// Header flag: the event was made up by the server for this dump (the
/// first Rotate, a FormatDescription re-sent mid-file); its `log_pos` is
/// not a position in the file.
pub(crate) const FLAG_ARTIFICIAL: u16 = 0x0020;
/// Header flag: a reader that does not know the event type may skip it.
pub(crate) const FLAG_IGNORABLE: u16 = 0x0080;

/// MariaDB GTID flag: a standalone event group (no BEGIN, no XID).
const FL_STANDALONE: u8 = 0x01;
/// MariaDB GTID flag: the group is the prepare phase of an XA transaction.
const FL_PREPARED_XA: u8 = 0x40;

/// What the stream does with an event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    Query {
        compressed: bool,
    },
    Rotate,
    FormatDescription,
    Xid,
    TableMap,
    Rows,
    Heartbeat,
    MySqlGtid,
    /// MySQL 8.3+ tagged GTID (`uuid:tag:n`).
    MySqlTaggedGtid,
    /// MySQL anonymous GTID: starts a transaction that has no GTID.
    AnonymousGtid,
    /// MySQL PREVIOUS_GTIDS: the GTID set executed before this binlog file.
    PreviousGtids,
    MariaDbGtid,
    GtidList,
    BinlogCheckpoint,
    TransactionPayload,
    XaPrepare,
    /// The server reports lost events (INCIDENT): replication cannot be trusted past it.
    Incident,
    /// Events that carry no row changes and no boundaries.
    Harmless,
    /// Row changes Sluice cannot read exactly; the string says what to change.
    Unsupported(&'static str),
    /// A type Sluice does not know and the server did not mark ignorable.
    Unknown,
}

/// Classifies an event by its header type and flags.
pub(crate) fn classify(event_type: u8, flags: u16) -> EventKind {
    match event_type {
        QUERY => EventKind::Query { compressed: false },
        QUERY_COMPRESSED => EventKind::Query { compressed: true },
        ROTATE => EventKind::Rotate,
        FORMAT_DESCRIPTION => EventKind::FormatDescription,
        XID => EventKind::Xid,
        TABLE_MAP => EventKind::TableMap,
        WRITE_ROWS_V1..=DELETE_ROWS_V1 | WRITE_ROWS..=DELETE_ROWS => EventKind::Rows,
        WRITE_ROWS_COMPRESSED_V1..=DELETE_ROWS_COMPRESSED => EventKind::Rows,
        HEARTBEAT | HEARTBEAT_V2 => EventKind::Heartbeat,
        GTID => EventKind::MySqlGtid,
        GTID_TAGGED => EventKind::MySqlTaggedGtid,
        ANONYMOUS_GTID => EventKind::AnonymousGtid,
        PREVIOUS_GTIDS => EventKind::PreviousGtids,
        MARIADB_GTID => EventKind::MariaDbGtid,
        GTID_LIST => EventKind::GtidList,
        BINLOG_CHECKPOINT => EventKind::BinlogCheckpoint,
        TRANSACTION_PAYLOAD => EventKind::TransactionPayload,
        XA_PREPARE => EventKind::XaPrepare,
        INCIDENT => EventKind::Incident,
        STOP | INTVAR | RAND | USER_VAR | IGNORABLE | ROWS_QUERY | TRANSACTION_CONTEXT | VIEW_CHANGE
        | ANNOTATE_ROWS | START_ENCRYPTION => EventKind::Harmless,
        PARTIAL_UPDATE_ROWS => EventKind::Unsupported(
            "partial JSON updates (binlog_row_value_options=PARTIAL_JSON) leave JSON values incomplete; \
             run SET GLOBAL binlog_row_value_options=''",
        ),
        // Statement-based LOAD DATA and pre-GA rows events.
        6..=12 | 17 | 18 | 20..=22 => {
            EventKind::Unsupported("statement-based or pre-5.1 events carry changes as SQL; use binlog_format=ROW")
        }
        _ if flags & FLAG_IGNORABLE != 0 => EventKind::Harmless,
        _ => EventKind::Unknown,
    }
}

fn malformed(what: &'static str) -> impl Fn(Truncated) -> MySqlError {
    move |_| MySqlError::Protocol { what, reason: "the event body is truncated".into() }
}

/// A Rotate event: the stream continues in `file` at `position`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rotate {
    pub(crate) position: u64,
    pub(crate) file: String,
}

/// Parses a Rotate body; `checksum_attached` strips the trailing 4 checksum
/// bytes that the first, artificial Rotate of a dump still carries.
pub(crate) fn parse_rotate(body: &[u8], checksum_attached: bool) -> Result<Rotate, MySqlError> {
    let mut reader = Reader::new(body);
    let position = reader.u64_le().map_err(malformed("Rotate event"))?;
    let mut name = reader.rest();
    if checksum_attached {
        name = name.get(..name.len().saturating_sub(4)).unwrap_or_default();
    }
    let file = std::str::from_utf8(name)
        .ok()
        .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| MySqlError::Protocol {
            what: "Rotate event",
            reason: "the file name is not printable".into(),
        })?;
    Ok(Rotate { position, file: file.to_owned() })
}

/// A MariaDB GTID event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MariaDbGtid {
    pub(crate) domain: u32,
    pub(crate) server: u32,
    pub(crate) sequence: u64,
    pub(crate) flags: u8,
}

impl MariaDbGtid {
    /// A group of one statement, without BEGIN and XID.
    pub(crate) fn is_standalone(&self) -> bool {
        self.flags & FL_STANDALONE != 0
    }

    /// The prepare phase of an XA transaction (may still be rolled back).
    pub(crate) fn is_prepared_xa(&self) -> bool {
        self.flags & FL_PREPARED_XA != 0
    }

    /// MariaDB's text form, `domain-server-sequence`.
    pub(crate) fn text(&self) -> String {
        format!("{}-{}-{}", self.domain, self.server, self.sequence)
    }
}

/// Parses a MariaDB GTID (162) body; the server id comes from the event header.
pub(crate) fn parse_mariadb_gtid(body: &[u8], server: u32) -> Result<MariaDbGtid, MySqlError> {
    let mut reader = Reader::new(body);
    let sequence = reader.u64_le().map_err(malformed("MariaDB GTID event"))?;
    let domain = reader.u32_le().map_err(malformed("MariaDB GTID event"))?;
    let flags = reader.u8().map_err(malformed("MariaDB GTID event"))?;
    Ok(MariaDbGtid { domain, server, sequence, flags })
}

/// Parses a MariaDB GTID_LIST (163) body.
pub(crate) fn parse_gtid_list(body: &[u8]) -> Result<Vec<MariaDbGtid>, MySqlError> {
    let mut reader = Reader::new(body);
    let count = reader.u32_le().map_err(malformed("MariaDB GTID_LIST event"))? & 0x0FFF_FFFF;
    if (count as usize).saturating_mul(16) > reader.remaining() {
        return Err(MySqlError::Protocol {
            what: "MariaDB GTID_LIST event",
            reason: "the count exceeds the body".into(),
        });
    }
    (0..count)
        .map(|_| {
            let domain = reader.u32_le()?;
            let server = reader.u32_le()?;
            let sequence = reader.u64_le()?;
            Ok(MariaDbGtid { domain, server, sequence, flags: 0 })
        })
        .collect::<Result<_, Truncated>>()
        .map_err(malformed("MariaDB GTID_LIST event"))
}

/// Parses a MariaDB BINLOG_CHECKPOINT (161) body: the oldest file still needed for crash recovery.
pub(crate) fn parse_binlog_checkpoint(body: &[u8]) -> Result<String, MySqlError> {
    let mut reader = Reader::new(body);
    let len = reader.u32_le().map_err(malformed("MariaDB BINLOG_CHECKPOINT event"))? as usize;
    let name = reader.take(len).map_err(malformed("MariaDB BINLOG_CHECKPOINT event"))?;
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Parses a MySQL GTID (33) body.
pub(crate) fn parse_mysql_gtid(body: &[u8]) -> Result<Gtid, MySqlError> {
    let mut reader = Reader::new(body);
    reader.u8().map_err(malformed("GTID event"))?;
    let uuid = Uuid(reader.array().map_err(malformed("GTID event"))?);
    let number = reader.u64_le().map_err(malformed("GTID event"))? as i64;
    Gtid::new(Tsid::untagged(uuid), number).map_err(|e| MySqlError::Protocol { what: "GTID event", reason: e.0 })
}

/// The field ids of the tagged GTID event this reader knows (0 to 11).
const TAGGED_GTID_FIELDS: u64 = 12;

/// Parses a MySQL tagged GTID (42) body (see the module docs).
pub(crate) fn parse_mysql_tagged_gtid(body: &[u8]) -> Result<Gtid, MySqlError> {
    const WHAT: &str = "tagged GTID event";
    let bad = |reason: String| MySqlError::Protocol { what: WHAT, reason };
    let mut reader = Reader::new(body);
    let version = reader.varlen_u64().map_err(malformed(WHAT))?;
    if version != 1 {
        return Err(bad(format!("serialization format version {version}, Sluice reads version 1")));
    }
    let size = usize::try_from(reader.varlen_u64().map_err(malformed(WHAT))?).unwrap_or(usize::MAX);
    let last_non_ignorable = reader.varlen_u64().map_err(malformed(WHAT))?;
    if last_non_ignorable > TAGGED_GTID_FIELDS {
        return Err(bad(format!(
            "it carries field {} which readers must understand and Sluice does not know (a newer MySQL)",
            last_non_ignorable - 1
        )));
    }
    // The message size counts from the version byte; fields end there.
    let header = body.len() - reader.remaining();
    let fields = body.get(header..size).ok_or_else(|| bad(format!("message size {size} exceeds the body")))?;
    let mut reader = Reader::new(fields);
    let (mut uuid, mut number, mut tag) = (None, None, String::new());
    for id in 0..=3u64 {
        let mut peek = reader;
        if reader.is_empty() || peek.varlen_u64().map_err(malformed(WHAT))? != id {
            continue; // an optional field left out
        }
        reader = peek;
        match id {
            0 => {
                reader.varlen_u64().map_err(malformed(WHAT))?;
            }
            1 => {
                let mut bytes = [0u8; 16];
                for byte in &mut bytes {
                    let value = reader.varlen_u64().map_err(malformed(WHAT))?;
                    *byte = u8::try_from(value).map_err(|_| bad(format!("UUID byte {value} out of range")))?;
                }
                uuid = Some(Uuid(bytes));
            }
            2 => number = Some(reader.varlen_i64().map_err(malformed(WHAT))?),
            _ => {
                let len = usize::try_from(reader.varlen_u64().map_err(malformed(WHAT))?).unwrap_or(usize::MAX);
                let raw = reader.take(len).map_err(malformed(WHAT))?;
                let text = std::str::from_utf8(raw).map_err(|_| bad("the tag is not text".into()))?;
                tag = match text {
                    "" => String::new(),
                    text => normalize_tag(text).ok_or_else(|| bad(format!("{text:?} is not a GTID tag")))?,
                };
            }
        }
    }
    let uuid = uuid.ok_or_else(|| bad("no source UUID".into()))?;
    let number = number.ok_or_else(|| bad("no transaction number".into()))?;
    Gtid::new(Tsid { uuid, tag }, number).map_err(|e| bad(e.0))
}

/// Parses a MySQL PREVIOUS_GTIDS (35) body.
pub(crate) fn parse_previous_gtids(body: &[u8]) -> Result<GtidSet, MySqlError> {
    GtidSet::decode(body).map_err(|e| MySqlError::Protocol { what: "PREVIOUS_GTIDS event", reason: e.0 })
}

/// A Query event's schema (the session's default database) and statement bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) schema: String,
    /// The statement in the session's character set; compressed ones are inflated.
    pub(crate) statement: Vec<u8>,
}

/// Parses a Query (2) or MariaDB Query_compressed (165) body.
pub(crate) fn parse_query(body: &[u8], compressed: bool) -> Result<Query, MySqlError> {
    let what = if compressed { "MariaDB compressed Query event" } else { "Query event" };
    let mut reader = Reader::new(body);
    reader.skip(8).map_err(malformed(what))?; // thread id, exec time
    let schema_len = reader.u8().map_err(malformed(what))? as usize;
    reader.skip(2).map_err(malformed(what))?; // error code
    let status_len = reader.u16_le().map_err(malformed(what))? as usize;
    reader.skip(status_len).map_err(malformed(what))?;
    let schema = reader.take(schema_len).map_err(malformed(what))?;
    reader.skip(1).map_err(malformed(what))?; // NUL after the schema
    let statement = reader.rest();
    let statement = if compressed {
        super::compressed::inflate(statement).map_err(|reason| MySqlError::Protocol { what, reason })?
    } else {
        statement.to_vec()
    };
    Ok(Query { schema: String::from_utf8_lossy(schema).into_owned(), statement })
}

#[cfg(test)]
#[path = "events/tests.rs"]
mod tests;
