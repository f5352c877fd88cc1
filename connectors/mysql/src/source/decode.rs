//! One cell of a binlog row image → a Sluice [`Value`], exactly.
//!
//! A [`CellPlan`] is worked out once per table map (`schema.rs`) from the
//! column's binlog type and metadata, the FULL optional metadata
//! (signedness, character set, ENUM/SET labels) and, for what the binlog
//! does not say, information_schema (MariaDB's UUID, INET6, INET4 and JSON
//! columns travel as BINARY(16)/BINARY(4)/LONGTEXT). Cell encodings, all
//! little-endian unless noted:
//!
//! - TINY/SHORT/INT24/LONG/LONGLONG: 1/2/3/4/8 bytes, two's complement or
//!   unsigned by the SIGNEDNESS bit (BIGINT UNSIGNED 18446744073709551615
//!   stays that, never -1). `tinyint(1)` is an integer like any TINY.
//! - FLOAT/DOUBLE: IEEE 754, 4/8 bytes. YEAR: 1 byte, 0 or 1900 + n.
//! - NEWDECIMAL: `decimal.rs`. Temporal types: `time.rs`.
//! - BIT(n): ⌈n/8⌉ bytes big-endian, the value right-aligned.
//! - CHAR/BINARY (STRING): 1-byte length (2 when the column can exceed 255
//!   bytes), then the bytes with trailing pad characters removed: spaces
//!   for CHAR (which SELECT drops too), zero bytes for BINARY — BINARY(n),
//!   UUID and INET6 are padded back to n bytes, as SELECT returns them.
//! - VARCHAR/VARBINARY: 1- or 2-byte length (by the declared max bytes).
//! - BLOB/TEXT, GEOMETRY, JSON, VECTOR: a 1–4 byte length (metadata), then
//!   the bytes; MySQL JSON is binary (`json.rs`), MariaDB JSON is text.
//! - ENUM: 1–2 byte index, 1-based (0 is the empty string MySQL stores
//!   for invalid values); SET: 1–8 byte bitmask over the labels.
//!
//! Text is decoded by the column's character set (`charset.rs`); bytes that
//! are invalid in it are an error. Errors are reasons naming what is wrong,
//! never the value; `rows.rs` adds table, column and type.

use sluice_api::{BitString, Value};

use super::charset::Charset;
use super::wire::Reader;
use super::{decimal, json, time};

/// What the column holds beyond its binlog type (information_schema knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Special {
    /// MariaDB UUID: 16 bytes in text order.
    Uuid,
    /// MariaDB INET6: 16 bytes in network order, printed like the server.
    Inet6,
    /// MariaDB INET4: 4 bytes.
    Inet4,
    /// MariaDB JSON: LONGTEXT with a `json_valid` check.
    Json,
}

/// How to read one column's cells.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CellPlan {
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Bit {
        bits: u16,
    },
    Year,
    Date,
    Time2 {
        fsp: u8,
    },
    Datetime2 {
        fsp: u8,
    },
    Timestamp2 {
        fsp: u8,
    },
    TimeV1,
    DatetimeV1,
    TimestampV1,
    /// CHAR/BINARY (`fixed`) or VARCHAR/VARBINARY: length prefix of 1 byte
    /// when `max_bytes` < 256, else 2.
    String {
        max_bytes: u16,
        fixed: bool,
        charset: Charset,
        special: Option<Special>,
    },
    /// BLOB/TEXT with a `length_bytes`-byte length prefix.
    Blob {
        length_bytes: u8,
        charset: Charset,
        special: Option<Special>,
    },
    /// MySQL's binary JSON.
    Json {
        length_bytes: u8,
    },
    /// GEOMETRY and VECTOR: the server's binary form, as bytes.
    OpaqueBytes {
        length_bytes: u8,
    },
    Enum {
        pack_length: u8,
        labels: Vec<String>,
    },
    Set {
        pack_length: u8,
        labels: Vec<String>,
    },
}

type Reason = String;

fn truncated() -> Reason {
    "the row image ends inside this value".into()
}

/// Decodes one (non-NULL) cell.
pub(crate) fn decode_cell(plan: &CellPlan, reader: &mut Reader<'_>) -> Result<Value, Reason> {
    let t = |_| truncated();
    Ok(match plan {
        CellPlan::Int { bytes, unsigned } => {
            let n = usize::from(*bytes);
            let raw = reader.uint_le(n).map_err(t)?;
            if *unsigned {
                Value::UInt(raw)
            } else {
                let shift = 64 - 8 * n as u32;
                Value::Int(((raw << shift) as i64) >> shift)
            }
        }
        CellPlan::Float => Value::Float32(f32::from_le_bytes(reader.array().map_err(t)?)),
        CellPlan::Double => Value::Float64(f64::from_le_bytes(reader.array().map_err(t)?)),
        CellPlan::Decimal { precision, scale } => Value::Decimal(decimal::decode_decimal(reader, *precision, *scale)?),
        CellPlan::Bit { bits } => decode_bit(reader, *bits)?,
        CellPlan::Year => match reader.u8().map_err(t)? {
            0 => Value::Year(0),
            n => Value::Year(1900 + u16::from(n)),
        },
        CellPlan::Date => time::decode_date(reader)?,
        CellPlan::Time2 { fsp } => Value::Duration(time::decode_time2(reader, *fsp)?),
        CellPlan::Datetime2 { fsp } => time::decode_datetime2(reader, *fsp)?,
        CellPlan::Timestamp2 { fsp } => time::decode_timestamp2(reader, *fsp)?,
        CellPlan::TimeV1 => Value::Duration(time::decode_time_v1(reader)?),
        CellPlan::DatetimeV1 => time::decode_datetime_v1(reader)?,
        CellPlan::TimestampV1 => time::decode_timestamp_v1(reader)?,
        CellPlan::String { max_bytes, fixed, charset, special } => {
            let len = reader.uint_le(if *max_bytes < 256 { 1 } else { 2 }).map_err(t)? as usize;
            let bytes = reader.take(len).map_err(t)?;
            let pad_to = (*fixed && charset.is_binary()).then_some(usize::from(*max_bytes));
            decode_bytes(bytes, *charset, *special, pad_to)?
        }
        CellPlan::Blob { length_bytes, charset, special } => {
            let bytes = length_prefixed(reader, *length_bytes)?;
            decode_bytes(bytes, *charset, *special, None)?
        }
        CellPlan::Json { length_bytes } => Value::Json(json::render(length_prefixed(reader, *length_bytes)?)?),
        CellPlan::OpaqueBytes { length_bytes } => Value::Bytes(length_prefixed(reader, *length_bytes)?.to_vec()),
        CellPlan::Enum { pack_length, labels } => {
            let index = reader.uint_le(usize::from(*pack_length)).map_err(t)? as usize;
            match index {
                0 => Value::Enum(String::new()),
                _ => Value::Enum(labels.get(index - 1).ok_or("the ENUM index is beyond the column's labels")?.clone()),
            }
        }
        CellPlan::Set { pack_length, labels } => {
            let mask = reader.uint_le(usize::from(*pack_length)).map_err(t)?;
            if labels.len() < 64 && mask >> labels.len() != 0 {
                return Err("the SET value has bits beyond the column's labels".into());
            }
            let chosen = |i: usize| 1u64.checked_shl(i as u32).is_some_and(|bit| mask & bit != 0);
            Value::Set(labels.iter().enumerate().filter(|(i, _)| chosen(*i)).map(|(_, l)| l.clone()).collect())
        }
    })
}

fn length_prefixed<'a>(reader: &mut Reader<'a>, length_bytes: u8) -> Result<&'a [u8], Reason> {
    if !(1..=4).contains(&length_bytes) {
        return Err(format!("a length prefix of {length_bytes} bytes is not valid"));
    }
    let len = reader.uint_le(usize::from(length_bytes)).map_err(|_| truncated())? as usize;
    reader.take(len).map_err(|_| truncated())
}

fn decode_bit(reader: &mut Reader<'_>, bits: u16) -> Result<Value, Reason> {
    if bits == 0 || bits > 64 {
        return Err(format!("BIT({bits}) is not a valid width"));
    }
    let raw = reader.uint_be(usize::from(bits).div_ceil(8)).map_err(|_| truncated())?;
    bit_string(raw, bits)
}

/// A BIT(`bits`) value, right-aligned in `raw`, as a bit string (first bit
/// = most significant). Also used for BIT values read by a query.
pub(crate) fn bit_string(raw: u64, bits: u16) -> Result<Value, Reason> {
    if bits == 0 || bits > 64 {
        return Err(format!("BIT({bits}) is not a valid width"));
    }
    let len = usize::from(bits);
    if len < 64 && raw >> len != 0 {
        return Err("the BIT value is wider than the column".into());
    }
    let mut bytes = vec![0u8; len.div_ceil(8)];
    for i in 0..len {
        if raw >> (len - 1 - i) & 1 == 1 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    Ok(Value::Bits(BitString { len, bytes }))
}

fn decode_bytes(
    bytes: &[u8],
    charset: Charset,
    special: Option<Special>,
    pad_to: Option<usize>,
) -> Result<Value, Reason> {
    let padded = |bytes: &[u8]| {
        let mut owned = bytes.to_vec();
        if let Some(width) = pad_to
            && owned.len() < width
        {
            owned.resize(width, 0);
        }
        owned
    };
    match special {
        Some(Special::Uuid) => {
            let bytes: [u8; 16] = padded(bytes).try_into().map_err(|_| "a UUID value is not 16 bytes")?;
            Ok(Value::Uuid(bytes))
        }
        Some(Special::Inet6) => {
            let bytes: [u8; 16] = padded(bytes).try_into().map_err(|_| "an INET6 value is not 16 bytes")?;
            Ok(Value::Text(inet6_text(&bytes)))
        }
        Some(Special::Inet4) => {
            let bytes: [u8; 4] = padded(bytes).try_into().map_err(|_| "an INET4 value is not 4 bytes")?;
            Ok(Value::Text(format!("{}.{}.{}.{}", bytes[0], bytes[1], bytes[2], bytes[3])))
        }
        Some(Special::Json) => Ok(Value::Json(decode_text(bytes, charset)?)),
        None if charset.is_binary() => Ok(Value::Bytes(padded(bytes))),
        None => Ok(Value::Text(decode_text(bytes, charset)?)),
    }
}

fn decode_text(bytes: &[u8], charset: Charset) -> Result<String, Reason> {
    charset.decode(bytes).ok_or_else(|| "the bytes are not valid in the column's character set".into())
}

/// INET6 text as MariaDB prints it (the algorithm of MySQL's INET6_NTOA):
/// lower-case hex groups without leading zeros; the first longest run of
/// zero groups — even a single one — becomes `::`; when that run starts
/// the address and is 6 groups long (IPv4-compatible) or 5 groups followed
/// by `ffff` (IPv4-mapped), the last 32 bits print as dotted IPv4.
pub(crate) fn inet6_text(bytes: &[u8; 16]) -> String {
    let groups: Vec<u16> = bytes.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])).collect();
    let (mut gap_start, mut gap_len) = (usize::MAX, 0);
    let mut i = 0;
    while i < 8 {
        if groups[i] == 0 {
            let start = i;
            while i < 8 && groups[i] == 0 {
                i += 1;
            }
            if i - start > gap_len {
                (gap_start, gap_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let mut out = String::with_capacity(40);
    let mut i = 0;
    while i < 8 {
        if i == gap_start {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += gap_len;
            continue;
        }
        if i == 6 && gap_start == 0 && (gap_len == 6 || (gap_len == 5 && groups[5] == 0xFFFF)) {
            out.push_str(&format!("{}.{}.{}.{}", bytes[12], bytes[13], bytes[14], bytes[15]));
            break;
        }
        out.push_str(&format!("{:x}", groups[i]));
        if i != 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

#[cfg(test)]
#[path = "decode/tests.rs"]
mod tests;
