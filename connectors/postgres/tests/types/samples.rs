//! Sample values of every PostgreSQL type Sluice supports, with the edge
//! cases that break naive conversions: extreme integers, non-finite and
//! subnormal floats, numerics beyond 28 digits, BC dates, infinities,
//! `24:00:00`, every interval field, all 256 byte values, arrays with
//! quotes, commas, backslashes and NULLs, and raw (unmodelled) types.
//! Shared by the type round-trip tests and the sink's all-types test.

use sluice_api::{BitString, CivilDate, ColumnType, Date, Decimal, Interval, TimeOfDay, Timestamp, TimestampTz, Value};

/// One column type and the values to try in it.
pub struct Sample {
    /// The SQL type of the column.
    pub sql_type: &'static str,
    pub values: Vec<Value>,
}

/// Run before creating a table with the sample columns.
pub const SETUP_SQL: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy, \"very\"')";

/// The labels of `mood`, for the column type of enum columns.
pub fn mood_labels() -> Vec<String> {
    vec!["sad".into(), "ok".into(), "happy, \"very\"".into()]
}

pub fn civil(year: i32, month: u8, day: u8) -> CivilDate {
    CivilDate { year, month, day }
}

fn decimal(text: &str) -> Value {
    Value::Decimal(Decimal::parse(text).unwrap())
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn raw(type_name: &str, text: &str) -> Value {
    Value::Raw { type_name: type_name.into(), text: text.into() }
}

fn clock(h: u64, m: u64, s: u64, micros: u64) -> TimeOfDay {
    TimeOfDay(((h * 60 + m) * 60 + s) * 1_000_000 + micros)
}

fn timestamp(date: CivilDate, time: TimeOfDay) -> Value {
    Value::Timestamp(Timestamp::Civil { date, time })
}

fn instant(date: CivilDate, time: TimeOfDay) -> Value {
    Value::TimestampTz(TimestampTz::Micros(TimestampTz::from_utc_civil(date, time)))
}

fn interval(months: i32, days: i32, micros: i64) -> Value {
    Value::Interval(Interval { months, days, micros })
}

fn array(values: Vec<Value>) -> Value {
    Value::Array(values)
}

pub fn samples() -> Vec<Sample> {
    let s = |sql_type: &'static str, values: Vec<Value>| Sample { sql_type, values };
    vec![
        s("boolean", vec![Value::Bool(true), Value::Bool(false)]),
        s("smallint", vec![Value::Int(i64::from(i16::MIN)), Value::Int(i64::from(i16::MAX))]),
        s("integer", vec![Value::Int(i64::from(i32::MIN)), Value::Int(0)]),
        s("bigint", vec![Value::Int(i64::MIN), Value::Int(i64::MAX)]),
        s("oid", vec![Value::UInt(u64::from(u32::MAX)), Value::UInt(0)]),
        s(
            "real",
            vec![
                Value::Float32(f32::NAN),
                Value::Float32(f32::INFINITY),
                Value::Float32(f32::NEG_INFINITY),
                Value::Float32(-0.0),
                Value::Float32(f32::from_bits(1)),
                Value::Float32(f32::MAX),
                Value::Float32(0.1),
                Value::Float32(16_777_217.0),
            ],
        ),
        s(
            "double precision",
            vec![
                Value::Float64(f64::NAN),
                Value::Float64(f64::INFINITY),
                Value::Float64(f64::NEG_INFINITY),
                Value::Float64(-0.0),
                Value::Float64(f64::from_bits(1)),
                Value::Float64(f64::MAX),
                Value::Float64(0.1),
                Value::Float64(1e300),
                Value::Float64(2.225_073_858_507_201e-308),
            ],
        ),
        s(
            "numeric",
            vec![
                decimal("99999999999999999999999999999999999.999999999999999999999999999999"),
                decimal("NaN"),
                decimal("Infinity"),
                decimal("-Infinity"),
                decimal("-0.000001"),
                decimal("1.50"),
                decimal("0"),
            ],
        ),
        s("numeric(12,2)", vec![decimal("1234567890.12"), decimal("-0.50")]),
        s(
            "text",
            vec![
                text("plain"),
                text(""),
                text("quotes \" ' commas , backslashes \\ braces {} NULL"),
                text("line\nbreak\ttab\r"),
                text("ünïcødé ✓ 𝄞"),
            ],
        ),
        s("character varying(40)", vec![text("forty chars at most")]),
        s("character(5)", vec![text("ab   ")]),
        s("\"char\"", vec![text("x")]),
        s("name", vec![text("a name")]),
        s("bytea", vec![Value::Bytes((0..=255).collect()), Value::Bytes(vec![])]),
        s("bit(8)", vec![Value::Bits(BitString::from_text("10100101").unwrap())]),
        s(
            "bit varying",
            vec![Value::Bits(BitString::from_text("1011").unwrap()), Value::Bits(BitString::from_text("").unwrap())],
        ),
        s(
            "date",
            vec![
                Value::Date(Date::Civil(civil(2024, 2, 29))),
                Value::Date(Date::Civil(civil(-43, 3, 15))),
                Value::Date(Date::Civil(civil(0, 2, 29))),
                Value::Date(Date::Civil(civil(-4713, 11, 24))),
                Value::Date(Date::Civil(civil(5_874_897, 12, 31))),
                Value::Date(Date::PosInfinity),
                Value::Date(Date::NegInfinity),
            ],
        ),
        s(
            "time",
            vec![
                Value::Time(clock(0, 0, 0, 0)),
                Value::Time(clock(23, 59, 59, 999_999)),
                Value::Time(TimeOfDay(TimeOfDay::MAX_MICROS)),
            ],
        ),
        s("time(3)", vec![Value::Time(clock(1, 2, 3, 123_000))]),
        s(
            "time with time zone",
            vec![
                Value::TimeTz(clock(12, 34, 56, 789_000), 5 * 3600 + 30 * 60),
                Value::TimeTz(clock(0, 0, 0, 1), -8 * 3600),
                Value::TimeTz(clock(24, 0, 0, 0), -(15 * 3600 + 59 * 60 + 59)),
            ],
        ),
        s(
            "timestamp",
            vec![
                timestamp(civil(2024, 1, 1), clock(12, 34, 56, 123_456)),
                timestamp(civil(-43, 3, 15), clock(12, 0, 0, 1)),
                timestamp(civil(294_276, 12, 31), clock(23, 59, 59, 999_999)),
                Value::Timestamp(Timestamp::PosInfinity),
                Value::Timestamp(Timestamp::NegInfinity),
            ],
        ),
        s(
            "timestamp with time zone",
            vec![
                instant(civil(2024, 6, 30), clock(23, 59, 59, 999_999)),
                Value::TimestampTz(TimestampTz::Micros(0)),
                Value::TimestampTz(TimestampTz::Micros(-1)),
                instant(civil(-43, 3, 15), clock(12, 0, 0, 0)),
                instant(civil(-4713, 11, 24), clock(0, 0, 0, 0)),
                Value::TimestampTz(TimestampTz::PosInfinity),
                Value::TimestampTz(TimestampTz::NegInfinity),
            ],
        ),
        s(
            "interval",
            vec![
                interval(14, 3, 14_706_789_000),
                interval(-14, 3, -5),
                interval(0, -1, 7_380_000_000),
                interval(i32::MIN, i32::MIN, i64::MIN),
                interval(i32::MAX, i32::MAX, i64::MAX),
                interval(0, 0, 0),
            ],
        ),
        s("json", vec![Value::Json("{ \"kept\" :  [1, 2.50, \"as written\"] }".into())]),
        s("jsonb", vec![Value::Json("{\"a\": [1, 2.50, \"x\\\"y\"], \"b\": null}".into())]),
        s(
            "uuid",
            vec![Value::Uuid([
                0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11,
            ])],
        ),
        s("mood", vec![Value::Enum("sad".into()), Value::Enum("happy, \"very\"".into())]),
        s(
            "integer[]",
            vec![
                array(vec![Value::Int(1), Value::Null, Value::Int(3)]),
                array(vec![array(vec![Value::Int(1), Value::Int(2)]), array(vec![Value::Int(3), Value::Int(4)])]),
                array(vec![]),
                raw("integer[]", "[0:1]={7,8}"),
            ],
        ),
        s(
            "text[]",
            vec![array(vec![
                text("a \"quoted\" word"),
                text("comma,separated"),
                text("back\\slash"),
                Value::Null,
                text("NULL"),
                text(""),
                text(" padded "),
                text("{braces}"),
            ])],
        ),
        s("numeric[]", vec![array(vec![decimal("1.50"), decimal("NaN"), Value::Null])]),
        s("double precision[]", vec![array(vec![Value::Float64(f64::NAN), Value::Float64(f64::NEG_INFINITY)])]),
        s("boolean[]", vec![array(vec![Value::Bool(true), Value::Null])]),
        s("date[]", vec![array(vec![Value::Date(Date::Civil(civil(-43, 3, 15))), Value::Date(Date::PosInfinity)])]),
        s(
            "timestamp with time zone[]",
            vec![array(vec![
                instant(civil(2024, 1, 1), clock(0, 0, 0, 5)),
                Value::TimestampTz(TimestampTz::NegInfinity),
            ])],
        ),
        s("interval[]", vec![array(vec![interval(1, -2, 3)])]),
        s("bytea[]", vec![array(vec![Value::Bytes(vec![0, b'"', b'\\', 255]), Value::Null])]),
        s("jsonb[]", vec![array(vec![Value::Json("{\"k\": \"v, w\"}".into()), Value::Json("[]".into())])]),
        s("uuid[]", vec![array(vec![Value::Uuid([7; 16])])]),
        s("mood[]", vec![array(vec![Value::Enum("ok".into()), Value::Enum("happy, \"very\"".into())])]),
        s("inet", vec![raw("inet", "10.1.2.3/8"), raw("inet", "::1")]),
        s("cidr", vec![raw("cidr", "10.0.0.0/8")]),
        s("macaddr", vec![raw("macaddr", "08:00:2b:01:02:03")]),
        s("point", vec![raw("point", "(1.5,-2)")]),
        s("box[]", vec![array(vec![raw("box", "(3,3),(1,1)"), raw("box", "(0,0),(0,0)")])]),
        s("inet[]", vec![array(vec![raw("inet", "192.168.0.1"), Value::Null])]),
        s("int4range", vec![raw("int4range", "[1,5)"), raw("int4range", "empty")]),
        s("tstzrange", vec![raw("tstzrange", "[\"2024-01-01 00:00:00+00\",)")]),
        s("xml", vec![raw("xml", "<a b=\"c\">d &amp; e</a>")]),
        s("money", vec![raw("money", "$1,234.56")]),
        s("pg_lsn", vec![raw("pg_lsn", "16/B374D848")]),
    ]
}

/// The engine-neutral type of a sample column, as the catalog gives it.
pub fn column_type(type_oid: u32, type_modifier: i32, format_type: &str) -> ColumnType {
    match sluice_postgres::builtin_column_type(type_oid, type_modifier) {
        Some((column_type, name)) => {
            assert_eq!(name, format_type, "display name of type {type_oid}({type_modifier})");
            column_type
        }
        None if format_type == "mood" => ColumnType::Enum { labels: mood_labels() },
        None if format_type == "mood[]" => ColumnType::Array(Box::new(ColumnType::Enum { labels: mood_labels() })),
        None => panic!("no column type for {format_type}"),
    }
}

/// Equality that tells floats apart by bits (`-0.0` is not `0.0`) and treats
/// every NaN alike (PostgreSQL has one NaN).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float32(x), Value::Float32(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Float64(x), Value::Float64(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        _ => a == b,
    }
}

/// The session settings Sluice's connections run with (`types` relies on them).
pub const SESSION_SQL: &str = "SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; \
     SET extra_float_digits = 3; SET bytea_output = hex";

/// SQL for a column's text as its type's output function prints it — what
/// pgoutput sends. Not `::text`: casts to text differ for some types
/// (`character(5)` loses its padding, `inet` gains a netmask, `boolean`
/// becomes `true`).
pub fn output_of(column: &str) -> String {
    format!("CASE WHEN {column} IS NULL THEN NULL ELSE format('%s', {column}) END")
}
