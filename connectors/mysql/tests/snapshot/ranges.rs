//! Boundaries and ranges: walking a table chunk by chunk reads every row
//! exactly once, in the server's key order — with a composite key whose
//! text part sorts by a case-insensitive collation, with a DBA filter
//! (trailing comment included), and with single-column keys of the types
//! whose bound parameters need care (GBK text, binary bytes, DECIMAL, ENUM,
//! SET, BIT, temporal values, BIGINT UNSIGNED, UUID). Also NULL keys and
//! the row estimate.

use mysql_async::prelude::Queryable;
use sluice_api::Value;
use sluice_testkit::MariaDbServer;

use super::*;

const WORDS: &[&str] =
    &["apple", "Banana", "cherry", "Durian", "elder", "Fig", "k10", "k2", "K3", "zeta", "Älpler", ""];

/// The composite keys of `r` in the server's order, as values.
async fn server_keys(database: &TestMariaDb, filter: &str) -> Vec<Vec<Value>> {
    let mut conn = database.connect().await;
    let keys: Vec<(i64, String)> =
        conn.query(format!("SELECT a, b FROM r WHERE {filter} ORDER BY a, b")).await.unwrap();
    keys.into_iter().map(|(a, b)| vec![Value::Int(a), Value::Text(b)]).collect()
}

async fn composite_table() -> TestMariaDb {
    let database = MariaDbServer::shared().create_database("snap_ranges").await;
    execute(
        &database,
        "CREATE TABLE r (v INT NOT NULL, b VARCHAR(20) NOT NULL, a INT NOT NULL, PRIMARY KEY (a, b))
         DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci",
    )
    .await;
    let mut rows = Vec::new();
    for a in -2..5 {
        for (i, word) in WORDS.iter().enumerate() {
            rows.push(format!("({}, '{word}', {a})", (a + 2) * 100 + i as i64));
        }
    }
    execute(&database, &format!("INSERT INTO r (v, b, a) VALUES {}", rows.join(", "))).await;
    database
}

fn keys_of(chunks: &[Vec<sluice_api::Row>], key: &[usize]) -> Vec<Vec<Value>> {
    chunks.iter().flatten().map(|row| key.iter().map(|&k| row[k].clone()).collect()).collect()
}

#[tokio::test]
async fn boundaries_cover_every_row_once_with_a_composite_key() {
    let database = composite_table().await;
    let mut reader = reader(&database).await;
    let schema = describe(&mut reader, &database, "r").await;
    // The key is (a, b) in index order, while the columns are (v, b, a).
    let key = vec![2, 1];
    let expected = server_keys(&database, "TRUE").await;
    assert_eq!(expected.len(), 7 * WORDS.len());
    for chunk_rows in [1, 5, 12, 13, 1000] {
        let chunks = walk(&mut reader, &schema, &key, chunk_rows, None).await;
        assert_eq!(keys_of(&chunks, &key), expected, "chunks of {chunk_rows}");
    }
}

#[tokio::test]
async fn boundaries_and_chunks_apply_the_filter() {
    let database = composite_table().await;
    let mut reader = reader(&database).await;
    let schema = describe(&mut reader, &database, "r").await;
    let key = vec![2, 1];
    let expected = server_keys(&database, "v % 3 <> 0").await;
    let chunks = walk(&mut reader, &schema, &key, 7, Some("v % 3 <> 0 -- not the multiples of three")).await;
    assert_eq!(keys_of(&chunks, &key), expected);
    assert!(chunks.iter().flatten().all(|row| matches!(row[0], Value::Int(v) if v % 3 != 0)));
    // A filter nothing matches: one empty chunk.
    let chunks = walk(&mut reader, &schema, &key, 7, Some("v < -1000")).await;
    assert_eq!(chunks, vec![Vec::<sluice_api::Row>::new()]);
}

#[tokio::test]
async fn keys_of_many_types_bind_as_the_column_sorts() {
    let database = MariaDbServer::shared().create_database("snap_key_types").await;
    let cases: &[(&str, &[&str])] = &[
        ("VARCHAR(10) CHARACTER SET gbk", &["'中'", "'文'", "'a'", "'B'", "'c'", "'Ā'"]),
        ("VARBINARY(4)", &["X'FF'", "X'00'", "X'7F80'", "X''", "X'FFFF'", "X'C328'"]),
        (
            "DECIMAL(30,10)",
            &["'12345678901234567890.0000000001'", "'12345678901234567890.0000000002'", "'-1'", "'0'", "'0.5'"],
        ),
        ("ENUM('zz','aa','mm')", &["'zz'", "'aa'", "'mm'", "''"]),
        ("SET('z','a','m')", &["'z'", "'a'", "'a,m'", "'z,a,m'", "''"]),
        ("BIT(9)", &["b'0'", "b'100000000'", "b'11'", "b'111111111'"]),
        (
            "DATETIME(6)",
            &[
                "'2024-01-01 00:00:00.000001'",
                "'2024-01-01 00:00:00'",
                "'1000-01-01 00:00:00'",
                "'0000-00-00 00:00:00'",
            ],
        ),
        (
            "TIMESTAMP(3)",
            &[
                "'2024-01-01 00:00:00.001'",
                "'1970-01-01 00:00:01'",
                "'2038-01-19 03:14:07.999'",
                "'0000-00-00 00:00:00'",
            ],
        ),
        ("TIME(2)", &["'-00:00:00.01'", "'00:00:00'", "'-838:59:59'", "'838:59:59'", "'-01:00:00.50'"]),
        ("DATE", &["'2024-00-10'", "'2024-01-01'", "'0000-00-00'"]),
        ("YEAR", &["0", "1901", "2155"]),
        ("BIGINT UNSIGNED", &["18446744073709551615", "0", "9223372036854775808"]),
        ("DOUBLE", &["0.1", "-1e300", "3.5"]),
        (
            "UUID",
            &[
                "'123e4567-e89b-12d3-a456-426614174000'",
                "'00000000-0000-0000-0000-000000000001'",
                "'ffffffff-ffff-1fff-ffff-ffffffffffff'",
            ],
        ),
        ("INET6", &["'::1'", "'2001:db8::1'", "'::ffff:1.2.3.4'"]),
    ];
    let mut reader = reader(&database).await;
    for (i, (sql_type, samples)) in cases.iter().enumerate() {
        let table = format!("k{i}");
        execute(
            &database,
            &format!(
                "SET SESSION sql_mode = ''; CREATE TABLE {table} (k {sql_type} NOT NULL PRIMARY KEY, n INT);
                 INSERT INTO {table} VALUES {}",
                samples.iter().enumerate().map(|(n, s)| format!("({s}, {n})")).collect::<Vec<_>>().join(", ")
            ),
        )
        .await;
        let schema = describe(&mut reader, &database, &table).await;
        let whole = read_all(&mut reader, &schema).await;
        assert_eq!(whole.len(), samples.len(), "{sql_type}");
        for chunk_rows in [1, 2] {
            let chunks = walk(&mut reader, &schema, &[0], chunk_rows, None).await;
            let walked: Vec<_> = chunks.into_iter().flatten().collect();
            assert_eq!(walked, whole, "{sql_type}: chunks of {chunk_rows}");
        }
    }
}

#[tokio::test]
async fn null_keys_are_found_and_the_estimate_counts_rows() {
    let database = MariaDbServer::shared().create_database("snap_nulls").await;
    execute(
        &database,
        "CREATE TABLE n (id INT PRIMARY KEY, u INT NULL, w INT NULL);
         INSERT INTO n VALUES (1, 1, 1), (2, NULL, 2), (3, 3, 3); ANALYZE TABLE n",
    )
    .await;
    let mut reader = reader(&database).await;
    let schema = describe(&mut reader, &database, "n").await;
    assert!(!reader.has_null_key(&schema, &[0]).await.unwrap());
    assert!(reader.has_null_key(&schema, &[1]).await.unwrap());
    assert!(reader.has_null_key(&schema, &[2, 1]).await.unwrap());
    assert!(!reader.has_null_key(&schema, &[2]).await.unwrap());
    assert_eq!(reader.estimate_rows(&schema).await.unwrap(), 3);
    assert!(reader.describe(&TableName::new(database.name.clone(), "absent")).await.unwrap().is_none());
}
