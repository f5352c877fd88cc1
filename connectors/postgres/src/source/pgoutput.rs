//! Decoder for what arrives in CopyData on a logical replication stream:
//! the walsender's XLogData and keepalive wrappers and, inside XLogData,
//! pgoutput protocol version 1 messages.
//!
//! Wrappers (all integers big-endian):
//! - `w` XLogData: u64 WAL start, u64 WAL end, i64 server time (µs since
//!   2000-01-01), then one pgoutput message.
//! - `k` keepalive: u64 WAL end (the walsender's sent position), i64 server
//!   time, u8 reply requested.
//!
//! pgoutput v1 (`proto_version '1'`; strings are NUL-terminated):
//! - `B` Begin: u64 final LSN (the commit record's LSN), i64 commit time, u32 xid.
//! - `C` Commit: u8 flags, u64 commit LSN, u64 end LSN, i64 commit time.
//! - `O` Origin: u64 commit LSN at the origin, string name.
//! - `R` Relation: u32 oid, string namespace, string name, u8 replica
//!   identity, i16 column count, then per column u8 flags (1 = part of the
//!   key), string name, u32 type oid, i32 type modifier.
//! - `Y` Type: u32 oid, string namespace, string name.
//! - `I` Insert: u32 relation, `N`, tuple.
//! - `U` Update: u32 relation, optional `K` (old key) or `O` (old row,
//!   REPLICA IDENTITY FULL) tuple, then `N` new tuple.
//! - `D` Delete: u32 relation, `K` or `O` tuple.
//! - `T` Truncate: u32 relation count, u8 options (1 CASCADE, 2 RESTART
//!   IDENTITY), u32 relation oids.
//! - `M` Message (only with `messages 'true'`): u8 flags (1 transactional),
//!   u64 LSN, string prefix, i32 length, content.
//!
//! A tuple is i16 column count, then per column a kind byte: `n` NULL, `u`
//! unchanged TOAST value (not sent), `t` text (i32 length + bytes), `b`
//! binary (same layout; only with `binary 'true'`).
//!
//! Nothing here panics on malformed input: every read is bounds-checked and
//! every failure is a [`PostgresError::Protocol`]. Counts from the wire never
//! size an allocation beyond what the remaining bytes can hold.

use bytes::Bytes;
use sluice_api::Lsn;

use crate::error::PostgresError;

/// A CopyData payload of the replication stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ReplicationMessage {
    XLogData { wal_start: Lsn, wal_end: Lsn, server_time: i64, message: PgOutputMessage },
    Keepalive { wal_end: Lsn, server_time: i64, reply_requested: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PgOutputMessage {
    Begin(Begin),
    Commit(Commit),
    Origin { commit_lsn: Lsn, name: String },
    Relation(RelationMessage),
    Type { oid: u32, namespace: String, name: String },
    Insert { relation: u32, new: Tuple },
    Update { relation: u32, old: Option<OldTuple>, new: Tuple },
    Delete { relation: u32, old: OldTuple },
    Truncate { options: u8, relations: Vec<u32> },
    Message { transactional: bool, lsn: Lsn, prefix: String, content: Bytes },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Begin {
    /// LSN of the transaction's commit record (equals Commit's `commit_lsn`).
    pub(crate) final_lsn: Lsn,
    /// µs since 2000-01-01 UTC.
    pub(crate) commit_time: i64,
    pub(crate) xid: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Commit {
    pub(crate) flags: u8,
    /// LSN of the commit record (equals Begin's `final_lsn`).
    pub(crate) commit_lsn: Lsn,
    /// LSN just past the commit record.
    pub(crate) end_lsn: Lsn,
    pub(crate) commit_time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelationMessage {
    pub(crate) oid: u32,
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub(crate) replica_identity: u8,
    pub(crate) columns: Vec<RelationColumn>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelationColumn {
    /// Flag bit 1: the column is part of the replica identity.
    pub(crate) is_key: bool,
    pub(crate) name: String,
    pub(crate) type_oid: u32,
    pub(crate) type_modifier: i32,
}

/// The old image in an Update or Delete.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OldTuple {
    /// `K`: the replica identity columns (others are NULL).
    Key(Tuple),
    /// `O`: the whole old row (REPLICA IDENTITY FULL).
    Full(Tuple),
}

impl OldTuple {
    pub(crate) fn tuple(&self) -> &Tuple {
        match self {
            OldTuple::Key(tuple) | OldTuple::Full(tuple) => tuple,
        }
    }
}

pub(crate) type Tuple = Vec<TupleColumn>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TupleColumn {
    Null,
    /// An unchanged TOAST value the server did not send.
    Unchanged,
    Text(Bytes),
    Binary(Bytes),
}

/// Decodes one CopyData payload of the replication stream.
pub(crate) fn decode(payload: Bytes) -> Result<ReplicationMessage, PostgresError> {
    let mut cursor = Cursor { bytes: payload, what: "replication message" };
    match cursor.u8()? {
        b'w' => {
            cursor.what = "XLogData";
            let wal_start = Lsn(cursor.u64()?);
            let wal_end = Lsn(cursor.u64()?);
            let server_time = cursor.i64()?;
            let message = decode_pgoutput(cursor.bytes)?;
            Ok(ReplicationMessage::XLogData { wal_start, wal_end, server_time, message })
        }
        b'k' => {
            cursor.what = "keepalive";
            let wal_end = Lsn(cursor.u64()?);
            let server_time = cursor.i64()?;
            let reply_requested = cursor.u8()? != 0;
            cursor.finish()?;
            Ok(ReplicationMessage::Keepalive { wal_end, server_time, reply_requested })
        }
        other => Err(cursor.error(format!("unknown message type {}", describe_tag(other)))),
    }
}

/// Decodes one pgoutput message.
pub(crate) fn decode_pgoutput(bytes: Bytes) -> Result<PgOutputMessage, PostgresError> {
    let mut c = Cursor { bytes, what: "pgoutput message" };
    let tag = c.u8()?;
    let message = match tag {
        b'B' => {
            c.what = "pgoutput Begin";
            PgOutputMessage::Begin(Begin { final_lsn: Lsn(c.u64()?), commit_time: c.i64()?, xid: c.u32()? })
        }
        b'C' => {
            c.what = "pgoutput Commit";
            PgOutputMessage::Commit(Commit {
                flags: c.u8()?,
                commit_lsn: Lsn(c.u64()?),
                end_lsn: Lsn(c.u64()?),
                commit_time: c.i64()?,
            })
        }
        b'O' => {
            c.what = "pgoutput Origin";
            PgOutputMessage::Origin { commit_lsn: Lsn(c.u64()?), name: c.string()? }
        }
        b'R' => {
            c.what = "pgoutput Relation";
            let oid = c.u32()?;
            let namespace = c.string()?;
            let name = c.string()?;
            let replica_identity = c.u8()?;
            let count = c.count()?;
            // A column takes at least 10 bytes (flags, empty name, oid, typmod).
            let mut columns = Vec::with_capacity(count.min(c.bytes.len() / 10));
            for _ in 0..count {
                columns.push(RelationColumn {
                    is_key: c.u8()? & 1 == 1,
                    name: c.string()?,
                    type_oid: c.u32()?,
                    type_modifier: c.i32()?,
                });
            }
            PgOutputMessage::Relation(RelationMessage { oid, namespace, name, replica_identity, columns })
        }
        b'Y' => {
            c.what = "pgoutput Type";
            PgOutputMessage::Type { oid: c.u32()?, namespace: c.string()?, name: c.string()? }
        }
        b'I' => {
            c.what = "pgoutput Insert";
            let relation = c.u32()?;
            c.expect(b'N')?;
            PgOutputMessage::Insert { relation, new: c.tuple()? }
        }
        b'U' => {
            c.what = "pgoutput Update";
            let relation = c.u32()?;
            let old = match c.u8()? {
                b'K' => {
                    let old = OldTuple::Key(c.tuple()?);
                    c.expect(b'N')?;
                    Some(old)
                }
                b'O' => {
                    let old = OldTuple::Full(c.tuple()?);
                    c.expect(b'N')?;
                    Some(old)
                }
                b'N' => None,
                other => return Err(c.error(format!("expected K, O or N, got {}", describe_tag(other)))),
            };
            PgOutputMessage::Update { relation, old, new: c.tuple()? }
        }
        b'D' => {
            c.what = "pgoutput Delete";
            let relation = c.u32()?;
            let old = match c.u8()? {
                b'K' => OldTuple::Key(c.tuple()?),
                b'O' => OldTuple::Full(c.tuple()?),
                other => return Err(c.error(format!("expected K or O, got {}", describe_tag(other)))),
            };
            PgOutputMessage::Delete { relation, old }
        }
        b'T' => {
            c.what = "pgoutput Truncate";
            let count = c.u32()? as usize;
            let options = c.u8()?;
            let mut relations = Vec::with_capacity(count.min(c.bytes.len() / 4));
            for _ in 0..count {
                relations.push(c.u32()?);
            }
            PgOutputMessage::Truncate { options, relations }
        }
        b'M' => {
            c.what = "pgoutput Message";
            let transactional = c.u8()? & 1 == 1;
            let lsn = Lsn(c.u64()?);
            let prefix = c.string()?;
            let len = c.length()?;
            PgOutputMessage::Message { transactional, lsn, prefix, content: c.take(len)? }
        }
        other => {
            return Err(c.error(format!(
                "unknown message type {} (Sluice requests proto_version 1 without streaming or two-phase)",
                describe_tag(other)
            )));
        }
    };
    c.finish()?;
    Ok(message)
}

fn describe_tag(tag: u8) -> String {
    if tag.is_ascii_graphic() { format!("'{}'", char::from(tag)) } else { format!("0x{tag:02x}") }
}

/// A bounds-checked reader over one message.
struct Cursor {
    bytes: Bytes,
    what: &'static str,
}

impl Cursor {
    fn error(&self, reason: String) -> PostgresError {
        PostgresError::Protocol { what: self.what, reason }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PostgresError> {
        let Some(head) = self.bytes.get(..N) else {
            return Err(self.error(format!("truncated: needed {N} more bytes, {} left", self.bytes.len())));
        };
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        self.bytes = self.bytes.slice(N..);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, PostgresError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, PostgresError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, PostgresError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, PostgresError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, PostgresError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// An i16 column count, which must not be negative.
    fn count(&mut self) -> Result<usize, PostgresError> {
        let count = i16::from_be_bytes(self.array()?);
        usize::try_from(count).map_err(|_| self.error(format!("negative column count {count}")))
    }

    /// An i32 byte length, which must not be negative.
    fn length(&mut self) -> Result<usize, PostgresError> {
        let len = self.i32()?;
        usize::try_from(len).map_err(|_| self.error(format!("negative length {len}")))
    }

    fn take(&mut self, len: usize) -> Result<Bytes, PostgresError> {
        if self.bytes.len() < len {
            return Err(self.error(format!("truncated: a {len}-byte value with {} bytes left", self.bytes.len())));
        }
        Ok(self.bytes.split_to(len))
    }

    /// A NUL-terminated UTF-8 string (the session's client_encoding is UTF8).
    fn string(&mut self) -> Result<String, PostgresError> {
        let Some(end) = memchr::memchr(0, &self.bytes) else {
            return Err(self.error("unterminated string".into()));
        };
        let raw = self.bytes.split_to(end);
        self.bytes = self.bytes.slice(1..);
        String::from_utf8(raw.to_vec()).map_err(|_| self.error("string is not valid UTF-8".into()))
    }

    fn expect(&mut self, tag: u8) -> Result<(), PostgresError> {
        let got = self.u8()?;
        if got == tag {
            Ok(())
        } else {
            Err(self.error(format!("expected {}, got {}", describe_tag(tag), describe_tag(got))))
        }
    }

    fn tuple(&mut self) -> Result<Tuple, PostgresError> {
        let count = self.count()?;
        // Every column takes at least its kind byte.
        let mut columns = Vec::with_capacity(count.min(self.bytes.len()));
        for _ in 0..count {
            columns.push(match self.u8()? {
                b'n' => TupleColumn::Null,
                b'u' => TupleColumn::Unchanged,
                b't' => {
                    let len = self.length()?;
                    TupleColumn::Text(self.take(len)?)
                }
                b'b' => {
                    let len = self.length()?;
                    TupleColumn::Binary(self.take(len)?)
                }
                other => return Err(self.error(format!("unknown tuple column kind {}", describe_tag(other)))),
            });
        }
        Ok(columns)
    }

    fn finish(&self) -> Result<(), PostgresError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} unexpected trailing bytes", self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests;
