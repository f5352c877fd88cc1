//! Binary JSON rendering: documents built by an encoder that follows
//! MySQL's format (small and large containers), opaque values, and
//! malformed documents that must fail without panicking.

use mysql_common::serde_json::{self, Value as Json, json};
use proptest::prelude::*;

use super::*;

/// Encodes `value` in MySQL's binary format (`large` picks 4-byte offsets).
fn encode(value: &Json, large: bool) -> Vec<u8> {
    let (type_byte, body) = encode_value(value, large);
    [vec![type_byte], body].concat()
}

fn encode_value(value: &Json, large: bool) -> (u8, Vec<u8>) {
    match value {
        Json::Null => (0x04, vec![0]),
        Json::Bool(b) => (0x04, vec![if *b { 1 } else { 2 }]),
        Json::Number(n) if n.is_i64() => (0x09, n.as_i64().unwrap().to_le_bytes().to_vec()),
        Json::Number(n) if n.is_u64() => (0x0A, n.as_u64().unwrap().to_le_bytes().to_vec()),
        Json::Number(n) => (0x0B, n.as_f64().unwrap().to_le_bytes().to_vec()),
        Json::String(s) => (0x0C, [variable_length_bytes(s.len()), s.as_bytes().to_vec()].concat()),
        Json::Array(items) => {
            let entries: Vec<(Option<&str>, &Json)> = items.iter().map(|v| (None, v)).collect();
            (if large { 0x03 } else { 0x02 }, encode_container(&entries, large))
        }
        Json::Object(map) => {
            let entries: Vec<(Option<&str>, &Json)> = map.iter().map(|(k, v)| (Some(k.as_str()), v)).collect();
            (if large { 0x01 } else { 0x00 }, encode_container(&entries, large))
        }
    }
}

fn variable_length_bytes(mut len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (len & 0x7F) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn encode_container(entries: &[(Option<&str>, &Json)], large: bool) -> Vec<u8> {
    let offset_size = if large { 4 } else { 2 };
    let put = |out: &mut Vec<u8>, value: usize| out.extend_from_slice(&(value as u32).to_le_bytes()[..offset_size]);
    let is_object = entries.first().is_some_and(|(k, _)| k.is_some());
    let header = 2 * offset_size
        + if is_object { entries.len() * (offset_size + 2) } else { 0 }
        + entries.len() * (1 + offset_size);
    let mut tail = Vec::new();
    let mut key_entries = Vec::new();
    for (key, _) in entries {
        if let Some(key) = key {
            put(&mut key_entries, header + tail.len());
            key_entries.extend_from_slice(&(key.len() as u16).to_le_bytes());
            tail.extend_from_slice(key.as_bytes());
        }
    }
    let mut value_entries = Vec::new();
    for (_, value) in entries {
        let (type_byte, body) = encode_value(value, large);
        value_entries.push(type_byte);
        if type_byte == 0x04 {
            let mut slot = body.clone();
            slot.resize(offset_size, 0);
            value_entries.extend_from_slice(&slot);
        } else {
            put(&mut value_entries, header + tail.len());
            tail.extend_from_slice(&body);
        }
    }
    let mut out = Vec::new();
    put(&mut out, entries.len());
    put(&mut out, header + tail.len());
    out.extend(key_entries);
    out.extend(value_entries);
    out.extend(tail);
    out
}

#[test]
fn renders_nested_documents_compactly_in_stored_key_order() {
    let value = json!({"a": [1, 2, null, true], "bb": {"c": "x\"y\n"}, "n": -7, "f": 0.5});
    for large in [false, true] {
        assert_eq!(render(&encode(&value, large)).unwrap(), serde_json::to_string(&value).unwrap());
    }
}

#[test]
fn inlined_small_integers_and_long_strings() {
    // {"k": 1} with the int16 inlined in the value entry, as MySQL writes it.
    let doc = [0x00, 0x01, 0x00, 0x0C, 0x00, 0x0B, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, b'k'];
    assert_eq!(render(&doc).unwrap(), r#"{"k":1}"#);
    let long = "é".repeat(200);
    assert_eq!(render(&encode(&json!([long.clone()]), false)).unwrap(), format!("[\"{long}\"]"));
}

#[test]
fn opaque_values_render_like_mysql() {
    // DECIMAL(4,2) 12.50 as an opaque value: precision, scale, binary decimal.
    let doc = [0x0F, 246, 4, 4, 2, 0x80 | 12, 50];
    assert_eq!(render(&doc).unwrap(), "12.50");
    // DATETIME 2024-01-02 03:04:05.000678 packed.
    let ymd = ((2024 * 13 + 1) << 5) | 2;
    let hms = (3 << 12) | (4 << 6) | 5;
    let packed: i64 = ((((ymd as i64) << 17) | hms) << 24) + 678;
    let doc = [vec![0x0F, 12, 8], packed.to_le_bytes().to_vec()].concat();
    assert_eq!(render(&doc).unwrap(), r#""2024-01-02 03:04:05.000678""#);
    let doc = [0x0F, 252, 3, b'a', b'b', b'c'];
    assert_eq!(render(&doc).unwrap(), r#""base64:type252:YWJj""#);
}

#[test]
fn empty_document_is_null_and_malformed_ones_fail() {
    assert_eq!(render(&[]).unwrap(), "null");
    assert!(render(&[0x00, 0x05, 0x00, 0xFF, 0xFF]).is_err(), "size beyond the document");
    assert!(render(&[0x0C, 0x05, b'a']).is_err(), "string longer than the document");
    assert!(render(&[0x0B, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F]).is_err(), "NaN is not JSON");
    assert!(render(&[0x42]).is_err());
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    assert!(render(&encode(&deep, false)).is_err(), "nesting beyond the limit");
}

fn arbitrary_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::btree_map("[a-z]{0,4}", inner, 0..6)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn rendering_matches_the_document(value in arbitrary_json(), large: bool) {
        prop_assert_eq!(render(&encode(&value, large)).unwrap(), serde_json::to_string(&value).unwrap());
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = render(&bytes);
    }
}
