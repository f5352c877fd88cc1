//! Dates and times: parsing the text forms CAST and comparisons accept,
//! `date_trunc` and `extract`/`date_part`.
//!
//! Accepted text (strict; anything else is an error, never a guess):
//! - date: `YYYY-MM-DD` (a `-` before the year for years before 1 AD,
//!   astronomical numbering), or `infinity` / `-infinity`;
//! - time: `HH:MM[:SS[.f…]]`, up to 6 fraction digits, `24:00:00` allowed;
//! - timestamp: a date, then a space or `T`, then a time (or a date alone:
//!   midnight); for timestamptz an optional UTC offset follows: `Z`, `UTC`,
//!   `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS` (a timestamptz text without an
//!   offset is taken as UTC); a timestamp text with an offset is refused
//!   (cast it to timestamptz);
//! - duration (MySQL TIME): `[-]H…:MM:SS[.f…]`.
//!
//! Time zones: Sluice has no session time zone. A timestamptz is
//! truncated and its fields are extracted in UTC.

use sluice_api::{CivilDate, Date, Interval, TimeOfDay, Timestamp, TimestampTz, Value};

use super::EvalError;
use super::numeric::{dec_text, decimal_value};
use super::tree::{Field, TruncUnit};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Splits leading ASCII digits (at most `max`) off `s`.
fn digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n < min || n > max {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn infinity(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" => Some(true),
        "-infinity" => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD` at the start of `s`, with the rest.
fn civil_date(s: &str) -> Option<(CivilDate, &str)> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (year, s) = digits(s, 4, 6)?;
    let s = s.strip_prefix('-')?;
    let (month, s) = digits(s, 1, 2)?;
    let s = s.strip_prefix('-')?;
    let (day, s) = digits(s, 1, 2)?;
    let year = if negative { -(year as i32) } else { year as i32 };
    let (month, day) = (u8::try_from(month).ok()?, u8::try_from(day).ok()?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((CivilDate { year, month, day }, s))
}

/// `HH:MM[:SS[.ffffff]]` at the start of `s` (hours up to `max_hours`), with the rest.
fn clock(s: &str, max_hours: usize) -> Option<(u64, &str)> {
    let (h, s) = digits(s, 1, max_hours)?;
    let s = s.strip_prefix(':')?;
    let (m, mut s) = digits(s, 2, 2)?;
    let mut sec = 0;
    let mut frac = 0u64;
    if let Some(rest) = s.strip_prefix(':') {
        let (v, rest) = digits(rest, 2, 2)?;
        sec = v;
        s = rest;
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 6 {
                return None;
            }
            frac = rest[..n].parse::<u64>().ok()? * 10u64.pow(6 - n as u32);
            s = &rest[n..];
        }
    }
    if m > 59 || sec > 59 {
        return None;
    }
    Some((((u64::from(h) * 60 + u64::from(m)) * 60 + u64::from(sec)) * 1_000_000 + frac, s))
}

pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if let Some(positive) = infinity(s) {
        return Some(if positive { Date::PosInfinity } else { Date::NegInfinity });
    }
    match civil_date(s)? {
        (date, "") => Some(Date::Civil(date)),
        _ => None,
    }
}

pub(crate) fn parse_time(s: &str) -> Option<TimeOfDay> {
    match clock(s.trim(), 2)? {
        (micros, "") if micros <= TimeOfDay::MAX_MICROS => Some(TimeOfDay(micros)),
        _ => None,
    }
}

pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    match clock(s, 9)? {
        (micros, "") => {
            let micros = i64::try_from(micros).ok()?;
            Some(if negative { -micros } else { micros })
        }
        _ => None,
    }
}

/// A timestamp text: the civil date and time, and the UTC offset in
/// seconds east when one is written.
fn parse_civil_timestamp(s: &str) -> Option<(CivilDate, TimeOfDay, Option<i32>)> {
    let (date, rest) = civil_date(s.trim())?;
    let (time, rest) = match rest.strip_prefix([' ', 'T', 't']) {
        Some(rest) => match clock(rest, 2) {
            Some((micros, rest)) if micros < TimeOfDay::MAX_MICROS => (micros, rest),
            _ => return None,
        },
        None => (0, rest),
    };
    let offset = parse_offset(rest.trim_start())?;
    Some((date, TimeOfDay(time), offset))
}

/// `""` (no offset), `Z`, `UTC`, `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS`.
fn parse_offset(s: &str) -> Option<Option<i32>> {
    if s.is_empty() {
        return Some(None);
    }
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("gmt") {
        return Some(Some(0));
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m, sec) = if rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit()) {
        (rest[..2].parse::<i32>().ok()?, rest[2..].parse::<i32>().ok()?, 0)
    } else {
        let mut parts = rest.split(':');
        let h = parts.next().filter(|p| (1..=2).contains(&p.len()))?.parse::<i32>().ok()?;
        let m = parts.next().map_or(Some(0), |p| (p.len() == 2).then(|| p.parse::<i32>().ok()).flatten())?;
        let sec = parts.next().map_or(Some(0), |p| (p.len() == 2).then(|| p.parse::<i32>().ok()).flatten())?;
        if parts.next().is_some() {
            return None;
        }
        (h, m, sec)
    };
    if h > 15 || m > 59 || sec > 59 {
        return None;
    }
    Some(Some(sign * (h * 3600 + m * 60 + sec)))
}

/// A timestamp (without zone) text; a text with an offset is refused.
pub(crate) fn parse_timestamp(s: &str) -> Option<Timestamp> {
    if let Some(positive) = infinity(s.trim()) {
        return Some(if positive { Timestamp::PosInfinity } else { Timestamp::NegInfinity });
    }
    match parse_civil_timestamp(s)? {
        (date, time, None) => Some(Timestamp::Civil { date, time }),
        _ => None,
    }
}

/// A timestamptz text: with an offset, or UTC when none is written.
pub(crate) fn parse_timestamptz(s: &str) -> Option<TimestampTz> {
    if let Some(positive) = infinity(s.trim()) {
        return Some(if positive { TimestampTz::PosInfinity } else { TimestampTz::NegInfinity });
    }
    let (date, time, offset) = parse_civil_timestamp(s)?;
    utc_micros(date, time)?.checked_sub(i64::from(offset.unwrap_or(0)) * MICROS_PER_SECOND).map(TimestampTz::Micros)
}

/// The instant of a UTC civil date and time, `None` when out of range.
pub(crate) fn utc_micros(date: CivilDate, time: TimeOfDay) -> Option<i64> {
    if date.is_zero_date() || date.year.unsigned_abs() > 290_000 {
        return None;
    }
    date.days_since_epoch().checked_mul(MICROS_PER_DAY)?.checked_add(i64::try_from(time.0).ok()?)
}

/// A timestamp's sort key: infinities around every civil value.
pub(crate) fn timestamp_key(ts: &Timestamp) -> (i8, CivilDate, u64) {
    let zero = CivilDate { year: 0, month: 0, day: 0 };
    match ts {
        Timestamp::NegInfinity => (-1, zero, 0),
        Timestamp::Civil { date, time } => (0, *date, time.0),
        Timestamp::PosInfinity => (1, zero, 0),
    }
}

pub(crate) fn timestamptz_key(ts: &TimestampTz) -> (i8, i64) {
    match ts {
        TimestampTz::NegInfinity => (-1, 0),
        TimestampTz::Micros(m) => (0, *m),
        TimestampTz::PosInfinity => (1, 0),
    }
}

/// A date as the timestamp of its midnight.
pub(crate) fn date_to_timestamp(date: &Date) -> Timestamp {
    match date {
        Date::Civil(date) => Timestamp::Civil { date: *date, time: TimeOfDay(0) },
        Date::PosInfinity => Timestamp::PosInfinity,
        Date::NegInfinity => Timestamp::NegInfinity,
    }
}

/// PostgreSQL's interval ordering: a month is 30 days, a day 24 hours.
pub(crate) fn interval_key(iv: &Interval) -> i128 {
    (i128::from(iv.months) * 30 + i128::from(iv.days)) * i128::from(MICROS_PER_DAY) + i128::from(iv.micros)
}

fn no_zero_date(date: &CivilDate, what: &str) -> Result<(), EvalError> {
    if date.is_zero_date() {
        Err(EvalError::invalid(what, "a zero date (MySQL 0000-00-00) has no such value"))
    } else {
        Ok(())
    }
}

fn infinite(what: &str) -> EvalError {
    EvalError::invalid(what, "an infinite date or timestamp has no such value")
}

/// `date_trunc(unit, x)`: a timestamp stays a timestamp, a timestamptz
/// (truncated in UTC) a timestamptz; a date becomes the timestamp of the
/// truncated midnight. Infinities stay infinite.
pub(crate) fn date_trunc(unit: TruncUnit, value: &Value, what: &str) -> Result<Value, EvalError> {
    match value {
        Value::Timestamp(Timestamp::Civil { date, time }) => {
            no_zero_date(date, what)?;
            let (date, time) = truncate(unit, *date, *time);
            Ok(Value::Timestamp(Timestamp::Civil { date, time }))
        }
        Value::Timestamp(_) => Ok(value.clone()),
        Value::Date(Date::Civil(date)) => {
            no_zero_date(date, what)?;
            let (date, time) = truncate(unit, *date, TimeOfDay(0));
            Ok(Value::Timestamp(Timestamp::Civil { date, time }))
        }
        Value::Date(d) => Ok(Value::Timestamp(date_to_timestamp(d))),
        Value::TimestampTz(TimestampTz::Micros(m)) => {
            let (date, time) = TimestampTz::to_utc_civil(*m);
            let (date, time) = truncate(unit, date, time);
            let micros = utc_micros(date, time)
                .ok_or_else(|| EvalError::invalid(what, "the result is out of the timestamp range"))?;
            Ok(Value::TimestampTz(TimestampTz::Micros(micros)))
        }
        Value::TimestampTz(_) => Ok(value.clone()),
        other => Err(EvalError::invalid(
            what,
            format!("expects a date, timestamp or timestamptz, not a {} value (cast it first)", other.kind_name()),
        )),
    }
}

fn truncate(unit: TruncUnit, date: CivilDate, time: TimeOfDay) -> (CivilDate, TimeOfDay) {
    let t = time.0;
    let step = |micros: i64| TimeOfDay(t - t % micros as u64);
    match unit {
        TruncUnit::Year => (CivilDate { month: 1, day: 1, ..date }, TimeOfDay(0)),
        TruncUnit::Quarter => (CivilDate { month: (date.month - 1) / 3 * 3 + 1, day: 1, ..date }, TimeOfDay(0)),
        TruncUnit::Month => (CivilDate { day: 1, ..date }, TimeOfDay(0)),
        TruncUnit::Week => {
            let days = date.days_since_epoch();
            // 1970-01-01 was a Thursday: days since the last Monday.
            (CivilDate::from_days_since_epoch(days - (days + 3).rem_euclid(7)), TimeOfDay(0))
        }
        TruncUnit::Day => (date, TimeOfDay(0)),
        TruncUnit::Hour => (date, step(MICROS_PER_HOUR)),
        TruncUnit::Minute => (date, step(MICROS_PER_MINUTE)),
        TruncUnit::Second => (date, step(MICROS_PER_SECOND)),
    }
}

/// Sunday = 0.
fn dow(date: &CivilDate) -> i64 {
    (date.days_since_epoch() + 4).rem_euclid(7)
}

fn doy(date: &CivilDate) -> i64 {
    date.days_since_epoch() - CivilDate { year: date.year, month: 1, day: 1 }.days_since_epoch() + 1
}

/// ISO 8601 week number.
fn iso_week(date: &CivilDate) -> i64 {
    let isodow = (dow(date) + 6) % 7 + 1;
    let thursday = CivilDate::from_days_since_epoch(date.days_since_epoch() + 4 - isodow);
    (doy(&thursday) - 1) / 7 + 1
}

/// Seconds with six fraction digits, as PostgreSQL's `extract` gives them.
fn seconds(micros: i128) -> Result<Value, EvalError> {
    let m = micros;
    decimal_value(&dec_text(m, 6))
}

/// `extract(field FROM x)` / `date_part('field', x)`: an Int, except
/// `second` and `epoch` of a time-bearing value: a Decimal with six
/// fraction digits (exact microseconds). A timestamptz is read in UTC; a
/// timestamp's epoch counts it as UTC.
pub(crate) fn extract(field: Field, value: &Value, what: &str) -> Result<Value, EvalError> {
    let unsupported =
        |kind: &str| EvalError::invalid(what, format!("a {kind} value has no field {}", field_name(field)));
    match value {
        Value::Date(Date::Civil(date)) => {
            if matches!(field, Field::Hour | Field::Minute | Field::Second) {
                return Err(unsupported("date"));
            }
            if field == Field::Epoch {
                no_zero_date(date, what)?;
                return Ok(Value::Int(date.days_since_epoch() * 86_400));
            }
            date_field(field, date, what).map(Value::Int)
        }
        Value::Timestamp(Timestamp::Civil { date, time }) => match field {
            Field::Epoch => {
                no_zero_date(date, what)?;
                seconds(i128::from(date.days_since_epoch()) * i128::from(MICROS_PER_DAY) + i128::from(time.0))
            }
            _ => civil_field(field, date, time.0, what),
        },
        Value::TimestampTz(TimestampTz::Micros(m)) => match field {
            Field::Epoch => seconds(i128::from(*m)),
            _ => {
                let (date, time) = TimestampTz::to_utc_civil(*m);
                civil_field(field, &date, time.0, what)
            }
        },
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => Err(infinite(what)),
        Value::Time(t) => clock_field(field, t.0 as i64, "time", what),
        Value::TimeTz(t, offset) => match field {
            Field::Epoch => seconds(i128::from(t.0) - i128::from(*offset) * i128::from(MICROS_PER_SECOND)),
            _ => clock_field(field, t.0 as i64, "timetz", what),
        },
        Value::Duration(micros) => clock_field(field, *micros, "duration", what),
        Value::Interval(iv) => interval_field(field, iv, what),
        Value::Year(y) if field == Field::Year => Ok(Value::Int(i64::from(*y))),
        other => Err(EvalError::invalid(
            what,
            format!("expects a date, time, timestamp or interval, not a {} value (cast it first)", other.kind_name()),
        )),
    }
}

pub(crate) fn field_name(field: Field) -> &'static str {
    match field {
        Field::Year => "year",
        Field::Quarter => "quarter",
        Field::Month => "month",
        Field::Week => "week",
        Field::Day => "day",
        Field::Hour => "hour",
        Field::Minute => "minute",
        Field::Second => "second",
        Field::Epoch => "epoch",
        Field::Dow => "dow",
        Field::IsoDow => "isodow",
        Field::Doy => "doy",
    }
}

/// A calendar field of a date (zero dates have year, month and day only).
fn date_field(field: Field, date: &CivilDate, what: &str) -> Result<i64, EvalError> {
    match field {
        Field::Year => return Ok(i64::from(date.year)),
        Field::Month => return Ok(i64::from(date.month)),
        Field::Day => return Ok(i64::from(date.day)),
        _ => {}
    }
    no_zero_date(date, what)?;
    Ok(match field {
        Field::Quarter => i64::from((date.month - 1) / 3 + 1),
        Field::Week => iso_week(date),
        Field::Dow => dow(date),
        Field::IsoDow => (dow(date) + 6) % 7 + 1,
        Field::Doy => doy(date),
        _ => 0,
    })
}

fn civil_field(field: Field, date: &CivilDate, time: u64, what: &str) -> Result<Value, EvalError> {
    match field {
        Field::Hour | Field::Minute | Field::Second => clock_field(field, time as i64, "timestamp", what),
        _ => date_field(field, date, what).map(Value::Int),
    }
}

fn clock_field(field: Field, micros: i64, kind: &str, what: &str) -> Result<Value, EvalError> {
    match field {
        Field::Hour => Ok(Value::Int(micros / MICROS_PER_HOUR)),
        Field::Minute => Ok(Value::Int(micros % MICROS_PER_HOUR / MICROS_PER_MINUTE)),
        Field::Second => seconds(i128::from(micros % MICROS_PER_MINUTE)),
        Field::Epoch => seconds(i128::from(micros)),
        _ => Err(EvalError::invalid(what, format!("a {kind} value has no field {}", field_name(field)))),
    }
}

/// PostgreSQL's interval fields; the epoch counts a year as 365.25 days
/// and a month as 30 days.
fn interval_field(field: Field, iv: &Interval, what: &str) -> Result<Value, EvalError> {
    let months = i64::from(iv.months);
    match field {
        Field::Year => Ok(Value::Int(months / 12)),
        Field::Quarter => Ok(Value::Int((months % 12) / 3 + 1)),
        Field::Month => Ok(Value::Int(months % 12)),
        Field::Day => Ok(Value::Int(i64::from(iv.days))),
        Field::Hour | Field::Minute | Field::Second => clock_field(field, iv.micros, "interval", what),
        Field::Epoch => {
            let seconds_of_months = i128::from(months / 12) * 31_557_600 + i128::from(months % 12) * 2_592_000;
            let micros = (seconds_of_months + i128::from(iv.days) * 86_400) * i128::from(MICROS_PER_SECOND)
                + i128::from(iv.micros);
            seconds(micros)
        }
        _ => Err(EvalError::invalid(what, format!("an interval value has no field {}", field_name(field)))),
    }
}
