//! Text forms of PostgreSQL's date and time types under `DateStyle=ISO` and
//! `TimeZone=UTC` (the sessions Sluice opens set both).
//!
//! - `date`: `YYYY-MM-DD`, years of more than four digits printed in full,
//!   ` BC` appended for years before 1 (PostgreSQL has no year 0: 1 BC is
//!   astronomical year 0, 44 BC is -43), and `infinity` / `-infinity`.
//! - `time`: `HH:MM:SS[.ffffff]`, up to and including `24:00:00`.
//! - `timetz`: the time followed by the zone offset east of UTC,
//!   `+HH[:MM[:SS]]`.
//! - `timestamp`: `date time[ BC]`; `timestamptz` adds the offset before the
//!   era: `0044-03-15 12:00:00+00 BC`. Under `TimeZone=UTC` the offset is
//!   always `+00`, but any offset is honoured when reading.
//!
//! Writing uses the same forms; `timestamptz` is always written with `+00`,
//! so the target's `TimeZone` cannot shift it. A Sluice duration (MySQL
//! `TIME`, which may be negative or exceed a day) is written `[-]H:MM:SS[.f]`,
//! which `interval` accepts and `time` accepts only from 00:00:00 to 24:00:00.

use sluice_api::{CivilDate, Date, TimeOfDay, Timestamp, TimestampTz, format_clock};

use super::TypeError;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400_000_000;

pub(super) fn decode_date(text: &str) -> Result<Date, TypeError> {
    match text {
        "infinity" => Ok(Date::PosInfinity),
        "-infinity" => Ok(Date::NegInfinity),
        _ => {
            let (body, bc) = strip_era(text);
            Ok(Date::Civil(parse_ymd(body, bc)?))
        }
    }
}

pub(super) fn encode_date(date: &Date) -> Result<String, TypeError> {
    match date {
        Date::PosInfinity => Ok("infinity".into()),
        Date::NegInfinity => Ok("-infinity".into()),
        Date::Civil(date) => {
            let (ymd, bc) = format_ymd(date)?;
            Ok(if bc { format!("{ymd} BC") } else { ymd })
        }
    }
}

pub(super) fn decode_time(text: &str) -> Result<TimeOfDay, TypeError> {
    let micros = parse_clock(text, 24)?;
    if micros > TimeOfDay::MAX_MICROS {
        return Err(TypeError::new("time of day is after 24:00:00"));
    }
    Ok(TimeOfDay(micros))
}

pub(super) fn encode_time(time: &TimeOfDay) -> Result<String, TypeError> {
    if time.0 > TimeOfDay::MAX_MICROS {
        return Err(TypeError::new("time of day is after 24:00:00"));
    }
    Ok(time.to_text())
}

pub(super) fn decode_timetz(text: &str) -> Result<(TimeOfDay, i32), TypeError> {
    let split = text.rfind(['+', '-']).ok_or_else(|| TypeError::new("time with time zone has no UTC offset"))?;
    let time = decode_time(&text[..split])?;
    Ok((time, parse_offset(&text[split..])?))
}

pub(super) fn encode_timetz(time: &TimeOfDay, offset_seconds: i32) -> Result<String, TypeError> {
    Ok(format!("{}{}", encode_time(time)?, format_offset(offset_seconds)))
}

pub(super) fn decode_timestamp(text: &str) -> Result<Timestamp, TypeError> {
    match text {
        "infinity" => return Ok(Timestamp::PosInfinity),
        "-infinity" => return Ok(Timestamp::NegInfinity),
        _ => {}
    }
    let (body, bc) = strip_era(text);
    let (date, time) = body.split_once(' ').ok_or_else(|| TypeError::new("timestamp has no time part"))?;
    let date = parse_ymd(date, bc)?;
    let time = parse_clock(time, 23)?;
    Ok(Timestamp::Civil { date, time: TimeOfDay(time) })
}

pub(super) fn encode_timestamp(timestamp: &Timestamp) -> Result<String, TypeError> {
    match timestamp {
        Timestamp::PosInfinity => Ok("infinity".into()),
        Timestamp::NegInfinity => Ok("-infinity".into()),
        Timestamp::Civil { date, time } => {
            let (ymd, bc) = format_ymd(date)?;
            let time = encode_time(time)?;
            Ok(if bc { format!("{ymd} {time} BC") } else { format!("{ymd} {time}") })
        }
    }
}

pub(super) fn decode_timestamptz(text: &str) -> Result<TimestampTz, TypeError> {
    match text {
        "infinity" => return Ok(TimestampTz::PosInfinity),
        "-infinity" => return Ok(TimestampTz::NegInfinity),
        _ => {}
    }
    let (body, bc) = strip_era(text);
    let (date, rest) = body.split_once(' ').ok_or_else(|| TypeError::new("timestamp has no time part"))?;
    let split = rest.find(['+', '-']).ok_or_else(|| TypeError::new("timestamp with time zone has no UTC offset"))?;
    let date = parse_ymd(date, bc)?;
    let time = parse_clock(&rest[..split], 23)?;
    let offset = parse_offset(&rest[split..])?;
    let micros = i128::from(date.days_since_epoch()) * MICROS_PER_DAY + i128::from(time)
        - i128::from(offset) * i128::from(MICROS_PER_SECOND);
    let micros = i64::try_from(micros).map_err(|_| TypeError::new("timestamp is out of range"))?;
    Ok(TimestampTz::Micros(micros))
}

pub(super) fn encode_timestamptz(timestamp: &TimestampTz) -> Result<String, TypeError> {
    match timestamp {
        TimestampTz::PosInfinity => Ok("infinity".into()),
        TimestampTz::NegInfinity => Ok("-infinity".into()),
        TimestampTz::Micros(micros) => {
            let (date, time) = TimestampTz::to_utc_civil(*micros);
            let (ymd, bc) = format_ymd(&date)?;
            let time = time.to_text();
            Ok(if bc { format!("{ymd} {time}+00 BC") } else { format!("{ymd} {time}+00") })
        }
    }
}

/// `[-]H+:MM:SS[.ffffff]`: a signed duration of any number of hours.
pub(super) fn decode_duration(text: &str) -> Result<i64, TypeError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let micros = i128::from(parse_clock(body, u64::MAX)?);
    i64::try_from(if negative { -micros } else { micros }).map_err(|_| TypeError::new("duration is out of range"))
}

pub(super) fn encode_duration(micros: i64) -> String {
    let clock = format_clock(micros.unsigned_abs());
    if micros < 0 { format!("-{clock}") } else { clock }
}

/// Splits a trailing ` BC` era marker off.
fn strip_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(body) => (body, true),
        None => (text, false),
    }
}

/// `Y+-MM-DD` with a year of at least one digit (PostgreSQL prints at least
/// four); `bc` converts the year to astronomical numbering.
fn parse_ymd(text: &str, bc: bool) -> Result<CivilDate, TypeError> {
    let invalid = || TypeError::new("not a date (expected YYYY-MM-DD with an optional BC)");
    let mut parts = text.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if year.is_empty() || year.len() > 9 || month.len() != 2 || day.len() != 2 {
        return Err(invalid());
    }
    let year = parse_digits(year).ok_or_else(invalid)?;
    let month = parse_digits(month).ok_or_else(invalid)?;
    let day = parse_digits(day).ok_or_else(invalid)?;
    if year == 0 {
        return Err(TypeError::new("year 0 does not exist (1 BC precedes 1 AD)"));
    }
    let year = i32::try_from(year).map_err(|_| invalid())?;
    let year = if bc { 1 - year } else { year };
    let (month, day) = (month as u8, day as u8);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(TypeError::new("date does not exist in the calendar"));
    }
    Ok(CivilDate { year, month, day })
}

/// The `YYYY-MM-DD` text of a date and whether it needs ` BC`.
fn format_ymd(date: &CivilDate) -> Result<(String, bool), TypeError> {
    if date.is_zero_date() {
        return Err(TypeError::new("PostgreSQL has no zero dates (month or day 0); set the route's zero-date policy"));
    }
    if date.month > 12 || date.day > days_in_month(date.year, date.month) {
        return Err(TypeError::new("date does not exist in the calendar"));
    }
    let bc = date.year <= 0;
    let year = if bc { 1 - i64::from(date.year) } else { i64::from(date.year) };
    Ok((format!("{year:04}-{:02}-{:02}", date.month, date.day), bc))
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `H+:MM:SS[.f{1,6}]` → microseconds, with the hours at most `max_hours`.
fn parse_clock(text: &str, max_hours: u64) -> Result<u64, TypeError> {
    let invalid = || TypeError::new("not a time (expected HH:MM:SS[.ffffff])");
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let mut parts = clock.splitn(3, ':');
    let (Some(hours), Some(minutes), Some(seconds)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if hours.is_empty() || hours.len() > 12 || minutes.len() != 2 || seconds.len() != 2 {
        return Err(invalid());
    }
    let hours = parse_digits(hours).ok_or_else(invalid)?;
    let minutes = parse_digits(minutes).ok_or_else(invalid)?;
    let seconds = parse_digits(seconds).ok_or_else(invalid)?;
    if hours > max_hours || minutes > 59 || seconds > 59 {
        return Err(TypeError::new("time field out of range"));
    }
    let micros = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 6 => {
            parse_digits(f).ok_or_else(invalid)? * 10u64.pow(6 - f.len() as u32)
        }
        Some(_) => return Err(invalid()),
    };
    let total =
        (u128::from(hours) * 3600 + u128::from(minutes) * 60 + u128::from(seconds)) * 1_000_000 + u128::from(micros);
    u64::try_from(total).map_err(|_| TypeError::new("time is out of range"))
}

/// `+HH[:MM[:SS]]` / `-…` → seconds east of UTC.
fn parse_offset(text: &str) -> Result<i32, TypeError> {
    let invalid = || TypeError::new("not a UTC offset (expected +HH[:MM[:SS]])");
    let (sign, body) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(invalid()),
    };
    let mut seconds = 0i32;
    let mut fields = 0;
    for (i, part) in body.split(':').enumerate() {
        if i > 2 || part.len() != 2 {
            return Err(invalid());
        }
        let n = parse_digits(part).ok_or_else(invalid)? as i32;
        if i > 0 && n > 59 {
            return Err(invalid());
        }
        seconds += n * [3600, 60, 1][i];
        fields += 1;
    }
    if fields == 0 {
        return Err(invalid());
    }
    Ok(sign * seconds)
}

/// `+HH:MM`, with `:SS` when the offset has seconds (historic local mean times).
fn format_offset(offset_seconds: i32) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let abs = offset_seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, (abs / 60) % 60, abs % 60);
    if s == 0 { format!("{sign}{h:02}:{m:02}") } else { format!("{sign}{h:02}:{m:02}:{s:02}") }
}

/// ASCII digits only (no sign, no spaces), as an unsigned number.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i32, month: u8, day: u8) -> CivilDate {
        CivilDate { year, month, day }
    }

    #[test]
    fn bc_dates_use_astronomical_years() {
        assert_eq!(decode_date("0044-03-15 BC").unwrap(), Date::Civil(civil(-43, 3, 15)));
        assert_eq!(decode_date("0001-02-29 BC").unwrap(), Date::Civil(civil(0, 2, 29)));
        assert_eq!(encode_date(&Date::Civil(civil(0, 1, 1))).unwrap(), "0001-01-01 BC");
        assert_eq!(encode_date(&Date::Civil(civil(5_874_897, 12, 31))).unwrap(), "5874897-12-31");
        assert!(decode_date("0000-01-01").is_err());
        assert!(decode_date("2023-02-29").is_err());
        assert!(encode_date(&Date::Civil(civil(2024, 0, 0))).is_err());
    }

    #[test]
    fn times_allow_24_00_and_offsets_with_seconds() {
        assert_eq!(decode_time("24:00:00").unwrap(), TimeOfDay(TimeOfDay::MAX_MICROS));
        assert!(decode_time("24:00:00.000001").is_err());
        assert_eq!(decode_time("01:02:03.5").unwrap(), TimeOfDay(3_723_500_000));
        let (time, offset) = decode_timetz("12:00:00-05:30:15").unwrap();
        assert_eq!((time, offset), (TimeOfDay(43_200_000_000), -19_815));
        assert_eq!(encode_timetz(&time, offset).unwrap(), "12:00:00-05:30:15");
        assert_eq!(decode_timetz("12:00:00+05").unwrap().1, 18_000);
    }

    #[test]
    fn timestamptz_honours_any_offset_and_era() {
        let utc = decode_timestamptz("2024-01-01 00:00:00+00").unwrap();
        assert_eq!(utc, TimestampTz::Micros(1_704_067_200_000_000));
        assert_eq!(decode_timestamptz("2024-01-01 05:30:00+05:30").unwrap(), utc);
        let bc = decode_timestamptz("0044-03-15 12:00:00+00 BC").unwrap();
        assert_eq!(encode_timestamptz(&bc).unwrap(), "0044-03-15 12:00:00+00 BC");
        assert_eq!(encode_timestamptz(&utc).unwrap(), "2024-01-01 00:00:00+00");
    }

    #[test]
    fn timestamps_print_the_era_after_the_time() {
        let ts = decode_timestamp("0044-03-15 12:00:00.000001 BC").unwrap();
        assert_eq!(ts, Timestamp::Civil { date: civil(-43, 3, 15), time: TimeOfDay(43_200_000_001) });
        assert_eq!(encode_timestamp(&ts).unwrap(), "0044-03-15 12:00:00.000001 BC");
        assert!(decode_timestamp("2024-01-01 24:00:00").is_err());
    }

    #[test]
    fn durations_are_signed_clocks() {
        assert_eq!(decode_duration("-838:59:59.5").unwrap(), -(838 * 3600 + 59 * 60 + 59) * 1_000_000 - 500_000);
        assert_eq!(encode_duration(-1_500_000), "-00:00:01.5");
        assert_eq!(encode_duration(i64::MIN), "-2562047788:00:54.775808");
        assert_eq!(decode_duration(&encode_duration(i64::MIN)).unwrap(), i64::MIN);
    }
}
