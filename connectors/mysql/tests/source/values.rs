//! Every column type decodes exactly: each value the source emits is
//! compared with what the server itself returns for that cell through a
//! plain query (text, HEX, UNIX_TIMESTAMP …), on typical, edge and NULL
//! rows. TIMESTAMP and DATETIME are checked on a server running at +08:00.

use mysql_async::prelude::Queryable;
use sluice_api::{CivilDate, Date, Timestamp, TimestampTz, Value};
use sluice_testkit::{MariaDbOptions, MariaDbServer};

use super::*;

/// How a column's value is read back from the server for comparison.
#[derive(Clone, Copy)]
pub(crate) enum Read {
    /// The column's text.
    Text,
    /// `HEX(col)`.
    Hex,
    /// `LPAD(BIN(col), bits, '0')`.
    Bits(usize),
    /// `CAST(col AS DOUBLE)`, compared as a number.
    Double,
    /// `TIME_TO_SEC(col)`, compared in microseconds.
    Seconds,
    /// `UNIX_TIMESTAMP(col)`, compared in microseconds.
    Epoch,
    /// The column's text (`YYYY-MM-DD hh:mm:ss[.f…]` with `fsp` digits).
    Datetime(usize),
}

pub(crate) const COLUMNS: &[(&str, &str, Read)] = &[
    ("i_tiny", "TINYINT", Read::Text),
    ("i_tiny_u", "TINYINT UNSIGNED", Read::Text),
    ("flag", "TINYINT(1)", Read::Text),
    ("i_small", "SMALLINT", Read::Text),
    ("i_small_u", "SMALLINT UNSIGNED", Read::Text),
    ("i_med", "MEDIUMINT", Read::Text),
    ("i_med_u", "MEDIUMINT UNSIGNED", Read::Text),
    ("i_int", "INT", Read::Text),
    ("i_int_u", "INT UNSIGNED", Read::Text),
    ("i_big", "BIGINT", Read::Text),
    ("i_big_u", "BIGINT UNSIGNED", Read::Text),
    ("f", "FLOAT", Read::Double),
    ("d", "DOUBLE", Read::Double),
    ("dec_big", "DECIMAL(65,30)", Read::Text),
    ("dec_money", "DECIMAL(10,2)", Read::Text),
    ("dec_int", "DECIMAL(5,0)", Read::Text),
    ("bit10", "BIT(10)", Read::Bits(10)),
    ("bit64", "BIT(64)", Read::Bits(64)),
    ("yr", "YEAR", Read::Text),
    ("dt", "DATE", Read::Text),
    ("t0", "TIME", Read::Seconds),
    ("t1", "TIME(1)", Read::Seconds),
    ("t2", "TIME(2)", Read::Seconds),
    ("t3", "TIME(3)", Read::Seconds),
    ("t4", "TIME(4)", Read::Seconds),
    ("t6", "TIME(6)", Read::Seconds),
    ("dtm", "DATETIME", Read::Datetime(0)),
    ("dtm2", "DATETIME(2)", Read::Datetime(2)),
    ("dtm6", "DATETIME(6)", Read::Datetime(6)),
    ("ts", "TIMESTAMP(6) NULL", Read::Epoch),
    ("ch", "CHAR(10)", Read::Text),
    ("vc", "VARCHAR(300)", Read::Text),
    ("vc_latin1", "VARCHAR(20) CHARACTER SET latin1", Read::Text),
    ("ch_gbk", "CHAR(10) CHARACTER SET gbk", Read::Text),
    ("vc_big5", "VARCHAR(20) CHARACTER SET big5", Read::Text),
    ("vc_ucs2", "VARCHAR(20) CHARACTER SET ucs2", Read::Text),
    ("tx", "TEXT", Read::Text),
    ("lt", "LONGTEXT", Read::Text),
    ("bn", "BINARY(4)", Read::Hex),
    ("vb", "VARBINARY(10)", Read::Hex),
    ("bl", "BLOB", Read::Hex),
    ("en", "ENUM('a','b','c d')", Read::Text),
    ("st", "SET('p','q','r')", Read::Text),
    ("js", "JSON", Read::Text),
    ("uu", "UUID", Read::Text),
    ("ip", "INET6", Read::Text),
    ("geo", "GEOMETRY", Read::Hex),
];

pub(crate) const TYPICAL: &str =
    "(1, -5, 200, 1, -300, 60000, -70000, 16000000, -2000000000, 4000000000, -9000000000000000000,
    18000000000000000000, 0.1, 3.141592653589793, '1.5', '12.34', '-42', b'1000000001', b'1', 2024, '2024-02-29',
    '12:34:56', '-00:00:00.1', '-00:00:00.01', '-00:00:01.001', '00:00:00.1234', '-12:00:00.000001',
    '2024-01-02 03:04:05', '2024-01-02 03:04:05.67', '1999-12-31 23:59:59.999999', '2024-01-01 00:00:00.5',
    'pad  ', 'héllo 😀', '€é', '中文', '繁體中文', 'Ωmega', 'text', REPEAT('long ', 100), 'ab', 'a\\0b', 'blob',
    'c d', 'p,r', '{\"a\": [1, 2.5, null], \"b\": \"x\"}', '123e4567-e89b-12d3-a456-426614174000', '2001:db8::1',
    POINT(1, 2))";

pub(crate) const EDGES: &str = "(2, -128, 255, 0, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
    -9223372036854775808, 18446744073709551615, -3.4028235e38, -1.7976931348623157e308,
    '-12345678901234567890123456789012345.123456789012345678901234567890', '-99999999.99', '99999',
    b'0000000000', b'1111111111111111111111111111111111111111111111111111111111111111', 0, '2024-00-10',
    '-838:59:59', '-838:59:59.0', '-01:00:00.50', '838:59:59.000', '-00:00:00.0001', '838:59:59.000000',
    '1000-01-01 00:00:00', '9999-12-31 23:59:59.99', '0000-00-00 00:00:00', '2038-01-19 03:14:07.999999',
    '', '', '', '', '', '', '', '', X'00000000', X'', X'00', '', '', '[]', '00000000-0000-0000-0000-000000000000',
    '::ffff:1.2.3.4', POINT(0, 0))";

fn render(value: &Value, read: Read) -> Option<String> {
    Some(match (value, read) {
        (Value::Null, _) => return None,
        (Value::Int(n), _) => n.to_string(),
        (Value::UInt(n), _) => n.to_string(),
        (Value::Float32(f), Read::Double) => format!("{:?}", f64::from(*f)),
        (Value::Float64(f), Read::Double) => format!("{f:?}"),
        (Value::Decimal(d), _) => d.as_str().to_owned(),
        (Value::Bits(bits), Read::Bits(_)) => bits.to_text(),
        (Value::Year(y), _) => format!("{y:04}"),
        (Value::Date(Date::Civil(date)), _) => date.to_string(),
        (Value::Duration(micros), Read::Seconds) => format!("{micros}us"),
        (Value::TimestampTz(TimestampTz::Micros(micros)), Read::Epoch) => format!("{micros}us"),
        (Value::Timestamp(Timestamp::Civil { date, time }), Read::Datetime(fsp)) => {
            let clock = time.0 / 1_000_000;
            let mut text = format!("{date} {:02}:{:02}:{:02}", clock / 3600, clock / 60 % 60, clock % 60);
            if fsp > 0 {
                text.push_str(&format!(".{:06}", time.0 % 1_000_000)[..fsp + 1]);
            }
            text
        }
        (Value::Text(s) | Value::Enum(s) | Value::Json(s), _) => s.clone(),
        (Value::Set(labels), _) => labels.join(","),
        (Value::Bytes(bytes), Read::Hex) => bytes.iter().map(|b| format!("{b:02X}")).collect(),
        (Value::Uuid(bytes), _) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
        }
        (other, _) => panic!("unexpected value kind {} for this column", other.kind_name()),
    })
}

/// The server's text for a cell, normalised like `render`.
fn server_text(text: Option<String>, read: Read) -> Option<String> {
    let text = text?;
    Some(match read {
        Read::Double => format!("{:?}", text.parse::<f64>().unwrap()),
        Read::Seconds | Read::Epoch => {
            let (negative, digits) = text.strip_prefix('-').map_or((false, text.as_str()), |d| (true, d));
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
            let micros: i64 =
                whole.parse::<i64>().unwrap() * 1_000_000 + format!("{fraction:0<6}")[..6].parse::<i64>().unwrap();
            format!("{}us", if negative { -micros } else { micros })
        }
        _ => text,
    })
}

fn select_expression(name: &str, read: Read) -> String {
    match read {
        Read::Text | Read::Datetime(_) => format!("CONCAT(`{name}`)"),
        Read::Hex => format!("HEX(`{name}`)"),
        Read::Bits(bits) => format!("LPAD(BIN(`{name}`), {bits}, '0')"),
        Read::Double => format!("CAST(`{name}` AS DOUBLE)"),
        Read::Seconds => format!("TIME_TO_SEC(`{name}`)"),
        Read::Epoch => format!("UNIX_TIMESTAMP(`{name}`)"),
    }
}

#[tokio::test]
async fn every_type_decodes_exactly_as_the_server_reads_it() {
    let database = MariaDbServer::shared().create_database("src_values").await;
    let columns: Vec<String> = COLUMNS.iter().map(|(name, sql_type, _)| format!("`{name}` {sql_type}")).collect();
    execute(&database, &format!("CREATE TABLE v (id INT PRIMARY KEY, {})", columns.join(", "))).await;
    let mut stream = start(config(&database, &["v"]), None).await;
    let names: Vec<&str> = COLUMNS.iter().map(|(name, ..)| *name).collect();
    let insert =
        format!("INSERT INTO v (id, {}) VALUES", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "));
    execute(
        &database,
        &format!("SET SESSION sql_mode = ''; {insert} {TYPICAL}; {insert} {EDGES}; INSERT INTO v (id) VALUES (3);"),
    )
    .await;

    let mut rows = Vec::new();
    while rows.len() < 3 {
        let received = next_transaction(&mut stream).await;
        rows.extend(received.changes.into_iter().map(|change| change.after.unwrap()));
    }
    let mut conn = database.connect().await;
    let expressions: Vec<String> = COLUMNS.iter().map(|(name, _, read)| select_expression(name, *read)).collect();
    let expected: Vec<mysql_async::Row> =
        conn.query(format!("SELECT id, {} FROM v ORDER BY id", expressions.join(", "))).await.unwrap();
    assert_eq!(expected.len(), 3);
    for (row, server_row) in rows.iter().zip(expected) {
        let id = &row[0];
        for (index, (name, sql_type, read)) in COLUMNS.iter().enumerate() {
            let server: Option<String> = server_row.get(index + 1).unwrap();
            assert_eq!(
                render(&row[index + 1], *read),
                server_text(server, *read),
                "row {id:?}, column {name} {sql_type}"
            );
        }
    }
    // The schema the rows came with names the MariaDB types.
    let schema = &stream_schema(&mut stream, &database).await;
    let type_of = |name: &str| schema.columns[schema.column_index(name).unwrap()].type_name.clone();
    assert_eq!(type_of("uu"), "uuid");
    assert_eq!(type_of("ip"), "inet6");
    assert_eq!(type_of("js"), "json");
    assert_eq!(type_of("i_big_u"), "bigint unsigned");
    assert_eq!(type_of("flag"), "tinyint");
}

/// The schema of one more change of table `v`.
async fn stream_schema(stream: &mut SourceStream, database: &TestMariaDb) -> Arc<sluice_api::TableSchema> {
    execute(database, "DELETE FROM v WHERE id = 3").await;
    Arc::clone(&next_transaction(stream).await.changes[0].table)
}

#[tokio::test]
async fn timestamp_is_an_instant_and_datetime_a_civil_time_on_a_plus_eight_server() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().time_zone("+08:00"));
    let database = server.create_database("src_zone").await;
    execute(&database, "CREATE TABLE z (id INT PRIMARY KEY, civil DATETIME(3), instant TIMESTAMP(3) NULL)").await;
    let mut stream = start(config(&database, &["z"]), None).await;
    execute(&database, "INSERT INTO z VALUES (1, '2024-01-01 12:00:00.250', '2024-01-01 12:00:00.250')").await;
    let received = next_transaction(&mut stream).await;
    let row = received.changes[0].after.clone().unwrap();
    let noon = sluice_api::TimeOfDay(12 * 3_600_000_000 + 250_000);
    assert_eq!(
        row[1],
        Value::Timestamp(Timestamp::Civil { date: CivilDate { year: 2024, month: 1, day: 1 }, time: noon })
    );
    // 12:00 at +08:00 is 04:00 UTC.
    let expected = TimestampTz::from_utc_civil(
        CivilDate { year: 2024, month: 1, day: 1 },
        sluice_api::TimeOfDay(4 * 3_600_000_000 + 250_000),
    );
    assert_eq!(row[2], Value::TimestampTz(TimestampTz::Micros(expected)));
    let mut conn = database.connect().await;
    let epoch: String = conn.query_first("SELECT CONCAT(UNIX_TIMESTAMP(instant)) FROM z").await.unwrap().unwrap();
    assert_eq!(epoch, "1704081600.250");
}

#[tokio::test]
async fn mariadb_uuid_and_inet6_values_read_as_the_server_prints_them() {
    let database = MariaDbServer::shared().create_database("src_uuid").await;
    execute(&database, "CREATE TABLE u (id INT PRIMARY KEY, uu UUID, ip INET6)").await;
    let mut stream = start(config(&database, &["u"]), None).await;
    let samples = [
        ("123e4567-e89b-12d3-a456-426614174000", "::1"),
        ("123e4567-e89b-42d3-a456-426614174000", "::"),
        ("00000000-0000-0000-0000-000000000000", "::1.2.3.4"),
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", "2001:db8::1"),
        ("01890a5d-ac96-774b-bcce-b302099a8057", "fe80::1:2:3:4"),
        ("123e4567-e89b-12d3-2456-426614174000", "1:0:0:2:0:0:0:3"),
        ("123e4567-e89b-02d3-a456-426614174000", "::ffff:0:1"),
        ("123e4567-e89b-62d3-a456-426614174000", "0:0:0:0:0:1:0:0"),
        ("123e4567-e89b-12d3-c456-426614174000", "1:0:2:3:4:5:6:7"),
        ("123e4567-e89b-12d3-e456-426614174000", "::a:b"),
    ];
    let values: Vec<String> =
        samples.iter().enumerate().map(|(i, (uuid, ip))| format!("({i}, '{uuid}', '{ip}')")).collect();
    execute(&database, &format!("INSERT INTO u VALUES {}", values.join(", "))).await;
    let received = next_transaction(&mut stream).await;
    let mut conn = database.connect().await;
    let printed: Vec<(String, String)> = conn.query("SELECT CONCAT(uu), CONCAT(ip) FROM u ORDER BY id").await.unwrap();
    assert_eq!(received.changes.len(), printed.len());
    for (change, (uuid, ip)) in received.changes.iter().zip(printed) {
        let row = change.after.as_ref().unwrap();
        assert_eq!(render(&row[1], Read::Text).as_deref(), Some(uuid.as_str()));
        assert_eq!(row[2], Value::Text(ip));
    }
}
