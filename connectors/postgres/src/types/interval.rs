//! `interval` text, read in the `postgres` IntervalStyle and written in a
//! form every IntervalStyle reads the same way.
//!
//! PostgreSQL keeps an interval as three independent fields — months, days,
//! microseconds — and `IntervalStyle=postgres` prints them as
//! `1 year 2 mons 3 days 04:05:06.789`: years and months come from the month
//! field (`months / 12`, `months % 12`, same sign), the clock from the
//! microseconds. Fields of mixed sign carry explicit signs
//! (`-1 days +02:03:00`); each field's sign is its own.
//!
//! Writing uses `+14 mons -3 days +5 microseconds`: every field explicitly
//! signed (so `sql_standard`'s sign inheritance cannot apply) and the
//! microseconds as an integer. That form is exact for the whole range —
//! PostgreSQL 15 refuses its own output `-2562047788:00:54.775808` (the
//! smallest microsecond count) as input, but accepts
//! `-9223372036854775808 microseconds`. The reader accepts that form too
//! (a `microseconds` field), so what Sluice writes it can read back.

use sluice_api::Interval;

use super::TypeError;

pub(super) fn decode(text: &str) -> Result<Interval, TypeError> {
    if matches!(text, "infinity" | "-infinity") {
        return Err(TypeError::new("infinite intervals (PostgreSQL 17) are not supported"));
    }
    let invalid = || TypeError::new("not an interval in IntervalStyle postgres");
    let mut years: Option<i64> = None;
    let mut months: Option<i64> = None;
    let mut days: Option<i64> = None;
    let mut clock: Option<i128> = None;
    let mut micros: Option<i64> = None;
    let mut tokens = text.split(' ');
    while let Some(token) = tokens.next() {
        if token.contains(':') {
            if clock.is_some() {
                return Err(invalid());
            }
            clock = Some(parse_signed_clock(token)?);
            continue;
        }
        let number = parse_signed(token).ok_or_else(invalid)?;
        let slot = match tokens.next() {
            Some("year" | "years") => &mut years,
            Some("mon" | "mons") => &mut months,
            Some("day" | "days") => &mut days,
            Some("microsecond" | "microseconds") => &mut micros,
            _ => return Err(invalid()),
        };
        if slot.replace(number).is_some() {
            return Err(invalid());
        }
    }
    if years.is_none() && months.is_none() && days.is_none() && clock.is_none() && micros.is_none() {
        return Err(invalid());
    }
    let out_of_range = || TypeError::new("interval is out of range");
    let total_months = years.unwrap_or(0).checked_mul(12).and_then(|y| y.checked_add(months.unwrap_or(0)));
    Ok(Interval {
        months: total_months.and_then(|m| i32::try_from(m).ok()).ok_or_else(out_of_range)?,
        days: i32::try_from(days.unwrap_or(0)).map_err(|_| out_of_range())?,
        micros: i64::try_from(clock.unwrap_or(0) + i128::from(micros.unwrap_or(0))).map_err(|_| out_of_range())?,
    })
}

pub(super) fn encode(interval: &Interval) -> String {
    format!("{:+} mons {:+} days {:+} microseconds", interval.months, interval.days, interval.micros)
}

/// An optionally signed integer of at most 19 digits.
fn parse_signed(token: &str) -> Option<i64> {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// `[+-]H+:MM:SS[.ffffff]` → signed microseconds (i128: the magnitude of
/// `i64::MIN` does not fit an i64).
fn parse_signed_clock(token: &str) -> Result<i128, TypeError> {
    let invalid = || TypeError::new("not an interval time (expected [+-]HH:MM:SS[.ffffff])");
    let (negative, body) = match token.as_bytes().first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    let (clock, fraction) = match body.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (body, None),
    };
    let mut parts = clock.splitn(3, ':');
    let (Some(h), Some(m), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let field = |text: &str, max_len: usize| -> Result<i128, TypeError> {
        if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        text.parse().map_err(|_| invalid())
    };
    let (h, m, s) = (field(h, 12)?, field(m, 2)?, field(s, 2)?);
    if m > 59 || s > 59 {
        return Err(invalid());
    }
    let frac = match fraction {
        None => 0,
        Some(f) if f.len() <= 6 => field(f, 6)? * 10i128.pow(6 - f.len() as u32),
        Some(_) => return Err(invalid()),
    };
    let magnitude = ((h * 60 + m) * 60 + s) * 1_000_000 + frac;
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(months: i32, days: i32, micros: i64) -> Interval {
        Interval { months, days, micros }
    }

    #[test]
    fn postgres_style_fields_are_read_independently() {
        assert_eq!(decode("1 year 2 mons 3 days 04:05:06.789").unwrap(), interval(14, 3, 14_706_789_000));
        assert_eq!(decode("-1 days +02:03:00").unwrap(), interval(0, -1, 7_380_000_000));
        assert_eq!(decode("-1 years -2 mons +3 days -00:00:00.000005").unwrap(), interval(-14, 3, -5));
        assert_eq!(decode("00:00:00").unwrap(), interval(0, 0, 0));
        assert_eq!(decode("1 mon").unwrap(), interval(1, 0, 0));
    }

    #[test]
    fn extremes_round_trip() {
        let min = decode("-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808").unwrap();
        assert_eq!(min, interval(i32::MIN, i32::MIN, i64::MIN));
        assert_eq!(encode(&min), "-2147483648 mons -2147483648 days -9223372036854775808 microseconds");
        assert_eq!(decode(&encode(&min)).unwrap(), min);
        let max = decode("178956970 years 7 mons 2147483647 days 2562047788:00:54.775807").unwrap();
        assert_eq!(max, interval(i32::MAX, i32::MAX, i64::MAX));
    }

    #[test]
    fn malformed_intervals_are_refused() {
        for bad in ["", "1", "1 fortnight", "1 day 1 day", "01:02", "1:60:00", "infinity", "00:00:00 00:00:00"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert!(decode("178956971 years").is_err());
    }
}
