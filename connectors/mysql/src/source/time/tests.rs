//! TIME2/DATETIME2/TIMESTAMP2/DATE decoding: byte layouts captured from a
//! MariaDB 10.11 binlog, the negative-fraction cases mysql_common gets
//! wrong, and property tests against an encoder that mirrors the server's
//! `my_time_packed_to_binary` (C integer semantics: `>>` floors, `%`
//! truncates).

use proptest::prelude::*;

use super::*;

/// The server's TIME2 encoder, for `packed` = ±((h << 36 | m << 30 | s << 24) + µs).
fn encode_time2(packed: i64, fsp: u8) -> Vec<u8> {
    let int = packed >> 24;
    let frac = packed % (1 << 24);
    let be = |value: i64, n: usize| value.to_be_bytes()[8 - n..].to_vec();
    match fsp {
        0 => be(0x80_0000 + int, 3),
        1 | 2 => [be(0x80_0000 + int, 3), vec![(frac / 10_000) as i8 as u8]].concat(),
        3 | 4 => [be(0x80_0000 + int, 3), ((frac / 100) as i16).to_be_bytes().to_vec()].concat(),
        _ => be(packed + 0x8000_0000_0000, 6),
    }
}

fn packed_time(negative: bool, hour: i64, minute: i64, second: i64, micros: i64) -> i64 {
    let magnitude = (((hour << 12) | (minute << 6) | second) << 24) + micros;
    if negative { -magnitude } else { magnitude }
}

fn micros_of(negative: bool, hour: i64, minute: i64, second: i64, micros: i64) -> i64 {
    let magnitude = (hour * 3600 + minute * 60 + second) * 1_000_000 + micros;
    if negative { -magnitude } else { magnitude }
}

fn time2(bytes: &[u8], fsp: u8) -> Result<i64, Reason> {
    let mut reader = Reader::new(bytes);
    let value = decode_time2(&mut reader, fsp)?;
    assert!(reader.is_empty(), "TIME({fsp}) must consume exactly its bytes");
    Ok(value)
}

#[test]
fn negative_time_with_a_two_digit_fraction_as_mariadb_writes_it() {
    // TIME(2) '-01:00:00.50' from a MariaDB 10.11 binlog.
    assert_eq!(time2(&[0x7F, 0xEF, 0xFF, 0xCE], 2), Ok(-3_600_500_000));
}

#[test]
fn edge_times_of_every_precision() {
    let cases = [
        (true, 1, 0, 0, 500_000, 2),    // -01:00:00.50
        (true, 838, 59, 59, 0, 0),      // -838:59:59
        (false, 838, 59, 59, 0, 6),     // 838:59:59.000000
        (true, 0, 0, 0, 10_000, 2),     // -00:00:00.01
        (true, 0, 0, 0, 100_000, 1),    // -00:00:00.1
        (true, 0, 0, 1, 990_000, 2),    // -00:00:01.99
        (true, 12, 34, 56, 789_100, 4), // -12:34:56.7891
        (true, 0, 0, 0, 1, 6),          // -00:00:00.000001
        (true, 838, 59, 59, 999_999, 6),
        (false, 0, 0, 0, 0, 3),
    ];
    for (negative, hour, minute, second, micros, fsp) in cases {
        let bytes = encode_time2(packed_time(negative, hour, minute, second, micros), fsp);
        assert_eq!(
            time2(&bytes, fsp),
            Ok(micros_of(negative, hour, minute, second, micros)),
            "{}{hour}:{minute}:{second}.{micros:06} at fsp {fsp}",
            if negative { "-" } else { "" }
        );
    }
}

#[test]
fn time_beyond_838_hours_and_short_bytes_are_errors() {
    let bytes = encode_time2(packed_time(false, 839, 0, 0, 0), 0);
    assert!(time2(&bytes, 0).is_err());
    assert!(time2(&[0x80, 0x00], 0).is_err());
    assert!(time2(&[0x80, 0x00, 0x00, 0x00], 7).is_err());
}

#[test]
fn datetime2_and_timestamp2_as_mariadb_writes_them() {
    // DATETIME(3) '2024-01-02 03:04:05.678'.
    let mut reader = Reader::new(&[0x99, 0xB2, 0x44, 0x31, 0x05, 0x1A, 0x7C]);
    let expected = Value::Timestamp(Timestamp::Civil {
        date: CivilDate { year: 2024, month: 1, day: 2 },
        time: TimeOfDay(((3 * 3600 + 4 * 60 + 5) * 1_000_000) + 678_000),
    });
    assert_eq!(decode_datetime2(&mut reader, 3), Ok(expected));
    // TIMESTAMP(6) 1704067200.500000 (UTC).
    let mut reader = Reader::new(&[0x65, 0x92, 0x00, 0x80, 0x07, 0xA1, 0x20]);
    assert_eq!(decode_timestamp2(&mut reader, 6), Ok(Value::TimestampTz(TimestampTz::Micros(1_704_067_200_500_000))));
    // The zero TIMESTAMP is no instant.
    let mut reader = Reader::new(&[0, 0, 0, 0]);
    assert_eq!(decode_timestamp2(&mut reader, 0), Ok(zero_timestamp()));
}

#[test]
fn partial_zero_dates_keep_their_zero_parts() {
    // DATE '2024-00-10'.
    let mut reader = Reader::new(&[0x0A, 0xD0, 0x0F]);
    assert_eq!(decode_date(&mut reader), Ok(Value::Date(Date::Civil(CivilDate { year: 2024, month: 0, day: 10 }))));
    let mut reader = Reader::new(&[0, 0, 0]);
    assert_eq!(decode_date(&mut reader), Ok(Value::Date(Date::Civil(CivilDate { year: 0, month: 0, day: 0 }))));
}

#[test]
fn old_formats_decode() {
    let bytes = 20_240_102_030_405u64.to_le_bytes();
    let mut reader = Reader::new(&bytes);
    let expected = Value::Timestamp(Timestamp::Civil {
        date: CivilDate { year: 2024, month: 1, day: 2 },
        time: TimeOfDay((3 * 3600 + 4 * 60 + 5) * 1_000_000),
    });
    assert_eq!(decode_datetime_v1(&mut reader), Ok(expected));
    // TIME '-12:34:56' is the signed 3-byte integer -123456.
    let raw = (-123_456i32 as u32).to_le_bytes();
    let mut reader = Reader::new(&raw[..3]);
    assert_eq!(decode_time_v1(&mut reader), Ok(-((12 * 3600 + 34 * 60 + 56) * 1_000_000)));
}

fn fsp_and_micros() -> impl Strategy<Value = (u8, i64)> {
    (0u8..=6).prop_flat_map(|fsp| {
        let unit = 10i64.pow(6 - u32::from(fsp));
        (Just(fsp), (0..1_000_000 / unit).prop_map(move |n| n * unit))
    })
}

proptest! {
    #[test]
    fn time2_round_trips_through_the_server_encoding(
        negative: bool, hour in 0i64..=838, minute in 0i64..60, second in 0i64..60, (fsp, micros) in fsp_and_micros()
    ) {
        let bytes = encode_time2(packed_time(negative, hour, minute, second, micros), fsp);
        prop_assert_eq!(time2(&bytes, fsp), Ok(micros_of(negative, hour, minute, second, micros)));
    }

    #[test]
    fn temporal_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..10), fsp in 0u8..=8) {
        let _ = decode_time2(&mut Reader::new(&bytes), fsp);
        let _ = decode_datetime2(&mut Reader::new(&bytes), fsp);
        let _ = decode_timestamp2(&mut Reader::new(&bytes), fsp);
        let _ = decode_date(&mut Reader::new(&bytes));
        let _ = decode_datetime_v1(&mut Reader::new(&bytes));
        let _ = decode_timestamp_v1(&mut Reader::new(&bytes));
        let _ = decode_time_v1(&mut Reader::new(&bytes));
    }
}
