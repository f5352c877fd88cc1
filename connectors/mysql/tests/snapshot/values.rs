//! A chunk read decodes every cell to exactly the value the binlog stream
//! makes of the same row: the stream's type samples (typical, edge and NULL
//! rows), more character sets and MariaDB types, UUID/INET6 samples, and
//! TIMESTAMP/DATETIME on a server running at +08:00.

use sluice_api::{Row, Value};
use sluice_testkit::{MariaDbOptions, MariaDbServer, TestMariaDb};

use super::*;
use crate::source::values::{COLUMNS, EDGES, TYPICAL};

/// Creates `table` with `columns` (name, SQL type), starts the stream,
/// runs `inserts`, and returns the `rows` inserted rows as the stream
/// decoded them and as one chunk read them.
async fn stream_and_chunk(
    database: &TestMariaDb,
    table: &str,
    columns: &[(&str, &str)],
    inserts: &str,
    rows: usize,
) -> (Vec<Row>, Vec<Row>, Vec<String>) {
    let definitions: Vec<String> = columns.iter().map(|(name, sql_type)| format!("`{name}` {sql_type}")).collect();
    execute(database, &format!("CREATE TABLE `{table}` (id INT PRIMARY KEY, {})", definitions.join(", "))).await;
    let mut stream = start(config(database, &[table]), None).await;
    execute(database, inserts).await;
    let mut streamed = Vec::new();
    while streamed.len() < rows {
        let received = next_transaction(&mut stream).await;
        streamed.extend(received.changes.into_iter().map(|change| change.after.unwrap()));
    }
    let mut reader = reader(database).await;
    let schema = describe(&mut reader, database, table).await;
    assert_eq!(schema.key_indices(), vec![0]);
    let chunk = read_all(&mut reader, &schema).await;
    let names = schema.columns.iter().map(|c| format!("{} {}", c.name, c.type_name)).collect();
    (streamed, chunk, names)
}

fn assert_same(streamed: &[Row], chunk: &[Row], names: &[String]) {
    assert_eq!(chunk.len(), streamed.len(), "row count");
    for (stream_row, chunk_row) in streamed.iter().zip(chunk) {
        assert_eq!(chunk_row.len(), stream_row.len());
        let id = &stream_row[0];
        for (index, (from_chunk, from_stream)) in chunk_row.iter().zip(stream_row).enumerate() {
            assert_eq!(from_chunk, from_stream, "row {id:?}, column {}", names[index]);
        }
    }
}

#[tokio::test]
async fn chunk_values_equal_stream_values_for_every_type() {
    let database = MariaDbServer::shared().create_database("snap_values").await;
    let columns: Vec<(&str, &str)> = COLUMNS.iter().map(|(name, sql_type, _)| (*name, *sql_type)).collect();
    let names: Vec<String> = COLUMNS.iter().map(|(name, ..)| format!("`{name}`")).collect();
    let insert = format!("INSERT INTO v (id, {}) VALUES", names.join(", "));
    let inserts =
        format!("SET SESSION sql_mode = ''; {insert} {TYPICAL}; {insert} {EDGES}; INSERT INTO v (id) VALUES (3);");
    let (streamed, chunk, names) = stream_and_chunk(&database, "v", &columns, &inserts, 3).await;
    assert_same(&streamed, &chunk, &names);
    // Not vacuous: the sample rows hold values, not NULLs.
    assert!(chunk[0].iter().all(|value| !value.is_null()));
}

#[tokio::test]
async fn chunk_values_equal_stream_values_for_more_charsets_and_mariadb_types() {
    let database = MariaDbServer::shared().create_database("snap_more").await;
    let columns = [
        ("ip4", "INET4"),
        ("u16", "VARCHAR(10) CHARACTER SET utf16"),
        ("u16le", "VARCHAR(10) CHARACTER SET utf16le"),
        ("u32", "VARCHAR(10) CHARACTER SET utf32"),
        ("cyr", "VARCHAR(10) CHARACTER SET cp1251"),
        ("koi", "TEXT CHARACTER SET koi8r"),
        ("sj", "VARCHAR(10) CHARACTER SET sjis"),
        ("kr", "VARCHAR(10) CHARACTER SET euckr"),
        ("bin_ci", "VARCHAR(10) COLLATE utf8mb4_bin"),
        ("en1", "ENUM('é','ü','x') CHARACTER SET latin1"),
        ("st_empty", "SET('a','b')"),
        ("dec44", "DECIMAL(4,4)"),
        ("dec_u", "DECIMAL(20,0) UNSIGNED"),
        ("t5", "TIME(5)"),
        ("dtm3", "DATETIME(3)"),
        ("ts0", "TIMESTAMP NULL"),
        ("bit1", "BIT(1)"),
        ("bn16", "BINARY(16)"),
        ("mb", "MEDIUMBLOB"),
        ("tt", "TINYTEXT"),
        ("js", "JSON"),
        ("pt", "POINT"),
    ];
    let inserts = "SET SESSION sql_mode = ''; INSERT INTO m VALUES
        (1, '10.0.0.255', 'a😀', 'b😀', 'c😀', 'Привет', 'Ёж', 'ｱｲｳ日本', '한국어', 'Abc', 'ü', '', '-0.0500',
         '18446744073709551616', '-00:00:01.00001', '2024-02-29 23:59:59.999', '0000-00-00 00:00:00', b'1',
         X'000102030405060708090A0B0C0D0E0F', X'FF00FF', 'tiny', '{\"k\": \"ü\", \"n\": [1.5e300, -0]}', POINT(-1.5, 2)),
        (2, '0.0.0.0', '', '', '', '', '', '', '', '', 'x', 'a,b', '0.0000', '0', '838:59:59.00000',
         '1000-01-01 00:00:00.000', '1970-01-01 00:00:01', b'0', X'00', X'', '', '\"\"', POINT(0, 0)),
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL);";
    let (streamed, chunk, names) = stream_and_chunk(&database, "m", &columns, inserts, 3).await;
    assert_same(&streamed, &chunk, &names);
    assert_eq!(chunk[0][1], Value::Text("10.0.0.255".into()));
    assert_eq!(chunk[0][5], Value::Text("Привет".into()));
}

#[tokio::test]
async fn chunk_uuids_and_inet6_addresses_equal_the_streams() {
    let database = MariaDbServer::shared().create_database("snap_uuid").await;
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
    let inserts = format!("INSERT INTO u VALUES {}", values.join(", "));
    let columns = [("uu", "UUID"), ("ip", "INET6")];
    let (streamed, chunk, names) = stream_and_chunk(&database, "u", &columns, &inserts, samples.len()).await;
    assert_same(&streamed, &chunk, &names);
}

#[tokio::test]
async fn chunk_timestamps_are_instants_and_datetimes_civil_on_a_plus_eight_server() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().time_zone("+08:00"));
    let database = server.create_database("snap_zone").await;
    let columns = [("civil", "DATETIME(3)"), ("instant", "TIMESTAMP(3) NULL")];
    let inserts = "INSERT INTO z VALUES (1, '2024-01-01 12:00:00.250', '2024-01-01 12:00:00.250'),
        (2, '2024-03-31 02:30:00', '1970-01-01 08:00:01'), (3, '2038-01-19 03:14:07.999', '2038-01-19 11:14:07.999')";
    let (streamed, chunk, names) = stream_and_chunk(&database, "z", &columns, inserts, 3).await;
    assert_same(&streamed, &chunk, &names);
    assert_eq!(chunk[1][2], Value::TimestampTz(sluice_api::TimestampTz::Micros(1_000_000)));
}
