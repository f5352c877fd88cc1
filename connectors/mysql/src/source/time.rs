//! Temporal values in binlog row images, decoded from their raw bytes.
//!
//! mysql_common's TIME2 decoder underflows on negative TIME(1)/TIME(2)
//! values with a fraction (`-01:00:00.50` panics in debug builds and reads
//! as `623:63:63…` in release), so every temporal type is decoded here, from
//! the server's storage formats (MySQL 5.6.4+ "temporal2", also MariaDB's
//! default with `mysql56_temporal_format=ON`):
//!
//! - DATE (types 10/14), 3 bytes little-endian: day = bits 0–4, month =
//!   bits 5–8, year = bits 9–23. Zero and partial-zero dates keep their 0s.
//! - TIME2 (19), 3 + ⌈fsp/2⌉ bytes big-endian. The 3-byte integer part minus
//!   0x800000 is a signed count whose magnitude packs hour (10 bits), minute
//!   (6), second (6). The fraction is 1 byte of centiseconds (fsp 1–2), 2
//!   bytes of 1/10000 s (fsp 3–4), or, for fsp 5–6, the whole 6 bytes minus
//!   0x800000000000 are one signed value `(int << 24) + micros`. For fsp 1–4
//!   a negative value stores its fraction in reverse order for binary
//!   sorting: `-00:00:00.01` is integer part -1 and fraction byte 0xFF, so a
//!   negative integer part with a non-zero fraction means (int + 1) and
//!   (fraction - 0x100) (or - 0x10000). That is the subtraction mysql_common
//!   performs on an unsigned integer.
//! - DATETIME2 (18), 5 + ⌈fsp/2⌉ bytes big-endian: the 5-byte part minus
//!   0x8000000000 packs year×13+month (17 bits), day (5), hour (5), minute
//!   (6), second (6); the fraction as for TIME2 (never negative).
//! - TIMESTAMP2 (17), 4 + ⌈fsp/2⌉ bytes big-endian: seconds since the epoch
//!   in UTC — the server's `time_zone` plays no part — then the fraction.
//!   0 seconds is the zero value `0000-00-00 00:00:00`.
//! - The pre-5.6 formats, for tables created by old servers: DATETIME (12)
//!   8 bytes little-endian `YYYYMMDDhhmmss`, TIMESTAMP (7) 4 bytes
//!   little-endian epoch seconds, TIME (11) 3 bytes little-endian signed
//!   `±hhmmss`. None of them has a fraction.
//!
//! The binlog has no time zone for DATETIME (a civil value, [`Value::Timestamp`])
//! and always UTC for TIMESTAMP ([`Value::TimestampTz`]); the zero TIMESTAMP
//! becomes a civil zero timestamp so the sink-side zero-date policy sees it.

use sluice_api::{CivilDate, Date, TimeOfDay, Timestamp, TimestampTz, Value};

use super::wire::Reader;

/// Largest MySQL TIME magnitude: 838:59:59.999999 (MariaDB accepts the same range).
const MAX_TIME_HOURS: u64 = 838;
const MICROS_PER_SECOND: i64 = 1_000_000;

/// Why a temporal value could not be decoded (never contains the value).
pub(crate) type Reason = String;

/// Bytes of the fractional part for a fractional-seconds precision.
pub(crate) fn fraction_bytes(fsp: u8) -> usize {
    usize::from(fsp).div_ceil(2)
}

fn check_fsp(fsp: u8) -> Result<(), Reason> {
    if fsp > 6 { Err(format!("fractional-seconds precision {fsp} is above 6")) } else { Ok(()) }
}

fn truncated(type_name: &str) -> Reason {
    format!("the row image ends inside a {type_name} value")
}

/// TIME2 → signed microseconds.
pub(crate) fn decode_time2(reader: &mut Reader<'_>, fsp: u8) -> Result<i64, Reason> {
    check_fsp(fsp)?;
    let bytes = reader.take(3 + fraction_bytes(fsp)).map_err(|_| truncated("TIME"))?;
    let mut body = Reader::new(bytes);
    let read = |body: &mut Reader<'_>, n| body.uint_be(n).map_err(|_| truncated("TIME"));
    // Signed (int << 24) + micros, as MySQL's my_time_packed_from_binary returns it.
    let packed: i64 = match fsp {
        0 => (read(&mut body, 3)? as i64 - 0x80_0000) << 24,
        1 | 2 => {
            let mut int = read(&mut body, 3)? as i64 - 0x80_0000;
            let mut frac = read(&mut body, 1)? as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut int = read(&mut body, 3)? as i64 - 0x80_0000;
            let mut frac = read(&mut body, 2)? as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x1_0000;
            }
            (int << 24) + frac * 100
        }
        _ => read(&mut body, 6)? as i64 - 0x8000_0000_0000,
    };
    let negative = packed < 0;
    let magnitude = packed.unsigned_abs();
    let hms = magnitude >> 24;
    let micros = magnitude & 0xFF_FFFF;
    let (hour, minute, second) = ((hms >> 12) & 0x3FF, (hms >> 6) & 0x3F, hms & 0x3F);
    if hour > MAX_TIME_HOURS || minute > 59 || second > 59 || micros >= 1_000_000 || hms >> 22 != 0 {
        return Err("the TIME value is out of range (above 838:59:59.999999)".into());
    }
    let total = ((hour * 3600 + minute * 60 + second) * 1_000_000 + micros) as i64;
    Ok(if negative { -total } else { total })
}

/// Reads the fraction after a DATETIME2/TIMESTAMP2 integer part, in microseconds.
fn non_negative_fraction(body: &mut Reader<'_>, fsp: u8, type_name: &str) -> Result<u64, Reason> {
    let micros = match fsp {
        0 => 0,
        1 | 2 => body.uint_be(1).map_err(|_| truncated(type_name))? * 10_000,
        3 | 4 => body.uint_be(2).map_err(|_| truncated(type_name))? * 100,
        _ => body.uint_be(3).map_err(|_| truncated(type_name))?,
    };
    if micros >= 1_000_000 {
        return Err(format!("the {type_name} fraction is out of range"));
    }
    Ok(micros)
}

/// DATETIME2 → civil timestamp.
pub(crate) fn decode_datetime2(reader: &mut Reader<'_>, fsp: u8) -> Result<Value, Reason> {
    check_fsp(fsp)?;
    let bytes = reader.take(5 + fraction_bytes(fsp)).map_err(|_| truncated("DATETIME"))?;
    let mut body = Reader::new(bytes);
    let raw = body.uint_be(5).map_err(|_| truncated("DATETIME"))?;
    let packed = raw.checked_sub(0x80_0000_0000).ok_or("a negative DATETIME value")?;
    let micros = non_negative_fraction(&mut body, fsp, "DATETIME")?;
    let ymd = packed >> 17;
    let hms = packed & 0x1_FFFF;
    let year_month = ymd >> 5;
    let (year, month, day) = (year_month / 13, year_month % 13, ymd & 0x1F);
    let (hour, minute, second) = (hms >> 12, (hms >> 6) & 0x3F, hms & 0x3F);
    civil_timestamp(year, month, day, hour, minute, second, micros)
}

fn civil_timestamp(
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
    micros: u64,
) -> Result<Value, Reason> {
    if year > 9999 || month > 12 || day > 31 || hour > 23 || minute > 59 || second > 59 {
        return Err("the DATETIME value is out of range".into());
    }
    let date = CivilDate { year: year as i32, month: month as u8, day: day as u8 };
    let time = TimeOfDay((hour * 3600 + minute * 60 + second) * 1_000_000 + micros);
    Ok(Value::Timestamp(Timestamp::Civil { date, time }))
}

/// The zero TIMESTAMP (`0000-00-00 00:00:00`), which is no instant.
fn zero_timestamp() -> Value {
    Value::Timestamp(Timestamp::Civil { date: CivilDate { year: 0, month: 0, day: 0 }, time: TimeOfDay(0) })
}

/// TIMESTAMP2 → instant (UTC).
pub(crate) fn decode_timestamp2(reader: &mut Reader<'_>, fsp: u8) -> Result<Value, Reason> {
    check_fsp(fsp)?;
    let bytes = reader.take(4 + fraction_bytes(fsp)).map_err(|_| truncated("TIMESTAMP"))?;
    let mut body = Reader::new(bytes);
    let seconds = body.uint_be(4).map_err(|_| truncated("TIMESTAMP"))? as i64;
    let micros = non_negative_fraction(&mut body, fsp, "TIMESTAMP")? as i64;
    if seconds == 0 && micros == 0 {
        return Ok(zero_timestamp());
    }
    Ok(Value::TimestampTz(TimestampTz::Micros(seconds * MICROS_PER_SECOND + micros)))
}

/// DATE (3 bytes) → civil date; zero parts are kept.
pub(crate) fn decode_date(reader: &mut Reader<'_>) -> Result<Value, Reason> {
    let raw = reader.uint_le(3).map_err(|_| truncated("DATE"))?;
    let (day, month, year) = (raw & 0x1F, (raw >> 5) & 0x0F, raw >> 9);
    if month > 12 || year > 9999 {
        return Err("the DATE value is out of range".into());
    }
    Ok(Value::Date(Date::Civil(CivilDate { year: year as i32, month: month as u8, day: day as u8 })))
}

/// Pre-5.6 DATETIME: 8 bytes little-endian `YYYYMMDDhhmmss`.
pub(crate) fn decode_datetime_v1(reader: &mut Reader<'_>) -> Result<Value, Reason> {
    let raw = reader.uint_le(8).map_err(|_| truncated("DATETIME"))?;
    let (date, time) = (raw / 1_000_000, raw % 1_000_000);
    civil_timestamp(date / 10_000, (date / 100) % 100, date % 100, time / 10_000, (time / 100) % 100, time % 100, 0)
}

/// Pre-5.6 TIMESTAMP: 4 bytes little-endian epoch seconds.
pub(crate) fn decode_timestamp_v1(reader: &mut Reader<'_>) -> Result<Value, Reason> {
    let seconds = reader.uint_le(4).map_err(|_| truncated("TIMESTAMP"))? as i64;
    if seconds == 0 {
        return Ok(zero_timestamp());
    }
    Ok(Value::TimestampTz(TimestampTz::Micros(seconds * MICROS_PER_SECOND)))
}

/// Pre-5.6 TIME: 3 bytes little-endian signed `±hhmmss` → signed microseconds.
pub(crate) fn decode_time_v1(reader: &mut Reader<'_>) -> Result<i64, Reason> {
    let raw = reader.uint_le(3).map_err(|_| truncated("TIME"))? as i64;
    let value = if raw & 0x80_0000 != 0 { raw - 0x100_0000 } else { raw };
    let magnitude = value.unsigned_abs();
    let (hour, minute, second) = (magnitude / 10_000, (magnitude / 100) % 100, magnitude % 100);
    if hour > MAX_TIME_HOURS || minute > 59 || second > 59 {
        return Err("the TIME value is out of range (above 838:59:59)".into());
    }
    let total = ((hour * 3600 + minute * 60 + second) * 1_000_000) as i64;
    Ok(if value < 0 { -total } else { total })
}

#[cfg(test)]
#[path = "time/tests.rs"]
mod tests;
