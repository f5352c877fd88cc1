//! Character, JSON, binary, ENUM/SET, UUID and INET columns.
//!
//! Text travels as utf8mb4 (the session's `character_set_client`); the
//! server converts it into the column's character set, and in strict mode a
//! character the charset lacks is an error (1366), never a `?`. Before that,
//! Sluice encodes the text into the column's charset itself (encoding_rs,
//! for the charsets it knows) and refuses text that does not encode or does
//! not decode back to the same text, so the common case fails with a clean
//! message that names the column and not the value. encoding_rs implements
//! the WHATWG encodings, which for GBK, Big5, EUC-KR and Shift_JIS are
//! supersets of MySQL's tables: a character they accept and MySQL does not
//! still meets the server's strict check.
//!
//! Values without a character type of their own (numbers, dates, UUIDs,
//! intervals, arrays, values of source types Sluice does not model) are
//! written into character columns in a documented text form: ISO dates,
//! `HH:MM:SS[.ffffff]` times, instants in UTC with `+00:00`, intervals as
//! `+1 mons +2 days +3 microseconds` (PostgreSQL reads that back), booleans
//! as `1`/`0` (what MySQL itself stores for TRUE into a VARCHAR), arrays as
//! JSON. Binary data is never written into a character column.

use encoding_rs::Encoding;
use mysql_async::Value as Param;
use sluice_api::{Date, Timestamp, TimestampTz, Value, format_clock};

use super::{ColumnKind, TypeError, mismatch};

/// The encoding_rs encoding of a MySQL charset whose repertoire it matches
/// (or exceeds); `None` for charsets that hold all of Unicode or that
/// Sluice leaves to the server.
fn encoding_of(charset: &str) -> Option<&'static Encoding> {
    Some(match charset {
        "latin1" => encoding_rs::WINDOWS_1252, // MySQL's latin1 is cp1252
        "gbk" | "gb2312" => encoding_rs::GBK,
        "big5" => encoding_rs::BIG5,
        "sjis" | "cp932" => encoding_rs::SHIFT_JIS,
        "ujis" | "eucjpms" => encoding_rs::EUC_JP,
        "euckr" => encoding_rs::EUC_KR,
        "koi8r" => encoding_rs::KOI8_R,
        "koi8u" => encoding_rs::KOI8_U,
        "cp1250" => encoding_rs::WINDOWS_1250,
        "cp1251" => encoding_rs::WINDOWS_1251,
        "cp1256" => encoding_rs::WINDOWS_1256,
        "cp1257" => encoding_rs::WINDOWS_1257,
        "latin2" => encoding_rs::ISO_8859_2,
        "greek" => encoding_rs::ISO_8859_7,
        "hebrew" => encoding_rs::ISO_8859_8,
        "latin7" => encoding_rs::ISO_8859_13,
        "cp866" => encoding_rs::IBM866,
        "macroman" => encoding_rs::MACINTOSH,
        "tis620" => encoding_rs::WINDOWS_874,
        _ => return None,
    })
}

/// Refuses text the column's character set cannot hold exactly.
pub(super) fn check_charset(text: &str, charset: Option<&str>) -> Result<(), TypeError> {
    let Some(charset) = charset else {
        return Ok(());
    };
    let unmappable = || {
        TypeError::new(format!(
            "text with a character the column's character set {charset} cannot store; \
             convert the column to utf8mb4 (ALTER TABLE … MODIFY … CHARACTER SET utf8mb4)"
        ))
    };
    match charset {
        "utf8mb3" | "utf8" | "ucs2" => {
            if text.chars().any(|c| u32::from(c) > 0xFFFF) {
                return Err(unmappable());
            }
        }
        "ascii" => {
            if !text.is_ascii() {
                return Err(unmappable());
            }
        }
        _ => {
            if let Some(encoding) = encoding_of(charset) {
                let (bytes, _, had_errors) = encoding.encode(text);
                if had_errors {
                    return Err(unmappable());
                }
                let (back, had_errors) = encoding.decode_without_bom_handling(&bytes);
                if had_errors || back != text {
                    return Err(unmappable());
                }
            }
        }
    }
    Ok(())
}

/// A string parameter for a character column: charset and length checked.
fn text_param(text: String, charset: Option<&str>, max_chars: Option<u32>) -> Result<Param, TypeError> {
    check_charset(&text, charset)?;
    if let Some(max) = max_chars
        && text.chars().count() > max as usize
    {
        return Err(TypeError::new(format!("text longer than the column's {max} characters")));
    }
    Ok(Param::Bytes(text.into_bytes()))
}

pub(super) fn to_text(value: &Value, charset: Option<&str>, max_chars: Option<u32>) -> Result<Param, TypeError> {
    let kind = || ColumnKind::Text { charset: charset.map(str::to_owned), max_chars };
    let text = text_form(value).ok_or_else(|| mismatch(value, &kind()))??;
    text_param(text, charset, max_chars)
}

/// The text form of a value for a character column (see the module
/// documentation); `None` for values that have none (binary data).
pub(super) fn text_form(value: &Value) -> Option<Result<String, TypeError>> {
    Some(Ok(match value {
        Value::Text(text) | Value::Enum(text) | Value::Json(text) => text.clone(),
        Value::Raw { text, .. } => text.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        Value::Int(v) => v.to_string(),
        Value::UInt(v) => v.to_string(),
        Value::Year(v) => v.to_string(),
        Value::Float32(f) => float_text(f64::from(*f), f.to_string()),
        Value::Float64(f) => float_text(*f, f.to_string()),
        Value::Decimal(d) => d.as_str().to_owned(),
        Value::Set(labels) => labels.join(","),
        Value::Uuid(bytes) => uuid_text(bytes),
        Value::Bits(bits) => bits.to_text(),
        Value::Date(date) => date_text(date),
        Value::Time(time) => time.to_text(),
        Value::TimeTz(time, offset) => format!("{}{}", time.to_text(), offset_text(*offset)),
        Value::Duration(micros) => {
            format!("{}{}", if *micros < 0 { "-" } else { "" }, format_clock(micros.unsigned_abs()))
        }
        Value::Timestamp(ts) => timestamp_text(ts),
        Value::TimestampTz(TimestampTz::Micros(micros)) => {
            let (date, time) = TimestampTz::to_utc_civil(*micros);
            format!("{date} {}+00:00", time.to_text())
        }
        Value::TimestampTz(TimestampTz::PosInfinity) => "infinity".to_owned(),
        Value::TimestampTz(TimestampTz::NegInfinity) => "-infinity".to_owned(),
        Value::Interval(interval) => {
            format!("{:+} mons {:+} days {:+} microseconds", interval.months, interval.days, interval.micros)
        }
        Value::Array(elements) => return Some(json_array(elements)),
        Value::Bytes(_) | Value::Null | Value::Unchanged => return None,
    }))
}

/// Floats in their shortest round-trip text; NaN and infinities in
/// PostgreSQL's spelling.
fn float_text(value: f64, shortest: String) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        shortest
    }
}

fn date_text(date: &Date) -> String {
    match date {
        Date::Civil(date) => date.to_string(),
        Date::PosInfinity => "infinity".to_owned(),
        Date::NegInfinity => "-infinity".to_owned(),
    }
}

fn timestamp_text(ts: &Timestamp) -> String {
    match ts {
        Timestamp::Civil { date, time } => format!("{date} {}", time.to_text()),
        Timestamp::PosInfinity => "infinity".to_owned(),
        Timestamp::NegInfinity => "-infinity".to_owned(),
    }
}

/// `+05:30`, `-08:00`, `+00:00:30`.
fn offset_text(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let magnitude = offset.unsigned_abs();
    let (hours, minutes, seconds) = (magnitude / 3600, magnitude / 60 % 60, magnitude % 60);
    if seconds == 0 {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}:{seconds:02}")
    }
}

pub(crate) fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (or 32 bare hex digits).
pub(crate) fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = match text.len() {
        36 if [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-') => text.replace('-', ""),
        32 => text.to_owned(),
        _ => return None,
    };
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// An array as a JSON array: numbers as JSON numbers (exact text), strings
/// and temporal values as strings, nested arrays nested. NaN, infinities and
/// binary data have no JSON form and are refused.
fn json_array(elements: &[Value]) -> Result<String, TypeError> {
    let mut out = String::from("[");
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match element {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(v) => out.push_str(&v.to_string()),
            Value::UInt(v) => out.push_str(&v.to_string()),
            Value::Year(v) => out.push_str(&v.to_string()),
            Value::Float32(f) if f.is_finite() => out.push_str(&f.to_string()),
            Value::Float64(f) if f.is_finite() => out.push_str(&f.to_string()),
            Value::Decimal(d) if !d.is_special() => out.push_str(d.as_str()),
            Value::Json(json) => out.push_str(json),
            Value::Array(inner) => out.push_str(&json_array(inner)?),
            Value::Float32(_) | Value::Float64(_) | Value::Decimal(_) => {
                return Err(TypeError::new("an array holding NaN or an infinity, which JSON cannot represent"));
            }
            Value::Bytes(_) | Value::Unchanged => {
                return Err(TypeError::new(format!(
                    "an array of {} values, which has no JSON form",
                    element.kind_name()
                )));
            }
            other => match text_form(other) {
                Some(Ok(text)) => push_json_string(&mut out, &text),
                Some(Err(error)) => return Err(error),
                None => return Err(TypeError::new("an array element without a JSON form")),
            },
        }
    }
    out.push(']');
    Ok(out)
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn to_json(value: &Value) -> Result<Param, TypeError> {
    match value {
        // The server validates (MySQL JSON, MariaDB's json_valid check).
        // MySQL JSON normalises the document (key order, spacing); MariaDB
        // keeps the text as it is.
        Value::Json(text) | Value::Text(text) => Ok(Param::Bytes(text.clone().into_bytes())),
        Value::Array(elements) => Ok(Param::Bytes(json_array(elements)?.into_bytes())),
        other => Err(mismatch(other, &ColumnKind::Json)),
    }
}

pub(super) fn to_binary(value: &Value, fixed: Option<u32>, max_len: Option<u32>) -> Result<Param, TypeError> {
    let bytes = match value {
        Value::Bytes(bytes) => bytes.clone(),
        Value::Uuid(bytes) => bytes.to_vec(),
        Value::Text(text) => text.clone().into_bytes(),
        other => return Err(mismatch(other, &ColumnKind::Binary { fixed, max_len })),
    };
    if let Some(n) = fixed
        && bytes.len() != n as usize
    {
        return Err(TypeError::new(format!(
            "binary data whose length is not BINARY({n})'s (MySQL would pad it with zero bytes); \
             make the column VARBINARY({n})"
        )));
    }
    if let Some(max) = max_len
        && bytes.len() > max as usize
    {
        return Err(TypeError::new(format!("binary data longer than the column's {max} bytes")));
    }
    Ok(Param::Bytes(bytes))
}

pub(super) fn to_enum(value: &Value, labels: &[String]) -> Result<Param, TypeError> {
    let label = match value {
        Value::Enum(label) | Value::Text(label) => label,
        other => return Err(mismatch(other, &ColumnKind::Enum { labels: labels.to_vec() })),
    };
    if !labels.iter().any(|l| l == label) {
        return Err(TypeError::new(
            "a label the ENUM does not declare (exactly, case included); add it to the column's ENUM",
        ));
    }
    Ok(Param::Bytes(label.clone().into_bytes()))
}

pub(super) fn to_set(value: &Value, labels: &[String]) -> Result<Param, TypeError> {
    let chosen: Vec<&str> = match value {
        Value::Set(chosen) => chosen.iter().map(String::as_str).collect(),
        Value::Text(text) if text.is_empty() => Vec::new(),
        Value::Text(text) => text.split(',').collect(),
        other => return Err(mismatch(other, &ColumnKind::Set { labels: labels.to_vec() })),
    };
    if chosen.iter().any(|c| !labels.iter().any(|l| l == c)) {
        return Err(TypeError::new(
            "a label the SET does not declare (exactly, case included); add it to the column's SET",
        ));
    }
    Ok(Param::Bytes(chosen.join(",").into_bytes()))
}

pub(super) fn to_uuid(value: &Value) -> Result<Param, TypeError> {
    let bytes = match value {
        Value::Uuid(bytes) => *bytes,
        Value::Text(text) => parse_uuid(text).ok_or_else(|| TypeError::new("text that is not a UUID"))?,
        Value::Bytes(bytes) => {
            <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| TypeError::new("binary data that is not 16 bytes"))?
        }
        other => return Err(mismatch(other, &ColumnKind::Uuid)),
    };
    Ok(Param::Bytes(uuid_text(&bytes).into_bytes()))
}

pub(super) fn to_inet(value: &Value) -> Result<Param, TypeError> {
    match value {
        // The server parses and validates the address text.
        Value::Text(text) => Ok(Param::Bytes(text.clone().into_bytes())),
        Value::Raw { type_name, text } if type_name == "inet" || type_name == "cidr" => {
            Ok(Param::Bytes(text.clone().into_bytes()))
        }
        // The binary forms: 16 bytes (INET6) or 4 (INET4).
        Value::Bytes(bytes) if bytes.len() == 16 || bytes.len() == 4 => Ok(Param::Bytes(bytes.clone())),
        other => Err(mismatch(other, &ColumnKind::Inet)),
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{CivilDate, Decimal, Interval, TimeOfDay};

    use super::*;

    fn text(value: &Value) -> String {
        text_form(value).unwrap().unwrap()
    }

    #[test]
    fn gbk_takes_chinese_and_refuses_what_it_cannot_hold() {
        assert!(check_charset("中文 abc é", Some("gbk")).is_ok());
        let error = check_charset("smile 😀", Some("gbk")).unwrap_err();
        assert!(error.reason().contains("gbk") && !error.reason().contains('😀'));
        assert!(check_charset("€", Some("latin1")).is_ok(), "MySQL latin1 is cp1252");
        assert!(check_charset("中", Some("latin1")).is_err());
        assert!(check_charset("😀", Some("utf8mb3")).is_err());
        assert!(check_charset("😀", Some("utf8mb4")).is_ok());
    }

    #[test]
    fn text_columns_get_documented_text_forms() {
        assert_eq!(text(&Value::Bool(true)), "1");
        assert_eq!(text(&Value::Uuid([0xab; 16])), "abababab-abab-abab-abab-abababababab");
        assert_eq!(text(&Value::Duration(-1_500_000)), "-00:00:01.5");
        assert_eq!(text(&Value::TimeTz(TimeOfDay(0), -8 * 3600)), "00:00:00-08:00");
        assert_eq!(text(&Value::TimestampTz(TimestampTz::Micros(0))), "1970-01-01 00:00:00+00:00");
        assert_eq!(
            text(&Value::Interval(Interval { months: 14, days: -3, micros: 5 })),
            "+14 mons -3 days +5 microseconds"
        );
        let date = Value::Date(Date::Civil(CivilDate { year: 2024, month: 1, day: 2 }));
        assert_eq!(text(&date), "2024-01-02");
        assert!(text_form(&Value::Bytes(vec![1])).is_none());
    }

    #[test]
    fn arrays_become_json_and_refuse_what_json_cannot_hold() {
        let array = Value::Array(vec![
            Value::Int(1),
            Value::Null,
            Value::Text("a\"b\n".into()),
            Value::Decimal(Decimal::parse("1.50").unwrap()),
            Value::Array(vec![Value::Bool(false)]),
        ]);
        assert_eq!(text(&array), r#"[1,null,"a\"b\n",1.50,[false]]"#);
        assert!(text_form(&Value::Array(vec![Value::Float64(f64::NAN)])).unwrap().is_err());
    }

    #[test]
    fn binary_fixed_width_refuses_padding() {
        assert!(to_binary(&Value::Bytes(vec![1, 2]), Some(16), Some(16)).is_err());
        assert_eq!(to_binary(&Value::Uuid([7; 16]), Some(16), Some(16)).unwrap(), Param::Bytes(vec![7; 16]));
        assert!(to_binary(&Value::Bytes(vec![0; 5]), None, Some(4)).is_err());
    }

    #[test]
    fn enum_and_set_labels_must_match_exactly() {
        let labels = vec!["small".to_owned(), "large".to_owned()];
        assert_eq!(to_enum(&Value::Enum("small".into()), &labels).unwrap(), Param::Bytes(b"small".to_vec()));
        assert!(to_enum(&Value::Enum("SMALL".into()), &labels).is_err());
        let set = Value::Set(vec!["small".into(), "large".into()]);
        assert_eq!(to_set(&set, &labels).unwrap(), Param::Bytes(b"small,large".to_vec()));
        assert_eq!(to_set(&Value::Set(vec![]), &labels).unwrap(), Param::Bytes(Vec::new()));
        assert!(to_set(&Value::Set(vec!["medium".into()]), &labels).is_err());
    }

    #[test]
    fn uuids_parse_and_print_canonically() {
        let text = "123e4567-e89b-12d3-a456-426614174000";
        let bytes = parse_uuid(text).unwrap();
        assert_eq!(uuid_text(&bytes), text);
        assert_eq!(parse_uuid(&text.replace('-', "")), Some(bytes));
        assert!(parse_uuid("123e4567-e89b-12d3-a456-42661417400g").is_none());
    }
}
