//! The parameters of the sink's multi-row statements: one binary array per
//! column, built straight from the routed values.
//!
//! Every write statement unnests one array parameter per column (see
//! `statements`). An array is sent in PostgreSQL's binary array format
//! (`array_recv`): `ndim` i32 = 1, `has_nulls` i32, element type OID u32,
//! then per dimension the length i32 and lower bound i32 = 1, then per
//! element its length i32 (−1 for NULL) and its bytes in the element type's
//! binary form (`*_recv`).
//!
//! Where the target column is one of the common built-in types (`bool`,
//! `smallint`, `integer`, `bigint`, `double precision`, `numeric`, `text`,
//! `varchar`, `bytea`, `date`, `timestamp`, `timestamptz`, `uuid`, `json`,
//! `jsonb`) and every value of the column in the statement is of the
//! matching kind, the elements are that type's binary form: the server
//! skips its text input functions (date/time parsing is a noticeable part
//! of a batched upsert's cost) and Sluice formats no text. Any other pair —
//! a domain, an enum, an interval, a MySQL `SET`, an integer bound for a
//! `text` column, a value out of the binary form's range — goes as a `text[]`
//! element holding exactly what `encode_cell` makes, converted by the
//! server's input function through the statement's cast, as before. The
//! result is the same either way: the binary forms are chosen only where
//! they carry exactly the value the text would, and the assignment to the
//! column (typmods such as `numeric(12,2)` or `varchar(20)`) is the server's
//! in both cases.

use std::error::Error;

use bytes::BytesMut;
use sluice_api::{CivilDate, ColumnType, Date, Timestamp, TimestampTz, Value};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::types::TypeError;

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const DAY_MICROS: i64 = 86_400_000_000;

/// How a column's values travel: a built-in type's binary form, or text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Element {
    Bool,
    Int2,
    Int4,
    Int8,
    Float8,
    Numeric,
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
    Jsonb,
    /// `text` elements: the value's text (binary `text` is its UTF-8
    /// bytes). The column's own `text`/`varchar` columns take them without
    /// a conversion; any other type through its input function.
    Text,
}

impl Element {
    /// The binary element for a target column of type `type_oid`, if any
    /// (domains, enums and the rest have their own OIDs and go as text).
    pub(super) fn for_type(type_oid: u32) -> Element {
        match type_oid {
            16 => Element::Bool,
            21 => Element::Int2,
            23 => Element::Int4,
            20 => Element::Int8,
            701 => Element::Float8,
            1700 => Element::Numeric,
            17 => Element::Bytea,
            1082 => Element::Date,
            1114 => Element::Timestamp,
            1184 => Element::TimestampTz,
            2950 => Element::Uuid,
            114 => Element::Json,
            3802 => Element::Jsonb,
            _ => Element::Text,
        }
    }

    /// The element type's OID, as the array header names it.
    fn oid(self) -> u32 {
        match self {
            Element::Bool => 16,
            Element::Int2 => 21,
            Element::Int4 => 23,
            Element::Int8 => 20,
            Element::Float8 => 701,
            Element::Numeric => 1700,
            Element::Bytea => 17,
            Element::Date => 1082,
            Element::Timestamp => 1114,
            Element::TimestampTz => 1184,
            Element::Uuid => 2950,
            Element::Json => 114,
            Element::Jsonb => 3802,
            Element::Text => 25,
        }
    }

    /// The array type, as the statement casts its parameter (`$1::int8[]`).
    pub(super) fn array_type(self) -> &'static str {
        match self {
            Element::Bool => "bool[]",
            Element::Int2 => "int2[]",
            Element::Int4 => "int4[]",
            Element::Int8 => "int8[]",
            Element::Float8 => "float8[]",
            Element::Numeric => "numeric[]",
            Element::Bytea => "bytea[]",
            Element::Date => "date[]",
            Element::Timestamp => "timestamp[]",
            Element::TimestampTz => "timestamptz[]",
            Element::Uuid => "uuid[]",
            Element::Json => "json[]",
            Element::Jsonb => "jsonb[]",
            Element::Text => "text[]",
        }
    }

    /// The array type for `prepare_typed`.
    pub(super) fn array_pg_type(self) -> Type {
        match self {
            Element::Bool => Type::BOOL_ARRAY,
            Element::Int2 => Type::INT2_ARRAY,
            Element::Int4 => Type::INT4_ARRAY,
            Element::Int8 => Type::INT8_ARRAY,
            Element::Float8 => Type::FLOAT8_ARRAY,
            Element::Numeric => Type::NUMERIC_ARRAY,
            Element::Bytea => Type::BYTEA_ARRAY,
            Element::Date => Type::DATE_ARRAY,
            Element::Timestamp => Type::TIMESTAMP_ARRAY,
            Element::TimestampTz => Type::TIMESTAMPTZ_ARRAY,
            Element::Uuid => Type::UUID_ARRAY,
            Element::Json => Type::JSON_ARRAY,
            Element::Jsonb => Type::JSONB_ARRAY,
            Element::Text => Type::TEXT_ARRAY,
        }
    }

    /// Appends `value`'s binary form, or returns `false` (writing nothing)
    /// when this element does not carry it exactly: the column then goes
    /// as text. NULL is the caller's.
    fn push_binary(self, value: &Value, out: &mut Vec<u8>) -> bool {
        match (self, value) {
            (Element::Bool, Value::Bool(b)) => push_bytes(out, &[u8::from(*b)]),
            (Element::Int2, value) => match integer(value).and_then(|i| i16::try_from(i).ok()) {
                Some(i) => push_bytes(out, &i.to_be_bytes()),
                None => return false,
            },
            (Element::Int4, value) => match integer(value).and_then(|i| i32::try_from(i).ok()) {
                Some(i) => push_bytes(out, &i.to_be_bytes()),
                None => return false,
            },
            (Element::Int8, value) => match integer(value).and_then(|i| i64::try_from(i).ok()) {
                Some(i) => push_bytes(out, &i.to_be_bytes()),
                None => return false,
            },
            (Element::Float8, Value::Float64(f)) => push_bytes(out, &f.to_be_bytes()),
            (Element::Numeric, Value::Decimal(d)) => return push_numeric(out, d.as_str()),
            (Element::Numeric, Value::Int(i)) => return push_numeric(out, &i.to_string()),
            (Element::Numeric, Value::UInt(u)) => return push_numeric(out, &u.to_string()),
            (Element::Bytea, Value::Bytes(b)) => push_bytes(out, b),
            (Element::Date, Value::Date(date)) => match pg_date(date) {
                Some(days) => push_bytes(out, &days.to_be_bytes()),
                None => return false,
            },
            (Element::Timestamp, Value::Timestamp(ts)) => match pg_timestamp(ts) {
                Some(micros) => push_bytes(out, &micros.to_be_bytes()),
                None => return false,
            },
            (Element::TimestampTz, Value::TimestampTz(ts)) => match pg_timestamptz(ts) {
                Some(micros) => push_bytes(out, &micros.to_be_bytes()),
                None => return false,
            },
            (Element::Uuid, Value::Uuid(bytes)) => push_bytes(out, bytes),
            // NUL cannot be stored in text; the text path refuses it with its message.
            (Element::Json, Value::Json(text)) if !text.contains('\0') => push_bytes(out, text.as_bytes()),
            // jsonb's binary form: a version byte (1), then the JSON text.
            (Element::Jsonb, Value::Json(text)) if !text.contains('\0') => {
                let length = i32::try_from(text.len() + 1).unwrap_or(i32::MAX);
                out.extend_from_slice(&length.to_be_bytes());
                out.push(1);
                out.extend_from_slice(text.as_bytes());
            }
            _ => return false,
        }
        true
    }
}

/// An integer value as i128 (`YEAR` counts as one), for the range checks.
fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Year(y) => Some(i128::from(*y)),
        _ => None,
    }
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // An element longer than 2 GiB cannot be sent in any form; the server's
    // 1 GB field limit refuses it long before.
    let length = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// PostgreSQL's binary `date`: days since 2000-01-01; infinities are
/// `i32::MAX` / `i32::MIN`. MySQL's zero dates have no such form.
fn pg_date(date: &Date) -> Option<i32> {
    match date {
        Date::PosInfinity => Some(i32::MAX),
        Date::NegInfinity => Some(i32::MIN),
        Date::Civil(civil) => {
            let days = civil_days(civil)? - PG_EPOCH_DAYS;
            // Leave the infinities' values to the infinities.
            i32::try_from(days).ok().filter(|d| *d != i32::MAX && *d != i32::MIN)
        }
    }
}

/// Days since 1970 of a real calendar date. A MySQL zero date, or a day
/// the month lacks (`ALLOW_INVALID_DATES`), has none: it goes as text, and
/// the server refuses it as before.
fn civil_days(date: &CivilDate) -> Option<i64> {
    if date.is_zero_date() {
        return None;
    }
    let days = date.days_since_epoch();
    (CivilDate::from_days_since_epoch(days) == *date).then_some(days)
}

/// PostgreSQL's binary `timestamp`: microseconds since 2000-01-01 00:00;
/// infinities are `i64::MAX` / `i64::MIN`.
fn pg_timestamp(ts: &Timestamp) -> Option<i64> {
    match ts {
        Timestamp::PosInfinity => Some(i64::MAX),
        Timestamp::NegInfinity => Some(i64::MIN),
        Timestamp::Civil { date, time } => {
            let micros = civil_days(date)?.checked_mul(DAY_MICROS)?;
            let micros = micros.checked_add(i64::try_from(time.0).ok()?)?.checked_sub(PG_EPOCH_MICROS)?;
            Some(micros).filter(|m| *m != i64::MAX && *m != i64::MIN)
        }
    }
}

/// PostgreSQL's binary `timestamptz`: microseconds since 2000-01-01 UTC.
fn pg_timestamptz(ts: &TimestampTz) -> Option<i64> {
    match ts {
        TimestampTz::PosInfinity => Some(i64::MAX),
        TimestampTz::NegInfinity => Some(i64::MIN),
        TimestampTz::Micros(micros) => micros.checked_sub(PG_EPOCH_MICROS).filter(|m| *m != i64::MAX && *m != i64::MIN),
    }
}

/// PostgreSQL's binary `numeric` (`numeric_send`): i16 ndigits, i16 weight
/// (of the first base-10000 digit), u16 sign (0x0000 positive, 0x4000
/// negative), i16 dscale (decimal digits after the point), then the
/// base-10000 digits, leading and trailing zero digits stripped. `text` is
/// an exponent-free decimal (`Decimal`'s canonical form, or an integer);
/// NaN and the infinities go as text.
fn push_numeric(out: &mut Vec<u8>, text: &str) -> bool {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (integer, fraction) = body.split_once('.').unwrap_or((body, ""));
    if integer.is_empty() && fraction.is_empty() || !integer.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let Ok(dscale) = i16::try_from(fraction.len()) else { return false };
    // Base-10000 digits: the integer part grouped from the point leftwards,
    // the fraction from the point rightwards (zero-padded to whole groups).
    let integer_groups = integer.len().div_ceil(4);
    let mut digits: Vec<i16> = Vec::with_capacity(integer_groups + fraction.len().div_ceil(4));
    let lead = integer.len() - (integer_groups.saturating_sub(1)) * 4;
    let mut start = 0;
    for group in 0..integer_groups {
        let end = if group == 0 { lead } else { start + 4 };
        digits.push(group_value(&integer.as_bytes()[start..end], false));
        start = end;
    }
    for chunk in fraction.as_bytes().chunks(4) {
        digits.push(group_value(chunk, true));
    }
    let Ok(mut weight) = i16::try_from(integer_groups) else { return false };
    weight -= 1;
    let leading = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..leading);
    let Ok(leading) = i16::try_from(leading) else { return false };
    weight -= leading;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let sign: u16 = if negative && !digits.is_empty() { 0x4000 } else { 0 };
    if digits.is_empty() {
        weight = 0;
    }
    let Ok(ndigits) = i16::try_from(digits.len()) else { return false };
    let length = 8 + 2 * digits.len();
    let Ok(length) = i32::try_from(length) else { return false };
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for digit in digits {
        out.extend_from_slice(&digit.to_be_bytes());
    }
    true
}

/// The value of up to four decimal digits; a fraction group is padded with
/// zeros on the right (`5` after the point is 5000).
fn group_value(digits: &[u8], fraction: bool) -> i16 {
    let mut value: i16 = 0;
    for &d in digits {
        value = value * 10 + i16::from(d - b'0');
    }
    if fraction {
        for _ in digits.len()..4 {
            value *= 10;
        }
    }
    value
}

/// One column's array parameter being built: the header is written first
/// and its counts patched at the end, so the bytes are never copied.
pub(super) struct ColumnArray {
    element: Element,
    /// Header (20 bytes), then the length-prefixed elements.
    bytes: Vec<u8>,
    count: usize,
    has_null: bool,
}

/// `ndim`, `has_nulls`, element OID, dimension length, lower bound.
const HEADER_LEN: usize = 20;

impl ColumnArray {
    pub(super) fn new(element: Element, rows: usize) -> ColumnArray {
        let mut bytes = Vec::with_capacity(HEADER_LEN + rows * 16);
        bytes.extend_from_slice(&1i32.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&element.oid().to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&1i32.to_be_bytes());
        ColumnArray { element, bytes, count: 0, has_null: false }
    }

    /// Appends `value` in binary; `false` when it must go as text (the
    /// caller then rebuilds the column as text).
    pub(super) fn push_binary(&mut self, value: &Value) -> bool {
        if matches!(value, Value::Null) {
            self.push_null();
            return true;
        }
        if self.element.push_binary(value, &mut self.bytes) {
            self.count += 1;
            true
        } else {
            false
        }
    }

    /// Appends a text element (`None`: NULL).
    pub(super) fn push_text(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                push_bytes(&mut self.bytes, text.as_bytes());
                self.count += 1;
            }
            None => self.push_null(),
        }
    }

    fn push_null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
        self.count += 1;
        self.has_null = true;
    }

    /// The finished parameter.
    pub(super) fn finish(mut self) -> Result<ArrayParam, TypeError> {
        let count = i32::try_from(self.count).map_err(|_| TypeError::new("too many rows for one statement"))?;
        self.bytes[4..8].copy_from_slice(&i32::from(self.has_null).to_be_bytes());
        self.bytes[12..16].copy_from_slice(&count.to_be_bytes());
        Ok(ArrayParam { element: self.element, bytes: self.bytes })
    }
}

/// A finished binary array parameter.
#[derive(Debug)]
pub(super) struct ArrayParam {
    element: Element,
    bytes: Vec<u8>,
}

impl ToSql for ArrayParam {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // The statement was prepared with this element's array type; a
        // mismatch would make the server misread the elements.
        if *ty != self.element.array_pg_type() {
            return Err(format!("array of {:?} bound to a {} parameter", self.element, ty.name()).into());
        }
        out.extend_from_slice(&self.bytes);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The element a target column's values travel as: its type's binary
/// form for the built-in types of [`Element::for_type`] (an array, enum or
/// set column is never one of them), text otherwise.
pub(super) fn element_of(type_oid: u32, target: &ColumnType) -> Element {
    match target {
        ColumnType::Array(_) | ColumnType::Enum { .. } | ColumnType::Set { .. } => Element::Text,
        _ => Element::for_type(type_oid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{Decimal, TimeOfDay};

    fn numeric(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(push_numeric(&mut out, text), "{text}");
        out
    }

    /// ndigits, weight, sign, dscale, digits… as numeric_send writes them.
    fn numeric_words(words: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&i32::try_from(words.len() * 2).unwrap().to_be_bytes());
        for w in words {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_encode_as_numeric_send_does() {
        // SELECT numeric_send('12345.678'): 0003 0001 0000 0003 0001 0929 1a5c
        assert_eq!(numeric("12345.678"), numeric_words(&[3, 1, 0, 3, 1, 2345, 6780]));
        assert_eq!(numeric("-0.0012"), numeric_words(&[1, -1, 0x4000, 4, 12]));
        assert_eq!(numeric("0"), numeric_words(&[0, 0, 0, 0]));
        assert_eq!(numeric("0.00"), numeric_words(&[0, 0, 0, 2]));
        assert_eq!(numeric("-0.00"), numeric_words(&[0, 0, 0, 2]));
        assert_eq!(numeric("10000"), numeric_words(&[1, 1, 0, 0, 1]));
        assert_eq!(numeric("1.25"), numeric_words(&[2, 0, 0, 2, 1, 2500]));
        assert_eq!(numeric(".5"), numeric_words(&[1, -1, 0, 1, 5000]));
        assert_eq!(numeric("123456789.00000001"), numeric_words(&[5, 2, 0, 8, 1, 2345, 6789, 0, 1]));
        assert_eq!(numeric("-9223372036854775808"), numeric_words(&[5, 4, 0x4000, 0, 922, 3372, 368, 5477, 5808]));
    }

    #[test]
    fn special_numerics_and_garbage_go_as_text() {
        for text in ["NaN", "Infinity", "-Infinity", "1e5", "", "-", "1.2.3"] {
            assert!(!push_numeric(&mut Vec::new(), text), "{text}");
        }
    }

    #[test]
    fn integers_out_of_the_column_range_go_as_text() {
        let mut array = ColumnArray::new(Element::Int2, 2);
        assert!(array.push_binary(&Value::Int(32767)));
        assert!(!array.push_binary(&Value::Int(32768)));
        assert!(!array.push_binary(&Value::UInt(u64::MAX)));
        assert!(!ColumnArray::new(Element::Int8, 1).push_binary(&Value::UInt(u64::MAX)));
        assert!(!ColumnArray::new(Element::Int8, 1).push_binary(&Value::Text("1".into())));
    }

    #[test]
    fn dates_and_timestamps_count_from_2000() {
        let date = CivilDate { year: 2000, month: 1, day: 2 };
        assert_eq!(pg_date(&Date::Civil(date)), Some(1));
        let before = CivilDate { year: 1999, month: 12, day: 31 };
        assert_eq!(pg_date(&Date::Civil(before)), Some(-1));
        assert_eq!(pg_date(&Date::Civil(CivilDate { year: 0, month: 0, day: 0 })), None);
        assert_eq!(pg_date(&Date::Civil(CivilDate { year: 2023, month: 2, day: 30 })), None, "not a day");
        let ts = Timestamp::Civil { date, time: TimeOfDay(1_500_000) };
        assert_eq!(pg_timestamp(&ts), Some(86_400_000_000 + 1_500_000));
        assert_eq!(pg_timestamptz(&TimestampTz::Micros(PG_EPOCH_MICROS - 1)), Some(-1));
        assert_eq!(pg_timestamptz(&TimestampTz::PosInfinity), Some(i64::MAX));
        let far = Timestamp::Civil { date: CivilDate { year: i32::MAX, month: 1, day: 1 }, time: TimeOfDay(0) };
        assert_eq!(pg_timestamp(&far), None, "overflow goes as text, and the server refuses it");
    }

    #[test]
    fn an_array_has_the_binary_header_and_length_prefixed_elements() {
        let mut array = ColumnArray::new(Element::Int4, 2);
        assert!(array.push_binary(&Value::Int(7)));
        assert!(array.push_binary(&Value::Null));
        let param = array.finish().unwrap();
        let expected: Vec<u8> = [1i32, 1, 23, 2, 1, 4, 7, -1].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(param.bytes, expected);
    }

    #[test]
    fn text_with_nul_and_decimals_keep_their_text_path() {
        assert!(!ColumnArray::new(Element::Jsonb, 1).push_binary(&Value::Json("\"a\0\"".into())));
        let mut array = ColumnArray::new(Element::Numeric, 1);
        assert!(array.push_binary(&Value::Decimal(Decimal::parse("-1.50").unwrap())));
        assert!(!array.push_binary(&Value::Decimal(Decimal::parse("NaN").unwrap())));
    }
}
