//! Query results → Sluice values, exactly as the binlog stream decodes the
//! same cells (and key values back into query parameters).
//!
//! The engine compares and hashes keys of chunk rows against keys of
//! streamed changes and writes both through the same routes, so a cell read
//! by a query must become the very `Value` the stream makes of it
//! (`source/decode.rs`). Rows are read with the binary protocol (prepared
//! statements), where numbers and temporal values arrive typed:
//!
//! - integers as 1–8 byte integers, unsigned by the column's UNSIGNED flag
//!   (`Int`/`UInt` follow the schema's signedness, as in the stream); YEAR
//!   as a 2-byte integer (0 or 1901–2155); FLOAT/DOUBLE as IEEE 754;
//! - DECIMAL as its exact text with all `scale` digits (`-0.0500`), which
//!   is the text the stream builds from the binary decimal;
//! - DATE/DATETIME/TIMESTAMP as year…microsecond fields, zero and partial
//!   zero dates kept. TIMESTAMP is sent in the session time zone, which
//!   the reader sets to `+00:00`, so the fields are the UTC civil time of
//!   the instant the binlog carries as epoch seconds; the zero TIMESTAMP
//!   stays a civil zero, as in the stream. TIME as sign, days, h:m:s and
//!   microseconds (negative fractions exact; mysql_common's binlog bug does
//!   not concern this path);
//! - BIT(n) as ⌈n/8⌉ big-endian bytes; GEOMETRY (and MariaDB VECTOR) as the
//!   server's internal bytes, the same bytes as in the binlog;
//! - character data raw: the session has `character_set_results = NULL`,
//!   so the server sends the bytes as stored, in the column's character
//!   set (named by the result column's collation id), and they are decoded
//!   with the stream's decoder (`source/charset.rs`) — never converted by
//!   the server, whose tables differ from encoding_rs's in corners. CHAR
//!   loses its trailing spaces and BINARY(n) keeps its zero padding, as in
//!   the stream;
//! - ENUM and SET as their labels (SET comma-separated, in definition
//!   order); MariaDB JSON is LONGTEXT text, kept as it is; MySQL JSON is
//!   printed by the server with spaces after `:` and `,`, which are removed
//!   outside strings to give the stream's compact text;
//! - MariaDB UUID, INET6 and INET4 as their text: parsed and printed again
//!   the way the stream prints the 16 (or 4) bytes it gets from the binlog.
//!
//! Key values are bound back as parameters that compare the way the server
//! orders the column (`ORDER BY` and `>` must agree): ENUM by its index and
//! SET by its bit mask (both sort numerically), DECIMAL through
//! `CAST(? AS DECIMAL(p,s))` (a string compared with a DECIMAL would be
//! compared as a double), instants as UTC civil times.

use std::net::{Ipv4Addr, Ipv6Addr};

use mysql_async::Value as Param;
use sluice_api::{CivilDate, Column, ColumnType, Date, Decimal, TableName, TimeOfDay, Timestamp, TimestampTz, Value};

use crate::error::MySqlError;
use crate::source::{Charset, Collations, bit_string, inet6_text};
use crate::types::{GEOMETRY_TYPES, parse_uuid, uuid_text};

/// Why a cell could not be read (never contains the value).
type Reason = String;

/// How one column's cells become values, decided from the schema's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CellKind {
    Int {
        unsigned: bool,
    },
    Decimal,
    Float32,
    Float64,
    Bit {
        bits: u16,
    },
    Year,
    Date,
    DateTime,
    Timestamp,
    Time,
    Text,
    Bytes,
    /// `compact`: MySQL JSON, printed with spaces by the server.
    Json {
        compact: bool,
    },
    Uuid,
    Inet6,
    Inet4,
    Enum {
        labels: Vec<String>,
    },
    Set {
        labels: Vec<String>,
    },
    /// Spatial and VECTOR values: the server's bytes.
    Opaque,
}

impl CellKind {
    /// Classifies a column as `describe_source_table` describes it.
    pub(crate) fn of(column: &Column, mariadb: bool) -> Option<CellKind> {
        Some(match &column.column_type {
            ColumnType::Bool => CellKind::Int { unsigned: false },
            ColumnType::Int { unsigned, .. } => CellKind::Int { unsigned: *unsigned },
            ColumnType::Decimal { .. } => CellKind::Decimal,
            ColumnType::Float32 => CellKind::Float32,
            ColumnType::Float64 => CellKind::Float64,
            ColumnType::Bits { len, .. } => CellKind::Bit { bits: u16::try_from(len.unwrap_or(1)).ok()? },
            ColumnType::Year => CellKind::Year,
            ColumnType::Date => CellKind::Date,
            ColumnType::Timestamp { .. } => CellKind::DateTime,
            ColumnType::TimestampTz { .. } => CellKind::Timestamp,
            ColumnType::Duration { .. } => CellKind::Time,
            ColumnType::Text { .. } => CellKind::Text,
            ColumnType::Bytes { .. } => CellKind::Bytes,
            ColumnType::Json => CellKind::Json { compact: !mariadb },
            ColumnType::Uuid => CellKind::Uuid,
            ColumnType::Enum { labels } => CellKind::Enum { labels: labels.clone() },
            ColumnType::Set { labels } => CellKind::Set { labels: labels.clone() },
            ColumnType::Other { name } => match name.to_ascii_lowercase().as_str() {
                "inet6" => CellKind::Inet6,
                "inet4" => CellKind::Inet4,
                "vector" => CellKind::Opaque,
                other if GEOMETRY_TYPES.contains(&other) => CellKind::Opaque,
                _ => return None,
            },
            _ => return None,
        })
    }

    fn reads_text(&self) -> bool {
        matches!(self, CellKind::Text | CellKind::Json { .. } | CellKind::Enum { .. } | CellKind::Set { .. })
    }
}

/// One result column: how to read it and, for text, its character set.
#[derive(Clone, Debug)]
pub(crate) struct CellReader {
    kind: CellKind,
    charset: Charset,
}

fn unsupported(table: &TableName, column: &Column, reason: String) -> MySqlError {
    MySqlError::Config {
        setting: format!("source table {table}"),
        message: format!("Column {}: {reason}", column.name),
    }
}

/// Readers for `columns` of `table`, given the result set's column
/// definitions (their collation ids name the character sets the raw bytes
/// are in).
pub(crate) fn readers(
    table: &TableName,
    columns: &[&Column],
    result_columns: &[mysql_async::Column],
    mariadb: bool,
    collations: &Collations,
) -> Result<Vec<CellReader>, MySqlError> {
    if result_columns.len() != columns.len() {
        return Err(MySqlError::Protocol {
            what: "chunk result",
            reason: format!("{table} returned {} columns for {} asked for", result_columns.len(), columns.len()),
        });
    }
    columns
        .iter()
        .zip(result_columns)
        .map(|(column, result)| {
            let kind = CellKind::of(column, mariadb).ok_or_else(|| {
                unsupported(
                    table,
                    column,
                    format!(
                        "Sluice cannot read type {} in a snapshot; leave the table out of the snapshot or convert \
                         the column",
                        column.type_name
                    ),
                )
            })?;
            let charset = if kind.reads_text() {
                let id = result.character_set();
                let info = collations.get(id).ok_or_else(|| {
                    unsupported(table, column, format!("the server sent collation id {id}, which it does not list"))
                })?;
                Charset::from_name(&info.charset).ok_or_else(|| {
                    unsupported(
                        table,
                        column,
                        format!("Sluice cannot decode character set {}; convert the column to utf8mb4", info.charset),
                    )
                })?
            } else {
                Charset::Binary
            };
            Ok(CellReader { kind, charset })
        })
        .collect()
}

/// Converts one row of `columns`; errors name table, column and type, never the value.
pub(crate) fn convert_row(
    table: &TableName,
    columns: &[&Column],
    readers: &[CellReader],
    cells: Vec<Option<Param>>,
) -> Result<Vec<Value>, MySqlError> {
    let mut row = Vec::with_capacity(readers.len());
    for ((reader, cell), column) in readers.iter().zip(cells).zip(columns) {
        let value = match cell {
            None | Some(Param::NULL) => Value::Null,
            Some(param) => convert(reader, param).map_err(|reason| MySqlError::Value {
                table: table.to_string(),
                column: column.name.clone(),
                type_name: column.type_name.clone(),
                reason,
            })?,
        };
        row.push(value);
    }
    Ok(row)
}

fn wrong_type(param: &Param) -> Reason {
    let kind = match param {
        Param::NULL => "NULL",
        Param::Bytes(_) => "bytes",
        Param::Int(_) => "a signed integer",
        Param::UInt(_) => "an unsigned integer",
        Param::Float(_) => "a FLOAT",
        Param::Double(_) => "a DOUBLE",
        Param::Date(..) => "a date",
        Param::Time(..) => "a time",
    };
    format!("the server sent {kind} for this column")
}

fn ascii_text(bytes: &[u8]) -> Result<&str, Reason> {
    std::str::from_utf8(bytes).map_err(|_| "the server's text form is not ASCII".to_owned())
}

fn text(bytes: Vec<u8>, charset: Charset) -> Result<String, Reason> {
    let invalid = || "the bytes are not valid in the column's character set".to_owned();
    match charset {
        Charset::Utf8 => String::from_utf8(bytes).map_err(|_| invalid()),
        Charset::Binary => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        other => other.decode(&bytes).ok_or_else(invalid),
    }
}

fn civil(year: u16, month: u8, day: u8) -> CivilDate {
    CivilDate { year: i32::from(year), month, day }
}

fn clock(hour: u8, minute: u8, second: u8, micros: u32) -> TimeOfDay {
    TimeOfDay((u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second)) * 1_000_000 + u64::from(micros))
}

/// Converts one non-NULL cell.
pub(crate) fn convert(reader: &CellReader, param: Param) -> Result<Value, Reason> {
    Ok(match (&reader.kind, param) {
        (CellKind::Int { unsigned: true }, Param::UInt(n)) => Value::UInt(n),
        (CellKind::Int { unsigned: true }, Param::Int(n)) => {
            Value::UInt(u64::try_from(n).map_err(|_| "a negative value in an unsigned column")?)
        }
        (CellKind::Int { unsigned: false }, Param::Int(n)) => Value::Int(n),
        (CellKind::Int { unsigned: false }, Param::UInt(n)) => {
            Value::Int(i64::try_from(n).map_err(|_| "a value beyond the signed 64-bit range")?)
        }
        (CellKind::Decimal, Param::Bytes(bytes)) => Value::Decimal(
            Decimal::parse(ascii_text(&bytes)?).map_err(|_| "the DECIMAL text is not a number".to_owned())?,
        ),
        (CellKind::Float32, Param::Float(f)) => Value::Float32(f),
        (CellKind::Float64, Param::Double(f)) => Value::Float64(f),
        (CellKind::Bit { bits }, Param::Bytes(bytes)) => {
            if bytes.len() > 8 {
                return Err("a BIT value longer than 8 bytes".into());
            }
            let raw = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            bit_string(raw, *bits)?
        }
        (CellKind::Bit { bits }, Param::UInt(raw)) => bit_string(raw, *bits)?,
        (CellKind::Year, Param::Int(n)) => Value::Year(u16::try_from(n).map_err(|_| "a YEAR out of range")?),
        (CellKind::Year, Param::UInt(n)) => Value::Year(u16::try_from(n).map_err(|_| "a YEAR out of range")?),
        (CellKind::Date, Param::Date(year, month, day, ..)) => Value::Date(Date::Civil(civil(year, month, day))),
        (CellKind::DateTime, Param::Date(year, month, day, hour, minute, second, micros)) => {
            Value::Timestamp(Timestamp::Civil {
                date: civil(year, month, day),
                time: clock(hour, minute, second, micros),
            })
        }
        (CellKind::Timestamp, Param::Date(year, month, day, hour, minute, second, micros)) => {
            let date = civil(year, month, day);
            let time = clock(hour, minute, second, micros);
            if date.is_zero_date() {
                // The zero TIMESTAMP is no instant; the stream keeps it civil too.
                Value::Timestamp(Timestamp::Civil { date, time })
            } else {
                Value::TimestampTz(TimestampTz::Micros(TimestampTz::from_utc_civil(date, time)))
            }
        }
        (CellKind::Time, Param::Time(negative, days, hours, minutes, seconds, micros)) => {
            let whole = (u64::from(days) * 24 + u64::from(hours)) * 3600 + u64::from(minutes) * 60 + u64::from(seconds);
            let magnitude = i64::try_from(whole * 1_000_000 + u64::from(micros)).map_err(|_| "a TIME out of range")?;
            Value::Duration(if negative { -magnitude } else { magnitude })
        }
        (CellKind::Text, Param::Bytes(bytes)) => Value::Text(text(bytes, reader.charset)?),
        (CellKind::Bytes | CellKind::Opaque, Param::Bytes(bytes)) => Value::Bytes(bytes),
        (CellKind::Json { compact: false }, Param::Bytes(bytes)) => Value::Json(text(bytes, reader.charset)?),
        (CellKind::Json { compact: true }, Param::Bytes(bytes)) => {
            Value::Json(compact_json(&text(bytes, reader.charset)?))
        }
        (CellKind::Uuid, Param::Bytes(bytes)) => {
            Value::Uuid(parse_uuid(ascii_text(&bytes)?).ok_or("the server's UUID text is not a UUID")?)
        }
        (CellKind::Inet6, Param::Bytes(bytes)) => {
            let address: Ipv6Addr =
                ascii_text(&bytes)?.parse().map_err(|_| "the server's INET6 text is not an IPv6 address")?;
            Value::Text(inet6_text(&address.octets()))
        }
        (CellKind::Inet4, Param::Bytes(bytes)) => {
            let address: Ipv4Addr =
                ascii_text(&bytes)?.parse().map_err(|_| "the server's INET4 text is not an IPv4 address")?;
            let [a, b, c, d] = address.octets();
            Value::Text(format!("{a}.{b}.{c}.{d}"))
        }
        (CellKind::Enum { .. }, Param::Bytes(bytes)) => Value::Enum(text(bytes, reader.charset)?),
        (CellKind::Set { .. }, Param::Bytes(bytes)) => {
            let chosen = text(bytes, reader.charset)?;
            Value::Set(if chosen.is_empty() { Vec::new() } else { chosen.split(',').map(str::to_owned).collect() })
        }
        (_, other) => return Err(wrong_type(&other)),
    })
}

/// MySQL's JSON text without the spaces its printer puts after `:` and `,`
/// (whitespace outside strings), which is the stream's compact form.
pub(crate) fn compact_json(printed: &str) -> String {
    let mut out = String::with_capacity(printed.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in printed.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// How a key column's value is bound: the parameter and its placeholder.
pub(crate) fn key_placeholder(column: &Column) -> String {
    match &column.column_type {
        ColumnType::Decimal { precision, scale } => {
            format!("CAST(? AS DECIMAL({},{}))", precision.unwrap_or(65).min(65), scale.unwrap_or(0).min(38))
        }
        _ => "?".to_owned(),
    }
}

/// A key value as a parameter that compares like the column sorts (see the
/// module documentation); the error names no value.
pub(crate) fn key_param(value: &Value, column: &Column) -> Result<Param, Reason> {
    Ok(match (value, &column.column_type) {
        (Value::Enum(label), ColumnType::Enum { labels }) => {
            if label.is_empty() {
                Param::UInt(0)
            } else {
                let index = labels.iter().position(|l| l == label).ok_or("a label the ENUM does not declare")?;
                Param::UInt(index as u64 + 1)
            }
        }
        (Value::Set(chosen), ColumnType::Set { labels }) => {
            let mut mask = 0u64;
            for label in chosen {
                let index = labels.iter().position(|l| l == label).ok_or("a label the SET does not declare")?;
                mask |= 1u64.checked_shl(index as u32).ok_or("a SET with more than 64 labels")?;
            }
            Param::UInt(mask)
        }
        (Value::Int(n), _) => Param::Int(*n),
        (Value::UInt(n), _) => Param::UInt(*n),
        (Value::Year(n), _) => Param::Int(i64::from(*n)),
        (Value::Float32(f), _) => Param::Float(*f),
        (Value::Float64(f), _) => Param::Double(*f),
        (Value::Decimal(d), _) => Param::Bytes(d.as_str().as_bytes().to_vec()),
        (Value::Bits(bits), _) => {
            let mut raw = 0u64;
            for i in 0..bits.len.min(64) {
                let bit = bits.bytes.get(i / 8).is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0);
                raw = (raw << 1) | u64::from(bit);
            }
            Param::UInt(raw)
        }
        (Value::Text(text) | Value::Json(text) | Value::Enum(text), _) => Param::Bytes(text.as_bytes().to_vec()),
        (Value::Bytes(bytes), _) => Param::Bytes(bytes.clone()),
        (Value::Uuid(bytes), _) => Param::Bytes(uuid_text(bytes).into_bytes()),
        (Value::Date(Date::Civil(date)), _) => date_param(*date, TimeOfDay(0))?,
        (Value::Timestamp(Timestamp::Civil { date, time }), _) => date_param(*date, *time)?,
        (Value::TimestampTz(TimestampTz::Micros(micros)), _) => {
            let (date, time) = TimestampTz::to_utc_civil(*micros);
            date_param(date, time)?
        }
        (Value::Duration(micros), _) => {
            let magnitude = micros.unsigned_abs();
            let seconds = magnitude / 1_000_000;
            let hours = seconds / 3600;
            Param::Time(
                *micros < 0,
                u32::try_from(hours / 24).map_err(|_| "a TIME out of range")?,
                (hours % 24) as u8,
                (seconds / 60 % 60) as u8,
                (seconds % 60) as u8,
                (magnitude % 1_000_000) as u32,
            )
        }
        (other, _) => return Err(format!("a key value of kind {} cannot be bound", other.kind_name())),
    })
}

fn date_param(date: CivilDate, time: TimeOfDay) -> Result<Param, Reason> {
    let year = u16::try_from(date.year).map_err(|_| "a date outside the years 0 to 9999")?;
    let seconds = time.0 / 1_000_000;
    Ok(Param::Date(
        year,
        date.month,
        date.day,
        (seconds / 3600) as u8,
        (seconds / 60 % 60) as u8,
        (seconds % 60) as u8,
        (time.0 % 1_000_000) as u32,
    ))
}

#[cfg(test)]
mod tests {
    use sluice_api::BitString;

    use super::*;

    fn reader(kind: CellKind) -> CellReader {
        CellReader { kind, charset: Charset::Utf8 }
    }

    #[test]
    fn integers_follow_the_schema_signedness() {
        assert_eq!(
            convert(&reader(CellKind::Int { unsigned: true }), Param::UInt(u64::MAX)),
            Ok(Value::UInt(u64::MAX))
        );
        assert_eq!(convert(&reader(CellKind::Int { unsigned: false }), Param::Int(-1)), Ok(Value::Int(-1)));
        assert!(convert(&reader(CellKind::Int { unsigned: true }), Param::Int(-1)).is_err());
    }

    #[test]
    fn temporal_fields_become_the_streams_values() {
        let ts = convert(&reader(CellKind::Timestamp), Param::Date(1970, 1, 1, 0, 0, 1, 500_000)).unwrap();
        assert_eq!(ts, Value::TimestampTz(TimestampTz::Micros(1_500_000)));
        let zero = convert(&reader(CellKind::Timestamp), Param::Date(0, 0, 0, 0, 0, 0, 0)).unwrap();
        assert_eq!(zero, Value::Timestamp(Timestamp::Civil { date: civil(0, 0, 0), time: TimeOfDay(0) }));
        let time = convert(&reader(CellKind::Time), Param::Time(true, 34, 22, 59, 59, 0)).unwrap();
        assert_eq!(time, Value::Duration(-((838 * 3600 + 59 * 60 + 59) * 1_000_000)));
        let partial = convert(&reader(CellKind::Date), Param::Date(2024, 0, 10, 0, 0, 0, 0)).unwrap();
        assert_eq!(partial, Value::Date(Date::Civil(civil(2024, 0, 10))));
    }

    #[test]
    fn bits_sets_and_addresses_read_like_the_stream() {
        let bits = convert(&reader(CellKind::Bit { bits: 10 }), Param::Bytes(vec![0x02, 0x01])).unwrap();
        assert_eq!(bits, Value::Bits(BitString::from_text("1000000001").unwrap()));
        assert!(convert(&reader(CellKind::Bit { bits: 3 }), Param::Bytes(vec![0x08])).is_err());
        let set = CellKind::Set { labels: vec!["p".into(), "q".into()] };
        assert_eq!(convert(&reader(set.clone()), Param::Bytes(b"".to_vec())), Ok(Value::Set(vec![])));
        assert_eq!(convert(&reader(set), Param::Bytes(b"p,q".to_vec())), Ok(Value::Set(vec!["p".into(), "q".into()])));
        let ip = convert(&reader(CellKind::Inet6), Param::Bytes(b"::ffff:1.2.3.4".to_vec())).unwrap();
        assert_eq!(ip, Value::Text("::ffff:1.2.3.4".into()));
    }

    #[test]
    fn mysql_json_loses_its_spaces_outside_strings() {
        assert_eq!(
            compact_json(r#"{"a": [1, 2.5, null], "b": "x, y: \" z"}"#),
            r#"{"a":[1,2.5,null],"b":"x, y: \" z"}"#
        );
    }

    #[test]
    fn key_values_bind_in_the_columns_sort_order() {
        let column = |column_type| Column {
            name: "k".into(),
            column_type,
            type_name: String::new(),
            type_id: 0,
            type_modifier: -1,
            is_key: true,
        };
        let enum_column = column(ColumnType::Enum { labels: vec!["b".into(), "a".into()] });
        assert_eq!(key_param(&Value::Enum("a".into()), &enum_column), Ok(Param::UInt(2)));
        let set_column = column(ColumnType::Set { labels: vec!["p".into(), "q".into(), "r".into()] });
        assert_eq!(key_param(&Value::Set(vec!["p".into(), "r".into()]), &set_column), Ok(Param::UInt(5)));
        let bits = Value::Bits(BitString::from_text("101").unwrap());
        assert_eq!(key_param(&bits, &column(ColumnType::Bits { len: Some(3), varying: false })), Ok(Param::UInt(5)));
        let decimal = column(ColumnType::Decimal { precision: Some(12), scale: Some(2) });
        assert_eq!(key_placeholder(&decimal), "CAST(? AS DECIMAL(12,2))");
        let instant = Value::TimestampTz(TimestampTz::Micros(1_700_000_000_123_456));
        assert_eq!(
            key_param(&instant, &column(ColumnType::TimestampTz { fsp: Some(6) })),
            Ok(Param::Date(2023, 11, 14, 22, 13, 20, 123_456))
        );
    }
}
