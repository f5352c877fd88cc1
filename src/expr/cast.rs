//! `CAST(x AS type)` and `x::type`. A cast never loses information
//! silently: a value that does not fit is an error naming the cast, except
//! where rounding is the point of the cast (integers and `numeric(p,s)`
//! round half away from zero, as the user asked for that type).
//!
//! - text / varchar(n) / char(n): the canonical text ([`super::text_of`]);
//!   longer than n characters is an error (no truncation, no padding).
//! - smallint / integer / bigint / signed: from numbers (rounded half away
//!   from zero), integer text, booleans (0/1), years; range-checked.
//!   unsigned: the same into 0..=18446744073709551615.
//! - numeric / decimal `[(p[,s])]`: exact; with a scale, rounded half away
//!   from zero to it (and padded: `1` as numeric(5,2) is `1.00`); more
//!   than p - s integer digits is an error. From text (exponents allowed)
//!   and floats (their shortest text).
//! - real / double precision: from numbers and numeric text.
//! - boolean: from text (`true/false/t/f/yes/no/y/n/on/off/1/0`, any case)
//!   and from the integers 0 and 1 (other integers are an error).
//! - date, time, timestamp, timestamptz: from text (see `temporal`), and
//!   between each other: a timestamptz becomes a UTC date/time/timestamp;
//!   a timestamp or date becomes a timestamptz as UTC.
//! - json: text that is valid JSON, numbers and booleans (their JSON text).
//! - uuid: text (hyphenated or 32 hex digits, optional braces) or 16 bytes.
//!
//! NULL casts to NULL. Any other pair is an error naming both kinds.

use std::borrow::Cow;

use sluice_api::{Date, Decimal, TimeOfDay, Timestamp, TimestampTz, Value};

use super::EvalError;
use super::numeric::{self, Num, decimal_value};
use super::temporal;
use super::text::text_cow;
use super::tree::CastType;

/// `CAST(value AS to)`.
pub(crate) fn cast<'a>(value: Cow<'a, Value>, to: CastType) -> Result<Cow<'a, Value>, EvalError> {
    if value.is_null() {
        return Ok(value);
    }
    let what = || format!("CAST AS {to}");
    let cannot = || EvalError::invalid(what(), format!("cannot cast a {} value to {to}", value.kind_name()));
    let numeric_target = matches!(
        to,
        CastType::SmallInt
            | CastType::Integer
            | CastType::BigInt
            | CastType::Unsigned
            | CastType::Numeric { .. }
            | CastType::Real
            | CastType::Double
    );
    let numeric_source = matches!(
        &*value,
        Value::Int(_)
            | Value::UInt(_)
            | Value::Decimal(_)
            | Value::Float32(_)
            | Value::Float64(_)
            | Value::Bool(_)
            | Value::Text(_)
            | Value::Year(_)
    );
    if numeric_target && !numeric_source {
        return Err(cannot());
    }
    let out = match to {
        CastType::Text { max_chars } => {
            if matches!(&*value, Value::Text(_)) && max_chars.is_none() {
                return Ok(value);
            }
            let text = text_cow(&value).ok_or_else(cannot)?;
            if let Some(max) = max_chars
                && text.chars().count() as u64 > max
            {
                return Err(EvalError::invalid(
                    what(),
                    format!("the value is longer than {max} characters (nothing is truncated)"),
                ));
            }
            Value::Text(text.into_owned())
        }
        CastType::SmallInt => Value::Int(to_int(&value, i64::from(i16::MIN), i64::from(i16::MAX), &what)?),
        CastType::Integer => Value::Int(to_int(&value, i64::from(i32::MIN), i64::from(i32::MAX), &what)?),
        CastType::BigInt => {
            if matches!(&*value, Value::Int(_)) {
                return Ok(value);
            }
            Value::Int(to_int(&value, i64::MIN, i64::MAX, &what)?)
        }
        CastType::Unsigned => Value::UInt(to_unsigned(&value, &what)?),
        CastType::Numeric { precision, scale } => to_numeric(&value, precision, scale, &what)?,
        CastType::Real => {
            let f = to_float(&value, &what)?;
            let narrow = f as f32;
            if narrow.is_infinite() && f.is_finite() {
                return Err(EvalError::invalid(what(), "the value is out of the range of real"));
            }
            Value::Float32(narrow)
        }
        CastType::Double => Value::Float64(to_float(&value, &what)?),
        CastType::Boolean => Value::Bool(match &*value {
            Value::Bool(b) => *b,
            Value::Int(0) | Value::UInt(0) => false,
            Value::Int(1) | Value::UInt(1) => true,
            Value::Int(_) | Value::UInt(_) => {
                return Err(EvalError::invalid(what(), "only the integers 0 and 1 are booleans"));
            }
            Value::Text(t) => parse_bool(t).ok_or_else(|| EvalError::invalid(what(), "the text is not a boolean"))?,
            _ => return Err(cannot()),
        }),
        CastType::Date => Value::Date(match &*value {
            Value::Date(d) => *d,
            Value::Text(t) => temporal::parse_date(t).ok_or_else(|| not_valid(&what, "date"))?,
            Value::Timestamp(Timestamp::Civil { date, .. }) => Date::Civil(*date),
            Value::Timestamp(Timestamp::PosInfinity) | Value::TimestampTz(TimestampTz::PosInfinity) => {
                Date::PosInfinity
            }
            Value::Timestamp(Timestamp::NegInfinity) | Value::TimestampTz(TimestampTz::NegInfinity) => {
                Date::NegInfinity
            }
            Value::TimestampTz(TimestampTz::Micros(m)) => Date::Civil(TimestampTz::to_utc_civil(*m).0),
            _ => return Err(cannot()),
        }),
        CastType::Time => Value::Time(match &*value {
            Value::Time(t) | Value::TimeTz(t, _) => *t,
            Value::Text(t) => temporal::parse_time(t).ok_or_else(|| not_valid(&what, "time"))?,
            Value::Timestamp(Timestamp::Civil { time, .. }) => *time,
            Value::TimestampTz(TimestampTz::Micros(m)) => TimestampTz::to_utc_civil(*m).1,
            Value::Duration(d) if (0..=TimeOfDay::MAX_MICROS as i64).contains(d) => TimeOfDay(*d as u64),
            Value::Duration(_) => {
                return Err(EvalError::invalid(what(), "the duration is outside 00:00:00..24:00:00"));
            }
            _ => return Err(cannot()),
        }),
        CastType::Timestamp => Value::Timestamp(match &*value {
            Value::Timestamp(t) => *t,
            Value::Text(t) => temporal::parse_timestamp(t).ok_or_else(|| {
                EvalError::invalid(
                    what(),
                    "the text is not a valid timestamp (YYYY-MM-DD HH:MM:SS[.ffffff], no UTC offset: \
                     cast a text with an offset to timestamptz)",
                )
            })?,
            Value::Date(d) => temporal::date_to_timestamp(d),
            Value::TimestampTz(TimestampTz::Micros(m)) => {
                let (date, time) = TimestampTz::to_utc_civil(*m);
                Timestamp::Civil { date, time }
            }
            Value::TimestampTz(TimestampTz::PosInfinity) => Timestamp::PosInfinity,
            Value::TimestampTz(TimestampTz::NegInfinity) => Timestamp::NegInfinity,
            _ => return Err(cannot()),
        }),
        CastType::TimestampTz => Value::TimestampTz(match &*value {
            Value::TimestampTz(t) => *t,
            Value::Text(t) => temporal::parse_timestamptz(t).ok_or_else(|| not_valid(&what, "timestamptz"))?,
            Value::Timestamp(ts) => timestamp_as_utc(ts, &what)?,
            Value::Date(d) => timestamp_as_utc(&temporal::date_to_timestamp(d), &what)?,
            _ => return Err(cannot()),
        }),
        CastType::Json => match &*value {
            Value::Json(_) => return Ok(value),
            Value::Text(t) => {
                if serde_json::from_str::<serde::de::IgnoredAny>(t).is_err() {
                    return Err(EvalError::invalid(what(), "the text is not valid JSON"));
                }
                Value::Json(t.clone())
            }
            Value::Int(_) | Value::UInt(_) | Value::Bool(_) => Value::Json(text_cow(&value).unwrap_or_default().into()),
            Value::Decimal(d) if !d.is_special() => Value::Json(d.as_str().to_owned()),
            Value::Float64(_) | Value::Float32(_) => {
                let f = to_float(&value, &what)?;
                if !f.is_finite() {
                    return Err(EvalError::invalid(what(), "JSON has no NaN or infinity"));
                }
                Value::Json(text_cow(&value).unwrap_or_default().into())
            }
            _ => return Err(cannot()),
        },
        CastType::Uuid => Value::Uuid(match &*value {
            Value::Uuid(u) => *u,
            Value::Text(t) => parse_uuid(t).ok_or_else(|| not_valid(&what, "uuid"))?,
            Value::Bytes(b) => {
                <[u8; 16]>::try_from(b.as_slice()).map_err(|_| EvalError::invalid(what(), "a uuid is 16 bytes"))?
            }
            _ => return Err(cannot()),
        }),
    };
    Ok(Cow::Owned(out))
}

fn not_valid(what: &dyn Fn() -> String, kind: &str) -> EvalError {
    EvalError::invalid(what(), format!("the text is not a valid {kind}"))
}

fn timestamp_as_utc(ts: &Timestamp, what: &dyn Fn() -> String) -> Result<TimestampTz, EvalError> {
    Ok(match ts {
        Timestamp::Civil { date, time } => TimestampTz::Micros(
            temporal::utc_micros(*date, *time)
                .ok_or_else(|| EvalError::invalid(what(), "the timestamp is a zero date or out of range"))?,
        ),
        Timestamp::PosInfinity => TimestampTz::PosInfinity,
        Timestamp::NegInfinity => TimestampTz::NegInfinity,
    })
}

/// `true/false/t/f/yes/no/y/n/on/off/1/0`, any case, surrounding spaces allowed.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Hyphenated (`8-4-4-4-12`) or 32 hex digits, optional braces, any case.
pub(crate) fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let text = text.trim();
    let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    let hex: Vec<u8> = if text.len() == 36 {
        let bytes = text.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
            return None;
        }
        bytes.iter().copied().filter(|&b| b != b'-').collect()
    } else if text.len() == 32 {
        text.as_bytes().to_vec()
    } else {
        return None;
    };
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

/// An integer from a number (rounded half away from zero), integer text,
/// a boolean or a year.
fn integer(value: &Value, what: &dyn Fn() -> String) -> Result<i128, EvalError> {
    let out_of_range = || EvalError::invalid(what(), "the value is out of range");
    match value {
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Text(t) => match numeric::parse_number(t, false) {
            Some(Num::Int(i)) => Ok(i),
            Some(Num::Big(_)) => Err(out_of_range()),
            _ => Err(EvalError::invalid(what(), "the text is not an integer")),
        },
        Value::Float32(_) | Value::Float64(_) => {
            let f = to_float(value, what)?;
            if !f.is_finite() {
                return Err(EvalError::invalid(what(), "NaN and infinity are not integers"));
            }
            let r = f.round();
            if r.abs() >= 1.8e19 {
                return Err(out_of_range());
            }
            Ok(r as i128)
        }
        other => {
            let n = Num::from_value(other, &what())?;
            numeric::round(n, 0, &what())?.to_integer().ok_or_else(out_of_range)
        }
    }
}

fn to_int(value: &Value, min: i64, max: i64, what: &dyn Fn() -> String) -> Result<i64, EvalError> {
    let i = integer(value, what)?;
    if i < i128::from(min) || i > i128::from(max) {
        return Err(EvalError::invalid(what(), "the value is out of range"));
    }
    Ok(i as i64)
}

fn to_unsigned(value: &Value, what: &dyn Fn() -> String) -> Result<u64, EvalError> {
    u64::try_from(integer(value, what)?).map_err(|_| EvalError::invalid(what(), "the value is out of range"))
}

fn to_float(value: &Value, what: &dyn Fn() -> String) -> Result<f64, EvalError> {
    match value {
        Value::Float64(f) => Ok(*f),
        Value::Float32(f) => Ok(numeric::widen(*f)),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Decimal(d) if d.is_special() => Ok(match d.as_str() {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => f64::NAN,
        }),
        Value::Text(t) => {
            let t = t.trim();
            match t.to_ascii_lowercase().as_str() {
                "nan" => return Ok(f64::NAN),
                "infinity" | "+infinity" | "inf" => return Ok(f64::INFINITY),
                "-infinity" | "-inf" => return Ok(f64::NEG_INFINITY),
                _ => {}
            }
            let n = numeric::parse_number(t, false)
                .ok_or_else(|| EvalError::invalid(what(), "the text is not a number"))?;
            finite(n.to_f64(), what)
        }
        other => finite(Num::from_value(other, &what())?.to_f64(), what),
    }
}

fn finite(f: f64, what: &dyn Fn() -> String) -> Result<f64, EvalError> {
    if f.is_finite() { Ok(f) } else { Err(EvalError::invalid(what(), "the value is out of the floating-point range")) }
}

/// `numeric[(p[,s])]`.
fn to_numeric(
    value: &Value,
    precision: Option<u32>,
    scale: Option<u32>,
    what: &dyn Fn() -> String,
) -> Result<Value, EvalError> {
    if let Value::Decimal(d) = value
        && d.is_special()
    {
        return if precision.is_none() {
            Ok(value.clone())
        } else {
            Err(EvalError::invalid(what(), "NaN and infinity do not fit a numeric with a precision"))
        };
    }
    let n = match value {
        Value::Bool(b) => Num::Int(i128::from(*b)),
        Value::Text(t) => {
            numeric::parse_number(t, true).ok_or_else(|| EvalError::invalid(what(), "the text is not a number"))?
        }
        Value::Float32(_) | Value::Float64(_) => {
            let f = to_float(value, what)?;
            if !f.is_finite() {
                return if precision.is_none() {
                    decimal_value(&numeric::float_text(f))
                } else {
                    Err(EvalError::invalid(what(), "NaN and infinity do not fit a numeric with a precision"))
                };
            }
            Num::Float(f)
        }
        other => Num::from_value(other, &what())?,
    };
    let Some(precision) = precision else {
        if let Value::Decimal(_) = value {
            return Ok(value.clone());
        }
        return decimal_value(&numeric::num_text(&n));
    };
    let scale = scale.unwrap_or(0);
    let (text, int_digits) =
        numeric::to_scale(&n, scale).ok_or_else(|| EvalError::invalid(what(), "the value is not a finite number"))?;
    if int_digits as u64 + u64::from(scale) > u64::from(precision) {
        return Err(EvalError::invalid(
            what(),
            format!("the value needs more than {precision} digits of precision with {scale} after the point"),
        ));
    }
    Decimal::parse(&text).map(Value::Decimal).map_err(|_| EvalError::invalid(what(), "internal: malformed result"))
}
