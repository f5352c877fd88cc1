//! Dates, times and instants into DATE, DATETIME, TIMESTAMP, TIME and YEAR
//! columns, as binary-protocol date/time parameters.
//!
//! Ranges are MySQL's documented ones: DATE and DATETIME hold years 1000 to
//! 9999, TIMESTAMP the instants 1970-01-01 00:00:01 to 2038-01-19
//! 03:14:07.999999 UTC, TIME durations up to ±838:59:59. Fraction digits
//! beyond the column's `fsp` are refused: MySQL would round them and MariaDB
//! truncate them, both silently. A TIMESTAMP parameter is read in the
//! session time zone, which the sink sets to `+00:00`, so writing the UTC
//! civil time stores exactly the instant (and no DST gap can shift it).
//!
//! MySQL zero dates (`0000-00-00`, and dates with a zero month or day) are
//! written as they are into DATE and DATETIME (the session's `sql_mode`
//! allows them) and `0000-00-00 00:00:00` into TIMESTAMP.

use mysql_async::Value as Param;
use sluice_api::{CivilDate, Date, TimeOfDay, Timestamp, TimestampTz, Value};

use super::{ColumnKind, TypeError, mismatch};

/// 838:59:59.999999, the largest TIME magnitude MariaDB stores. MySQL's own
/// limit is 838:59:59.000000; a MySQL target refuses the fraction itself
/// (strict mode: an error naming the column), so the sink need not know the
/// flavour here.
const TIME_MAX_MICROS: u64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000 + 999_999;
/// 1970-01-01 00:00:01 UTC and 2038-01-19 03:14:07.999999 UTC.
const TIMESTAMP_MIN_MICROS: i64 = 1_000_000;
const TIMESTAMP_MAX_MICROS: i64 = 2_147_483_647_999_999;
const DAY_MICROS: u64 = 86_400_000_000;

fn infinity() -> TypeError {
    TypeError::new("infinity has no MySQL date or time form")
}

/// Year, month and day of a date DATE/DATETIME can hold.
fn check_date(date: CivilDate) -> Result<(u16, u8, u8), TypeError> {
    let in_range = if date.is_zero_date() {
        (0..=9999).contains(&date.year) && date.month <= 12 && date.day <= 31
    } else {
        (1000..=9999).contains(&date.year)
    };
    if !in_range {
        return Err(TypeError::new("a date outside 1000-01-01 to 9999-12-31, the MySQL DATE/DATETIME range"));
    }
    Ok((u16::try_from(date.year).unwrap_or(0), date.month, date.day))
}

/// Refuses fraction digits the column would drop.
fn check_fsp(micros: u64, fsp: u8) -> Result<u32, TypeError> {
    let fraction = (micros % 1_000_000) as u32;
    let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
    if !fraction.is_multiple_of(unit) {
        return Err(TypeError::new(format!(
            "a time with more fraction digits than the column keeps ({fsp}); MySQL would round them and \
             MariaDB truncate them — widen the column's fractional precision (e.g. (6))"
        )));
    }
    Ok(fraction)
}

/// A civil date and time of day (< 24:00:00) as a DATETIME parameter.
fn datetime_param(date: CivilDate, time: TimeOfDay, fsp: u8) -> Result<Param, TypeError> {
    if time.0 >= DAY_MICROS {
        return Err(TypeError::new("a time of day of 24:00:00, which MySQL DATETIME cannot hold"));
    }
    let (year, month, day) = check_date(date)?;
    let fraction = check_fsp(time.0, fsp)?;
    let seconds = time.0 / 1_000_000;
    Ok(Param::Date(year, month, day, (seconds / 3600) as u8, (seconds / 60 % 60) as u8, (seconds % 60) as u8, fraction))
}

pub(super) fn to_date(value: &Value) -> Result<Param, TypeError> {
    match value {
        Value::Date(Date::Civil(date)) => {
            let (year, month, day) = check_date(*date)?;
            Ok(Param::Date(year, month, day, 0, 0, 0, 0))
        }
        Value::Timestamp(Timestamp::Civil { date, time }) if time.0 == 0 => to_date(&Value::Date(Date::Civil(*date))),
        Value::Timestamp(Timestamp::Civil { .. }) => {
            Err(TypeError::new("a timestamp with a time of day for a DATE column (the time would be lost)"))
        }
        Value::Date(_) | Value::Timestamp(_) => Err(infinity()),
        other => Err(mismatch(other, &ColumnKind::Date)),
    }
}

pub(super) fn to_datetime(value: &Value, fsp: u8) -> Result<Param, TypeError> {
    match value {
        Value::Timestamp(Timestamp::Civil { date, time }) => datetime_param(*date, *time, fsp),
        Value::TimestampTz(TimestampTz::Micros(micros)) => {
            let (date, time) = TimestampTz::to_utc_civil(*micros);
            datetime_param(date, time, fsp)
        }
        Value::Date(Date::Civil(date)) => datetime_param(*date, TimeOfDay(0), fsp),
        Value::Timestamp(_) | Value::TimestampTz(_) | Value::Date(_) => Err(infinity()),
        other => Err(mismatch(other, &ColumnKind::DateTime { fsp })),
    }
}

pub(super) fn to_timestamp(value: &Value, fsp: u8) -> Result<Param, TypeError> {
    let micros = match value {
        Value::TimestampTz(TimestampTz::Micros(micros)) => *micros,
        Value::Timestamp(Timestamp::Civil { date, time }) if date.is_zero_date() => {
            if date.year == 0 && date.month == 0 && date.day == 0 && time.0 == 0 {
                return Ok(Param::Date(0, 0, 0, 0, 0, 0, 0));
            }
            return Err(TypeError::new("a partial zero date, which TIMESTAMP cannot hold"));
        }
        Value::Timestamp(Timestamp::Civil { date, time }) if time.0 < DAY_MICROS => {
            TimestampTz::from_utc_civil(*date, *time)
        }
        Value::Date(Date::Civil(date)) if !date.is_zero_date() => TimestampTz::from_utc_civil(*date, TimeOfDay(0)),
        Value::Timestamp(Timestamp::Civil { .. }) => {
            return Err(TypeError::new("a time of day of 24:00:00, which MySQL TIMESTAMP cannot hold"));
        }
        Value::Timestamp(_) | Value::TimestampTz(_) | Value::Date(_) => return Err(infinity()),
        other => return Err(mismatch(other, &ColumnKind::Timestamp { fsp })),
    };
    if !(TIMESTAMP_MIN_MICROS..=TIMESTAMP_MAX_MICROS).contains(&micros) {
        return Err(TypeError::new(
            "an instant outside 1970-01-01 00:00:01 to 2038-01-19 03:14:07.999999 UTC, the TIMESTAMP range; \
             make the column DATETIME(6)",
        ));
    }
    let (date, time) = TimestampTz::to_utc_civil(micros);
    datetime_param(date, time, fsp)
}

pub(super) fn to_time(value: &Value, fsp: u8) -> Result<Param, TypeError> {
    let (negative, magnitude) = match value {
        Value::Duration(micros) => (*micros < 0, micros.unsigned_abs()),
        Value::Time(time) => (false, time.0),
        Value::TimeTz(..) => {
            return Err(TypeError::new("a time with a UTC offset for a TIME column (the offset would be lost)"));
        }
        other => return Err(mismatch(other, &ColumnKind::Time { fsp })),
    };
    if magnitude > TIME_MAX_MICROS {
        return Err(TypeError::new("a duration beyond ±838:59:59.999999, the MySQL/MariaDB TIME range"));
    }
    let fraction = check_fsp(magnitude, fsp)?;
    let seconds = magnitude / 1_000_000;
    let hours = seconds / 3600;
    Ok(Param::Time(
        negative && magnitude != 0,
        (hours / 24) as u32,
        (hours % 24) as u8,
        (seconds / 60 % 60) as u8,
        (seconds % 60) as u8,
        fraction,
    ))
}

pub(super) fn to_year(value: &Value) -> Result<Param, TypeError> {
    let year = match value {
        Value::Year(year) => i128::from(*year),
        Value::Int(v) => i128::from(*v),
        Value::UInt(v) => i128::from(*v),
        other => return Err(mismatch(other, &ColumnKind::Year)),
    };
    // MySQL reads the numbers 1 to 99 as 2001–2069 and 1970–1999: refused
    // with everything else outside the type's range.
    if year != 0 && !(1901..=2155).contains(&year) {
        return Err(TypeError::new("a year outside 1901 to 2155 (or 0), the MySQL YEAR range"));
    }
    Ok(Param::Int(year as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i32, month: u8, day: u8) -> CivilDate {
        CivilDate { year, month, day }
    }

    #[test]
    fn datetime_keeps_microseconds_within_fsp_and_refuses_more() {
        let ts = Value::Timestamp(Timestamp::Civil { date: civil(2024, 2, 29), time: TimeOfDay(3_723_456_789) });
        assert_eq!(to_datetime(&ts, 6).unwrap(), Param::Date(2024, 2, 29, 1, 2, 3, 456_789));
        assert!(to_datetime(&ts, 3).unwrap_err().reason().contains("fraction"));
        let date = Value::Date(Date::Civil(civil(999, 12, 31)));
        assert!(to_date(&date).is_err());
        assert!(to_datetime(&Value::TimestampTz(TimestampTz::PosInfinity), 6).is_err());
    }

    #[test]
    fn zero_dates_pass_through() {
        let zero = Value::Date(Date::Civil(civil(0, 0, 0)));
        assert_eq!(to_date(&zero).unwrap(), Param::Date(0, 0, 0, 0, 0, 0, 0));
        let partial = Value::Date(Date::Civil(civil(2024, 0, 10)));
        assert_eq!(to_date(&partial).unwrap(), Param::Date(2024, 0, 10, 0, 0, 0, 0));
        let zero_ts = Value::Timestamp(Timestamp::Civil { date: civil(0, 0, 0), time: TimeOfDay(0) });
        assert_eq!(to_timestamp(&zero_ts, 0).unwrap(), Param::Date(0, 0, 0, 0, 0, 0, 0));
    }

    #[test]
    fn timestamps_are_utc_and_within_the_2038_range() {
        let instant = Value::TimestampTz(TimestampTz::Micros(1_700_000_000_123_456));
        assert_eq!(to_timestamp(&instant, 6).unwrap(), Param::Date(2023, 11, 14, 22, 13, 20, 123_456));
        assert!(to_timestamp(&Value::TimestampTz(TimestampTz::Micros(TIMESTAMP_MAX_MICROS + 1)), 6).is_err());
        assert!(to_timestamp(&Value::TimestampTz(TimestampTz::Micros(0)), 6).is_err());
    }

    #[test]
    fn time_spans_plus_minus_838_hours() {
        let max = Value::Duration(TIME_MAX_MICROS as i64);
        assert_eq!(to_time(&max, 6).unwrap(), Param::Time(false, 34, 22, 59, 59, 999_999));
        let whole = Value::Duration((838 * 3600 + 59 * 60 + 59) * 1_000_000);
        assert_eq!(to_time(&whole, 0).unwrap(), Param::Time(false, 34, 22, 59, 59, 0));
        assert_eq!(to_time(&Value::Duration(-1_500_000), 1).unwrap(), Param::Time(true, 0, 0, 0, 1, 500_000));
        assert!(to_time(&Value::Duration(TIME_MAX_MICROS as i64 + 1), 6).is_err());
        assert!(to_time(&Value::TimeTz(TimeOfDay(0), 3600), 0).is_err());
    }

    #[test]
    fn years_that_mysql_would_reinterpret_are_refused() {
        assert_eq!(to_year(&Value::Year(2155)).unwrap(), Param::Int(2155));
        assert_eq!(to_year(&Value::Year(0)).unwrap(), Param::Int(0));
        assert!(to_year(&Value::Int(5)).is_err());
        assert!(to_year(&Value::Year(1900)).is_err());
    }
}
