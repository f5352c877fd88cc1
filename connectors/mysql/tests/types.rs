//! Every supported value through the sink into a real MariaDB column, read
//! back with a plain query and compared exactly; values a column cannot hold
//! exactly are refused with the table and column named; TIMESTAMP and
//! DATETIME keep the instant when the server runs in another time zone;
//! FLOAT(M,D)/DOUBLE(M,D) take exactly the numbers the server's rounding
//! keeps.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use sluice_api::{
    BitString, CivilDate, ColumnType, Date, Decimal, ErrorKind, HasErrorKind, Interval, TargetTable, TimeOfDay,
    Timestamp, TimestampTz, Value,
};
use sluice_mysql::MySqlError;
use sluice_testkit::{MariaDbOptions, MariaDbServer};

use crate::sink::{Target, position, printed, write_settled};

/// How a sample is read back and what must come out.
enum Check {
    /// The text of a read expression (`{}` is the column).
    Text(&'static str, String),
    /// A float read as DOUBLE must equal this exactly.
    Double(f64),
}

struct Sample {
    sql_type: &'static str,
    value: Value,
    check: Check,
}

fn sample(sql_type: &'static str, value: Value, expected: &str) -> Sample {
    Sample { sql_type, value, check: Check::Text("{}", expected.to_owned()) }
}

fn read_as(sql_type: &'static str, value: Value, read: &'static str, expected: &str) -> Sample {
    Sample { sql_type, value, check: Check::Text(read, expected.to_owned()) }
}

fn decimal(text: &str) -> Value {
    Value::Decimal(Decimal::parse(text).unwrap())
}

fn date(year: i32, month: u8, day: u8) -> CivilDate {
    CivilDate { year, month, day }
}

fn clock(h: u64, m: u64, s: u64, micros: u64) -> TimeOfDay {
    TimeOfDay(((h * 60 + m) * 60 + s) * 1_000_000 + micros)
}

const UUID: [u8; 16] = [0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00];
const UUID_TEXT: &str = "123e4567-e89b-12d3-a456-426614174000";

fn samples() -> Vec<Sample> {
    let max_time = Value::Duration(-((838 * 3600 + 59 * 60 + 59) * 1_000_000));
    vec![
        sample("tinyint", Value::Int(-128), "-128"),
        sample("tinyint unsigned", Value::UInt(255), "255"),
        sample("smallint", Value::Int(-32768), "-32768"),
        sample("mediumint unsigned", Value::UInt(16_777_215), "16777215"),
        sample("int", Value::Int(i64::from(i32::MIN)), "-2147483648"),
        sample("bigint", Value::Int(i64::MIN), "-9223372036854775808"),
        sample("bigint unsigned", Value::UInt(u64::MAX), "18446744073709551615"),
        sample("bigint unsigned", decimal("18446744073709551615"), "18446744073709551615"),
        sample("boolean", Value::Bool(true), "1"),
        sample(
            "decimal(65,30)",
            decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
            "12345678901234567890123456789012345.123456789012345678901234567890",
        ),
        sample("decimal(65,30)", decimal("-0.000000000000000000000000000001"), "-0.000000000000000000000000000001"),
        sample("decimal(10,2)", Value::Int(42), "42.00"),
        sample("decimal(10,2)", decimal("1.5"), "1.50"),
        sample("decimal(20,0)", Value::UInt(u64::MAX), "18446744073709551615"),
        Sample { sql_type: "float", value: Value::Float32(0.1), check: Check::Double(f64::from(0.1f32)) },
        Sample { sql_type: "float", value: Value::Float32(f32::MAX), check: Check::Double(f64::from(f32::MAX)) },
        Sample { sql_type: "double", value: Value::Float64(0.1), check: Check::Double(0.1) },
        Sample { sql_type: "double", value: Value::Float64(-1e300), check: Check::Double(-1e300) },
        Sample { sql_type: "double", value: Value::Int(1 << 53), check: Check::Double(9_007_199_254_740_992.0) },
        read_as("bit(64)", Value::UInt(u64::MAX), "CAST({} AS UNSIGNED)", "18446744073709551615"),
        read_as("bit(5)", Value::Bits(BitString::from_text("10101").unwrap()), "CAST({} AS UNSIGNED)", "21"),
        sample("varchar(20)", Value::Text("héllo 😀".into()), "héllo 😀"),
        read_as("varchar(10) CHARACTER SET gbk", Value::Text("中文字符".into()), "HEX({})", "D6D0CEC4D7D6B7FB"),
        sample("varchar(10) CHARACTER SET gbk", Value::Text("中文字符".into()), "中文字符"),
        read_as("varchar(10) CHARACTER SET latin1", Value::Text("café €".into()), "HEX({})", "636166E92080"),
        sample("mediumtext", Value::Text("x".repeat(70_000)), &"x".repeat(70_000)),
        read_as("binary(16)", Value::Uuid(UUID), "LOWER(HEX({}))", "123e4567e89b12d3a456426614174000"),
        read_as("varbinary(10)", Value::Bytes(vec![0, 0xff, 0x80, 0x27, 0x5c]), "HEX({})", "00FF80275C"),
        read_as("blob", Value::Bytes(vec![0xc3, 0x28, 0xa0, 0xa1, 0]), "HEX({})", "C328A0A100"),
        sample("date", Value::Date(Date::Civil(date(2024, 2, 29))), "2024-02-29"),
        sample("date", Value::Date(Date::Civil(date(0, 0, 0))), "0000-00-00"),
        sample(
            "datetime(6)",
            Value::Timestamp(Timestamp::Civil { date: date(9999, 12, 31), time: clock(23, 59, 59, 999_999) }),
            "9999-12-31 23:59:59.999999",
        ),
        sample(
            "datetime(6)",
            Value::Timestamp(Timestamp::Civil { date: date(1000, 1, 1), time: clock(0, 0, 0, 1) }),
            "1000-01-01 00:00:00.000001",
        ),
        sample("datetime", Value::Date(Date::Civil(date(2024, 1, 2))), "2024-01-02 00:00:00"),
        read_as(
            "timestamp(6) NULL",
            Value::TimestampTz(TimestampTz::Micros(2_147_483_647_999_999)),
            "UNIX_TIMESTAMP({})",
            "2147483647.999999",
        ),
        read_as("timestamp(3) NULL", Value::TimestampTz(TimestampTz::Micros(1_000_000)), "UNIX_TIMESTAMP({})", "1.000"),
        sample("time(6)", max_time, "-838:59:59.000000"),
        sample("time(1)", Value::Duration(1_500_000), "00:00:01.5"),
        sample("time", Value::Time(clock(23, 59, 59, 0)), "23:59:59"),
        sample("year", Value::Year(2155), "2155"),
        sample("year", Value::Year(0), "0000"),
        sample("json", Value::Json(r#"{"b": [1, 2.50], "a": "x"}"#.into()), r#"{"b": [1, 2.50], "a": "x"}"#),
        sample("json", Value::Array(vec![Value::Int(1), Value::Null, Value::Text("a".into())]), r#"[1,null,"a"]"#),
        sample("enum('small','large')", Value::Enum("large".into()), "large"),
        sample("set('a','b','c')", Value::Set(vec!["a".into(), "c".into()]), "a,c"),
        sample("set('a','b','c')", Value::Set(vec![]), ""),
        sample("uuid", Value::Uuid(UUID), UUID_TEXT),
        sample("inet6", Value::Text("2001:db8::1".into()), "2001:db8::1"),
        sample("char(36)", Value::Uuid(UUID), UUID_TEXT),
        sample(
            "varchar(100)",
            Value::Interval(Interval { months: 14, days: -3, micros: 5 }),
            "+14 mons -3 days +5 microseconds",
        ),
        sample("varchar(40)", Value::TimestampTz(TimestampTz::Micros(-1)), "1969-12-31 23:59:59.999999+00:00"),
        sample("varchar(40)", Value::Raw { type_name: "point".into(), text: "(1,2)".into() }, "(1,2)"),
        sample("text", Value::Decimal(Decimal::parse("NaN").unwrap()), "NaN"),
        // FLOAT(M,D)/DOUBLE(M,D): numbers the rounding to D decimals keeps.
        Sample { sql_type: "float(7,2)", value: Value::Float32(0.25), check: Check::Double(0.25) },
        Sample { sql_type: "float(7,2)", value: decimal("12345.67"), check: Check::Double(f64::from(12345.67f32)) },
        Sample { sql_type: "float(7,2)", value: Value::Float32(-0.1), check: Check::Double(f64::from(-0.1f32)) },
        Sample { sql_type: "double(10,3)", value: Value::Float64(1.002), check: Check::Double(1.002) },
        Sample {
            sql_type: "double(10,3) unsigned",
            value: decimal("9999999.999"),
            check: Check::Double(9_999_999.999),
        },
        Sample { sql_type: "double(10,3)", value: Value::Int(-42), check: Check::Double(-42.0) },
        read_as("double(10,3)", Value::Float64(1.5), "CAST({} AS CHAR)", "1.500"),
    ]
}

#[tokio::test]
async fn every_value_round_trips_exactly_through_the_sink() {
    let samples = samples();
    let columns: Vec<String> = samples.iter().enumerate().map(|(i, s)| format!("c{i} {}", s.sql_type)).collect();
    let ddl = format!("CREATE TABLE every_type (id int PRIMARY KEY, {}) ENGINE=InnoDB", columns.join(", "));
    let mut target = Target::new("types_round_trip", &ddl).await;
    let mut names = vec!["id".to_owned()];
    names.extend((0..samples.len()).map(|i| format!("c{i}")));
    let table = Arc::new(TargetTable {
        schema: target.database.name.clone(),
        name: "every_type".into(),
        columns: names,
        key: vec![0],
        insert_only: vec![],
    });
    let mut values = vec![Value::Int(1)];
    values.extend(samples.iter().map(|s| s.value.clone()));
    // Twice: the second write updates the row in place (ON DUPLICATE KEY UPDATE).
    for _ in 0..2 {
        let write = sluice_api::RowWrite::Upsert { table: Arc::clone(&table), values: values.clone() };
        target.sink.write(vec![write]).await.unwrap();
        target.sink.commit("types", &position(1)).await.unwrap();
    }

    let reads: Vec<String> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| match &s.check {
            Check::Text(read, _) => read.replace("{}", &format!("c{i}")),
            Check::Double(_) => format!("CAST(c{i} AS DOUBLE)"),
        })
        .collect();
    let row: mysql_async::Row =
        target.conn.query_first(format!("SELECT {} FROM every_type", reads.join(", "))).await.unwrap().unwrap();
    let cells: Vec<Option<String>> = row.unwrap().into_iter().map(printed).collect();
    for (sample, cell) in samples.iter().zip(cells) {
        let cell = cell.unwrap_or_else(|| panic!("{} read back NULL", sample.sql_type));
        match &sample.check {
            Check::Text(_, expected) => {
                assert_eq!(&cell, expected, "{} {:?}", sample.sql_type, sample.value.kind_name())
            }
            Check::Double(expected) => {
                assert_eq!(cell.parse::<f64>().unwrap(), *expected, "{} read {cell}", sample.sql_type)
            }
        }
    }
}

/// Writes `value` into a one-column table of `sql_type` and returns the error.
async fn refusal(target: &mut Target, table_name: &str, sql_type: &str, value: Value) -> MySqlError {
    let mut conn = target.database.connect().await;
    conn.query_drop(format!("CREATE TABLE {table_name} (id int PRIMARY KEY, c {sql_type}) ENGINE=InnoDB"))
        .await
        .unwrap();
    let table = Arc::new(TargetTable {
        schema: target.database.name.clone(),
        name: table_name.into(),
        columns: vec!["id".into(), "c".into()],
        key: vec![0],
        insert_only: vec![],
    });
    let write = sluice_api::RowWrite::Upsert { table, values: vec![Value::Int(1), value] };
    // A refusal of the statement sent ahead fails a later call: the settle.
    let error = write_settled(&mut target.sink, vec![write]).await.expect_err(sql_type);
    target.sink.rollback().await.unwrap();
    error
}

#[tokio::test]
async fn values_a_column_cannot_hold_exactly_are_refused_naming_table_and_column() {
    let mut target = Target::new("types_refused", "").await;
    let far_future = Value::TimestampTz(TimestampTz::Micros(2_147_483_648_000_000));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("varchar(10) CHARACTER SET gbk", Value::Text("smile 😀".into()), "gbk"),
        ("decimal(10,2)", decimal("NaN"), "NaN"),
        ("decimal(5,1)", decimal("1.55"), "round"),
        ("double", Value::Float64(f64::NAN), "NaN"),
        ("float", Value::Float64(0.1), "FLOAT"),
        ("timestamp(6) NULL", far_future, "TIMESTAMP range"),
        ("datetime", Value::Timestamp(Timestamp::Civil { date: date(999, 1, 1), time: TimeOfDay(0) }), "1000-01-01"),
        ("datetime", Value::Timestamp(Timestamp::Civil { date: date(2024, 1, 1), time: TimeOfDay(1) }), "fraction"),
        ("date", Value::Date(Date::PosInfinity), "infinity"),
        ("time(6)", Value::Duration(839 * 3_600_000_000), "838:59:59"),
        ("binary(16)", Value::Bytes(vec![1, 2, 3, 4, 5]), "pad"),
        ("enum('a','b')", Value::Enum("A".into()), "ENUM"),
        ("int", Value::Interval(Interval { months: 1, days: 0, micros: 0 }), "interval"),
        ("int", Value::Raw { type_name: "point".into(), text: "(1,2)".into() }, "raw"),
        ("varchar(10)", Value::Bytes(vec![1]), "bytes"),
        ("varchar(3)", Value::Text("abcd".into()), "3 characters"),
        ("year", Value::Int(5), "YEAR"),
        ("float(7,2)", Value::Float32(0.125), "2 fraction digits"),
        ("double(10,3)", Value::Float64(1.0015), "would round"),
        ("double(10,3)", Value::Float64(10_000_000.0), "7 integer digits"),
        ("float(5,1) unsigned", Value::Float64(-1.5), "negative"),
    ];
    for (i, (sql_type, value, reason)) in cases.into_iter().enumerate() {
        let error = refusal(&mut target, &format!("refuse_{i}"), sql_type, value).await;
        assert_eq!(error.kind(), ErrorKind::Data, "{sql_type}: {error}");
        match &error {
            MySqlError::Value { table, column, reason: r, .. } => {
                assert_eq!(table, &format!("{}.refuse_{i}", target.database.name), "{sql_type}");
                assert_eq!(column, "c");
                assert!(r.contains(reason), "{sql_type}: {r}");
            }
            other => panic!("{sql_type}: expected a value error, got {other}"),
        }
        assert!(!error.to_string().contains('😀'));
    }
}

#[tokio::test]
async fn values_only_the_server_can_judge_are_refused_by_strict_mode_without_the_value() {
    // encoding_rs's GBK (WHATWG) has the euro sign, MySQL's gbk does not;
    // armscii8 is not checked by Sluice at all; JSON validity is the
    // server's (MariaDB's json_valid check). Strict mode makes each an error
    // instead of a '?' or a warning.
    let mut target = Target::new("types_server_refusals", "").await;
    let cases = [
        ("varchar(10) CHARACTER SET gbk", Value::Text("€".into()), "1366"),
        ("varchar(10) CHARACTER SET armscii8", Value::Text("中".into()), "1366"),
        ("json", Value::Json("{not json".into()), "CHECK"),
    ];
    for (i, (sql_type, value, reason)) in cases.into_iter().enumerate() {
        let error = refusal(&mut target, &format!("server_{i}"), sql_type, value).await;
        assert_eq!(error.kind(), ErrorKind::Data, "{sql_type}: {error}");
        match &error {
            MySqlError::Value { column, reason: r, .. } => {
                assert_eq!(column, if i < 2 { "c" } else { "*" }, "{sql_type}");
                assert!(r.contains(reason), "{sql_type}: {r}");
            }
            other => panic!("{sql_type}: expected a value error, got {other}"),
        }
        let chain = format!("{error:?}");
        assert!(!chain.contains("xE2") && !chain.contains('€') && !chain.contains("not json"), "{chain}");
    }
    let count: Option<i64> = target.conn.query_first("SELECT COUNT(*) FROM server_0").await.unwrap();
    assert_eq!(count, Some(0));
}

#[tokio::test]
async fn describe_table_reports_engine_neutral_types_charsets_and_keys() {
    let ddl = "CREATE TABLE described (id bigint unsigned PRIMARY KEY, flag boolean NOT NULL DEFAULT 0, \
               name varchar(20) CHARACTER SET gbk NOT NULL, doc json, u uuid, ip inet6, d decimal(65,30), \
               t time(3), ts timestamp(6) NULL, dt datetime(6), e enum('a','b''c'), s set('x','y'), b bit(7), \
               bin binary(16), vb varbinary(10), p point, gen int AS (id + 1) VIRTUAL, UNIQUE KEY uk_name (name)) \
               ENGINE=InnoDB";
    let mut target = Target::new("types_describe", ddl).await;
    let name = sluice_api::TableName::new(&target.database.name, "described");
    let info = target.sink.describe_table(&name).await.unwrap().expect("the table exists");
    let column = |name: &str| info.column(name).unwrap_or_else(|| panic!("no column {name}"));
    let expected: Vec<(&str, ColumnType, &str)> = vec![
        ("id", ColumnType::Int { bytes: 8, unsigned: true }, "bigint(20) unsigned"),
        ("flag", ColumnType::Bool, "tinyint(1)"),
        ("name", ColumnType::Text { max_chars: Some(20) }, "varchar(20) CHARACTER SET gbk"),
        ("doc", ColumnType::Json, "json"),
        ("u", ColumnType::Uuid, "uuid"),
        ("ip", ColumnType::Other { name: "inet6".into() }, "inet6"),
        ("d", ColumnType::Decimal { precision: Some(65), scale: Some(30) }, "decimal(65,30)"),
        ("t", ColumnType::Duration { fsp: Some(3) }, "time(3)"),
        ("ts", ColumnType::TimestampTz { fsp: Some(6) }, "timestamp(6)"),
        ("dt", ColumnType::Timestamp { fsp: Some(6) }, "datetime(6)"),
        ("e", ColumnType::Enum { labels: vec!["a".into(), "b'c".into()] }, "enum('a','b''c') CHARACTER SET utf8mb4"),
        ("s", ColumnType::Set { labels: vec!["x".into(), "y".into()] }, "set('x','y') CHARACTER SET utf8mb4"),
        ("b", ColumnType::Bits { len: Some(7), varying: false }, "bit(7)"),
        ("bin", ColumnType::Bytes { max_len: Some(16) }, "binary(16)"),
        ("vb", ColumnType::Bytes { max_len: Some(10) }, "varbinary(10)"),
        ("p", ColumnType::Other { name: "point".into() }, "point"),
    ];
    for (name, column_type, type_name) in expected {
        assert_eq!(column(name).column_type, column_type, "{name}");
        assert_eq!(column(name).type_name, type_name, "{name}");
    }
    assert!(!column("name").nullable && column("d").nullable);
    assert!(column("flag").has_default && !column("name").has_default);
    assert!(column("gen").generated && !column("id").generated);
    assert_eq!(info.primary_key, ["id"]);
    assert_eq!(info.unique_keys, [vec!["name".to_owned()]]);
    assert!(info.has_unique_key(&["name".into()]));
    let absent = sluice_api::TableName::new(&target.database.name, "absent");
    assert_eq!(target.sink.describe_table(&absent).await.unwrap(), None);
}

#[test]
fn timestamps_keep_their_instant_on_a_server_in_another_time_zone() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().time_zone("+08:00"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let ddl = "CREATE TABLE moments (id int PRIMARY KEY, ts timestamp(6) NULL, dt datetime(6), naive datetime(6)) \
                   ENGINE=InnoDB";
        let mut target = Target::on(&server, "types_zone", ddl, 100).await;
        let table = Arc::new(TargetTable {
            schema: target.database.name.clone(),
            name: "moments".into(),
            columns: vec!["id".into(), "ts".into(), "dt".into(), "naive".into()],
            key: vec![0],
            insert_only: vec![],
        });
        let instant = 1_700_000_000_123_456; // 2023-11-14 22:13:20.123456 UTC
        let naive = Timestamp::Civil { date: date(2024, 3, 10), time: clock(2, 30, 0, 0) };
        let values = vec![
            Value::Int(1),
            Value::TimestampTz(TimestampTz::Micros(instant)),
            Value::TimestampTz(TimestampTz::Micros(instant)),
            Value::Timestamp(naive),
        ];
        target.sink.write(vec![sluice_api::RowWrite::Upsert { table, values }]).await.unwrap();
        target.sink.commit("zone", &position(1)).await.unwrap();

        let zone: Option<String> = target.conn.query_first("SELECT @@session.time_zone").await.unwrap();
        assert_eq!(zone.as_deref(), Some("+08:00"), "the reading session runs in the server's zone");
        let row: (String, String, String, String) = target
            .conn
            .query_first(
                "SELECT UNIX_TIMESTAMP(ts), CAST(ts AS CHAR), CAST(dt AS CHAR), CAST(naive AS CHAR) FROM moments",
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.0, "1700000000.123456", "the TIMESTAMP holds the instant");
        assert_eq!(row.1, "2023-11-15 06:13:20.123456", "shown in +08:00, 8 hours ahead of UTC");
        assert_eq!(row.2, "2023-11-14 22:13:20.123456", "a DATETIME gets the UTC wall-clock time");
        assert_eq!(row.3, "2024-03-10 02:30:00.000000", "a zone-less DATETIME is written as is");
    });
}

/// FLOAT(M,D)/DOUBLE(M,D) against the server itself: numbers with up to a
/// few more decimals than the column keeps, some at the edges of its range,
/// are classified by the encoder the sink uses and also written raw (a
/// prepared statement with the same FLOAT/DOUBLE parameter). Every number
/// Sluice accepts reads back bit for bit; every number it refuses is one
/// the server changes (rounds) or rejects (out of range).
#[tokio::test]
async fn scaled_float_columns_take_exactly_what_the_server_keeps() {
    let target = Target::new("types_scaled_floats", "").await;
    let mut conn = target.database.connect().await;
    let columns = [("float(7,2)", false), ("double(10,3)", true), ("double(16,4) unsigned", true)];
    let ddl: Vec<String> = columns.iter().enumerate().map(|(i, (t, _))| format!("c{i} {t}")).collect();
    conn.query_drop(format!("CREATE TABLE scaled (id int PRIMARY KEY, {}) ENGINE=InnoDB", ddl.join(", ")))
        .await
        .unwrap();
    let name = sluice_api::TableName::new(target.database.name.clone(), "scaled");
    let info = sluice_mysql::describe_target_table(&target.database.url(), &name).await.unwrap().unwrap();

    // Deterministic numbers: a mantissa and 0 to 5 decimals, both signs, plus edges.
    let mut numbers: Vec<f64> = Vec::new();
    let mut seed: u64 = 0x5eed;
    for _ in 0..400 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let mantissa = (seed >> 20) % 2_000_000_000;
        let decimals = (seed >> 8) % 6;
        let sign = if seed & 1 == 0 { 1.0 } else { -1.0 };
        numbers.push(sign * mantissa as f64 / 10f64.powi(decimals as i32));
    }
    numbers.extend([0.125, 0.135, 2.675, 1.005, 0.0005, 99_999.99, 99_999.995, 9_999_999.999, 0.1 + 0.2, 1e-9]);

    let (mut accepted, mut refused) = (0, 0);
    for (c, (sql_type, double)) in columns.iter().enumerate() {
        let column = info.column(&format!("c{c}")).unwrap();
        for (i, &number) in numbers.iter().enumerate() {
            let value = if *double { Value::Float64(number) } else { Value::Float32(number as f32) };
            let param =
                if *double { mysql_async::Value::Double(number) } else { mysql_async::Value::Float(number as f32) };
            let id = (c * 10_000 + i) as i64;
            let written =
                conn.exec_drop(format!("INSERT INTO scaled (id, c{c}) VALUES (?, ?)"), (id, param.clone())).await;
            let kept = match written {
                Ok(()) => {
                    let read: Option<f64> = conn
                        .exec_first(format!("SELECT CAST(c{c} AS DOUBLE) FROM scaled WHERE id = ?"), (id,))
                        .await
                        .unwrap();
                    let read = read.unwrap();
                    if *double { read == number } else { read as f32 == number as f32 }
                }
                // 1264: out of range (strict mode).
                Err(mysql_async::Error::Server(error)) if error.code == 1264 => false,
                Err(error) => panic!("{sql_type} {number}: {error}"),
            };
            match sluice_mysql::encode_value(&value, column) {
                Ok(encoded) => {
                    accepted += 1;
                    assert_eq!(encoded, param, "{sql_type} {number}");
                    assert!(kept, "{sql_type}: Sluice accepted {number:?}, which the server changes or refuses");
                }
                Err(reason) => {
                    refused += 1;
                    assert!(!kept, "{sql_type}: Sluice refused {number:?} ({reason}), which the server keeps");
                }
            }
        }
    }
    assert!(accepted > 300 && refused > 300, "both outcomes exercised: {accepted} accepted, {refused} refused");
}
