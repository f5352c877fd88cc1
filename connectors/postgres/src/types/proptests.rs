//! Property tests: every value PostgreSQL can hold survives
//! `decode_text(encode_text(v))` unchanged, and no string makes a decoder
//! panic. Failures are kept in `proptest-regressions/` next to the crate.

use proptest::collection::vec;
use proptest::prelude::*;
use sluice_api::{BitString, CivilDate, ColumnType, Date, Decimal, Interval, TimeOfDay, Timestamp, TimestampTz, Value};

use super::{decode_text, encode_text};

/// Equality that tells floats apart by bits (`-0.0` is not `0.0`) and treats
/// every NaN alike (PostgreSQL has one NaN).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float32(x), Value::Float32(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Float64(x), Value::Float64(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        _ => a == b,
    }
}

/// Text PostgreSQL can store: anything but NUL.
fn pg_text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,24}"
}

fn civil_date() -> impl Strategy<Value = CivilDate> {
    (-1_000_000_000i64..1_000_000_000).prop_map(CivilDate::from_days_since_epoch)
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        ("-?[0-9]{1,80}(\\.[0-9]{1,40})?").prop_map(|s| Decimal::parse(&s).unwrap()),
        Just(Decimal::parse("NaN").unwrap()),
        Just(Decimal::parse("Infinity").unwrap()),
        Just(Decimal::parse("-Infinity").unwrap()),
    ]
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 3.0),
    ]
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![any::<u32>().prop_map(f32::from_bits), Just(f32::INFINITY), Just(-0.0f32)]
}

fn date() -> impl Strategy<Value = Date> {
    prop_oneof![8 => civil_date().prop_map(Date::Civil), 1 => Just(Date::PosInfinity), 1 => Just(Date::NegInfinity)]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        8 => (civil_date(), 0..TimeOfDay::MAX_MICROS)
            .prop_map(|(date, time)| Timestamp::Civil { date, time: TimeOfDay(time) }),
        1 => Just(Timestamp::PosInfinity),
        1 => Just(Timestamp::NegInfinity),
    ]
}

fn timestamptz() -> impl Strategy<Value = TimestampTz> {
    prop_oneof![8 => any::<i64>().prop_map(TimestampTz::Micros), 1 => Just(TimestampTz::PosInfinity), 1 => Just(TimestampTz::NegInfinity)]
}

fn interval() -> impl Strategy<Value = Interval> {
    (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, micros)| Interval { months, days, micros })
}

/// The scalar kinds: a column type, its name, and a strategy for its values.
fn kinds() -> Vec<(ColumnType, &'static str, BoxedStrategy<Value>)> {
    vec![
        (ColumnType::Bool, "boolean", any::<bool>().prop_map(Value::Bool).boxed()),
        (ColumnType::Int { bytes: 8, unsigned: false }, "bigint", any::<i64>().prop_map(Value::Int).boxed()),
        (ColumnType::Int { bytes: 4, unsigned: true }, "oid", any::<u64>().prop_map(Value::UInt).boxed()),
        (ColumnType::Float32, "real", any_f32().prop_map(Value::Float32).boxed()),
        (ColumnType::Float64, "double precision", any_f64().prop_map(Value::Float64).boxed()),
        (ColumnType::Decimal { precision: None, scale: None }, "numeric", decimal().prop_map(Value::Decimal).boxed()),
        (ColumnType::Text { max_chars: None }, "text", pg_text().prop_map(Value::Text).boxed()),
        (ColumnType::Bytes { max_len: None }, "bytea", vec(any::<u8>(), 0..40).prop_map(Value::Bytes).boxed()),
        (
            ColumnType::Bits { len: None, varying: true },
            "bit varying",
            "[01]{0,40}".prop_map(|s| Value::Bits(BitString::from_text(&s).unwrap())).boxed(),
        ),
        (ColumnType::Date, "date", date().prop_map(Value::Date).boxed()),
        (
            ColumnType::Time { fsp: None },
            "time without time zone",
            (0..=TimeOfDay::MAX_MICROS).prop_map(|t| Value::Time(TimeOfDay(t))).boxed(),
        ),
        (
            ColumnType::TimeTz { fsp: None },
            "time with time zone",
            (0..=TimeOfDay::MAX_MICROS, -57_599i32..=57_599).prop_map(|(t, o)| Value::TimeTz(TimeOfDay(t), o)).boxed(),
        ),
        (ColumnType::Duration { fsp: None }, "time", any::<i64>().prop_map(Value::Duration).boxed()),
        (
            ColumnType::Timestamp { fsp: None },
            "timestamp without time zone",
            timestamp().prop_map(Value::Timestamp).boxed(),
        ),
        (
            ColumnType::TimestampTz { fsp: None },
            "timestamp with time zone",
            timestamptz().prop_map(Value::TimestampTz).boxed(),
        ),
        (ColumnType::Interval, "interval", interval().prop_map(Value::Interval).boxed()),
        (ColumnType::Json, "jsonb", pg_text().prop_map(Value::Json).boxed()),
        (ColumnType::Uuid, "uuid", any::<[u8; 16]>().prop_map(Value::Uuid).boxed()),
        (ColumnType::Enum { labels: vec![] }, "mood", pg_text().prop_map(Value::Enum).boxed()),
        (ColumnType::Set { labels: vec![] }, "set", vec(pg_text(), 0..5).prop_map(Value::Set).boxed()),
        (ColumnType::Year, "year", any::<u16>().prop_map(Value::Year).boxed()),
        (
            ColumnType::Other { name: "inet".into() },
            "inet",
            pg_text().prop_map(|text| Value::Raw { type_name: "inet".into(), text }).boxed(),
        ),
    ]
}

/// A scalar column type with one of its values.
fn scalar() -> impl Strategy<Value = (ColumnType, String, Value)> {
    (0..kinds().len()).prop_flat_map(|i| {
        let (column_type, name, values) = kinds().swap_remove(i);
        (Just(column_type), Just(name.to_owned()), values)
    })
}

/// Arrays of one or two dimensions of the types PostgreSQL has arrays of
/// (not sets or durations), with NULLs among the elements.
fn array() -> impl Strategy<Value = (ColumnType, String, Value)> {
    let arrayable: Vec<usize> = kinds()
        .iter()
        .enumerate()
        .filter(|(_, (c, _, _))| !matches!(c, ColumnType::Set { .. } | ColumnType::Duration { .. }))
        .map(|(i, _)| i)
        .collect();
    (proptest::sample::select(arrayable), 1usize..4, 1usize..4, any::<bool>())
        .prop_flat_map(|(i, rows, cols, nested)| {
            let (column_type, name, values) = kinds().swap_remove(i);
            let cells = vec(proptest::option::weighted(0.8, values), rows * cols);
            (Just(column_type), Just(name), Just((cols, nested)), cells)
        })
        .prop_map(|(column_type, name, (cols, nested), cells)| {
            let values: Vec<Value> = cells.into_iter().map(|v| v.unwrap_or(Value::Null)).collect();
            let value = if nested {
                Value::Array(values.chunks(cols).map(|row| Value::Array(row.to_vec())).collect())
            } else {
                Value::Array(values)
            };
            (ColumnType::Array(Box::new(column_type)), format!("{name}[]"), value)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn scalars_round_trip((column_type, name, value) in scalar()) {
        let text = encode_text(&value).unwrap().unwrap();
        let back = decode_text(&column_type, &name, &text).unwrap();
        prop_assert!(same(&back, &value), "{value:?} -> {text:?} -> {back:?}");
    }

    #[test]
    fn decoders_never_panic(text in "\\PC{0,40}", pick in 0usize..24) {
        let types = [
            ColumnType::Bool, ColumnType::Int { bytes: 8, unsigned: false }, ColumnType::Int { bytes: 4, unsigned: true },
            ColumnType::Float32, ColumnType::Float64, ColumnType::Decimal { precision: None, scale: None },
            ColumnType::Bytes { max_len: None }, ColumnType::Bits { len: None, varying: false }, ColumnType::Date,
            ColumnType::Time { fsp: None }, ColumnType::TimeTz { fsp: None }, ColumnType::Duration { fsp: None },
            ColumnType::Timestamp { fsp: None }, ColumnType::TimestampTz { fsp: None }, ColumnType::Interval,
            ColumnType::Uuid, ColumnType::Set { labels: vec![] }, ColumnType::Year,
            ColumnType::Array(Box::new(ColumnType::Int { bytes: 4, unsigned: false })),
            ColumnType::Array(Box::new(ColumnType::Text { max_chars: None })),
            ColumnType::Array(Box::new(ColumnType::Date)),
            ColumnType::Array(Box::new(ColumnType::Other { name: "box".into() })),
            ColumnType::Array(Box::new(ColumnType::Interval)),
            ColumnType::Array(Box::new(ColumnType::TimestampTz { fsp: None })),
        ];
        let _ = decode_text(&types[pick % types.len()], "t", &text);
    }

    #[test]
    fn array_parser_never_panics(text in "[{}\",\\\\ NUL\\[\\]:=0-9a]{0,40}") {
        let _ = decode_text(&ColumnType::Array(Box::new(ColumnType::Text { max_chars: None })), "text[]", &text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arrays_round_trip((column_type, name, value) in array()) {
        let text = encode_text(&value).unwrap().unwrap();
        let back = decode_text(&column_type, &name, &text).unwrap();
        prop_assert!(same(&back, &value), "{value:?} -> {text:?} -> {back:?}");
    }
}
