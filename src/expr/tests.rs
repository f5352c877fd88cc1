//! Unit tests of the expression language: parsing, every operator,
//! function and cast, the NULL, comparison and numeric rules, canonical
//! text, value maps, binding, and error messages (which name things and
//! never carry values).

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{BitString, CivilDate, Date, Decimal, Interval, TimeOfDay, Timestamp, TimestampTz, Value};

use super::tree::Func;
use super::*;

// ---------------------------------------------------------------- helpers

const COMMIT: i64 = 1_704_153_600_000_000; // 2024-01-02 00:00:00 UTC

fn context<'a>(
    current: Option<&'a [Value]>,
    before: Option<&'a [Value]>,
    after: Option<&'a [Value]>,
) -> EvalContext<'a> {
    EvalContext { current, before, after, commit_time_micros: COMMIT, source: "shop", table: "public.orders" }
}

fn no_maps() -> MapSet {
    HashMap::new()
}

/// Binds `text` against columns named `names` (index = position).
fn bind_with(text: &str, names: &[&str], maps: &MapSet) -> Result<Bound, ExprError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    Expression::parse(text)?.bind(&|c: &ColumnRef| names.iter().position(|n| *n == c.name), maps)
}

/// Evaluates `text` against one current row given as (name, value) pairs.
fn eval_row(text: &str, row: &[(&str, Value)]) -> Result<Value, EvalError> {
    let names: Vec<&str> = row.iter().map(|(n, _)| *n).collect();
    let values: Vec<Value> = row.iter().map(|(_, v)| v.clone()).collect();
    let bound = bind_with(text, &names, &no_maps()).unwrap_or_else(|e| panic!("{text}: {e}"));
    bound.eval(&context(Some(&values), None, None))
}

fn ev(text: &str) -> Value {
    eval_row(text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn ev_err(text: &str) -> String {
    match eval_row(text, &[]) {
        Ok(v) => panic!("{text}: expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn parse_err(text: &str) -> String {
    match Expression::parse(text) {
        Ok(_) => panic!("{text}: expected a parse error"),
        Err(e) => e.to_string(),
    }
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::parse(s).unwrap())
}

fn date(y: i32, m: u8, d: u8) -> CivilDate {
    CivilDate { year: y, month: m, day: d }
}

fn ts(y: i32, mo: u8, d: u8, h: u64, mi: u64, s: u64) -> Value {
    Value::Timestamp(Timestamp::Civil { date: date(y, mo, d), time: TimeOfDay(((h * 60 + mi) * 60 + s) * 1_000_000) })
}

fn tstz(micros: i64) -> Value {
    Value::TimestampTz(TimestampTz::Micros(micros))
}

fn t(b: bool) -> Value {
    Value::Bool(b)
}

// ---------------------------------------------------------------- parsing

#[test]
fn identifiers_quoted_backticked_and_qualified() {
    let e = Expression::parse(r#""Order" + `total` + before.x + AFTER.y + z"#).unwrap();
    assert_eq!(
        e.columns(),
        vec![
            ColumnRef { image: Image::Current, name: "Order".into() },
            ColumnRef { image: Image::Current, name: "total".into() },
            ColumnRef { image: Image::Before, name: "x".into() },
            ColumnRef { image: Image::After, name: "y".into() },
            ColumnRef { image: Image::Current, name: "z".into() },
        ]
    );
    assert!(parse_err("orders.total").contains("write before.total or after.total"));
    assert!(parse_err("a.b.c").contains("not a column reference"));
}

#[test]
fn columns_are_distinct_in_order_of_first_appearance() {
    let e = Expression::parse("b + a + b + before.a + a").unwrap();
    let names: Vec<String> = e.columns().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["b", "a", "before.a"]);
}

#[test]
fn as_column_recognises_a_lone_column() {
    let e = Expression::parse("(status)").unwrap();
    assert_eq!(e.as_column(), Some(&ColumnRef { image: Image::Current, name: "status".into() }));
    assert_eq!(Expression::parse("\"Status\"").unwrap().as_column().unwrap().name, "Status");
    assert_eq!(Expression::parse("after.status").unwrap().as_column().unwrap().image, Image::After);
    assert!(Expression::parse("status || ''").unwrap().as_column().is_none());
    assert!(Expression::parse("upper(status)").unwrap().as_column().is_none());
    assert_eq!(Expression::parse(" status ").unwrap().text(), " status ");
}

#[test]
fn syntax_errors_and_unsupported_constructs() {
    assert!(parse_err("").contains("empty"));
    assert!(parse_err("   ").contains("empty"));
    assert!(parse_err("a +").starts_with("syntax error"));
    assert!(parse_err("a b").contains("after the end of the expression"));
    assert!(parse_err("a; b").contains("after the end"));
    assert!(parse_err("x IN (SELECT 1)").contains("IN takes a list"));
    assert!(parse_err("(SELECT 1)").contains("subqueries"));
    assert!(parse_err("a & b").contains("operator"));
    assert!(parse_err("TRY_CAST(a AS int)").contains("CAST"));
    assert!(parse_err("count(*)").contains("unknown function count()"));
    assert!(parse_err("upper(a) OVER ()").contains("window"));
    assert!(parse_err("CAST(a AS geometry)").contains("not supported"));
    assert!(parse_err("$1 + a").contains("not supported") || parse_err("$1 + a").contains("placeholder"));
    assert!(parse_err("'abc").starts_with("syntax error"));
}

#[test]
fn limits_on_size_and_depth_are_errors() {
    let long = vec!["a"; 10_000].join("+");
    assert!(parse_err(&long).contains("longer than"));
    let deep_but_short = vec!["a"; 150].join("+");
    assert!(parse_err(&deep_but_short).contains("nested more than 100 levels"));
    // Just below the limit: parses, binds and evaluates.
    let deep = vec!["a"; 99].join("+");
    assert_eq!(eval_row(&deep, &[("a", int(1))]).unwrap(), int(99));
    let nested = format!("{}a{}", "upper(".repeat(45), ")".repeat(45));
    assert_eq!(eval_row(&nested, &[("a", text("x"))]).unwrap(), text("X"));
    let parens = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(parse_err(&parens).contains("nested"));
    // AND/OR chains are flattened and do not count as depth.
    let ors = (0..500).map(|i| format!("a = {i}")).collect::<Vec<_>>().join(" OR ");
    assert_eq!(eval_row(&ors, &[("a", int(499))]).unwrap(), t(true));
}

#[test]
fn non_deterministic_functions_are_refused_pointing_to_commit_time() {
    for f in ["now()", "NOW()", "current_timestamp", "CURRENT_DATE", "random()", "uuid()", "sysdate()", "rand()"] {
        let message = parse_err(f);
        assert!(message.contains("deterministic"), "{f}: {message}");
        assert!(message.contains("commit_time()"), "{f}: {message}");
    }
    assert!(matches!(Expression::parse("gen_random_uuid()"), Err(ExprError::NonDeterministic { .. })));
}

#[test]
fn unknown_functions_are_named_with_the_known_ones() {
    let message = parse_err("frobnicate(a)");
    assert!(message.starts_with("unknown function frobnicate()"), "{message}");
    for known in ["coalesce", "upper", "date_trunc", "map", "lookup", "commit_time", "round", "extract"] {
        assert!(message.contains(known), "{message} lacks {known}");
    }
}

#[test]
fn wrong_arity_is_a_parse_error() {
    assert_eq!(parse_err("upper(a, b)"), "upper() takes 1 argument, not 2");
    assert_eq!(parse_err("round()"), "round() takes 1 or 2 arguments, not 0");
    assert_eq!(parse_err("replace(a, b)"), "replace() takes 3 arguments, not 2");
    assert_eq!(parse_err("coalesce()"), "coalesce() takes at least 1 argument, not 0");
    assert_eq!(parse_err("commit_time(1)"), "commit_time() takes 0 arguments, not 1");
    assert_eq!(parse_err("map(m)"), "map() takes 2 arguments, not 1");
    assert!(matches!(Expression::parse("nullif(a)"), Err(ExprError::Arity { given: 1, .. })));
}

#[test]
fn constant_sub_expressions_are_folded_at_parse_time() {
    let e = Expression::parse("a + (2 * 3)").unwrap();
    let mut literals = Vec::new();
    e.root.walk(&mut |n| {
        if let Node::Literal(v) = n {
            literals.push(v.clone());
        }
    });
    assert_eq!(literals, vec![int(6)]);
    // A constant that fails is left to fail per row, where it may never run.
    assert_eq!(eval_row("CASE WHEN a > 0 THEN 1/0 ELSE 1 END", &[("a", int(0))]).unwrap(), int(1));
    assert!(
        eval_row("CASE WHEN a > 0 THEN 1/0 ELSE 1 END", &[("a", int(1))])
            .unwrap_err()
            .to_string()
            .contains("division by zero")
    );
}

// ---------------------------------------------------------------- literals

#[test]
fn literals() {
    assert_eq!(ev("42"), int(42));
    assert_eq!(ev("-42"), int(-42));
    assert_eq!(ev("9223372036854775807"), int(i64::MAX));
    assert_eq!(ev("-9223372036854775808"), int(i64::MIN));
    assert_eq!(ev("9223372036854775808"), Value::UInt(9_223_372_036_854_775_808));
    assert_eq!(ev("18446744073709551615"), Value::UInt(u64::MAX));
    assert_eq!(ev("18446744073709551616"), dec("18446744073709551616"));
    assert_eq!(ev("12.50"), dec("12.50"));
    assert_eq!(ev("-0.5"), dec("-0.5"));
    assert_eq!(ev("1e3"), dec("1000"));
    assert_eq!(ev("1.5e-3"), dec("0.0015"));
    assert_eq!(ev("'it''s'"), text("it's"));
    assert_eq!(ev("E'a\\nb'"), text("a\nb"));
    assert_eq!(ev("TRUE"), t(true));
    assert_eq!(ev("false"), t(false));
    assert_eq!(ev("NULL"), Value::Null);
    assert_eq!(ev("X'0aFF'"), Value::Bytes(vec![0x0a, 0xff]));
    assert_eq!(ev("DATE '2024-01-02'"), Value::Date(Date::Civil(date(2024, 1, 2))));
    assert_eq!(ev("TIMESTAMP '2024-01-02 10:11:12'"), ts(2024, 1, 2, 10, 11, 12));
    assert_eq!(ev("TIMESTAMPTZ '2024-01-02 01:00:00+01'"), tstz(COMMIT));
    assert!(parse_err("DATE '2024-02-30'").contains("invalid DATE literal"));
    assert!(parse_err("X'0'").contains("even number"));
}

// ---------------------------------------------------------------- numbers

#[test]
fn integer_arithmetic_is_exact_and_overflow_promotes() {
    assert_eq!(ev("2 + 3 * 4"), int(14));
    assert_eq!(ev("7 - 10"), int(-3));
    assert_eq!(ev("7 % 3"), int(1));
    assert_eq!(ev("-7 % 3"), int(-1));
    assert_eq!(ev("7 % -3"), int(1));
    assert_eq!(ev("mod(-7, 3)"), int(-1));
    // i64 overflow: an exact decimal, never a wrap-around.
    assert_eq!(ev("9223372036854775807 + 1"), dec("9223372036854775808"));
    assert_eq!(ev("-9223372036854775808 - 1"), dec("-9223372036854775809"));
    assert_eq!(ev("9223372036854775807 * 9223372036854775807"), dec("85070591730234615847396907784232501249"));
    assert_eq!(ev("170141183460469231731687303715884105727 * 10"), dec("1701411834604692317316873037158841057270"));
    // Unsigned: stays unsigned within u64.
    let max = Value::UInt(u64::MAX);
    assert_eq!(eval_row("u + 0", &[("u", max.clone())]).unwrap(), max);
    assert_eq!(eval_row("u - 1", &[("u", max.clone())]).unwrap(), Value::UInt(u64::MAX - 1));
    assert_eq!(eval_row("u + 1", &[("u", max.clone())]).unwrap(), dec("18446744073709551616"));
    assert_eq!(eval_row("u * 2", &[("u", max.clone())]).unwrap(), dec("36893488147419103230"));
    assert_eq!(eval_row("u - u", &[("u", max)]).unwrap(), int(0));
    assert_eq!(eval_row("y + 1", &[("y", Value::Year(2024))]).unwrap(), int(2025));
}

#[test]
fn decimal_arithmetic_is_exact_and_keeps_scale() {
    assert_eq!(ev("12.50 + 1"), dec("13.50"));
    assert_eq!(ev("1.5 + 1.25"), dec("2.75"));
    assert_eq!(ev("1.50 * 2"), dec("3.00"));
    assert_eq!(ev("0.1 + 0.2"), dec("0.3"));
    assert_eq!(ev("0.1 * 0.2"), dec("0.02"));
    assert_eq!(ev("5.5 % 2"), dec("1.5"));
    assert_eq!(ev("-(1.50)"), dec("-1.50"));
    // Beyond 28 digits: DECIMAL(65,30).
    let big = "12345678901234567890123456789012345.123456789012345678901234567890";
    let row = [("d", dec(big))];
    assert_eq!(eval_row("d + 0", &row).unwrap(), dec(big));
    assert_eq!(
        eval_row("d + 0.000000000000000000000000000001", &row).unwrap(),
        dec("12345678901234567890123456789012345.123456789012345678901234567891")
    );
    assert_eq!(
        eval_row("d * 2", &row).unwrap(),
        dec("24691357802469135780246913578024690.246913578024691357802469135780")
    );
    assert_eq!(eval_row("d - d", &row).unwrap(), dec("0.000000000000000000000000000000"));
    // A quotient loses trailing zeros.
    assert_eq!(
        eval_row("d / 1", &row).unwrap(),
        dec("12345678901234567890123456789012345.12345678901234567890123456789")
    );
    assert_eq!(
        eval_row("d > 12345678901234567890123456789012345.12345678901234567890123456788", &row).unwrap(),
        t(true)
    );
    assert_eq!(
        eval_row("d = 12345678901234567890123456789012345.12345678901234567890123456789", &row).unwrap(),
        t(true)
    );
    assert_eq!(eval_row("d % 10", &row).unwrap(), dec("5.123456789012345678901234567890"));
}

#[test]
fn division_is_exact_or_rounded_to_20_digits() {
    assert_eq!(ev("10 / 2"), dec("5"));
    assert_eq!(ev("7 / 2"), dec("3.5"));
    assert_eq!(ev("1 / 8"), dec("0.125"));
    assert_eq!(ev("1 / 3"), dec("0.33333333333333333333"));
    assert_eq!(ev("2 / 3"), dec("0.66666666666666666667"));
    assert_eq!(ev("-2 / 3"), dec("-0.66666666666666666667"));
    assert_eq!(ev("2 / -3"), dec("-0.66666666666666666667"));
    assert_eq!(ev("1.50 / 1"), dec("1.5"));
    assert_eq!(ev("1 / 1024"), dec("0.0009765625"));
    assert_eq!(ev("12345 / 100"), dec("123.45"));
    // A terminating quotient is exact however long it is.
    assert_eq!(ev("1 / 1099511627776"), dec("0.0000000000009094947017729282379150390625"));
    // An operand scale above 20 is kept.
    assert_eq!(ev("1.0000000000000000000000000 / 3"), dec("0.3333333333333333333333333"));
    // Big operands.
    assert_eq!(
        ev("100000000000000000000000000000000000000000 / 3"),
        dec("33333333333333333333333333333333333333333.33333333333333333333")
    );
    assert!(ev_err("1 / 0").contains("operator /: division by zero"));
    assert!(ev_err("1.5 / 0.0").contains("division by zero"));
    assert!(ev_err("1 % 0").contains("operator %: division by zero"));
    assert!(ev_err("mod(1, 0)").contains("mod(): division by zero"));
}

#[test]
fn floats_make_float_results() {
    let row = [("f", Value::Float64(1.5)), ("r", Value::Float32(0.1))];
    assert_eq!(eval_row("f + 1", &row).unwrap(), Value::Float64(2.5));
    assert_eq!(eval_row("f * 2.5", &row).unwrap(), Value::Float64(3.75));
    assert_eq!(eval_row("f / 2", &row).unwrap(), Value::Float64(0.75));
    // A Float32 widens through its shortest text.
    assert_eq!(eval_row("r + 0", &row).unwrap(), Value::Float64(0.1));
    assert_eq!(eval_row("r = 0.1", &row).unwrap(), t(true));
    assert!(eval_row("f / 0", &row).unwrap_err().to_string().contains("division by zero"));
    let huge = [("f", Value::Float64(1e308))];
    assert!(eval_row("f * 10", &huge).unwrap_err().to_string().contains("floating-point range"));
    assert_eq!(eval_row("-f", &row).unwrap(), Value::Float64(-1.5));
}

#[test]
fn text_operands_of_arithmetic_must_be_numbers() {
    assert_eq!(ev("'5' + 1"), int(6));
    assert_eq!(ev("' 2.5 ' * 2"), dec("5.0"));
    assert!(ev_err("'five' + 1").contains("operator +: a text operand is not a number"));
    assert!(ev_err("TRUE + 1").contains("cannot use a bool value as a number"));
    assert!(eval_row("u + 1", &[("u", Value::Uuid([0; 16]))]).unwrap_err().to_string().contains("uuid"));
    assert!(eval_row("d + 1", &[("d", dec("NaN"))]).unwrap_err().to_string().contains("NaN"));
}

#[test]
fn unary_minus() {
    assert_eq!(ev("-(5)"), int(-5));
    assert_eq!(ev("- -5"), int(5));
    assert_eq!(eval_row("-x", &[("x", int(i64::MIN))]).unwrap(), dec("9223372036854775808"));
    assert_eq!(eval_row("-x", &[("x", Value::UInt(u64::MAX))]).unwrap(), dec("-18446744073709551615"));
    assert_eq!(eval_row("-x", &[("x", dec("0.00"))]).unwrap(), dec("0.00"));
    assert_eq!(eval_row("-x", &[("x", Value::Null)]).unwrap(), Value::Null);
    assert!(ev_err("-'abc'").contains("unary -"));
}

#[test]
fn numeric_functions() {
    assert_eq!(ev("abs(-5)"), int(5));
    assert_eq!(ev("abs(-5.50)"), dec("5.50"));
    assert_eq!(eval_row("abs(x)", &[("x", int(i64::MIN))]).unwrap(), dec("9223372036854775808"));
    assert_eq!(eval_row("abs(x)", &[("x", Value::Float64(-2.5))]).unwrap(), Value::Float64(2.5));
    assert_eq!(ev("round(2.5)"), dec("3"));
    assert_eq!(ev("round(-2.5)"), dec("-3"));
    assert_eq!(ev("round(2.4)"), dec("2"));
    assert_eq!(ev("round(1.005, 2)"), dec("1.01"));
    assert_eq!(ev("round(-1.005, 2)"), dec("-1.01"));
    assert_eq!(ev("round(1.2, 3)"), dec("1.200"));
    assert_eq!(ev("round(1250, -2)"), int(1300));
    assert_eq!(ev("round(-1250, -2)"), int(-1300));
    assert_eq!(ev("round(1249.99, -2)"), dec("1200"));
    assert_eq!(ev("round(7)"), int(7));
    assert_eq!(eval_row("round(x)", &[("x", Value::Float64(2.5))]).unwrap(), Value::Float64(3.0));
    assert_eq!(eval_row("round(x, 1)", &[("x", Value::Float64(2.25))]).unwrap(), Value::Float64(2.3));
    assert_eq!(
        ev("round(12345678901234567890123456789012345.123456789012345678901234567895, 29)"),
        dec("12345678901234567890123456789012345.12345678901234567890123456790")
    );
    assert!(ev_err("round(1.5, 1.5)").contains("round(): the number of digits must be an integer"));
    assert!(ev_err("round(1.5, 5000)").contains("round()"));
    assert_eq!(ev("floor(2.7)"), dec("2"));
    assert_eq!(ev("floor(-2.1)"), dec("-3"));
    assert_eq!(ev("ceil(2.1)"), dec("3"));
    assert_eq!(ev("ceiling(-2.7)"), dec("-2"));
    assert_eq!(ev("ceil(5)"), int(5));
    assert_eq!(eval_row("floor(x)", &[("x", Value::Float64(-0.5))]).unwrap(), Value::Float64(-1.0));
    assert_eq!(ev("mod(10, 4)"), int(2));
    assert_eq!(ev("mod(10.5, 4)"), dec("2.5"));
}

// ---------------------------------------------------------------- comparisons

#[test]
fn comparison_operators() {
    assert_eq!(ev("1 = 1"), t(true));
    assert_eq!(ev("1 <> 1"), t(false));
    assert_eq!(ev("1 != 2"), t(true));
    assert_eq!(ev("1 < 2"), t(true));
    assert_eq!(ev("2 <= 2"), t(true));
    assert_eq!(ev("3 > 2"), t(true));
    assert_eq!(ev("2 >= 3"), t(false));
    assert_eq!(ev("NULL = NULL"), Value::Null);
    assert_eq!(ev("1 < NULL"), Value::Null);
}

#[test]
fn numbers_compare_exactly_across_kinds() {
    let row = [
        ("i", int(5)),
        ("u", Value::UInt(5)),
        ("d", dec("5.00")),
        ("f", Value::Float64(5.0)),
        ("umax", Value::UInt(u64::MAX)),
        ("y", Value::Year(2024)),
    ];
    for expr in ["i = u", "i = d", "u = d", "d = f", "i = f", "i = 5.0", "umax = 18446744073709551615", "y = 2024"] {
        assert_eq!(eval_row(expr, &row).unwrap(), t(true), "{expr}");
    }
    assert_eq!(eval_row("umax > 18446744073709551614.9999999999999999999999", &row).unwrap(), t(true));
    assert_eq!(eval_row("umax > i", &row).unwrap(), t(true));
    assert_eq!(eval_row("i < 5.0000000000000000000000000000001", &row).unwrap(), t(true));
    assert_eq!(eval_row("0.1 + 0.2 = 0.3", &row).unwrap(), t(true));
}

#[test]
fn float_and_numeric_specials_order_like_postgresql() {
    let row = [
        ("nan", Value::Float64(f64::NAN)),
        ("inf", Value::Float64(f64::INFINITY)),
        ("dnan", dec("NaN")),
        ("dinf", dec("Infinity")),
        ("dninf", dec("-Infinity")),
    ];
    for expr in ["nan = nan", "nan > inf", "inf > 1e300", "dnan = nan", "dinf = inf", "dninf < -1", "dnan > dinf"] {
        assert_eq!(eval_row(expr, &row).unwrap(), t(true), "{expr}");
    }
}

#[test]
fn text_compares_as_text_and_against_numbers_as_numbers() {
    assert_eq!(ev("'abc' < 'abd'"), t(true));
    assert_eq!(ev("'B' < 'a'"), t(true)); // byte order, no collation
    assert_eq!(ev("'é' > 'z'"), t(true));
    assert_eq!(ev("'10' = 10"), t(true));
    assert_eq!(ev("'10.0' = 10"), t(true));
    assert_eq!(ev("' 10 ' = 10"), t(true));
    assert_eq!(ev("'9' < 10"), t(true)); // as numbers, not as text
    assert_eq!(eval_row("s = 10", &[("s", text("10"))]).unwrap(), t(true));
    let message = eval_row("s = 10", &[("s", text("ten"))]).unwrap_err().to_string();
    assert!(message.starts_with("operator =: a text operand is not a number"), "{message}");
    assert!(!message.contains("ten"));
    let row = [
        ("e", Value::Enum("paid".into())),
        ("set", Value::Set(vec!["a".into(), "b".into()])),
        ("j", Value::Json("{\"a\":1}".into())),
    ];
    assert_eq!(eval_row("e = 'paid'", &row).unwrap(), t(true));
    assert_eq!(eval_row("set = 'a,b'", &row).unwrap(), t(true));
    assert_eq!(eval_row("j = '{\"a\":1}'", &row).unwrap(), t(true));
    assert_eq!(eval_row("e IN ('new', 'paid')", &row).unwrap(), t(true));
    assert!(eval_row("e = 1", &row).unwrap_err().to_string().contains("cannot compare a enum with a int"));
}

#[test]
fn uuid_bool_year_and_bits_comparisons() {
    let u = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
    let row = [
        ("u", Value::Uuid(u)),
        ("b", t(true)),
        ("tiny", int(1)),
        ("bits", Value::Bits(BitString::from_text("101").unwrap())),
    ];
    assert_eq!(eval_row("u = '12345678-9abc-def0-1234-56789abcdef0'", &row).unwrap(), t(true));
    assert_eq!(eval_row("u = '123456789ABCDEF0123456789ABCDEF0'", &row).unwrap(), t(true));
    assert_eq!(eval_row("u = CAST('12345678-9abc-def0-1234-56789abcdef0' AS uuid)", &row).unwrap(), t(true));
    assert!(eval_row("u = 'nope'", &row).unwrap_err().to_string().contains("not a valid uuid"));
    assert_eq!(eval_row("b = 1", &row).unwrap(), t(true));
    assert_eq!(eval_row("b = tiny", &row).unwrap(), t(true));
    assert_eq!(eval_row("b = 0", &row).unwrap(), t(false));
    assert_eq!(eval_row("b = 'true'", &row).unwrap(), t(true));
    assert_eq!(eval_row("b = TRUE", &row).unwrap(), t(true));
    assert_eq!(eval_row("bits = '101'", &row).unwrap(), t(true));
    assert!(eval_row("u = 1", &row).unwrap_err().to_string().contains("cannot compare"));
}

#[test]
fn temporal_comparisons() {
    let row = [
        ("d", Value::Date(Date::Civil(date(2024, 1, 2)))),
        ("ts", ts(2024, 1, 2, 0, 0, 0)),
        ("later", ts(2024, 1, 2, 10, 0, 0)),
        ("tz", tstz(COMMIT)),
        ("tm", Value::Time(TimeOfDay(3_600_000_000))),
        ("dur", Value::Duration(3_600_000_000)),
        ("inf", Value::Date(Date::PosInfinity)),
    ];
    assert_eq!(eval_row("d = ts", &row).unwrap(), t(true));
    assert_eq!(eval_row("d < later", &row).unwrap(), t(true));
    assert_eq!(eval_row("later > '2024-01-02 09:59:59.999999'", &row).unwrap(), t(true));
    assert_eq!(eval_row("d = '2024-01-02'", &row).unwrap(), t(true));
    assert_eq!(eval_row("d >= DATE '2024-01-01'", &row).unwrap(), t(true));
    assert_eq!(eval_row("tz = '2024-01-02 00:00:00'", &row).unwrap(), t(true)); // UTC when no offset
    assert_eq!(eval_row("tz = '2024-01-02T02:00:00+02:00'", &row).unwrap(), t(true));
    assert_eq!(eval_row("tz = commit_time()", &row).unwrap(), t(true));
    assert_eq!(eval_row("tm = dur", &row).unwrap(), t(true));
    assert_eq!(eval_row("tm = '01:00'", &row).unwrap(), t(true));
    assert_eq!(eval_row("dur = '1:00:00'", &row).unwrap(), t(true));
    assert_eq!(eval_row("inf > d", &row).unwrap(), t(true));
    let message = eval_row("ts = tz", &row).unwrap_err().to_string();
    assert!(message.contains("cannot compare a timestamp with a timestamptz: cast one side"), "{message}");
    assert!(eval_row("d < tz", &row).unwrap_err().to_string().contains("cast one side"));
    assert!(eval_row("d = '2024-01-02 10:00'", &row).unwrap_err().to_string().contains("not a valid date"));
    assert!(eval_row("ts = '2024-01-02 00:00:00+01'", &row).unwrap_err().to_string().contains("not a valid timestamp"));
}

#[test]
fn intervals_timetz_bytes_and_arrays_compare() {
    let row = [
        ("month", Value::Interval(Interval { months: 1, days: 0, micros: 0 })),
        ("days30", Value::Interval(Interval { months: 0, days: 30, micros: 0 })),
        ("a", Value::TimeTz(TimeOfDay(3_600_000_000), 3600)),
        ("b", Value::TimeTz(TimeOfDay(0), 0)),
        ("x", Value::Bytes(vec![1, 2])),
        ("y", Value::Bytes(vec![1, 3])),
        ("arr", Value::Array(vec![int(1), int(2)])),
        ("arr2", Value::Array(vec![int(1), int(3)])),
        ("arrnull", Value::Array(vec![Value::Null])),
    ];
    assert_eq!(eval_row("month = days30", &row).unwrap(), t(true));
    assert_eq!(eval_row("a > b", &row).unwrap(), t(true)); // same UTC instant, larger offset
    assert_eq!(eval_row("x < y", &row).unwrap(), t(true));
    assert_eq!(eval_row("arr < arr2", &row).unwrap(), t(true));
    assert_eq!(eval_row("arr = arr", &row).unwrap(), t(true));
    assert_eq!(eval_row("arrnull = arrnull", &row).unwrap(), Value::Null);
}

// ---------------------------------------------------------------- logic and predicates

#[test]
fn three_valued_logic() {
    let cases = [
        ("TRUE AND TRUE", t(true)),
        ("TRUE AND FALSE", t(false)),
        ("NULL AND FALSE", t(false)),
        ("FALSE AND NULL", t(false)),
        ("NULL AND TRUE", Value::Null),
        ("NULL OR TRUE", t(true)),
        ("FALSE OR NULL", Value::Null),
        ("FALSE OR FALSE", t(false)),
        ("NOT NULL", Value::Null),
        ("NOT FALSE", t(true)),
        ("NULL IS NULL", t(true)),
        ("1 IS NOT NULL", t(true)),
        ("NULL IS UNKNOWN", t(true)),
        ("TRUE IS TRUE", t(true)),
        ("NULL IS NOT TRUE", t(true)),
        ("NULL IS FALSE", t(false)),
        ("FALSE IS NOT FALSE", t(false)),
    ];
    for (expr, expected) in cases {
        let row = [("n", Value::Null)];
        // Through a column too, so folding is not what is tested.
        assert_eq!(ev(expr), expected, "{expr}");
        if !expr.contains(" IS ") {
            let via_column = expr.replace("NULL", "n");
            assert_eq!(eval_row(&via_column, &row).unwrap(), expected, "{via_column}");
        }
    }
    assert!(
        eval_row("x AND TRUE", &[("x", int(1))])
            .unwrap_err()
            .to_string()
            .starts_with("AND: the operand is not boolean")
    );
    assert!(eval_row("NOT x", &[("x", text("t"))]).unwrap_err().to_string().starts_with("NOT:"));
}

#[test]
fn and_or_short_circuit() {
    let row = [("x", int(0))];
    assert_eq!(eval_row("x <> 0 AND 10 / x > 1", &row).unwrap(), t(false));
    assert_eq!(eval_row("x = 0 OR 10 / x > 1", &row).unwrap(), t(true));
    assert_eq!(eval_row("coalesce(x, 1 / x)", &row).unwrap(), int(0));
}

#[test]
fn distinct_from() {
    let cases = [
        ("NULL IS DISTINCT FROM NULL", false),
        ("NULL IS DISTINCT FROM 1", true),
        ("1 IS DISTINCT FROM 1", false),
        ("1 IS DISTINCT FROM 1.0", false),
        ("'a' IS NOT DISTINCT FROM 'a'", true),
        ("NULL IS NOT DISTINCT FROM NULL", true),
        ("NULL <=> NULL", true),
        ("1 <=> NULL", false),
    ];
    for (expr, expected) in cases {
        assert_eq!(ev(expr), t(expected), "{expr}");
    }
}

#[test]
fn transitions_read_before_and_after() {
    let expr = "before.status IS DISTINCT FROM 'approved' AND after.status = 'approved'";
    let bound = bind_with(expr, &["id", "status"], &no_maps()).unwrap();
    let old = [int(1), text("pending")];
    let new = [int(1), text("approved")];
    let update = context(Some(&new), Some(&old), Some(&new));
    assert!(bound.test(&update).unwrap());
    let insert = context(Some(&new), None, Some(&new));
    assert!(bound.test(&insert).unwrap());
    let again = context(Some(&new), Some(&new), Some(&new));
    assert!(!bound.test(&again).unwrap());
    let delete = context(Some(&old), Some(&old), None);
    assert!(!bound.test(&delete).unwrap());
    // The current image: whatever the engine passes (old for deletes).
    let current = bind_with("status", &["id", "status"], &no_maps()).unwrap();
    assert_eq!(current.eval(&delete).unwrap(), text("pending"));
    let after = bind_with("after.status", &["id", "status"], &no_maps()).unwrap();
    assert_eq!(after.eval(&delete).unwrap(), Value::Null);
}

#[test]
fn uncaptured_cells_are_errors_when_needed() {
    let bound = bind_with("coalesce(a, b)", &["a", "b"], &no_maps()).unwrap();
    let row = [int(1), Value::Unchanged];
    assert_eq!(bound.eval(&context(Some(&row), None, None)).unwrap(), int(1)); // b not needed
    let row = [Value::Null, Value::Unchanged];
    let error = bound.eval(&context(Some(&row), None, None)).unwrap_err();
    assert_eq!(error, EvalError::Uncaptured { column: "b".into() });
    let before = bind_with("before.b IS NULL", &["a", "b"], &no_maps()).unwrap();
    let error = before.eval(&context(Some(&row), Some(&row), None)).unwrap_err();
    assert_eq!(error.to_string(), "column before.b was not captured in this change (an unchanged TOAST value)");
    let short = bind_with("b", &["a", "b"], &no_maps()).unwrap();
    let one = [int(1)];
    assert!(short.eval(&context(Some(&one), None, None)).unwrap_err().to_string().starts_with("column b:"));
}

#[test]
fn in_lists_with_null_semantics() {
    let row = [("s", text("paid")), ("n", Value::Null), ("i", int(2))];
    let cases = [
        ("s IN ('paid', 'shipped')", t(true)),
        ("s IN ('new')", t(false)),
        ("s NOT IN ('new')", t(true)),
        ("s NOT IN ('paid')", t(false)),
        ("s IN ('new', NULL)", Value::Null),
        ("s NOT IN ('new', NULL)", Value::Null),
        ("s IN ('paid', NULL)", t(true)),
        ("n IN ('paid')", Value::Null),
        ("i IN (1, 2.0, 3)", t(true)),
        ("i IN ('1', '2')", t(true)),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval_row(expr, &row).unwrap(), expected, "{expr}");
    }
    assert!(eval_row("i IN ('x')", &row).unwrap_err().to_string().starts_with("IN:"));
}

#[test]
fn between() {
    let row = [("x", int(5)), ("n", Value::Null)];
    let cases = [
        ("x BETWEEN 1 AND 10", t(true)),
        ("x BETWEEN 5 AND 5", t(true)),
        ("x BETWEEN 6 AND 10", t(false)),
        ("x NOT BETWEEN 6 AND 10", t(true)),
        ("x BETWEEN n AND 10", Value::Null),
        ("x BETWEEN n AND 4", t(false)),
        ("n BETWEEN 1 AND 10", Value::Null),
        ("x BETWEEN 4.5 AND '5.5'", t(true)),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval_row(expr, &row).unwrap(), expected, "{expr}");
    }
}

#[test]
fn like_and_ilike() {
    let row = [("s", text("Hello_World 100%")), ("u", text("ünïcödé")), ("p", text("H%"))];
    let cases = [
        ("s LIKE 'Hello%'", true),
        ("s LIKE 'hello%'", false),
        ("s ILIKE 'hello%'", true),
        ("s NOT ILIKE 'hello%'", false),
        ("s LIKE '%World%'", true),
        ("s LIKE 'H_llo%'", true),
        ("s LIKE 'Hello\\_World%'", true),
        ("s LIKE 'Hello!_World%' ESCAPE '!'", true),
        ("s LIKE '%100!%' ESCAPE '!'", true),
        ("s LIKE '%100\\%'", true),
        ("s LIKE '%1_0%%'", true),
        ("s LIKE 'Hello'", false),
        ("s NOT LIKE 'x%'", true),
        ("s LIKE '%'", true),
        ("u LIKE '_n_c_d_'", true),
        ("u LIKE 'ü%é'", true),
        ("s LIKE p", true),
        ("'' LIKE '%'", true),
        ("'' LIKE '_'", false),
        ("'aaa' LIKE '%a%a%a%'", true),
        ("'aa' LIKE '%a%a%a%'", false),
        ("'abcabd' LIKE '%abd'", true),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval_row(expr, &row).unwrap(), t(expected), "{expr}");
    }
    assert_eq!(eval_row("NULL LIKE 'a'", &row).unwrap(), Value::Null);
    assert_eq!(eval_row("s LIKE NULL", &row).unwrap(), Value::Null);
    assert_eq!(eval_row("12345 LIKE '123%'", &row).unwrap(), t(true));
    assert!(parse_err("s LIKE 'abc\\'").contains("escape character"));
    assert!(parse_err("s LIKE 'a' ESCAPE 'ab'").contains("single character"));
}

#[test]
fn case_expressions() {
    let expr = "CASE status WHEN 1 THEN 'NEW' WHEN 2 THEN 'PAID' ELSE 'OTHER' END";
    assert_eq!(eval_row(expr, &[("status", int(1))]).unwrap(), text("NEW"));
    assert_eq!(eval_row(expr, &[("status", int(2))]).unwrap(), text("PAID"));
    assert_eq!(eval_row(expr, &[("status", int(9))]).unwrap(), text("OTHER"));
    assert_eq!(eval_row(expr, &[("status", Value::Null)]).unwrap(), text("OTHER"));
    let searched = "CASE WHEN amount > 100 THEN 'big' WHEN amount > 10 THEN 'medium' END";
    assert_eq!(eval_row(searched, &[("amount", dec("150.00"))]).unwrap(), text("big"));
    assert_eq!(eval_row(searched, &[("amount", dec("50"))]).unwrap(), text("medium"));
    assert_eq!(eval_row(searched, &[("amount", dec("5"))]).unwrap(), Value::Null);
    assert_eq!(eval_row(searched, &[("amount", Value::Null)]).unwrap(), Value::Null);
    let bad = eval_row("CASE WHEN amount THEN 1 END", &[("amount", int(1))]).unwrap_err().to_string();
    assert!(bad.starts_with("CASE WHEN: the operand is not boolean"), "{bad}");
}

// ---------------------------------------------------------------- text

#[test]
fn concatenation() {
    assert_eq!(ev("'a' || 'b' || 'c'"), text("abc"));
    assert_eq!(ev("'n' || 5 || 1.50"), text("n51.50"));
    assert_eq!(ev("'a' || NULL"), Value::Null);
    assert_eq!(ev("X'01' || X'02'"), Value::Bytes(vec![1, 2]));
    assert_eq!(ev("concat('a', NULL, 'b', 1)"), text("ab1"));
    assert_eq!(ev("concat(NULL)"), text(""));
}

#[test]
fn text_functions() {
    let cases = [
        ("upper('abc ß')", text("ABC SS")),
        ("lower('ÄBC')", text("äbc")),
        ("trim('  a b  ')", text("a b")),
        ("trim('\ta ')", text("\ta")),
        ("ltrim('  ab  ')", text("ab  ")),
        ("rtrim('  ab  ')", text("  ab")),
        ("trim('xxaxx', 'x')", text("a")),
        ("btrim('xyaxy', 'xy')", text("a")),
        ("ltrim('xxa', 'x')", text("a")),
        ("TRIM(BOTH 'x' FROM 'xxaxx')", text("a")),
        ("TRIM(LEADING 'x' FROM 'xxaxx')", text("axx")),
        ("TRIM(TRAILING 'x' FROM 'xxaxx')", text("xxa")),
        ("TRIM('  a  ')", text("a")),
        ("substring('hello', 2, 3)", text("ell")),
        ("substring('hello', 2)", text("ello")),
        ("SUBSTRING('hello' FROM 2 FOR 3)", text("ell")),
        ("SUBSTRING('hello' FROM 4)", text("lo")),
        ("substring('hello', 0, 2)", text("h")),
        ("substring('hello', -5, 10)", text("hell")),
        ("substring('hello', 10)", text("")),
        ("substr('héllo', 2, 2)", text("él")),
        ("replace('a-b-c', '-', '+')", text("a+b+c")),
        ("replace('abc', '', 'x')", text("abc")),
        ("lpad('5', 3, '0')", text("005")),
        ("lpad('hello', 3)", text("hel")),
        ("lpad('ab', 5)", text("   ab")),
        ("lpad('ab', 7, 'xy')", text("xyxyxab")),
        ("rpad('ab', 5, '.')", text("ab...")),
        ("rpad('ab', -1)", text("")),
        ("lpad('ab', 5, '')", text("ab")),
        ("length('héllo')", int(5)),
        ("char_length('')", int(0)),
        ("character_length('ab')", int(2)),
        ("octet_length('é')", int(2)),
        ("length(12345)", int(5)),
        ("left('hello', 2)", text("he")),
        ("left('hello', -2)", text("hel")),
        ("left('hello', 10)", text("hello")),
        ("right('hello', 2)", text("lo")),
        ("right('hello', -2)", text("llo")),
        ("right('hello', 10)", text("hello")),
        ("position('l' IN 'hello')", int(3)),
        ("position('z' IN 'hello')", int(0)),
        ("strpos('héllo', 'l')", int(3)),
        ("upper(NULL)", Value::Null),
        ("substring(NULL, 1)", Value::Null),
        ("lpad('a', NULL)", Value::Null),
    ];
    for (expr, expected) in cases {
        assert_eq!(ev(expr), expected, "{expr}");
    }
    assert_eq!(eval_row("length(b)", &[("b", Value::Bytes(vec![1, 2, 3]))]).unwrap(), int(3));
    assert!(ev_err("substring('abc', 1, -1)").starts_with("substring(): the length must not be negative"));
    assert!(ev_err("lpad('a', 100000000)").starts_with("lpad(): the length must not exceed"));
    assert!(ev_err("left('a', 'x')").starts_with("left(): the length must be an integer"));
}

#[test]
fn trim_on_text_that_needs_no_trim_is_not_copied() {
    let bound = bind_with("trim(name)", &["name"], &no_maps()).unwrap();
    let row = [text("clean")];
    assert_eq!(bound.eval(&context(Some(&row), None, None)).unwrap(), text("clean"));
}

#[test]
fn null_handling_functions() {
    assert_eq!(ev("coalesce(NULL, NULL, 3, 4)"), int(3));
    assert_eq!(ev("coalesce(NULL, NULL)"), Value::Null);
    assert_eq!(ev("nullif(1, 1)"), Value::Null);
    assert_eq!(ev("nullif(1, 2)"), int(1));
    assert_eq!(ev("nullif(NULL, 1)"), Value::Null);
    assert_eq!(ev("nullif('', '')"), Value::Null);
    assert_eq!(ev("greatest(1, 5.5, 3)"), dec("5.5"));
    assert_eq!(ev("greatest(1, NULL, 3)"), int(3));
    assert_eq!(ev("least(2, NULL, 1.5)"), dec("1.5"));
    assert_eq!(ev("least(NULL, NULL)"), Value::Null);
    assert_eq!(ev("greatest('b', 'a')"), text("b"));
    assert!(ev_err("greatest(1, 'x')").starts_with("greatest():"));
}

#[test]
fn context_functions() {
    assert_eq!(ev("commit_time()"), tstz(COMMIT));
    assert_eq!(ev("source_name()"), text("shop"));
    assert_eq!(ev("source_table()"), text("public.orders"));
    assert_eq!(ev("date_trunc('day', commit_time())"), tstz(COMMIT));
    // Never folded at parse time.
    let e = Expression::parse("commit_time()").unwrap();
    assert!(matches!(e.root, Node::Call(Func::CommitTime, _)));
}

// ---------------------------------------------------------------- dates

#[test]
fn date_trunc_units() {
    let row = [("ts", ts(2024, 5, 15, 13, 45, 30)), ("d", Value::Date(Date::Civil(date(2024, 5, 15))))];
    let cases = [
        ("date_trunc('year', ts)", ts(2024, 1, 1, 0, 0, 0)),
        ("date_trunc('quarter', ts)", ts(2024, 4, 1, 0, 0, 0)),
        ("date_trunc('month', ts)", ts(2024, 5, 1, 0, 0, 0)),
        ("date_trunc('week', ts)", ts(2024, 5, 13, 0, 0, 0)), // a Monday
        ("date_trunc('day', ts)", ts(2024, 5, 15, 0, 0, 0)),
        ("date_trunc('hour', ts)", ts(2024, 5, 15, 13, 0, 0)),
        ("date_trunc('minute', ts)", ts(2024, 5, 15, 13, 45, 0)),
        ("date_trunc('SECOND', ts)", ts(2024, 5, 15, 13, 45, 30)),
        ("date_trunc('month', d)", ts(2024, 5, 1, 0, 0, 0)),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval_row(expr, &row).unwrap(), expected, "{expr}");
    }
    let tz = [("tz", tstz(COMMIT + 3_600_000_000 * 5 + 123))];
    assert_eq!(eval_row("date_trunc('hour', tz)", &tz).unwrap(), tstz(COMMIT + 3_600_000_000 * 5));
    assert!(parse_err("date_trunc('decade', ts)").contains("date_trunc(): the first argument is a quoted unit"));
    assert!(parse_err("date_trunc(unit, ts)").contains("quoted unit"));
    assert!(
        eval_row("date_trunc('day', s)", &[("s", text("2024-01-01"))])
            .unwrap_err()
            .to_string()
            .contains("cast it first")
    );
    let zero = [("z", ts(0, 0, 0, 0, 0, 0))];
    assert!(eval_row("date_trunc('day', z)", &zero).unwrap_err().to_string().contains("zero date"));
}

#[test]
fn extract_and_date_part_fields() {
    let row = [
        ("ts", Value::Timestamp(Timestamp::Civil { date: date(2024, 5, 19), time: TimeOfDay(49_530_500_000) })),
        ("d", Value::Date(Date::Civil(date(2024, 12, 30)))),
    ];
    let cases = [
        ("extract(year FROM ts)", int(2024)),
        ("EXTRACT(QUARTER FROM ts)", int(2)),
        ("extract(month FROM ts)", int(5)),
        ("extract(day FROM ts)", int(19)),
        ("extract(hour FROM ts)", int(13)),
        ("extract(minute FROM ts)", int(45)),
        ("extract(second FROM ts)", dec("30.500000")),
        ("extract(dow FROM ts)", int(0)), // a Sunday
        ("extract(isodow FROM ts)", int(7)),
        ("extract(doy FROM ts)", int(140)),
        ("extract(week FROM ts)", int(20)),
        ("extract(epoch FROM ts)", dec("1716126330.500000")),
        ("date_part('year', ts)", int(2024)),
        ("date_part('doy', d)", int(365)),
        ("date_part('week', d)", int(1)), // ISO week 1 of 2025
        ("extract(epoch FROM d)", int(1_735_516_800)),
        ("extract('dow' FROM d)", int(1)),
        ("extract(epoch FROM commit_time())", dec("1704153600.000000")),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval_row(expr, &row).unwrap(), expected, "{expr}");
    }
    let other = [
        ("iv", Value::Interval(Interval { months: 14, days: 3, micros: 3_723_500_000 })),
        ("dur", Value::Duration(-(3_723_000_000))),
        ("tm", Value::Time(TimeOfDay(3_723_000_000))),
        ("y", Value::Year(1999)),
    ];
    let cases = [
        ("extract(year FROM iv)", int(1)),
        ("extract(month FROM iv)", int(2)),
        ("extract(day FROM iv)", int(3)),
        ("extract(hour FROM iv)", int(1)),
        ("extract(second FROM iv)", dec("3.500000")),
        ("extract(epoch FROM iv)", dec("37004523.500000")),
        ("extract(hour FROM dur)", int(-1)),
        ("extract(epoch FROM dur)", dec("-3723.000000")),
        ("extract(minute FROM tm)", int(2)),
        ("extract(year FROM y)", int(1999)),
    ];
    for (expr, expected) in cases {
        assert_eq!(eval_row(expr, &other).unwrap(), expected, "{expr}");
    }
    assert!(parse_err("extract(century FROM ts)").contains("unknown date/time field"));
    assert!(parse_err("date_part('fortnight', ts)").contains("the fields are"));
    assert!(eval_row("extract(hour FROM d)", &row).unwrap_err().to_string().contains("a date value has no field hour"));
    assert!(eval_row("extract(month FROM tm)", &other).unwrap_err().to_string().contains("no field month"));
}

// ---------------------------------------------------------------- casts

#[test]
fn cast_to_text() {
    assert_eq!(ev("CAST(42 AS text)"), text("42"));
    assert_eq!(ev("42::varchar(5)"), text("42"));
    assert_eq!(ev("CAST('abc' AS varchar(3))"), text("abc"));
    assert_eq!(ev("CAST('abc' AS char(3))"), text("abc"));
    assert_eq!(ev("CAST(1.50 AS text)"), text("1.50"));
    assert_eq!(ev("CAST(TRUE AS text)"), text("true"));
    assert_eq!(ev("CAST(NULL AS text)"), Value::Null);
    let message = eval_row("CAST(s AS varchar(3))", &[("s", text("abcd"))]).unwrap_err().to_string();
    assert_eq!(message, "CAST AS varchar(3): the value is longer than 3 characters (nothing is truncated)");
    assert_eq!(eval_row("CAST(s AS varchar(3))", &[("s", text("äöü"))]).unwrap(), text("äöü"));
}

#[test]
fn cast_to_integers() {
    let cases = [
        ("CAST('42' AS int)", int(42)),
        ("CAST(' -42 ' AS integer)", int(-42)),
        ("CAST(1.5 AS int)", int(2)),
        ("CAST(-2.5 AS bigint)", int(-3)),
        ("CAST(2.4 AS smallint)", int(2)),
        ("CAST(TRUE AS int)", int(1)),
        ("CAST(32767 AS smallint)", int(32767)),
        ("CAST(2147483647 AS int4)", int(2_147_483_647)),
        ("CAST(9223372036854775807 AS int8)", int(i64::MAX)),
        ("CAST('18446744073709551615' AS unsigned)", Value::UInt(u64::MAX)),
        ("CAST(5 AS UNSIGNED)", Value::UInt(5)),
        ("CAST(-5 AS SIGNED)", int(-5)),
        ("'7'::bigint", int(7)),
    ];
    for (expr, expected) in cases {
        assert_eq!(ev(expr), expected, "{expr}");
    }
    assert_eq!(eval_row("CAST(f AS int)", &[("f", Value::Float64(2.5))]).unwrap(), int(3));
    assert_eq!(eval_row("CAST(y AS int)", &[("y", Value::Year(2024))]).unwrap(), int(2024));
    for bad in [
        "CAST(32768 AS smallint)",
        "CAST(2147483648 AS int)",
        "CAST(9223372036854775808 AS bigint)",
        "CAST(-1 AS unsigned)",
        "CAST(18446744073709551616 AS unsigned)",
    ] {
        assert!(ev_err(bad).ends_with("the value is out of range"), "{bad}: {}", ev_err(bad));
    }
    assert_eq!(ev_err("CAST('1.5' AS int)"), "CAST AS integer: the text is not an integer");
    assert_eq!(ev_err("CAST('x' AS int)"), "CAST AS integer: the text is not an integer");
    assert!(eval_row("CAST(f AS int)", &[("f", Value::Float64(f64::NAN))]).unwrap_err().to_string().contains("NaN"));
    assert!(ev_err("CAST(DATE '2024-01-01' AS int)").contains("cannot cast a date value to integer"));
}

#[test]
fn cast_to_numeric() {
    let cases = [
        ("CAST(1 AS numeric(5,2))", dec("1.00")),
        ("CAST(123.456 AS decimal(5,2))", dec("123.46")),
        ("CAST(-123.455 AS decimal(5,2))", dec("-123.46")),
        ("CAST(0.005 AS numeric(3,2))", dec("0.01")),
        ("CAST(99.994 AS numeric(4,2))", dec("99.99")),
        ("CAST('1e3' AS numeric)", dec("1000")),
        ("CAST('  12.50 ' AS numeric)", dec("12.50")),
        ("CAST(12.50 AS numeric)", dec("12.50")),
        ("CAST(42 AS numeric)", dec("42")),
        ("CAST(12.5 AS numeric(10))", dec("13")),
        ("CAST(TRUE AS numeric)", dec("1")),
        (
            "CAST('12345678901234567890123456789012345.1234567890123456789012345678901' AS decimal(65,30))",
            dec("12345678901234567890123456789012345.123456789012345678901234567890"),
        ),
    ];
    for (expr, expected) in cases {
        assert_eq!(ev(expr), expected, "{expr}");
    }
    assert_eq!(eval_row("CAST(f AS numeric)", &[("f", Value::Float64(0.1))]).unwrap(), dec("0.1"));
    assert_eq!(eval_row("CAST(f AS numeric(4,1))", &[("f", Value::Float64(2.25))]).unwrap(), dec("2.3"));
    assert_eq!(eval_row("CAST(f AS numeric)", &[("f", Value::Float64(f64::NAN))]).unwrap(), dec("NaN"));
    assert_eq!(
        ev_err("CAST(1234.5 AS numeric(5,2))"),
        "CAST AS numeric(5,2): the value needs more than 5 digits of precision with 2 after the point"
    );
    assert!(ev_err("CAST(99.995 AS numeric(4,2))").contains("precision"));
    assert!(ev_err("CAST('abc' AS numeric)").contains("not a number"));
    assert!(parse_err("CAST(1 AS numeric(2,3))").contains("scale"));
    assert!(parse_err("CAST(1 AS numeric(0))").contains("precision"));
}

#[test]
fn cast_to_floats() {
    assert_eq!(ev("CAST(1.5 AS double precision)"), Value::Float64(1.5));
    assert_eq!(ev("CAST('2.5' AS float8)"), Value::Float64(2.5));
    assert_eq!(ev("CAST(1 AS float)"), Value::Float64(1.0));
    assert_eq!(ev("CAST(0.1 AS real)"), Value::Float32(0.1));
    assert_eq!(ev("CAST(0.1 AS float(10))"), Value::Float32(0.1));
    assert!(matches!(ev("CAST('NaN' AS double precision)"), Value::Float64(f) if f.is_nan()));
    assert!(ev_err("CAST(1e300 AS real)").contains("out of the range of real"));
    assert!(ev_err("CAST('x' AS double precision)").contains("not a number"));
}

#[test]
fn cast_to_boolean() {
    for yes in ["'true'", "'T'", "'yes'", "'y'", "'on'", "'1'", "1", "TRUE"] {
        assert_eq!(ev(&format!("CAST({yes} AS boolean)")), t(true), "{yes}");
    }
    for no in ["'false'", "'f'", "'NO'", "'n'", "'off'", "'0'", "0"] {
        assert_eq!(ev(&format!("CAST({no} AS bool)")), t(false), "{no}");
    }
    assert!(ev_err("CAST(2 AS boolean)").contains("only the integers 0 and 1"));
    assert!(ev_err("CAST('maybe' AS boolean)").contains("not a boolean"));
}

#[test]
fn cast_to_temporal_types() {
    let d = Value::Date(Date::Civil(date(2024, 1, 2)));
    let cases = [
        ("CAST('2024-01-02' AS date)", d.clone()),
        ("'infinity'::date", Value::Date(Date::PosInfinity)),
        ("CAST(TIMESTAMP '2024-01-02 10:00:00' AS date)", d.clone()),
        ("CAST('10:11:12.5' AS time)", Value::Time(TimeOfDay(36_672_500_000))),
        ("CAST('24:00:00' AS time)", Value::Time(TimeOfDay(TimeOfDay::MAX_MICROS))),
        ("CAST('2024-01-02 10:11:12' AS timestamp)", ts(2024, 1, 2, 10, 11, 12)),
        ("CAST('2024-01-02T10:11:12' AS datetime)", ts(2024, 1, 2, 10, 11, 12)),
        ("CAST('2024-01-02' AS timestamp)", ts(2024, 1, 2, 0, 0, 0)),
        ("CAST(DATE '2024-01-02' AS timestamp)", ts(2024, 1, 2, 0, 0, 0)),
        ("CAST('2024-01-02 00:00:00' AS timestamptz)", tstz(COMMIT)),
        ("CAST('2024-01-02 00:00:00Z' AS timestamptz)", tstz(COMMIT)),
        ("CAST('2024-01-01 19:00:00-05' AS timestamp with time zone)", tstz(COMMIT)),
        ("CAST('2024-01-02 05:30:00+0530' AS timestamptz)", tstz(COMMIT)),
        ("'2024-01-02 00:00:00.000001 UTC'::timestamptz", tstz(COMMIT + 1)),
        ("CAST(TIMESTAMP '2024-01-02 00:00:00' AS timestamptz)", tstz(COMMIT)),
        ("CAST(DATE '2024-01-02' AS timestamptz)", tstz(COMMIT)),
        ("CAST(commit_time() AS timestamp)", ts(2024, 1, 2, 0, 0, 0)),
        ("CAST(commit_time() AS date)", d),
        ("CAST(commit_time() AS time)", Value::Time(TimeOfDay(0))),
        ("CAST('-0044-03-15' AS date)", Value::Date(Date::Civil(date(-44, 3, 15)))),
    ];
    for (expr, expected) in cases {
        assert_eq!(ev(expr), expected, "{expr}");
    }
    assert_eq!(
        eval_row("CAST(x AS time)", &[("x", Value::Duration(3_600_000_000))]).unwrap(),
        Value::Time(TimeOfDay(3_600_000_000))
    );
    assert!(eval_row("CAST(x AS time)", &[("x", Value::Duration(-1))]).unwrap_err().to_string().contains("outside"));
    for bad in [
        "CAST('2024-02-30' AS date)",
        "CAST('2023-02-29' AS date)",
        "CAST('2024-1-2x' AS date)",
        "CAST('25:00' AS time)",
        "CAST('10:60' AS time)",
        "CAST('10:00:00.1234567' AS time)",
        "CAST('2024-01-02 10:00:00+02' AS timestamp)",
        "CAST('2024-01-02 10:00:00+16' AS timestamptz)",
        "CAST('yesterday' AS timestamptz)",
    ] {
        assert!(ev_err(bad).contains("not a valid"), "{bad}: {}", ev_err(bad));
    }
    assert_eq!(ev("CAST('2024-02-29' AS date)"), Value::Date(Date::Civil(date(2024, 2, 29))));
}

#[test]
fn cast_to_json_and_uuid() {
    assert_eq!(ev("CAST('{\"a\": [1, 2]}' AS json)"), Value::Json("{\"a\": [1, 2]}".into()));
    assert_eq!(ev("CAST('3' AS jsonb)"), Value::Json("3".into()));
    assert_eq!(ev("CAST(1.50 AS json)"), Value::Json("1.50".into()));
    assert_eq!(ev("CAST(TRUE AS json)"), Value::Json("true".into()));
    assert!(ev_err("CAST('{a' AS json)").contains("not valid JSON"));
    let u = [0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11];
    assert_eq!(ev("CAST('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AS uuid)"), Value::Uuid(u));
    assert_eq!(ev("'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid"), Value::Uuid(u));
    assert_eq!(eval_row("CAST(b AS uuid)", &[("b", Value::Bytes(u.to_vec()))]).unwrap(), Value::Uuid(u));
    assert!(ev_err("CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1' AS uuid)").contains("not a valid uuid"));
    assert!(ev_err("CAST('a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11' AS uuid)").contains("not a valid uuid"));
}

// ---------------------------------------------------------------- text_of

#[test]
fn text_of_every_kind() {
    let uuid = [0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11];
    let cases: Vec<(Value, Option<&str>)> = vec![
        (Value::Null, None),
        (Value::Unchanged, None),
        (t(true), Some("true")),
        (t(false), Some("false")),
        (int(-5), Some("-5")),
        (Value::UInt(u64::MAX), Some("18446744073709551615")),
        (dec("5"), Some("5")),
        (dec("5.0"), Some("5.0")),
        (dec("-0.001"), Some("-0.001")),
        (Value::Float64(0.1), Some("0.1")),
        (Value::Float64(1e21), Some("1000000000000000000000")),
        (Value::Float64(1.5e-7), Some("0.00000015")),
        (Value::Float64(f64::NAN), Some("NaN")),
        (Value::Float64(f64::NEG_INFINITY), Some("-Infinity")),
        (Value::Float32(0.1), Some("0.1")),
        (Value::Float32(f32::INFINITY), Some("Infinity")),
        (text("héllo"), Some("héllo")),
        (Value::Enum("paid".into()), Some("paid")),
        (Value::Json("{\"a\":1}".into()), Some("{\"a\":1}")),
        (Value::Set(vec!["a".into(), "b".into()]), Some("a,b")),
        (Value::Set(vec![]), Some("")),
        (Value::Uuid(uuid), Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
        (Value::Bytes(vec![0xde, 0xad, 0x01]), Some("\\xdead01")),
        (Value::Bits(BitString::from_text("10110").unwrap()), Some("10110")),
        (Value::Date(Date::Civil(date(2024, 1, 2))), Some("2024-01-02")),
        (Value::Date(Date::Civil(date(0, 0, 0))), Some("0000-00-00")),
        (Value::Date(Date::PosInfinity), Some("infinity")),
        (Value::Time(TimeOfDay(36_672_500_000)), Some("10:11:12.5")),
        (Value::TimeTz(TimeOfDay(36_672_000_000), 19_800), Some("10:11:12+05:30")),
        (Value::TimeTz(TimeOfDay(0), -3600), Some("00:00:00-01")),
        (Value::Duration(-(838 * 3_600_000_000 + 59 * 60_000_000 + 59_000_000)), Some("-838:59:59")),
        (Value::Duration(1_500_000), Some("00:00:01.5")),
        (ts(2024, 1, 2, 3, 4, 5), Some("2024-01-02 03:04:05")),
        (Value::Timestamp(Timestamp::NegInfinity), Some("-infinity")),
        (tstz(COMMIT + 123_456), Some("2024-01-02 00:00:00.123456+00")),
        (tstz(-1), Some("1969-12-31 23:59:59.999999+00")),
        (Value::Year(2024), Some("2024")),
        (Value::Year(0), Some("0000")),
        (
            Value::Interval(Interval { months: 14, days: 3, micros: 14_706_000_000 }),
            Some("1 year 2 mons 3 days 04:05:06"),
        ),
        (Value::Interval(Interval { months: -1, days: 1, micros: -1 }), Some("-1 mons +1 day -00:00:00.000001")),
        (Value::Interval(Interval { months: 0, days: 0, micros: 0 }), Some("00:00:00")),
        (Value::Interval(Interval { months: 24, days: 0, micros: 0 }), Some("2 years")),
        (
            Value::Array(vec![int(1), Value::Null, text("a b"), text(""), text("x\"y"), text("NULL")]),
            Some("{1,NULL,\"a b\",\"\",\"x\\\"y\",\"NULL\"}"),
        ),
        (
            Value::Array(vec![Value::Array(vec![int(1), int(2)]), Value::Array(vec![int(3), int(4)])]),
            Some("{{1,2},{3,4}}"),
        ),
        (Value::Raw { type_name: "point".into(), text: "(1,2)".into() }, Some("(1,2)")),
    ];
    for (value, expected) in cases {
        assert_eq!(text_of(&value).as_deref(), expected, "{value:?}");
    }
    // The same number written three ways has one key.
    assert_eq!(text_of(&int(5)), text_of(&Value::UInt(5)));
    assert_eq!(text_of(&int(5)), text_of(&dec("5")));
}

#[test]
fn text_of_decimals_parses_back() {
    for expr in ["1 / 3", "9223372036854775807 * 10", "1e-5 + 0", "round(1.23456789, 3)", "-0.5 * 2"] {
        let Value::Decimal(d) = ev(expr) else { panic!("{expr}: not a decimal") };
        assert!(!d.as_str().contains(['e', 'E']), "{expr}: {d}");
        assert_eq!(Decimal::parse(d.as_str()).unwrap(), d);
    }
}

// ---------------------------------------------------------------- value maps

fn status_map(unmapped: Unmapped) -> MapSet {
    let map = ValueMap::new(
        "order_status",
        vec![("1".into(), text("NEW")), ("2".into(), text("PAID")), ("x".into(), text("EX"))],
        unmapped,
    );
    HashMap::from([("order_status".to_owned(), Arc::new(map))])
}

#[test]
fn value_map_policies() {
    let error = status_map(Unmapped::Error);
    let map = &error["order_status"];
    assert_eq!(map.get(&int(1)).unwrap(), text("NEW"));
    assert_eq!(map.get(&Value::UInt(1)).unwrap(), text("NEW"));
    assert_eq!(map.get(&dec("1")).unwrap(), text("NEW"));
    assert_eq!(map.get(&text("2")).unwrap(), text("PAID"));
    assert_eq!(map.get(&Value::Enum("x".into())).unwrap(), text("EX"));
    assert_eq!(map.get(&Value::Null).unwrap(), Value::Null);
    assert_eq!(map.get(&int(9)).unwrap_err(), EvalError::Unmapped { map: "order_status".into() });
    assert!(map.get(&dec("1.0")).is_err()); // a decimal keeps its scale
    let keep = status_map(Unmapped::Keep);
    assert_eq!(keep["order_status"].get(&int(9)).unwrap(), int(9));
    assert_eq!(keep["order_status"].get(&Value::Null).unwrap(), Value::Null);
    let default = status_map(Unmapped::Default(text("UNKNOWN")));
    assert_eq!(default["order_status"].get(&int(9)).unwrap(), text("UNKNOWN"));
    assert_eq!(default["order_status"].get(&Value::Null).unwrap(), Value::Null);
    assert!(keep["order_status"].get(&Value::Unchanged).is_err());
}

#[test]
fn map_and_lookup_in_expressions() {
    let maps = status_map(Unmapped::Error);
    let row = [int(2)];
    for expr in [
        "map(order_status, status)",
        "map('order_status', status)",
        "lookup(order_status, status)",
        "lookup('order_status', status)",
    ] {
        let bound = bind_with(expr, &["status"], &maps).unwrap();
        assert_eq!(bound.eval(&context(Some(&row), None, None)).unwrap(), text("PAID"), "{expr}");
    }
    let bound = bind_with("coalesce(map(order_status, status + 1), 'none')", &["status"], &maps).unwrap();
    let error = bound.eval(&context(Some(&row), None, None)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a value is not in map order_status (unmapped = \"error\"); add it to [maps.order_status.values] or set unmapped"
    );
    let bound = bind_with("map(order_status, status) = 'PAID'", &["status"], &maps).unwrap();
    assert!(bound.test(&context(Some(&row), None, None)).unwrap());
    assert!(parse_err("map(upper(x), y)").contains("the first argument is a map name"));
}

#[test]
fn names_used_lookups_and_crosswalks() {
    let maps = status_map(Unmapped::Keep);
    let e = Expression::parse("lookup('customers', customer_id)").unwrap();
    let (name, key) = e.as_lookup().unwrap();
    assert_eq!(name, "customers");
    assert_eq!(key.text(), "customer_id");
    assert_eq!(key.as_column().unwrap().name, "customer_id");
    assert!(e.has_crosswalk_lookup(&maps));
    assert_eq!(e.names_used(), ["customers"]);
    let e = Expression::parse("lookup(order_status, upper(status))").unwrap();
    assert_eq!(e.as_lookup().unwrap().1.text(), "upper(status)");
    assert!(!e.has_crosswalk_lookup(&maps));
    assert!(Expression::parse("map(order_status, status)").unwrap().as_lookup().is_none());
    let e = Expression::parse("coalesce(lookup(customers, a), map(order_status, b), map(order_status, c))").unwrap();
    assert_eq!(e.names_used(), ["customers", "order_status"]);
    assert!(e.as_lookup().is_none());
    assert!(e.has_crosswalk_lookup(&maps));
    assert!(!Expression::parse("a + 1").unwrap().has_crosswalk_lookup(&maps));
    assert!(Expression::parse("a + 1").unwrap().names_used().is_empty());
}

#[test]
fn bind_errors_name_the_column_or_map() {
    let maps = status_map(Unmapped::Keep);
    let unknown_column = bind_with("upper(before.nme)", &["name"], &maps).unwrap_err();
    assert_eq!(unknown_column, ExprError::UnknownColumn { column: "before.nme".into() });
    assert_eq!(unknown_column.to_string(), "unknown column before.nme: the source table has no column of that name");
    let unknown_map = bind_with("map(statuses, name)", &["name"], &maps).unwrap_err();
    assert_eq!(unknown_map.to_string(), "unknown map statuses in map(): define it as [maps.statuses] or fix the name");
    let crosswalk = bind_with("upper(lookup(customers, name))", &["name"], &maps).unwrap_err();
    assert!(matches!(crosswalk, ExprError::CrosswalkLookup { .. }));
    assert!(crosswalk.to_string().contains("must be the whole expression of a column"), "{crosswalk}");
    let whole = bind_with("lookup(customers, name)", &["name"], &maps).unwrap_err();
    assert!(matches!(whole, ExprError::CrosswalkLookup { .. }));
}

// ---------------------------------------------------------------- test()

#[test]
fn test_is_true_only_for_true() {
    let row = [int(1), Value::Null, text("t")];
    let check =
        |expr: &str| bind_with(expr, &["i", "n", "s"], &no_maps()).unwrap().test(&context(Some(&row), None, None));
    assert!(check("i = 1").unwrap());
    assert!(!check("i = 2").unwrap());
    assert!(!check("n = 1").unwrap());
    assert!(!check("n").unwrap());
    let error = check("i").unwrap_err().to_string();
    assert!(error.starts_with("condition: the condition is not boolean (it gives a int value)"), "{error}");
    assert!(check("s").is_err());
}

// ---------------------------------------------------------------- errors carry no values

#[test]
fn error_messages_never_contain_row_values() {
    let secret = "hunter2-SECRET";
    let row = [
        ("s", text(secret)),
        ("d", Value::Date(Date::Civil(date(2024, 1, 2)))),
        ("tz", tstz(COMMIT)),
        ("j", Value::Json(secret.into())),
    ];
    let failing = [
        "s + 1",
        "s = 1",
        "s < d",
        "s::int",
        "CAST(s AS numeric)",
        "CAST(s AS boolean)",
        "CAST(s AS date)",
        "CAST(s AS timestamptz)",
        "CAST(s AS varchar(3))",
        "CAST(s AS json)",
        "CAST(s AS uuid)",
        "s = tz",
        "s IN (1, 2)",
        "s AND TRUE",
        "substring(s, s)",
        "round(1, s)",
        "date_trunc('day', s)",
        "extract(year FROM s)",
        "greatest(s, 1)",
        "CASE WHEN s THEN 1 END",
        "CASE s WHEN 1 THEN 1 END",
        "j + 1",
    ];
    for expr in failing {
        let error = eval_row(expr, &row).map_err(|e| e.to_string());
        let Err(message) = error else { panic!("{expr}: expected an error") };
        assert!(!message.contains(secret), "{expr}: {message}");
        assert!(!message.contains("hunter"), "{expr}: {message}");
        assert!(!message.contains("2024"), "{expr}: {message}");
    }
    let map = status_map(Unmapped::Error);
    let error = map["order_status"].get(&text(secret)).unwrap_err().to_string();
    assert!(!error.contains(secret));
}

#[test]
fn error_messages_name_the_operator_or_function() {
    assert!(ev_err("'a' + 1").starts_with("operator +:"));
    assert!(ev_err("'a' * 1").starts_with("operator *:"));
    assert!(ev_err("'a' < 1").starts_with("operator <:"));
    assert!(ev_err("'a' IS DISTINCT FROM 1").starts_with("IS DISTINCT FROM:"));
    assert!(ev_err("abs('a')").starts_with("abs():"));
    assert!(ev_err("CAST('a' AS int)").starts_with("CAST AS integer:"));
    assert!(ev_err("nullif('a', 1)").starts_with("nullif():"));
    assert!(ev_err("'a' BETWEEN 1 AND 2").starts_with("BETWEEN:"));
}

#[test]
fn expressions_and_bound_expressions_are_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Expression>();
    shareable::<Bound>();
    shareable::<ValueMap>();
}

#[test]
fn precedence_follows_the_documented_table() {
    assert_eq!(ev("'n' || (1 + 1)"), text("n2"));
    assert!(ev_err("'n' || 1 + 1").starts_with("operator +: a text operand is not a number"));
    assert_eq!(ev("-2 * 3"), int(-6));
    assert_eq!(ev("- '5'::int"), int(-5));
    assert_eq!(ev("NOT 1 = 2"), t(true));
    assert_eq!(ev("1 = 1 OR 1 = 2 AND 1 = 3"), t(true));
    assert_eq!(ev("'ab' LIKE 'a' || '%'"), t(true));
    assert_eq!(ev("('a' LIKE 'a') = TRUE"), t(true));
    assert_eq!(ev("1 + 1 BETWEEN 2 AND 3"), t(true));
    assert_eq!(ev("NULL IS NULL = FALSE"), t(false));
}

#[test]
fn documented_examples_evaluate() {
    let maps = status_map(Unmapped::Default(text("OTHER")));
    let names = [
        "first_name",
        "last_name",
        "email",
        "nickname",
        "phone",
        "country",
        "price_cents",
        "gross",
        "status",
        "lifetime_value",
        "created_at",
        "id",
        "amount",
        "deleted_at",
        "archived",
    ];
    let row = [
        text(" Ada "),
        text("Lovelace "),
        text(" Ada@Example.com "),
        Value::Null,
        text("  "),
        Value::Null,
        int(1999),
        dec("119.00"),
        text("paid"),
        dec("2500.00"),
        ts(2024, 5, 19, 13, 45, 30),
        int(42),
        dec("10.50"),
        Value::Null,
        Value::Null,
    ];
    let cases = [
        ("trim(first_name) || ' ' || trim(last_name)", text("Ada Lovelace")),
        ("lower(trim(email))", text("ada@example.com")),
        ("coalesce(nickname, first_name)", text(" Ada ")),
        ("nullif(trim(phone), '')", Value::Null),
        ("upper(coalesce(country, 'XX'))", text("XX")),
        ("price_cents / 100", dec("19.99")),
        ("round(gross / 1.19, 2)", dec("100.00")),
        ("status = 'active'", t(false)),
        (
            "CASE WHEN lifetime_value >= 10000 THEN 'gold' WHEN lifetime_value >= 1000 THEN 'silver' ELSE 'bronze' END",
            text("silver"),
        ),
        ("date_trunc('month', created_at)", ts(2024, 5, 1, 0, 0, 0)),
        ("extract(year FROM created_at)", int(2024)),
        ("CAST(created_at AS timestamptz)", tstz(1_716_126_330_000_000)),
        ("'CRM-' || lpad(CAST(id AS text), 8, '0')", text("CRM-00000042")),
        ("source_name() || ':' || source_table()", text("shop:public.orders")),
        ("map(order_status, status)", text("OTHER")),
        ("status IN ('paid', 'shipped') AND amount > 0", t(true)),
        ("deleted_at IS NULL AND country <> 'TEST'", Value::Null),
        ("created_at >= '2024-01-01'", t(true)),
        ("email NOT LIKE '%@example.com'", t(true)),
        ("coalesce(archived, FALSE) = FALSE", t(true)),
        ("18446744073709551615 > 1.5e19", t(true)),
    ];
    for (expr, expected) in cases {
        let bound = bind_with(expr, &names, &maps).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(bound.eval(&context(Some(&row), None, None)).unwrap(), expected, "{expr}");
    }
    let code = eval_row("code = 7", &[("code", text("A7"))]).unwrap_err();
    assert!(code.to_string().contains("not a number"));
}
