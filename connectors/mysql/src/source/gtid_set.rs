//! MySQL GTIDs and GTID sets (not MariaDB's `domain-server-seq`, see
//! `position.rs`): parsing, formatting and the set arithmetic that MySQL
//! resumption needs (union, difference, intersection, subset).
//!
//! A MySQL GTID is `source_id:transaction_id` — the source's `server_uuid`
//! and a sequence number from 1 to 2^63 - 2 — and since MySQL 8.3 may carry
//! a tag (`uuid:tag:n`, the tag 1–32 characters `[a-z_][a-z0-9_]*`, stored
//! lowercase; `SET gtid_next = 'AUTOMATIC:tag'`). A (uuid, tag) pair is a
//! TSID; a GTID set maps each TSID to intervals of sequence numbers.
//!
//! # Text form (`@@gtid_executed`, `@@gtid_purged`, Sluice positions)
//!
//! `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18:tag1:1-3,uuid2:1-27`:
//! TSID sets separated by `,` (MySQL prints `,\n`; whitespace around the
//! separators is allowed), each a UUID followed by `:`-separated items; an
//! item is an interval (`n` or `n-m`, inclusive) or a tag, which applies to
//! the intervals after it. Parsing accepts UUIDs in any case, overlapping
//! or unordered intervals and repeated UUIDs (MySQL does too); formatting
//! is canonical: UUIDs lowercase and sorted, untagged intervals first, then
//! tags sorted, intervals merged and ascending. The empty set is the empty
//! string.
//!
//! # Binary form (`Gtid_set::encode` in MySQL's `sql/rpl_gtid_set.cc`)
//!
//! The body of PREVIOUS_GTIDS (event 35) and the data of
//! COM_BINLOG_DUMP_GTID, all integers little-endian:
//! - u64 header: the format in the top byte (0 untagged, 1 tagged); the
//!   number of TSIDs in the low 56 bits (untagged) or in bits 8–55 (tagged,
//!   whose low byte repeats the format);
//! - per TSID: 16-byte UUID; tagged format only: the tag as a
//!   serialization-library varlen length (`wire.rs`) and its bytes (length
//!   0 for untagged TSIDs); u64 number of intervals; per interval i64 start
//!   and i64 end, **end exclusive**, strictly ascending and not adjacent
//!   (`start > previous end`, `end > start`), as MySQL's own decoder demands.
//!
//! The dump request itself is built by mysql_common from [`GtidSet::sids`]
//! (`source/mod.rs`); its bytes are pinned by a unit test.

use std::collections::BTreeMap;
use std::fmt;

use mysql_common::packets::{GnoInterval, Sid, Tag};

use super::wire::{Reader, Truncated};

/// One past the largest sequence number (MySQL's `GNO_END`): intervals end at most here.
pub(crate) const GNO_END: i64 = i64::MAX;
/// The longest tag MySQL accepts.
pub(crate) const MAX_TAG_LEN: usize = 32;

/// Why a GTID or GTID set could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GtidError(pub(crate) String);

impl fmt::Display for GtidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn error(message: impl Into<String>) -> GtidError {
    GtidError(message.into())
}

/// A source server's UUID, printed lowercase `8-4-4-4-12`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Uuid(pub(crate) [u8; 16]);

impl Uuid {
    /// `3E11FA47-71CA-11E1-9E33-C80AA9429562` (any case), or 32 hex digits without hyphens.
    pub(crate) fn parse(text: &str) -> Option<Uuid> {
        let hex: Vec<u8> = match text.len() {
            36 => {
                let dashes = [8, 13, 18, 23];
                if !dashes.iter().all(|&i| text.as_bytes()[i] == b'-') {
                    return None;
                }
                text.bytes().enumerate().filter(|(i, _)| !dashes.contains(i)).map(|(_, b)| b).collect()
            }
            32 => text.bytes().collect(),
            _ => return None,
        };
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks(2)) {
            let digit = |b: u8| (b as char).to_digit(16);
            *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
        }
        Some(Uuid(bytes))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// A transaction source identifier: UUID and tag (`""` when untagged).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Tsid {
    pub(crate) uuid: Uuid,
    pub(crate) tag: String,
}

impl Tsid {
    pub(crate) fn untagged(uuid: Uuid) -> Tsid {
        Tsid { uuid, tag: String::new() }
    }
}

/// MySQL's tag rule; returns the tag lowercased (MySQL stores tags so).
pub(crate) fn normalize_tag(text: &str) -> Option<String> {
    let tag = text.to_ascii_lowercase();
    let mut chars = tag.chars();
    let first = chars.next()?;
    let valid = tag.len() <= MAX_TAG_LEN
        && (first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    valid.then_some(tag)
}

/// One transaction's GTID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Gtid {
    pub(crate) tsid: Tsid,
    pub(crate) number: i64,
}

impl Gtid {
    /// A GTID with its sequence number checked (1 to 2^63 - 2).
    pub(crate) fn new(tsid: Tsid, number: i64) -> Result<Gtid, GtidError> {
        if !(1..GNO_END).contains(&number) {
            return Err(error(format!("GTID sequence number {number} is outside 1 to {}", GNO_END - 1)));
        }
        Ok(Gtid { tsid, number })
    }

    /// `uuid:n` or `uuid:tag:n`.
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Result<Gtid, GtidError> {
        let invalid = || error(format!("{text:?} is not a MySQL GTID (uuid:number or uuid:tag:number)"));
        let parts: Vec<&str> = text.trim().split(':').map(str::trim).collect();
        let (uuid, tag, number) = match parts.as_slice() {
            [uuid, number] => (uuid, String::new(), number),
            [uuid, tag, number] => (uuid, normalize_tag(tag).ok_or_else(invalid)?, number),
            _ => return Err(invalid()),
        };
        let uuid = Uuid::parse(uuid).ok_or_else(invalid)?;
        let number = number.parse().map_err(|_| invalid())?;
        Gtid::new(Tsid { uuid, tag }, number)
    }
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tsid.tag.as_str() {
            "" => write!(f, "{}:{}", self.tsid.uuid, self.number),
            tag => write!(f, "{}:{tag}:{}", self.tsid.uuid, self.number),
        }
    }
}

/// A set of GTIDs. Per TSID the intervals `[start, end)` are kept sorted,
/// disjoint and non-adjacent (merged), so equal sets are equal values and
/// print the same text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GtidSet {
    intervals: BTreeMap<Tsid, Vec<(i64, i64)>>,
}

impl GtidSet {
    pub(crate) fn new() -> GtidSet {
        GtidSet::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Whether any TSID carries a tag (the dump request must then use the tagged format).
    #[cfg(test)]
    pub(crate) fn is_tagged(&self) -> bool {
        self.intervals.keys().any(|tsid| !tsid.tag.is_empty())
    }

    /// Parses MySQL's text form (see the module docs).
    pub(crate) fn parse(text: &str) -> Result<GtidSet, GtidError> {
        let mut set = GtidSet::new();
        if text.trim().is_empty() {
            return Ok(set);
        }
        for part in text.split(',') {
            let part = part.trim();
            let mut items = part.split(':').map(str::trim);
            let uuid_text = items.next().unwrap_or_default();
            let uuid = Uuid::parse(uuid_text)
                .ok_or_else(|| error(format!("{uuid_text:?} in GTID set {text:?} is not a server UUID")))?;
            let mut tsid = Tsid::untagged(uuid);
            let mut intervals_after_tag = 0;
            let mut any = false;
            for item in items {
                if item.starts_with(|c: char| c.is_ascii_digit()) {
                    let (start, end) = parse_interval(item)
                        .ok_or_else(|| error(format!("{item:?} in GTID set {text:?} is not an interval n or n-m")))?;
                    set.add_interval(&tsid, start, end);
                    intervals_after_tag += 1;
                    any = true;
                } else {
                    if !tsid.tag.is_empty() && intervals_after_tag == 0 {
                        return Err(error(format!("Tag {:?} in GTID set {text:?} has no interval", tsid.tag)));
                    }
                    tsid.tag = normalize_tag(item).ok_or_else(|| {
                        error(format!("{item:?} in GTID set {text:?} is neither an interval nor a tag"))
                    })?;
                    intervals_after_tag = 0;
                }
            }
            if !any || intervals_after_tag == 0 {
                return Err(error(format!("{part:?} in GTID set {text:?} lacks an interval")));
            }
        }
        Ok(set)
    }

    /// Adds one transaction.
    pub(crate) fn add(&mut self, gtid: &Gtid) {
        self.add_interval(&gtid.tsid, gtid.number, gtid.number + 1);
    }

    /// Adds `[start, end)` (`end` ≤ `GNO_END` holds for any i64); empty or
    /// out-of-range intervals are the caller's bug and ignored.
    fn add_interval(&mut self, tsid: &Tsid, start: i64, end: i64) {
        if start < 1 || end <= start {
            return;
        }
        let list = self.intervals.entry(tsid.clone()).or_default();
        // The first interval that ends at or after `start` (merging adjacent ones too).
        let first = list.partition_point(|&(_, e)| e < start);
        let mut merged = (start, end);
        let mut last = first;
        while last < list.len() && list[last].0 <= merged.1 {
            merged = (merged.0.min(list[last].0), merged.1.max(list[last].1));
            last += 1;
        }
        list.splice(first..last, [merged]);
    }

    pub(crate) fn contains(&self, gtid: &Gtid) -> bool {
        self.intervals.get(&gtid.tsid).is_some_and(|list| {
            let i = list.partition_point(|&(_, end)| end <= gtid.number);
            list.get(i).is_some_and(|&(start, _)| start <= gtid.number)
        })
    }

    /// Adds every GTID of `other`.
    pub(crate) fn union(&mut self, other: &GtidSet) {
        for (tsid, list) in &other.intervals {
            for &(start, end) in list {
                self.add_interval(tsid, start, end);
            }
        }
    }

    /// Every GTID of `self` is in `other`.
    pub(crate) fn is_subset_of(&self, other: &GtidSet) -> bool {
        self.intervals.iter().all(|(tsid, list)| {
            let Some(theirs) = other.intervals.get(tsid) else { return false };
            list.iter().all(|&(start, end)| {
                // Intervals are merged, so a covered interval lies inside one of theirs.
                let i = theirs.partition_point(|&(_, e)| e <= start);
                theirs.get(i).is_some_and(|&(s, e)| s <= start && end <= e)
            })
        })
    }

    /// The GTIDs of `self` that are not in `other`.
    pub(crate) fn difference(&self, other: &GtidSet) -> GtidSet {
        let mut result = GtidSet::new();
        for (tsid, list) in &self.intervals {
            let empty = Vec::new();
            let theirs = other.intervals.get(tsid).unwrap_or(&empty);
            for &(start, end) in list {
                let mut from = start;
                for &(s, e) in theirs.iter().filter(|&&(s, e)| e > start && s < end) {
                    if s > from {
                        result.add_interval(tsid, from, s);
                    }
                    from = from.max(e);
                }
                if from < end {
                    result.add_interval(tsid, from, end);
                }
            }
        }
        result
    }

    /// The GTIDs in both `self` and `other`.
    pub(crate) fn intersection(&self, other: &GtidSet) -> GtidSet {
        let mut result = GtidSet::new();
        for (tsid, ours) in &self.intervals {
            let Some(theirs) = other.intervals.get(tsid) else { continue };
            // Both lists are sorted and disjoint: walk them together.
            let (mut i, mut j) = (0, 0);
            while i < ours.len() && j < theirs.len() {
                let (start, end) = (ours[i].0.max(theirs[j].0), ours[i].1.min(theirs[j].1));
                if start < end {
                    result.add_interval(tsid, start, end);
                }
                if ours[i].1 <= theirs[j].1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        }
        result
    }

    /// How many GTIDs the set holds.
    pub(crate) fn len(&self) -> u128 {
        self.intervals.values().flatten().map(|&(start, end)| (end - start) as u128).sum()
    }

    /// Decodes MySQL's binary form (PREVIOUS_GTIDS body), which must be consumed exactly.
    pub(crate) fn decode(bytes: &[u8]) -> Result<GtidSet, GtidError> {
        let truncated = |_: Truncated| error("the GTID set encoding is truncated");
        let mut reader = Reader::new(bytes);
        let header = reader.u64_le().map_err(truncated)?;
        let tagged = match header >> 56 {
            0 => false,
            1 => true,
            format => return Err(error(format!("unknown GTID set encoding format {format}"))),
        };
        let count = if tagged { (header & 0x00FF_FFFF_FFFF_FF00) >> 8 } else { header & 0x00FF_FFFF_FFFF_FFFF };
        // Each TSID takes at least 24 bytes: never trust a count beyond the body.
        if count > (reader.remaining() / 24) as u64 {
            return Err(error(format!("the GTID set encoding claims {count} UUIDs, more than its bytes hold")));
        }
        let mut set = GtidSet::new();
        for _ in 0..count {
            let uuid = Uuid(reader.array().map_err(truncated)?);
            let tag = if tagged {
                let len = usize::try_from(reader.varlen_u64().map_err(truncated)?).unwrap_or(usize::MAX);
                let raw = reader.take(len).map_err(truncated)?;
                let text = std::str::from_utf8(raw).map_err(|_| error("a GTID tag is not text"))?;
                match text {
                    "" => String::new(),
                    text => normalize_tag(text).ok_or_else(|| error(format!("{text:?} is not a GTID tag")))?,
                }
            } else {
                String::new()
            };
            let tsid = Tsid { uuid, tag };
            let intervals = reader.u64_le().map_err(truncated)?;
            if intervals > (reader.remaining() / 16) as u64 {
                return Err(error(format!("the GTID set encoding claims {intervals} intervals for {uuid}")));
            }
            let mut last = 0;
            for _ in 0..intervals {
                let start = reader.u64_le().map_err(truncated)? as i64;
                let end = reader.u64_le().map_err(truncated)? as i64;
                if start <= last || end <= start {
                    return Err(error(format!("malformed GTID interval [{start}, {end}) of {uuid}")));
                }
                last = end;
                set.add_interval(&tsid, start, end);
            }
        }
        if !reader.is_empty() {
            return Err(error(format!("{} bytes follow the GTID set encoding", reader.remaining())));
        }
        Ok(set)
    }

    /// MySQL's binary form, as the server writes it (format 0 unless a TSID is tagged).
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        let tagged = self.is_tagged();
        let count = self.intervals.len() as u64;
        let header = if tagged { (1 << 56) | (count << 8) | 1 } else { count };
        let mut out = header.to_le_bytes().to_vec();
        for (tsid, list) in &self.intervals {
            out.extend_from_slice(&tsid.uuid.0);
            if tagged {
                // Tags are at most 32 bytes: a one-byte varlen (length << 1).
                out.push((tsid.tag.len() as u8) << 1);
                out.extend_from_slice(tsid.tag.as_bytes());
            }
            out.extend_from_slice(&(list.len() as u64).to_le_bytes());
            for &(start, end) in list {
                out.extend_from_slice(&start.to_le_bytes());
                out.extend_from_slice(&end.to_le_bytes());
            }
        }
        out
    }

    /// The SID block of COM_BINLOG_DUMP_GTID (mysql_common switches the
    /// whole block to the tagged format when any SID has a tag).
    pub(crate) fn sids(&self) -> Result<Vec<Sid<'static>>, GtidError> {
        self.intervals
            .iter()
            .map(|(tsid, list)| {
                let intervals = list.iter().map(|&(start, end)| GnoInterval::new(start as u64, end as u64)).collect();
                let sid = Sid::new(tsid.uuid.0).with_intervals(intervals);
                if tsid.tag.is_empty() {
                    return Ok(sid);
                }
                let tag = Tag::new(tsid.tag.clone()).map_err(|e| error(format!("GTID tag {:?}: {e}", tsid.tag)))?;
                Ok(sid.with_tag(tag))
            })
            .collect()
    }
}

/// `n` → [n, n+1), `n-m` → [n, m+1); 1 ≤ n ≤ m < GNO_END.
fn parse_interval(item: &str) -> Option<(i64, i64)> {
    let (start, last) = match item.split_once('-') {
        Some((start, last)) => (start.trim().parse::<i64>().ok()?, last.trim().parse::<i64>().ok()?),
        None => {
            let n = item.parse::<i64>().ok()?;
            (n, n)
        }
    };
    (start >= 1 && last >= start && last < GNO_END).then(|| (start, last + 1))
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous: Option<Uuid> = None;
        for (tsid, list) in &self.intervals {
            if previous != Some(tsid.uuid) {
                if previous.is_some() {
                    f.write_str(",")?;
                }
                write!(f, "{}", tsid.uuid)?;
                previous = Some(tsid.uuid);
            }
            if !tsid.tag.is_empty() {
                write!(f, ":{}", tsid.tag)?;
            }
            for &(start, end) in list {
                if end == start + 1 {
                    write!(f, ":{start}")?;
                } else {
                    write!(f, ":{start}-{}", end - 1)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "gtid_set/tests.rs"]
mod tests;
