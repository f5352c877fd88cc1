//! Rows events: the captured MariaDB WRITE_ROWS_V1 row decoded against its
//! table map, update/delete images, absent columns, compressed bodies, and
//! malformed input.

use std::io::Write;

use proptest::prelude::*;
use sluice_api::{BitString, CivilDate, Date, Decimal, TimeOfDay, Timestamp, TimestampTz};

use super::*;
use crate::source::events::{WRITE_ROWS_COMPRESSED_V1, WRITE_ROWS_V1};
use crate::source::fixtures::{WIDE_TABLE_MAP, WIDE_WRITE_ROWS, collations, extras, hex};
use crate::source::schema::{self, RoutedTable};
use crate::source::table_map;

fn wide_table() -> RoutedTable {
    schema::build(&table_map::parse(&hex(WIDE_TABLE_MAP), 6).unwrap(), &collations(), &extras()).unwrap()
}

fn decode_all(event_type: u8, body: &[u8], table: &RoutedTable) -> Result<Vec<RowImages>, MySqlError> {
    let event = parse(event_type, body, 6)?;
    event.rows(table)?.collect()
}

#[test]
fn every_type_of_the_captured_row_decodes_exactly() {
    let table = wide_table();
    let rows = decode_all(WRITE_ROWS_V1, &hex(WIDE_WRITE_ROWS), &table).unwrap();
    assert_eq!(rows.len(), 1);
    let (before, after) = &rows[0];
    assert!(before.is_none());
    let row = after.as_ref().unwrap();
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&hex("123e4567e89b12d3a456426614174000"));
    let expected = vec![
        Value::Int(1),
        Value::Year(2024),
        Value::UInt(4_294_967_295),
        Value::Bytes(hex("00000000 0101000000 000000000000f03f 0000000000000040")),
        Value::Enum("b".into()),
        Value::Set(vec!["p".into(), "q".into()]),
        Value::Text("中文".into()),
        Value::Json(r#"{"a": [1, 2]}"#.into()),
        Value::Uuid(uuid),
        Value::Text("::ffff:1.2.3.4".into()),
        Value::Bytes(b"ab\0\0".to_vec()),
        Value::Date(Date::Civil(CivilDate { year: 2024, month: 0, day: 10 })),
        Value::Duration(-3_600_500_000),
        Value::Timestamp(Timestamp::Civil {
            date: CivilDate { year: 2024, month: 1, day: 2 },
            time: TimeOfDay(((3 * 3600 + 4 * 60 + 5) * 1_000_000) + 678_000),
        }),
        Value::TimestampTz(TimestampTz::Micros(1_704_067_200_500_000)),
        Value::UInt(u64::MAX),
        Value::Decimal(Decimal::parse("-12345678901234567890123456789012345.123456789012345678901234567890").unwrap()),
        Value::Bits(BitString::from_text("1000000001").unwrap()),
    ];
    assert_eq!(row, &expected);
}

#[test]
fn a_row_of_nulls_is_shorter_than_its_column_count() {
    // 18 columns, all NULL but `id`: 10 bytes of bitmaps and values after the count.
    let table = wide_table();
    let body = hex("12 00 00 00 00 00 01 00 12 ff ff 03 fe ff 03 05 00 00 00");
    let rows = decode_all(WRITE_ROWS_V1, &body, &table).unwrap();
    let row = rows[0].1.as_ref().unwrap();
    assert_eq!(row[0], Value::Int(5));
    assert!(row[1..].iter().all(Value::is_null));
}

/// A v1 rows event body for a two-column table (INT id, VARCHAR(10) utf8mb4 v).
fn small_table() -> RoutedTable {
    let map = "05 00 00 00 00 00 01 00 01 78 00 01 73 00 02 03 0f 02 28 00 02
               04 05 02 69 64 01 76 02 01 2e 08 01 00";
    let collations = collations();
    schema::build(&table_map::parse(&hex(map), 6).unwrap(), &collations, &Default::default()).unwrap()
}

#[test]
fn updates_carry_both_images_and_absent_columns_are_unchanged() {
    let table = small_table();
    assert_eq!(table.schema.columns[1].type_name, "varchar(10)");
    // UPDATE_ROWS_V1: before has both columns, after only `v` (bitmap 0b10).
    let body = hex("05 00 00 00 00 00 01 00 02 03 02  00 07 00 00 00 01 61  00 02 68 69");
    let rows = decode_all(UPDATE_ROWS_V1, &body, &table).unwrap();
    assert_eq!(
        rows,
        vec![(
            Some(vec![Value::Int(7), Value::Text("a".into())]),
            Some(vec![Value::Unchanged, Value::Text("hi".into())])
        )]
    );
    // DELETE_ROWS_V1 with a NULL `v` (null bitmap bit 1), two rows.
    let body = hex("05 00 00 00 00 00 01 00 02 03  02 01 00 00 00  00 02 00 00 00 01 7a");
    let rows = decode_all(DELETE_ROWS_V1, &body, &table).unwrap();
    assert_eq!(rows[0], (Some(vec![Value::Int(1), Value::Null]), None));
    assert_eq!(rows[1], (Some(vec![Value::Int(2), Value::Text("z".into())]), None));
}

#[test]
fn compressed_rows_decode_like_plain_ones() {
    let table = small_table();
    let rows = hex("00 09 00 00 00 03 61 62 63");
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&rows).unwrap();
    let mut body = hex("05 00 00 00 00 00 01 00 02 03");
    body.extend_from_slice(&[0x81, rows.len() as u8]);
    body.extend_from_slice(&encoder.finish().unwrap());
    let decoded = decode_all(WRITE_ROWS_COMPRESSED_V1, &body, &table).unwrap();
    assert_eq!(decoded, vec![(None, Some(vec![Value::Int(9), Value::Text("abc".into())]))]);
}

#[test]
fn decode_errors_name_table_column_and_type_but_not_the_value() {
    let table = small_table();
    let body = hex("05 00 00 00 00 00 01 00 02 03  00 01 00 00 00 02 c3 28");
    let error = decode_all(WRITE_ROWS_V1, &body, &table).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, MySqlError::Value { .. }));
    assert!(text.contains("x.s") && text.contains("column v") && text.contains("varchar(10)"), "{text}");
    // A width that does not match the table map.
    let body = hex("05 00 00 00 00 00 01 00 03 07 00 01 00 00 00");
    assert!(matches!(decode_all(WRITE_ROWS_V1, &body, &table), Err(MySqlError::Protocol { .. })));
}

#[test]
fn v2_events_skip_their_extra_data() {
    let table = small_table();
    let body = hex("05 00 00 00 00 00 01 00 04 00 aa bb 02 03 00 01 00 00 00 00");
    let rows = decode_all(crate::source::events::WRITE_ROWS, &body, &table).unwrap();
    assert_eq!(rows, vec![(None, Some(vec![Value::Int(1), Value::Text(String::new())]))]);
}

proptest! {
    #[test]
    fn never_panics_on_mutated_events(position in 0usize..400, value: u8, cut in 1usize..400, kind in 0u8..3) {
        let table = wide_table();
        let mut body = hex(WIDE_WRITE_ROWS);
        let len = body.len();
        body[position % len] = value;
        body.truncate(cut % (len + 1));
        let event_type = [WRITE_ROWS_V1, UPDATE_ROWS_V1, DELETE_ROWS_V1][kind as usize];
        let _ = decode_all(event_type, &body, &table);
    }
}
