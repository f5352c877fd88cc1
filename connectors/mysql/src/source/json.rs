//! MySQL's binary JSON (column type 245) → compact JSON text.
//!
//! MySQL writes JSON columns to the binlog in its binary document format
//! (MariaDB's JSON is LONGTEXT and never comes here). A document is a type
//! byte and a value:
//!
//! - 0x00/0x01 small/large object, 0x02/0x03 small/large array: element
//!   count and total size (u16 small, u32 large), then for objects one key
//!   entry per element (key offset u16/u32, key length u16), then one value
//!   entry per element (type byte + offset, or the value itself inlined:
//!   literals and 16-bit integers always, 32-bit integers in large
//!   containers), then keys and values. Offsets count from the start of the
//!   container. Keys are kept in stored order (MySQL sorts them by length,
//!   then bytes), so the text is exactly what MySQL prints, minus spaces.
//! - 0x04 literal (0 null, 1 true, 2 false), 0x05–0x0A int16/uint16/int32/
//!   uint32/int64/uint64, 0x0B double (all little-endian), 0x0C string
//!   (length in 7-bit groups, low first, high bit = more; UTF-8 bytes),
//!   0x0F opaque: a MySQL column type byte, a length, and the value — DECIMAL
//!   as precision, scale and binary decimal, DATE/TIME/DATETIME/TIMESTAMP as
//!   a packed little-endian i64; anything else prints as MySQL does,
//!   `"base64:type<N>:<data>"`.
//!
//! An empty value is JSON `null` (MySQL treats it so). Nesting is limited
//! to 150 levels (MySQL allows 100) and every offset is checked, so a
//! malformed document is an error, never a panic.

use super::decimal::decode_decimal;
use super::wire::Reader;

const MAX_DEPTH: usize = 150;

type Reason = String;

fn malformed() -> Reason {
    "the binary JSON document is malformed".into()
}

/// Renders a binary JSON document as compact JSON text.
pub(crate) fn render(document: &[u8]) -> Result<String, Reason> {
    let mut out = String::with_capacity(document.len() + 16);
    if document.is_empty() {
        out.push_str("null");
        return Ok(out);
    }
    let (type_byte, value) = document.split_first().ok_or_else(malformed)?;
    render_value(*type_byte, value, &mut out, 0)?;
    Ok(out)
}

/// Renders a value of `type_byte` whose bytes start at `bytes[0]`.
fn render_value(type_byte: u8, bytes: &[u8], out: &mut String, depth: usize) -> Result<(), Reason> {
    if depth > MAX_DEPTH {
        return Err("the binary JSON document nests too deeply".into());
    }
    let mut reader = Reader::new(bytes);
    let m = |_| malformed();
    match type_byte {
        0x00 => render_container(bytes, false, true, out, depth),
        0x01 => render_container(bytes, true, true, out, depth),
        0x02 => render_container(bytes, false, false, out, depth),
        0x03 => render_container(bytes, true, false, out, depth),
        0x04 => {
            out.push_str(match reader.u8().map_err(m)? {
                0 => "null",
                1 => "true",
                2 => "false",
                _ => return Err(malformed()),
            });
            Ok(())
        }
        0x05 => push_display(out, reader.u16_le().map_err(m)? as i16),
        0x06 => push_display(out, reader.u16_le().map_err(m)?),
        0x07 => push_display(out, reader.u32_le().map_err(m)? as i32),
        0x08 => push_display(out, reader.u32_le().map_err(m)?),
        0x09 => push_display(out, reader.u64_le().map_err(m)? as i64),
        0x0A => push_display(out, reader.u64_le().map_err(m)?),
        0x0B => {
            let number = f64::from_le_bytes(reader.array().map_err(m)?);
            let number = mysql_common::serde_json::Number::from_f64(number).ok_or_else(malformed)?;
            push_display(out, number)
        }
        0x0C => {
            let len = variable_length(&mut reader)?;
            let text = std::str::from_utf8(reader.take(len).map_err(m)?).map_err(|_| malformed())?;
            push_string(out, text)
        }
        0x0F => {
            let field_type = reader.u8().map_err(m)?;
            let len = variable_length(&mut reader)?;
            render_opaque(field_type, reader.take(len).map_err(m)?, out)
        }
        _ => Err(malformed()),
    }
}

fn push_display(out: &mut String, value: impl std::fmt::Display) -> Result<(), Reason> {
    use std::fmt::Write;
    write!(out, "{value}").map_err(|_| malformed())
}

fn push_string(out: &mut String, text: &str) -> Result<(), Reason> {
    let quoted = mysql_common::serde_json::to_string(text).map_err(|_| malformed())?;
    out.push_str(&quoted);
    Ok(())
}

/// A string length: 7 bits per byte, least significant group first, at most 5 bytes.
fn variable_length(reader: &mut Reader<'_>) -> Result<usize, Reason> {
    let mut length: u64 = 0;
    for i in 0..5 {
        let byte = reader.u8().map_err(|_| malformed())?;
        length |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return usize::try_from(length).map_err(|_| malformed());
        }
    }
    Err(malformed())
}

fn render_container(bytes: &[u8], large: bool, object: bool, out: &mut String, depth: usize) -> Result<(), Reason> {
    let offset_size = if large { 4 } else { 2 };
    let mut header = Reader::new(bytes);
    let count = header.uint_le(offset_size).map_err(|_| malformed())? as usize;
    let size = header.uint_le(offset_size).map_err(|_| malformed())? as usize;
    let container = bytes.get(..size).ok_or_else(malformed)?;
    let key_entry_size = offset_size + 2;
    let value_entry_size = 1 + offset_size;
    let keys_start = 2 * offset_size;
    let values_start = keys_start + if object { count.checked_mul(key_entry_size).ok_or_else(malformed)? } else { 0 };
    let header_end = values_start.checked_add(count.checked_mul(value_entry_size).ok_or_else(malformed)?);
    if header_end.is_none_or(|end| end > container.len()) {
        return Err(malformed());
    }
    out.push(if object { '{' } else { '[' });
    for i in 0..count {
        if i > 0 {
            out.push(',');
        }
        if object {
            let mut entry = Reader::new(&container[keys_start + i * key_entry_size..]);
            let key_offset = entry.uint_le(offset_size).map_err(|_| malformed())? as usize;
            let key_length = entry.u16_le().map_err(|_| malformed())? as usize;
            let key = key_offset.checked_add(key_length).and_then(|end| container.get(key_offset..end));
            let key = std::str::from_utf8(key.ok_or_else(malformed)?).map_err(|_| malformed())?;
            push_string(out, key)?;
            out.push(':');
        }
        let mut entry = Reader::new(&container[values_start + i * value_entry_size..]);
        let value_type = entry.u8().map_err(|_| malformed())?;
        let inlined = matches!(value_type, 0x04..=0x06) || (large && matches!(value_type, 0x07 | 0x08));
        if inlined {
            render_value(value_type, entry.take(offset_size).map_err(|_| malformed())?, out, depth + 1)?;
        } else {
            let value_offset = entry.uint_le(offset_size).map_err(|_| malformed())? as usize;
            let value = container.get(value_offset..).ok_or_else(malformed)?;
            render_value(value_type, value, out, depth + 1)?;
        }
    }
    out.push(if object { '}' } else { ']' });
    Ok(())
}

fn render_opaque(field_type: u8, data: &[u8], out: &mut String) -> Result<(), Reason> {
    let packed = || data.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_le_bytes).ok_or_else(malformed);
    match field_type {
        // NEWDECIMAL: precision, scale, binary decimal; printed as a number.
        246 => {
            let mut reader = Reader::new(data);
            let precision = reader.u8().map_err(|_| malformed())?;
            let scale = reader.u8().map_err(|_| malformed())?;
            let decimal = decode_decimal(&mut reader, precision, scale)?;
            out.push_str(decimal.as_str());
            Ok(())
        }
        // DATE
        10 => {
            let (date, _) = unpack_datetime(packed()?)?;
            push_string(out, &date)
        }
        // DATETIME, TIMESTAMP
        12 | 7 => {
            let (date, time) = unpack_datetime(packed()?)?;
            push_string(out, &format!("{date} {time}"))
        }
        // TIME
        11 => push_string(out, &unpack_time(packed()?)?),
        _ => push_string(out, &format!("base64:type{field_type}:{}", base64(data))),
    }
}

/// A packed DATETIME (`(ymdhms << 24) + micros`) → ("YYYY-MM-DD", "hh:mm:ss.ffffff").
fn unpack_datetime(packed: i64) -> Result<(String, String), Reason> {
    let magnitude = packed.unsigned_abs();
    let micros = magnitude & 0xFF_FFFF;
    let ymdhms = magnitude >> 24;
    let (ymd, hms) = (ymdhms >> 17, ymdhms & 0x1_FFFF);
    let (year, month, day) = ((ymd >> 5) / 13, (ymd >> 5) % 13, ymd & 0x1F);
    let (hour, minute, second) = (hms >> 12, (hms >> 6) & 0x3F, hms & 0x3F);
    if packed < 0 || year > 9999 || hour > 23 || micros >= 1_000_000 {
        return Err(malformed());
    }
    Ok((format!("{year:04}-{month:02}-{day:02}"), format!("{hour:02}:{minute:02}:{second:02}.{micros:06}")))
}

/// A packed TIME (`±((hms << 24) + micros)`) → "[-]hh:mm:ss.ffffff".
fn unpack_time(packed: i64) -> Result<String, Reason> {
    let magnitude = packed.unsigned_abs();
    let micros = magnitude & 0xFF_FFFF;
    let hms = magnitude >> 24;
    let (hour, minute, second) = (hms >> 12, (hms >> 6) & 0x3F, hms & 0x3F);
    if hour > 838 || micros >= 1_000_000 {
        return Err(malformed());
    }
    let sign = if packed < 0 { "-" } else { "" };
    Ok(format!("{sign}{hour:02}:{minute:02}:{second:02}.{micros:06}"))
}

/// Standard base64 with padding, as MySQL prints opaque JSON values.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3F) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "json/tests.rs"]
mod tests;
