//! Property tests: the parser never panics on any text, evaluation never
//! panics on any values, exact arithmetic agrees with an independent
//! big-decimal reference, comparisons agree across the ways a number can
//! be written, and the LIKE matcher agrees with a naive reference.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use proptest::prelude::*;
use sluice_api::{BitString, CivilDate, Date, Decimal, Interval, TimeOfDay, Timestamp, TimestampTz, Value};

use super::text::LikePattern;
use super::*;

// ---------------------------------------------------------------- strategies

fn civil() -> impl Strategy<Value = CivilDate> {
    prop_oneof![
        (-5000i32..10_000, 1u8..=12, 1u8..=28).prop_map(|(year, month, day)| CivilDate { year, month, day }),
        (any::<i32>(), 0u8..=12, 0u8..=31).prop_map(|(year, month, day)| CivilDate { year, month, day }),
        Just(CivilDate { year: 0, month: 0, day: 0 }),
    ]
}

fn decimal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ("-?[0-9]{1,45}", proptest::option::of("[0-9]{0,40}"))
            .prop_map(|(int, frac)| frac.map_or(int.clone(), |f| format!("{int}.{f}"))),
        Just("NaN".to_owned()),
        Just("Infinity".to_owned()),
        Just("-Infinity".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::Unchanged),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1), Just(1)].prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        Just(Value::UInt(u64::MAX)),
        any::<f32>().prop_map(Value::Float32),
        any::<f64>().prop_map(Value::Float64),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(1e308)].prop_map(Value::Float64),
        decimal_text().prop_map(|t| Value::Decimal(Decimal::parse(&t).unwrap())),
        ".{0,12}".prop_map(Value::Text),
        "-?[0-9]{1,25}(\\.[0-9]{0,5})?".prop_map(Value::Text),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        "[01]{0,20}".prop_map(|t| Value::Bits(BitString::from_text(&t).unwrap())),
        civil().prop_map(|d| Value::Date(Date::Civil(d))),
        Just(Value::Date(Date::PosInfinity)),
        (0..=TimeOfDay::MAX_MICROS).prop_map(|t| Value::Time(TimeOfDay(t))),
        (0..=TimeOfDay::MAX_MICROS, -50_000i32..50_000).prop_map(|(t, o)| Value::TimeTz(TimeOfDay(t), o)),
        any::<i64>().prop_map(Value::Duration),
        (civil(), 0..TimeOfDay::MAX_MICROS)
            .prop_map(|(date, t)| Value::Timestamp(Timestamp::Civil { date, time: TimeOfDay(t) })),
        Just(Value::Timestamp(Timestamp::NegInfinity)),
        any::<i64>().prop_map(|m| Value::TimestampTz(TimestampTz::Micros(m))),
        Just(Value::TimestampTz(TimestampTz::PosInfinity)),
        (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, micros)| Value::Interval(Interval {
            months,
            days,
            micros
        })),
        ".{0,10}".prop_map(Value::Json),
        any::<[u8; 16]>().prop_map(Value::Uuid),
        "[a-z]{0,6}".prop_map(Value::Enum),
        proptest::collection::vec("[a-z]{1,4}", 0..3).prop_map(Value::Set),
        any::<u16>().prop_map(Value::Year),
        (".{0,6}", ".{0,6}").prop_map(|(type_name, text)| Value::Raw { type_name, text }),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(2, 8, 4, |inner| proptest::collection::vec(inner, 0..4).prop_map(Value::Array))
}

/// Expressions over columns a, b, c exercising every operator, function and cast.
const EXPRESSIONS: &[&str] = &[
    "a",
    "-a",
    "NOT a",
    "a + b",
    "a - b",
    "a * b",
    "a / b",
    "a % b",
    "a || b",
    "a = b",
    "a <> b",
    "a < b",
    "a <= b",
    "a > b",
    "a >= b",
    "a IS NULL",
    "a IS NOT NULL",
    "a IS TRUE",
    "a IS NOT FALSE",
    "a IS DISTINCT FROM b",
    "a IS NOT DISTINCT FROM b",
    "a IN (b, c, 1, 'x')",
    "a NOT IN (b, NULL)",
    "a BETWEEN b AND c",
    "a NOT BETWEEN 1 AND 2",
    "a LIKE b",
    "a LIKE 'x%_y'",
    "a ILIKE b ESCAPE '!'",
    "a NOT LIKE c",
    "a AND b",
    "a OR b AND NOT c",
    "CASE a WHEN b THEN c WHEN 1 THEN 2 ELSE a END",
    "CASE WHEN a THEN b WHEN c THEN 1 END",
    "coalesce(a, b, c)",
    "nullif(a, b)",
    "greatest(a, b, c)",
    "least(a, b)",
    "upper(a)",
    "lower(a)",
    "trim(a)",
    "trim(a, b)",
    "ltrim(a, b)",
    "rtrim(a)",
    "TRIM(BOTH b FROM a)",
    "substring(a, b)",
    "substring(a, b, c)",
    "SUBSTRING(a FROM 2 FOR 3)",
    "replace(a, b, c)",
    "lpad(a, b)",
    "rpad(a, b, c)",
    "lpad(a, 5, b)",
    "concat(a, b, c)",
    "length(a)",
    "octet_length(a)",
    "left(a, b)",
    "right(a, b)",
    "position(a IN b)",
    "strpos(a, b)",
    "abs(a)",
    "round(a)",
    "round(a, b)",
    "round(a, 2)",
    "floor(a)",
    "ceil(a)",
    "mod(a, b)",
    "date_trunc('week', a)",
    "date_trunc('quarter', a)",
    "date_trunc('second', a)",
    "extract(year FROM a)",
    "extract(epoch FROM a)",
    "extract(second FROM a)",
    "extract(week FROM a)",
    "extract(dow FROM a)",
    "date_part('doy', a)",
    "extract(quarter FROM a)",
    "commit_time()",
    "source_name() || source_table()",
    "map(m, a)",
    "lookup(m, a)",
    "CAST(a AS text)",
    "CAST(a AS varchar(3))",
    "CAST(a AS smallint)",
    "CAST(a AS integer)",
    "CAST(a AS bigint)",
    "CAST(a AS unsigned)",
    "CAST(a AS numeric)",
    "CAST(a AS numeric(10,2))",
    "CAST(a AS decimal(65,30))",
    "CAST(a AS real)",
    "CAST(a AS double precision)",
    "CAST(a AS boolean)",
    "CAST(a AS date)",
    "CAST(a AS time)",
    "CAST(a AS timestamp)",
    "CAST(a AS timestamptz)",
    "CAST(a AS json)",
    "CAST(a AS uuid)",
    "a::text || b::text",
];

fn maps() -> MapSet {
    let map = ValueMap::new("m", vec![("1".into(), Value::Text("one".into()))], Unmapped::Keep);
    HashMap::from([("m".to_owned(), Arc::new(map))])
}

fn bound_expressions() -> Vec<Bound> {
    let maps = maps();
    let column = |c: &ColumnRef| ["a", "b", "c"].iter().position(|n| *n == c.name);
    EXPRESSIONS
        .iter()
        .map(|text| {
            Expression::parse(text).and_then(|e| e.bind(&column, &maps)).unwrap_or_else(|e| panic!("{text}: {e}"))
        })
        .collect()
}

/// A token soup of the language's pieces, to reach deeper into the parser than random bytes do.
fn sqlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("a"),
        Just("before.a"),
        Just("\"A b\""),
        Just("`x`"),
        Just("1"),
        Just("12.50"),
        Just("1e400"),
        Just("'s'"),
        Just("'%_'"),
        Just("NULL"),
        Just("TRUE"),
        Just("("),
        Just(")"),
        Just(","),
        Just("+"),
        Just("-"),
        Just("*"),
        Just("/"),
        Just("%"),
        Just("||"),
        Just("="),
        Just("<>"),
        Just("<"),
        Just(">="),
        Just("AND"),
        Just("OR"),
        Just("NOT"),
        Just("IS"),
        Just("DISTINCT FROM"),
        Just("IN"),
        Just("BETWEEN"),
        Just("LIKE"),
        Just("ESCAPE"),
        Just("CASE"),
        Just("WHEN"),
        Just("THEN"),
        Just("ELSE"),
        Just("END"),
        Just("CAST("),
        Just("AS"),
        Just("int"),
        Just("numeric(5,2)"),
        Just("::"),
        Just("upper("),
        Just("map("),
        Just("lookup("),
        Just("coalesce("),
        Just("date_trunc('day',"),
        Just("extract(year FROM"),
        Just("now()"),
        Just("DATE '2024-01-02'"),
        Just("TRIM(BOTH 'x' FROM"),
        Just("SUBSTRING("),
        Just("FROM"),
        Just("FOR"),
        Just("round("),
        Just(";"),
        Just("SELECT"),
        Just("'"),
        Just("\""),
        Just("$1"),
        Just("X'0"),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|tokens| tokens.join(" "))
}

// ---------------------------------------------------------------- naive references

/// LIKE by recursion over chars, with `\` as escape.
fn like_reference(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like_reference(&text[i..], rest)),
        Some(('_', rest)) => !text.is_empty() && like_reference(&text[1..], rest),
        Some(('\\', rest)) if !rest.is_empty() => {
            text.first() == Some(&rest[0]) && like_reference(&text[1..], &rest[1..])
        }
        Some((c, rest)) => text.first() == Some(c) && like_reference(&text[1..], rest),
    }
}

fn big(text: &str) -> BigDecimal {
    BigDecimal::from_str(text).unwrap()
}

fn decimal_of(value: &Value) -> BigDecimal {
    match value {
        Value::Decimal(d) => big(d.as_str()),
        Value::Int(i) => BigDecimal::from(*i),
        Value::UInt(u) => BigDecimal::from(*u),
        other => panic!("not an exact number: {other:?}"),
    }
}

fn context(row: &[Value]) -> EvalContext<'_> {
    EvalContext { current: Some(row), before: Some(row), after: None, commit_time_micros: 0, source: "s", table: "t" }
}

fn eval(text: &str, row: &[Value]) -> Result<Value, EvalError> {
    let column = |c: &ColumnRef| ["a", "b", "c"].iter().position(|n| *n == c.name);
    Expression::parse(text).unwrap().bind(&column, &maps()).unwrap().eval(&context(row))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_any_text(text in ".{0,200}") {
        let _ = Expression::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_token_soup(text in sqlish()) {
        if let Ok(e) = Expression::parse(&text) {
            let _ = (e.columns(), e.names_used(), e.as_lookup(), e.as_column(), e.has_crosswalk_lookup(&maps()));
            let bound = e.bind(&|_| Some(0), &maps());
            if let Ok(bound) = bound {
                let row = [Value::Int(1)];
                let _ = bound.eval(&context(&row));
                let _ = bound.test(&context(&row));
            }
        }
    }

    #[test]
    fn evaluation_never_panics_on_any_values(a in value(), b in value(), c in value()) {
        let row = [a, b, c];
        for bound in bound_expressions() {
            let _ = bound.eval(&context(&row));
            let _ = bound.test(&context(&row));
        }
        for v in &row {
            let _ = text_of(v);
        }
    }

    #[test]
    fn exact_arithmetic_matches_a_big_decimal_reference(
        a in "-?[0-9]{1,45}(\\.[0-9]{1,35})?",
        b in "-?[0-9]{1,45}(\\.[0-9]{1,35})?",
    ) {
        let row = [
            Value::Decimal(Decimal::parse(&a).unwrap()),
            Value::Decimal(Decimal::parse(&b).unwrap()),
            Value::Null,
        ];
        let (x, y) = (big(&a), big(&b));
        prop_assert_eq!(decimal_of(&eval("a + b", &row).unwrap()), &x + &y);
        prop_assert_eq!(decimal_of(&eval("a - b", &row).unwrap()), &x - &y);
        prop_assert_eq!(decimal_of(&eval("a * b", &row).unwrap()), &x * &y);
        prop_assert_eq!(eval("a < b", &row).unwrap(), Value::Bool(x < y));
        prop_assert_eq!(eval("a = b", &row).unwrap(), Value::Bool(x == y));
        let scale = |s: &str| s.split_once('.').map_or(0, |(_, f)| f.len() as i64);
        if !y.is_zero() {
            let q = decimal_of(&eval("a / b", &row).unwrap());
            let digits = 20.max(scale(&a)).max(scale(&b));
            let reference = (&x / &y).with_scale_round(digits, RoundingMode::HalfUp);
            // Either the exact quotient, or the quotient rounded half away from zero.
            prop_assert!(&q * &y == x || q == reference, "{} / {} = {} (reference {})", a, b, q, reference);
            let r = decimal_of(&eval("a % b", &row).unwrap());
            prop_assert!(r.abs() < y.abs());
            prop_assert_eq!(x.clone() - r, (&x / &y).with_scale_round(0, RoundingMode::Down) * &y);
        } else {
            prop_assert!(eval("a / b", &row).is_err());
        }
        for text in ["a + b", "a * b", "a / b", "round(a, 3)", "-a"] {
            if let Ok(Value::Decimal(d)) = eval(text, &row) {
                prop_assert!(!d.as_str().contains(['e', 'E']));
                prop_assert_eq!(Decimal::parse(d.as_str()).unwrap(), d);
            }
        }
    }

    #[test]
    fn integer_arithmetic_matches_i128(a: i64, b: i64) {
        let row = [Value::Int(a), Value::Int(b), Value::Null];
        let check = |text: &str, expected: i128| -> Result<(), TestCaseError> {
            let got = eval(text, &row).unwrap();
            let want = match i64::try_from(expected) {
                Ok(v) => Value::Int(v),
                Err(_) => Value::Decimal(Decimal::parse(&expected.to_string()).unwrap()),
            };
            prop_assert_eq!(got, want, "{}", text);
            Ok(())
        };
        check("a + b", i128::from(a) + i128::from(b))?;
        check("a - b", i128::from(a) - i128::from(b))?;
        check("a * b", i128::from(a) * i128::from(b))?;
        if b != 0 {
            check("a % b", i128::from(a) % i128::from(b))?;
        }
    }

    #[test]
    fn numbers_compare_alike_however_written(a: i64, b: i64) {
        let forms = |n: i64| vec![
            Value::Int(n),
            Value::Decimal(Decimal::parse(&format!("{n}.00")).unwrap()),
            Value::Text(n.to_string()),
        ];
        for x in forms(a) {
            for y in forms(b) {
                if matches!((&x, &y), (Value::Text(_), Value::Text(_))) {
                    continue; // text with text compares as text
                }
                let row = [x.clone(), y.clone(), Value::Null];
                prop_assert_eq!(eval("a < b", &row).unwrap(), Value::Bool(a < b));
                prop_assert_eq!(eval("a = b", &row).unwrap(), Value::Bool(a == b));
            }
        }
    }

    #[test]
    fn like_matches_the_reference(text in "[ab%_]{0,8}", pattern in "[ab%_\\\\]{0,6}") {
        if let Ok(compiled) = LikePattern::compile(&pattern, Some('\\'), false) {
            let t: Vec<char> = text.chars().collect();
            let p: Vec<char> = pattern.chars().collect();
            prop_assert_eq!(compiled.matches(&text), like_reference(&t, &p), "{:?} LIKE {:?}", text, pattern);
        }
    }

    #[test]
    fn value_map_keys_are_the_canonical_text(n: i64) {
        let map = ValueMap::new("m", vec![(n.to_string(), Value::Bool(true))], Unmapped::Error);
        prop_assert_eq!(map.get(&Value::Int(n)).unwrap(), Value::Bool(true));
        prop_assert_eq!(map.get(&Value::Text(n.to_string())).unwrap(), Value::Bool(true));
        prop_assert_eq!(map.get(&Value::Decimal(Decimal::parse(&n.to_string()).unwrap())).unwrap(), Value::Bool(true));
        if n >= 0 {
            prop_assert_eq!(map.get(&Value::UInt(n as u64)).unwrap(), Value::Bool(true));
        }
    }

    #[test]
    fn temporal_text_round_trips(date in civil().prop_filter("valid", |d| {
        !d.is_zero_date() && d.month <= 12 && d.day <= super::temporal::days_in_month(d.year, d.month)
            && (-9999..=9999).contains(&d.year)
    }), time in 0..TimeOfDay::MAX_MICROS, micros in -200_000_000_000_000_000i64..200_000_000_000_000_000) {
        let d = Value::Date(Date::Civil(date));
        prop_assert_eq!(eval("CAST(CAST(a AS text) AS date)", std::slice::from_ref(&d)).unwrap(), d);
        let ts = Value::Timestamp(Timestamp::Civil { date, time: TimeOfDay(time) });
        prop_assert_eq!(eval("CAST(CAST(a AS text) AS timestamp)", std::slice::from_ref(&ts)).unwrap(), ts);
        let tz = Value::TimestampTz(TimestampTz::Micros(micros));
        if let Ok(back) = eval("CAST(CAST(a AS text) AS timestamptz)", std::slice::from_ref(&tz)) {
            prop_assert_eq!(back, tz);
        }
    }
}
