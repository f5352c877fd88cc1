//! Comparison rules, used by `= <> < <= > >=`, `IN`, `BETWEEN`, `IS
//! DISTINCT FROM`, simple `CASE`, `nullif`, `greatest` and `least`.
//!
//! - Numbers (Int, UInt, Decimal, Year, and Bool as 0/1 against a number)
//!   compare exactly; a float against anything compares as f64 (NaN equals
//!   NaN and sorts last, like PostgreSQL; so do numeric NaN and infinities).
//! - Text, Enum, Set (comma-joined), Json and Raw compare as text, by bytes
//!   (UTF-8 code point order, no collation).
//! - A Text against another kind is read as that kind: a number (exactly;
//!   text that is not a number is an error, not "false"), a boolean, a
//!   date, time, timestamp, timestamptz (UTC when no offset), a duration,
//!   a uuid, a bit string. Text that does not parse is an error.
//! - Date against Timestamp: the date is its midnight. Timestamp against
//!   TimestampTz, or Date against TimestampTz, is an error (cast one side:
//!   Sluice has no session time zone to guess with).
//! - Time against Duration (MySQL TIME) by microseconds; TimeTz by UTC time,
//!   then offset; Interval like PostgreSQL (a month is 30 days).
//! - Bytes by bytes, Uuid by bytes, Bool false < true, arrays element by
//!   element (a NULL element makes the comparison unknown).
//! - Anything else is an error naming the operator and the two kinds.
//!
//! NULL against anything is unknown (`None`). Errors never carry values.

use std::cmp::Ordering;

use sluice_api::{Date, Value};

use super::EvalError;
use super::numeric::{self, Num};
use super::temporal;
use super::text::text_cow;

/// `a` against `b`; `None` when either is NULL.
pub(crate) fn compare(a: &Value, b: &Value, what: &str) -> Result<Option<Ordering>, EvalError> {
    use Value::*;
    Ok(Some(match (a, b) {
        (Null, _) | (_, Null) => return Ok(None),
        (Unchanged, _) | (_, Unchanged) => {
            return Err(EvalError::invalid(what, "cannot compare an uncaptured value"));
        }
        // The common cases first.
        (Int(x), Int(y)) => x.cmp(y),
        (Text(x), Text(y)) => x.as_str().cmp(y.as_str()),
        (Bool(x), Bool(y)) => x.cmp(y),
        _ if is_number(a) && is_number(b) => return compare_numbers(a, b, what).map(Some),
        (Bool(_), _) if is_number(b) => return compare_numbers(a, b, what).map(Some),
        (_, Bool(_)) if is_number(a) => return compare_numbers(a, b, what).map(Some),
        (Text(t), other) => return compare_text_with(t, other, what).map(|o| o.map(Ordering::reverse)),
        (other, Text(t)) => return compare_text_with(t, other, what),
        _ if is_textual(a) && is_textual(b) => textual(a).cmp(&textual(b)),
        (Uuid(x), Uuid(y)) => x.cmp(y),
        (Bytes(x), Bytes(y)) => x.cmp(y),
        (Bits(x), Bits(y)) => x.to_text().cmp(&y.to_text()),
        (Date(x), Date(y)) => date_key(x).cmp(&date_key(y)),
        (Timestamp(x), Timestamp(y)) => temporal::timestamp_key(x).cmp(&temporal::timestamp_key(y)),
        (Date(x), Timestamp(y)) => {
            temporal::timestamp_key(&temporal::date_to_timestamp(x)).cmp(&temporal::timestamp_key(y))
        }
        (Timestamp(x), Date(y)) => {
            temporal::timestamp_key(x).cmp(&temporal::timestamp_key(&temporal::date_to_timestamp(y)))
        }
        (TimestampTz(x), TimestampTz(y)) => temporal::timestamptz_key(x).cmp(&temporal::timestamptz_key(y)),
        (Time(x), Time(y)) => x.cmp(y),
        (Time(x), Duration(y)) => i128::from(x.0).cmp(&i128::from(*y)),
        (Duration(x), Time(y)) => i128::from(*x).cmp(&i128::from(y.0)),
        (Duration(x), Duration(y)) => x.cmp(y),
        (TimeTz(x, xo), TimeTz(y, yo)) => {
            let utc = |t: u64, o: i32| i128::from(t) - i128::from(o) * 1_000_000;
            utc(x.0, *xo).cmp(&utc(y.0, *yo)).then(xo.cmp(yo))
        }
        (Interval(x), Interval(y)) => temporal::interval_key(x).cmp(&temporal::interval_key(y)),
        (Array(x), Array(y)) => return compare_arrays(x, y, what),
        (Timestamp(_) | Date(_), TimestampTz(_)) | (TimestampTz(_), Timestamp(_) | Date(_)) => {
            return Err(EvalError::invalid(
                what,
                format!(
                    "cannot compare a {} with a {}: cast one side (Sluice has no session time zone)",
                    a.kind_name(),
                    b.kind_name()
                ),
            ));
        }
        _ => return Err(mismatch(what, a, b)),
    }))
}

/// `Some(true)` when equal, `None` when either is NULL.
pub(crate) fn equal(a: &Value, b: &Value, what: &str) -> Result<Option<bool>, EvalError> {
    Ok(compare(a, b, what)?.map(Ordering::is_eq))
}

fn mismatch(what: &str, a: &Value, b: &Value) -> EvalError {
    EvalError::invalid(what, format!("cannot compare a {} with a {}; cast one side", a.kind_name(), b.kind_name()))
}

fn is_number(v: &Value) -> bool {
    matches!(
        v,
        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Float32(_) | Value::Float64(_) | Value::Year(_)
    )
}

fn is_textual(v: &Value) -> bool {
    matches!(v, Value::Text(_) | Value::Enum(_) | Value::Set(_) | Value::Json(_) | Value::Raw { .. })
}

fn textual(v: &Value) -> std::borrow::Cow<'_, str> {
    text_cow(v).unwrap_or_default()
}

fn date_key(d: &Date) -> (i8, sluice_api::CivilDate) {
    let zero = sluice_api::CivilDate { year: 0, month: 0, day: 0 };
    match d {
        Date::NegInfinity => (-1, zero),
        Date::Civil(c) => (0, *c),
        Date::PosInfinity => (1, zero),
    }
}

/// Where a number sits: -infinity, finite, +infinity, NaN.
enum Class {
    NegInf,
    Finite(Num),
    PosInf,
    NaN,
}

fn class(v: &Value, what: &str) -> Result<Class, EvalError> {
    let float = |f: f64| {
        if f.is_nan() {
            Class::NaN
        } else if f == f64::INFINITY {
            Class::PosInf
        } else if f == f64::NEG_INFINITY {
            Class::NegInf
        } else {
            Class::Finite(Num::Float(f))
        }
    };
    Ok(match v {
        Value::Bool(b) => Class::Finite(Num::Int(i128::from(*b))),
        Value::Float64(f) => float(*f),
        Value::Float32(f) => float(numeric::widen(*f)),
        Value::Decimal(d) if d.is_special() => match d.as_str() {
            "Infinity" => Class::PosInf,
            "-Infinity" => Class::NegInf,
            _ => Class::NaN,
        },
        other => Class::Finite(Num::from_value(other, what)?),
    })
}

fn rank(c: &Class) -> u8 {
    match c {
        Class::NegInf => 0,
        Class::Finite(_) => 1,
        Class::PosInf => 2,
        Class::NaN => 3,
    }
}

/// Exact across Int/UInt/Decimal/Year/Bool; as f64 when a float is involved.
fn compare_numbers(a: &Value, b: &Value, what: &str) -> Result<Ordering, EvalError> {
    let (x, y) = (class(a, what)?, class(b, what)?);
    Ok(match (&x, &y) {
        (Class::Finite(x), Class::Finite(y)) => numeric::compare(x, y),
        _ => rank(&x).cmp(&rank(&y)),
    })
}

/// `other` against a text: the text is read as `other`'s kind. The result
/// orders `other` against the text.
fn compare_text_with(text: &str, other: &Value, what: &str) -> Result<Option<Ordering>, EvalError> {
    let not_a =
        |kind: &str| EvalError::invalid(what, format!("a text operand is not a valid {kind} (cast it explicitly)"));
    let parsed = match other {
        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Float32(_) | Value::Float64(_) | Value::Year(_) => {
            let n = numeric::parse_number(text, false).ok_or_else(|| {
                EvalError::invalid(what, "a text operand is not a number; compare with a quoted value or cast the text")
            })?;
            let finite = match class(other, what)? {
                Class::Finite(o) => o,
                c => return Ok(Some(rank(&c).cmp(&1))),
            };
            return Ok(Some(numeric::compare(&finite, &n)));
        }
        Value::Bool(_) => Value::Bool(super::cast::parse_bool(text).ok_or_else(|| not_a("boolean"))?),
        Value::Uuid(_) => Value::Uuid(super::cast::parse_uuid(text).ok_or_else(|| not_a("uuid"))?),
        Value::Date(_) => Value::Date(temporal::parse_date(text).ok_or_else(|| not_a("date"))?),
        Value::Timestamp(_) => Value::Timestamp(temporal::parse_timestamp(text).ok_or_else(|| not_a("timestamp"))?),
        Value::TimestampTz(_) => {
            Value::TimestampTz(temporal::parse_timestamptz(text).ok_or_else(|| not_a("timestamptz"))?)
        }
        Value::Time(_) => Value::Time(temporal::parse_time(text).ok_or_else(|| not_a("time"))?),
        Value::Duration(_) => Value::Duration(temporal::parse_duration(text).ok_or_else(|| not_a("time"))?),
        Value::Bits(bits) => return Ok(Some(bits.to_text().as_str().cmp(text))),
        v if is_textual(v) => return Ok(Some(textual(v).as_ref().cmp(text))),
        _ => return Err(mismatch(what, other, &Value::Text(String::new()))),
    };
    compare(other, &parsed, what)
}

fn compare_arrays(x: &[Value], y: &[Value], what: &str) -> Result<Option<Ordering>, EvalError> {
    for (a, b) in x.iter().zip(y) {
        match compare(a, b, what)? {
            None => return Ok(None),
            Some(Ordering::Equal) => {}
            Some(other) => return Ok(Some(other)),
        }
    }
    Ok(Some(x.len().cmp(&y.len())))
}
