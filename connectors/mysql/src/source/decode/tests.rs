//! Cell decoding: integer widths and signedness, BIT alignment, ENUM/SET
//! labels, BINARY padding, MariaDB UUID/INET6 (printed as the server
//! printed them), and character-set errors that never show the value.

use proptest::prelude::*;

use super::*;

fn decode(plan: &CellPlan, bytes: &[u8]) -> Result<Value, Reason> {
    let mut reader = Reader::new(bytes);
    let value = decode_cell(plan, &mut reader)?;
    assert!(reader.is_empty(), "{plan:?} must consume exactly its bytes");
    Ok(value)
}

fn string(max_bytes: u16, fixed: bool, charset: &str, special: Option<Special>) -> CellPlan {
    CellPlan::String { max_bytes, fixed, charset: Charset::from_name(charset).unwrap(), special }
}

#[test]
fn integers_by_width_and_signedness() {
    let unsigned = |bytes| CellPlan::Int { bytes, unsigned: true };
    let signed = |bytes| CellPlan::Int { bytes, unsigned: false };
    assert_eq!(decode(&unsigned(8), &[0xFF; 8]), Ok(Value::UInt(18_446_744_073_709_551_615)));
    assert_eq!(decode(&signed(8), &[0xFF; 8]), Ok(Value::Int(-1)));
    assert_eq!(decode(&signed(3), &[0x00, 0x00, 0x80]), Ok(Value::Int(-8_388_608)));
    assert_eq!(decode(&signed(3), &[0xFF, 0xFF, 0xFF]), Ok(Value::Int(-1)));
    assert_eq!(decode(&unsigned(3), &[0xFF, 0xFF, 0xFF]), Ok(Value::UInt(16_777_215)));
    assert_eq!(decode(&signed(1), &[0x80]), Ok(Value::Int(-128)));
    assert_eq!(decode(&unsigned(4), &[0xFF, 0xFF, 0xFF, 0xFF]), Ok(Value::UInt(4_294_967_295)));
    assert_eq!(decode(&signed(2), &[0x01]).unwrap_err(), truncated());
}

#[test]
fn bit_values_are_left_aligned_bit_strings() {
    // BIT(10) b'1000000001' as MariaDB writes it: 0x02 0x01.
    assert_eq!(
        decode(&CellPlan::Bit { bits: 10 }, &[0x02, 0x01]),
        Ok(Value::Bits(BitString::from_text("1000000001").unwrap()))
    );
    assert_eq!(decode(&CellPlan::Bit { bits: 1 }, &[0x01]), Ok(Value::Bits(BitString::from_text("1").unwrap())));
    assert!(decode(&CellPlan::Bit { bits: 3 }, &[0x08]).is_err(), "a value wider than the column");
    assert_eq!(
        decode(&CellPlan::Bit { bits: 64 }, &[0xFF; 8]),
        Ok(Value::Bits(BitString::from_text(&"1".repeat(64)).unwrap()))
    );
}

#[test]
fn enum_and_set_become_labels() {
    let labels = vec!["a".to_owned(), "b".to_owned()];
    let enum_plan = CellPlan::Enum { pack_length: 1, labels: labels.clone() };
    assert_eq!(decode(&enum_plan, &[2]), Ok(Value::Enum("b".into())));
    assert_eq!(decode(&enum_plan, &[0]), Ok(Value::Enum(String::new())));
    assert!(decode(&enum_plan, &[3]).is_err());
    let set_plan = CellPlan::Set { pack_length: 1, labels };
    assert_eq!(decode(&set_plan, &[3]), Ok(Value::Set(vec!["a".into(), "b".into()])));
    assert_eq!(decode(&set_plan, &[0]), Ok(Value::Set(vec![])));
    assert!(decode(&set_plan, &[4]).is_err());
}

#[test]
fn binary_is_padded_back_and_char_is_not() {
    // BINARY(4) 'ab' is logged without its trailing zero bytes.
    assert_eq!(decode(&string(4, true, "binary", None), &[2, b'a', b'b']), Ok(Value::Bytes(b"ab\0\0".to_vec())));
    assert_eq!(decode(&string(4, false, "binary", None), &[2, b'a', b'b']), Ok(Value::Bytes(b"ab".to_vec())));
    assert_eq!(decode(&string(8, true, "gbk", None), &[4, 0xD6, 0xD0, 0xCE, 0xC4]), Ok(Value::Text("中文".into())));
    // A VARCHAR that can exceed 255 bytes has a 2-byte length.
    assert_eq!(decode(&string(400, false, "utf8mb4", None), &[2, 0, b'h', b'i']), Ok(Value::Text("hi".into())));
}

#[test]
fn invalid_text_is_an_error_without_the_bytes() {
    let error = decode(&string(8, true, "gbk", None), &[2, 0xD6, 0x20]).unwrap_err();
    assert_eq!(error, "the bytes are not valid in the column's character set");
    let blob = CellPlan::Blob { length_bytes: 2, charset: Charset::Utf8, special: None };
    assert!(decode(&blob, &[2, 0, 0xC3, 0x28]).is_err());
}

#[test]
fn mariadb_uuid_is_text_order_with_trailing_zeros_restored() {
    let plan = string(16, true, "binary", Some(Special::Uuid));
    // 123e4567-e89b-12d3-a456-426614174000 as MariaDB 10.11 logs it: 15 bytes.
    let logged = [0x12, 0x3E, 0x45, 0x67, 0xE8, 0x9B, 0x12, 0xD3, 0xA4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40];
    let mut bytes = vec![15];
    bytes.extend_from_slice(&logged);
    let mut expected = [0u8; 16];
    expected[..15].copy_from_slice(&logged);
    assert_eq!(decode(&plan, &bytes), Ok(Value::Uuid(expected)));
    assert_eq!(decode(&plan, &[0]), Ok(Value::Uuid([0; 16])));
}

#[test]
fn inet6_prints_like_mariadb() {
    let cases = [
        ("00000000000000000000000000000001", "::1"),
        ("00000000000000000000000000000000", "::"),
        ("00000000000000000000000001020304", "::1.2.3.4"),
        ("20010DB8000000000000000000000001", "2001:db8::1"),
        ("FE800000000000000001000200030004", "fe80::1:2:3:4"),
        ("00010000000000020000000000000003", "1:0:0:2::3"),
        ("00000000000000000000FFFF00000001", "::ffff:0.0.0.1"),
        ("00000000000000000000000100000000", "::1:0:0"),
        ("00010000000000000000000000000000", "1::"),
        ("000000000000000000000000000A000B", "::0.10.0.11"),
        ("00010000000200030004000500060007", "1::2:3:4:5:6:7"),
    ];
    for (hex, text) in cases {
        let bytes: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        assert_eq!(inet6_text(&bytes.try_into().unwrap()), text, "{hex}");
    }
}

#[test]
fn mariadb_json_is_text_and_mysql_json_is_rendered() {
    let mariadb = CellPlan::Blob { length_bytes: 4, charset: Charset::Utf8, special: Some(Special::Json) };
    let text = br#"{"a": [1, 2]}"#;
    let mut bytes = (text.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(text);
    assert_eq!(decode(&mariadb, &bytes), Ok(Value::Json(r#"{"a": [1, 2]}"#.into())));
    let mysql = CellPlan::Json { length_bytes: 4 };
    assert_eq!(decode(&mysql, &[2, 0, 0, 0, 0x04, 0x01]), Ok(Value::Json("true".into())));
}

#[test]
fn year_and_floats() {
    assert_eq!(decode(&CellPlan::Year, &[124]), Ok(Value::Year(2024)));
    assert_eq!(decode(&CellPlan::Year, &[0]), Ok(Value::Year(0)));
    assert_eq!(decode(&CellPlan::Float, &1.5f32.to_le_bytes()), Ok(Value::Float32(1.5)));
    assert_eq!(decode(&CellPlan::Double, &0.1f64.to_le_bytes()), Ok(Value::Float64(0.1)));
}

fn any_plan() -> impl Strategy<Value = CellPlan> {
    let charsets = prop_oneof![Just("utf8mb4"), Just("gbk"), Just("binary"), Just("latin1"), Just("utf16")]
        .prop_map(|name| Charset::from_name(name).unwrap());
    let special = proptest::option::of(prop_oneof![
        Just(Special::Uuid),
        Just(Special::Inet6),
        Just(Special::Inet4),
        Just(Special::Json)
    ]);
    prop_oneof![
        (prop_oneof![Just(1u8), Just(2), Just(3), Just(4), Just(8)], any::<bool>())
            .prop_map(|(bytes, unsigned)| CellPlan::Int { bytes, unsigned }),
        (0u8..70, 0u8..40).prop_map(|(precision, scale)| CellPlan::Decimal { precision, scale }),
        (0u16..70).prop_map(|bits| CellPlan::Bit { bits }),
        (0u8..8).prop_map(|fsp| CellPlan::Time2 { fsp }),
        (0u8..8).prop_map(|fsp| CellPlan::Datetime2 { fsp }),
        (any::<u16>(), any::<bool>(), charsets.clone(), special.clone())
            .prop_map(|(max_bytes, fixed, charset, special)| CellPlan::String { max_bytes, fixed, charset, special }),
        (0u8..6, charsets, special).prop_map(|(length_bytes, charset, special)| CellPlan::Blob {
            length_bytes,
            charset,
            special
        }),
        (0u8..6).prop_map(|length_bytes| CellPlan::Json { length_bytes }),
        (0u8..10, 0usize..70).prop_map(|(pack_length, n)| CellPlan::Set { pack_length, labels: vec!["x".into(); n] }),
        (0u8..4).prop_map(|pack_length| CellPlan::Enum { pack_length, labels: vec!["x".into(); 3] }),
    ]
}

proptest! {
    #[test]
    fn never_panics(plan in any_plan(), bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = decode_cell(&plan, &mut Reader::new(&bytes));
    }
}
