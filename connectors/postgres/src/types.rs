//! Exact conversion between PostgreSQL's text forms and Sluice's values.
//!
//! The source receives every column in PostgreSQL's text output format
//! (pgoutput `t` tuples) and decodes it with [`decode_text`]; the sink
//! encodes values with [`encode_text`], binds them as text and casts them to
//! the target column's type, so PostgreSQL's own input functions do the
//! final conversion. Both directions are exact: `decode_text(encode_text(v))
//! == v` for every value PostgreSQL can hold (property-tested in `proptests`,
//! and against a real server in `tests/types`).
//!
//! Text output depends on session settings. Sluice's sessions set
//! `DateStyle=ISO`, `IntervalStyle=postgres`, `TimeZone=UTC`,
//! `extra_float_digits=3` and `bytea_output=hex`, and this module assumes
//! them. What it writes does not depend on them: ISO dates, explicit `+00`
//! offsets, explicitly signed interval fields, hex bytea.
//!
//! The per-type rules live in the submodules: `oids` (built-in type table),
//! `scalar` (bool, floats, bytea, bits, uuid), `temporal` (dates, times,
//! timestamps, durations), `interval`, and `array` (array literals).
//!
//! Text types are taken as printed. One oddity: the one-byte `"char"` type
//! prints bytes above 127 as `\ooo` octal, which is kept as is (its input
//! function reads it back to the same byte).

mod array;
mod interval;
mod oids;
#[cfg(test)]
mod proptests;
mod scalar;
mod temporal;

use std::fmt;

use sluice_api::{ColumnType, Decimal, Value};

/// Why a text form could not be converted; the caller adds table and column.
/// The message never contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError(pub(crate) String);

impl TypeError {
    pub(crate) fn new(reason: impl Into<String>) -> TypeError {
        TypeError(reason.into())
    }

    /// The reason, without the value.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TypeError {}

/// The engine-neutral type and the display name (`numeric(12,2)`) of a
/// built-in PostgreSQL type OID with its type modifier; `None` for types the
/// caller must resolve through the catalog (enums, domains, user types).
pub fn builtin_column_type(oid: u32, type_modifier: i32) -> Option<(ColumnType, String)> {
    oids::builtin(oid, type_modifier)
}

/// Decodes a value in PostgreSQL's text output format (the session runs with
/// DateStyle=ISO, IntervalStyle=postgres, TimeZone=UTC, extra_float_digits=3,
/// bytea_output=hex) into an exact [`Value`].
///
/// `type_name` names the type for [`Value::Raw`] (arrays: the array type's
/// name, `inet[]`, whose elements become `Raw` of `inet`). An array printed
/// with non-default lower bounds (`[0:1]={7,8}`) is kept whole as `Raw`.
pub fn decode_text(column_type: &ColumnType, type_name: &str, text: &str) -> Result<Value, TypeError> {
    Ok(match column_type {
        ColumnType::Bool => Value::Bool(scalar::decode_bool(text)?),
        ColumnType::Int { unsigned: false, .. } => {
            Value::Int(text.parse().map_err(|_| TypeError::new("not an integer in range"))?)
        }
        ColumnType::Int { unsigned: true, .. } => {
            Value::UInt(text.parse().map_err(|_| TypeError::new("not an unsigned integer in range"))?)
        }
        ColumnType::Float32 => Value::Float32(scalar::decode_f32(text)?),
        ColumnType::Float64 => Value::Float64(scalar::decode_f64(text)?),
        ColumnType::Decimal { .. } => {
            Value::Decimal(Decimal::parse(text).map_err(|_| TypeError::new("not an exact decimal number"))?)
        }
        ColumnType::Text { .. } => Value::Text(text.to_owned()),
        ColumnType::Bytes { .. } => Value::Bytes(scalar::decode_bytea(text)?),
        ColumnType::Bits { .. } => Value::Bits(scalar::decode_bits(text)?),
        ColumnType::Date => Value::Date(temporal::decode_date(text)?),
        ColumnType::Time { .. } => Value::Time(temporal::decode_time(text)?),
        ColumnType::TimeTz { .. } => {
            let (time, offset) = temporal::decode_timetz(text)?;
            Value::TimeTz(time, offset)
        }
        ColumnType::Duration { .. } => Value::Duration(temporal::decode_duration(text)?),
        ColumnType::Timestamp { .. } => Value::Timestamp(temporal::decode_timestamp(text)?),
        ColumnType::TimestampTz { .. } => Value::TimestampTz(temporal::decode_timestamptz(text)?),
        ColumnType::Interval => Value::Interval(interval::decode(text)?),
        ColumnType::Json => Value::Json(text.to_owned()),
        ColumnType::Uuid => Value::Uuid(scalar::decode_uuid(text)?),
        ColumnType::Enum { .. } => Value::Enum(text.to_owned()),
        ColumnType::Set { .. } => decode_set(text)?,
        ColumnType::Year => Value::Year(text.parse().map_err(|_| TypeError::new("not a year"))?),
        ColumnType::Array(element) => decode_array(element, type_name, text)?,
        ColumnType::Other { .. } => Value::Raw { type_name: type_name.to_owned(), text: text.to_owned() },
    })
}

/// Encodes a value as text PostgreSQL's input functions accept for a column
/// of the target's type; `Ok(None)` for NULL. `Value::Unchanged` is an error:
/// the sink must never write it.
///
/// Choices for values PostgreSQL has no type of its own for: `UInt` and
/// `Year` are plain digits; `Duration` is `[-]H:MM:SS[.ffffff]`, which
/// `interval` reads for any value and `time` only from 00:00:00 to 24:00:00;
/// `Set` is an array literal of its labels (`{a,b}`, for a `text[]` or
/// enum-array target — the sink writes MySQL's `a,b` form instead when the
/// target column is not an array). Text can hold any character but NUL,
/// which PostgreSQL cannot store and which is refused here.
pub fn encode_text(value: &Value) -> Result<Option<String>, TypeError> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Unchanged => {
            return Err(TypeError::new("an unchanged (TOAST) column has no value to write; this is a Sluice bug"));
        }
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float32(f) => scalar::encode_f32(*f),
        Value::Float64(f) => scalar::encode_f64(*f),
        Value::Decimal(d) => d.as_str().to_owned(),
        Value::Text(s) | Value::Json(s) | Value::Enum(s) | Value::Raw { text: s, .. } => without_nul(s)?.to_owned(),
        Value::Bytes(b) => scalar::encode_bytea(b),
        Value::Bits(bits) => scalar::encode_bits(bits)?,
        Value::Date(date) => temporal::encode_date(date)?,
        Value::Time(time) => temporal::encode_time(time)?,
        Value::TimeTz(time, offset) => temporal::encode_timetz(time, *offset)?,
        Value::Duration(micros) => temporal::encode_duration(*micros),
        Value::Timestamp(ts) => temporal::encode_timestamp(ts)?,
        Value::TimestampTz(ts) => temporal::encode_timestamptz(ts)?,
        Value::Interval(iv) => interval::encode(iv),
        Value::Uuid(bytes) => scalar::encode_uuid(bytes),
        Value::Set(labels) => {
            let mut out = String::from("{");
            for (i, label) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                array::push_element(&mut out, without_nul(label)?, b',');
            }
            out.push('}');
            out
        }
        Value::Year(y) => y.to_string(),
        Value::Array(elements) => encode_array(elements)?,
    }))
}

fn without_nul(text: &str) -> Result<&str, TypeError> {
    if text.contains('\0') {
        return Err(TypeError::new("text contains a NUL character, which PostgreSQL cannot store"));
    }
    Ok(text)
}

/// The element type name of an array type name (`numeric(12,2)[]` → `numeric(12,2)`).
fn element_type_name(type_name: &str) -> &str {
    let mut name = type_name;
    while let Some(inner) = name.strip_suffix("[]") {
        name = inner;
    }
    name
}

/// `box` is the one built-in type whose array delimiter is `;`.
fn delimiter_of(element: &ColumnType) -> u8 {
    match element {
        ColumnType::Other { name } if name == "box" => b';',
        _ => b',',
    }
}

fn decode_array(element: &ColumnType, type_name: &str, text: &str) -> Result<Value, TypeError> {
    let Some(parsed) = array::parse(text, delimiter_of(element))? else {
        return Ok(Value::Raw { type_name: type_name.to_owned(), text: text.to_owned() });
    };
    let element_name = element_type_name(type_name);
    decode_elements(element, element_name, parsed)
}

fn decode_elements(element: &ColumnType, element_name: &str, parsed: Vec<array::Element>) -> Result<Value, TypeError> {
    let values = parsed
        .into_iter()
        .map(|e| match e {
            array::Element::Null => Ok(Value::Null),
            array::Element::Text(text) => decode_text(element, element_name, &text),
            array::Element::Nested(inner) => decode_elements(element, element_name, inner),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(values))
}

fn decode_set(text: &str) -> Result<Value, TypeError> {
    let parsed = array::parse(text, b',')?.ok_or_else(|| TypeError::new("a set literal cannot carry bounds"))?;
    let labels = parsed
        .into_iter()
        .map(|e| match e {
            array::Element::Text(label) => Ok(label),
            _ => Err(TypeError::new("a set literal holds only labels")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Set(labels))
}

fn encode_array(elements: &[Value]) -> Result<String, TypeError> {
    let delimiter = array_delimiter(elements);
    let mut out = String::new();
    push_array(&mut out, elements, delimiter, 1)?;
    Ok(out)
}

/// `;` when the leaves are `box` values, else `,`.
fn array_delimiter(elements: &[Value]) -> u8 {
    for element in elements {
        match element {
            Value::Raw { type_name, .. } => return if type_name == "box" { b';' } else { b',' },
            Value::Array(inner) => return array_delimiter(inner),
            Value::Null => continue,
            _ => return b',',
        }
    }
    b','
}

fn push_array(out: &mut String, elements: &[Value], delimiter: u8, depth: usize) -> Result<(), TypeError> {
    if depth > 6 {
        return Err(TypeError::new("PostgreSQL arrays have at most 6 dimensions"));
    }
    out.push('{');
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push(char::from(delimiter));
        }
        match element {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => push_array(out, inner, delimiter, depth + 1)?,
            other => match encode_text(other)? {
                Some(text) => array::push_element(out, &text, delimiter),
                None => out.push_str("NULL"),
            },
        }
    }
    out.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_array() -> ColumnType {
        ColumnType::Array(Box::new(ColumnType::Int { bytes: 4, unsigned: false }))
    }

    #[test]
    fn arrays_decode_elements_by_the_element_type() {
        let value = decode_text(&int_array(), "integer[]", "{{1,2},{NULL,4}}").unwrap();
        let row = |a: Value, b: Value| Value::Array(vec![a, b]);
        assert_eq!(value, row(row(Value::Int(1), Value::Int(2)), row(Value::Null, Value::Int(4))));
        assert_eq!(encode_text(&value).unwrap().unwrap(), "{{1,2},{NULL,4}}");
    }

    #[test]
    fn arrays_with_lower_bounds_stay_raw() {
        let value = decode_text(&int_array(), "integer[]", "[0:1]={7,8}").unwrap();
        assert_eq!(value, Value::Raw { type_name: "integer[]".into(), text: "[0:1]={7,8}".into() });
    }

    #[test]
    fn raw_array_elements_carry_the_element_type_name() {
        let inet = ColumnType::Array(Box::new(ColumnType::Other { name: "inet".into() }));
        let value = decode_text(&inet, "inet[]", "{10.0.0.1/8}").unwrap();
        let raw = Value::Raw { type_name: "inet".into(), text: "10.0.0.1/8".into() };
        assert_eq!(value, Value::Array(vec![raw]));
    }

    #[test]
    fn text_arrays_quote_what_needs_quoting() {
        let texts = ["a,b", "NULL", "", "q\"\\", "plain"].map(|s| Value::Text(s.into()));
        let mut values = texts.to_vec();
        values.push(Value::Null);
        let encoded = encode_text(&Value::Array(values.clone())).unwrap().unwrap();
        assert_eq!(encoded, r#"{"a,b","NULL","","q\"\\",plain,NULL}"#);
        let text_array = ColumnType::Array(Box::new(ColumnType::Text { max_chars: None }));
        assert_eq!(decode_text(&text_array, "text[]", &encoded).unwrap(), Value::Array(values));
    }

    #[test]
    fn unchanged_and_nul_are_refused() {
        assert!(encode_text(&Value::Unchanged).is_err());
        assert!(encode_text(&Value::Text("a\0b".into())).is_err());
        assert!(encode_text(&Value::Array(vec![Value::Unchanged])).is_err());
    }

    #[test]
    fn sets_are_array_literals_of_labels() {
        let set = Value::Set(vec!["a".into(), "b c".into()]);
        let text = encode_text(&set).unwrap().unwrap();
        assert_eq!(text, "{a,\"b c\"}");
        assert_eq!(decode_text(&ColumnType::Set { labels: vec![] }, "set", &text).unwrap(), set);
    }

    #[test]
    fn errors_never_contain_the_value() {
        let secret = "s3cr3t-value";
        for column_type in [ColumnType::Bool, ColumnType::Date, ColumnType::Interval, ColumnType::Uuid, int_array()] {
            let error = decode_text(&column_type, "t", secret).unwrap_err();
            assert!(!error.to_string().contains(secret), "{column_type:?}: {error}");
        }
    }
}
