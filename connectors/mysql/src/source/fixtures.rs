//! Binlog bytes captured from a MariaDB 10.11 server (`binlog_format=ROW`,
//! `binlog_row_metadata=FULL`, latin1 default charset) for unit tests: a
//! TABLE_MAP and a WRITE_ROWS_V1 body (no event header, no checksum) of
//!
//! ```sql
//! CREATE TABLE x.t (id int primary key, y year, u int unsigned, g geometry,
//!   e enum('a','b'), s set('p','q'), c char(4) charset gbk, j json, uu uuid,
//!   i6 inet6, b binary(4), d date, t2 time(2), dt datetime(3),
//!   ts timestamp(6) null, bi bigint unsigned, dec1 decimal(65,30), bt bit(10));
//! INSERT INTO x.t VALUES (1, 2024, 4294967295, point(1,2), 'b', 'p,q', '中文',
//!   '{"a": [1, 2]}', '123e4567-e89b-12d3-a456-426614174000', '::ffff:1.2.3.4',
//!   'ab', '2024-00-10', '-01:00:00.50', '2024-01-02 03:04:05.678',
//!   '2024-01-01 00:00:00.5', 18446744073709551615,
//!   '-12345678901234567890123456789012345.123456789012345678901234567890', b'1000000001');
//! ```
//!
//! Also MySQL event bodies built by hand after MySQL's documentation and
//! source (no MySQL server runs where Sluice is developed): GTID (33),
//! tagged GTID (42), and Query bodies.

use super::catalog::{CollationCharset, Collations, TableExtras};
use super::decode::Special;

pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

pub(crate) const WIDE_TABLE_MAP: &str = "
    12 00 00 00 00 00 01 00 01 78 00 01 74 00 12 03 0d 03 ff fe fe fe fc fe fe fe 0a 13 12 11 08 f6 10
    15 04 f7 01 f8 01 fe 08 04 fe 10 fe 10 fe 04 02 03 06 41 1e 02 01
    fe ff 03
    01 01 70
    02 05 3f 01 1c 02 2e
    07 01 00
    04 2f 02 69 64 01 79 01 75 01 67 01 65 01 73 01 63 01 6a 02 75 75 02 69 36 01 62 01 64 02 74 32 02 64 74
          02 74 73 02 62 69 04 64 65 63 31 02 62 74
    0a 01 08
    05 05 02 01 70 01 71
    06 05 02 01 61 01 62
    08 01 00";

pub(crate) const WIDE_WRITE_ROWS: &str = "
    12 00 00 00 00 00 01 00 12 ff ff 03 00 00 fc 01 00 00 00 7c ff ff ff ff 19 00 00 00 00 00 00 00
    01 01 00 00 00 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 40 02 03 04 d6 d0 ce c4 0d 00 00 00
    7b 22 61 22 3a 20 5b 31 2c 20 32 5d 7d 0f 12 3e 45 67 e8 9b 12 d3 a4 56 42 66 14 17 40 10 00 00
    00 00 00 00 00 00 00 00 ff ff 01 02 03 04 02 61 62 0a d0 0f 7f ef ff ce 99 b2 44 31 05 1a 7c 65
    92 00 80 07 a1 20 ff ff ff ff ff ff ff ff 7f 43 9e b1 ca 48 40 78 ca f1 cb 3f d0 f8 a0 86 f8 a4
    32 ea ff 43 9e b1 ca 48 40 78 fc 85 02 01";

/// The collations the captured table uses.
pub(crate) fn collations() -> Collations {
    let entry = |id, charset: &str, max_len| (id, CollationCharset { charset: charset.into(), max_len });
    Collations([entry(8, "latin1", 1), entry(28, "gbk", 2), entry(46, "utf8mb4", 4), entry(63, "binary", 1)].into())
}

/// What information_schema says about the captured table.
pub(crate) fn extras() -> TableExtras {
    TableExtras {
        special: [("uu".into(), Special::Uuid), ("i6".into(), Special::Inet6), ("j".into(), Special::Json)].into(),
        unique_key: None,
    }
}

pub(crate) const SERVER_UUID: [u8; 16] =
    [0x3E, 0x11, 0xFA, 0x47, 0x71, 0xCA, 0x11, 0xE1, 0x9E, 0x33, 0xC8, 0x0A, 0xA9, 0x42, 0x95, 0x62];

/// A GTID (33) body as MySQL 8.0 writes it: flags, SID, GNO, then the
/// logical clock typecode (2), last_committed, sequence_number, a 7-byte
/// commit timestamp, the transaction length and the server version.
pub(crate) fn mysql_gtid_body(sid: [u8; 16], number: i64) -> Vec<u8> {
    let mut body = vec![0x00];
    body.extend_from_slice(&sid);
    body.extend_from_slice(&number.to_le_bytes());
    body.push(2);
    body.extend_from_slice(&4i64.to_le_bytes());
    body.extend_from_slice(&5i64.to_le_bytes());
    body.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x00]);
    body.push(0xFA);
    body.extend_from_slice(&80036u32.to_le_bytes());
    body
}

/// MySQL's serialization-library varlen integer (`libs/mysql/serialization/readme.md`).
pub(crate) fn varlen(value: u64) -> Vec<u8> {
    let bits = 64 - value.leading_zeros() as usize;
    let count = ((bits * 575) >> 12) + 1; // get_size_integer_varlen_unsigned
    if count == 9 {
        let mut out = vec![0xFF];
        out.extend_from_slice(&value.to_le_bytes());
        return out;
    }
    let encoded = (u128::from(value) << count) | ((1u128 << (count - 1)) - 1);
    encoded.to_le_bytes()[..count].to_vec()
}

pub(crate) fn zigzag(value: i64) -> u64 {
    if value >= 0 { (value as u64) << 1 } else { ((-(value + 1)) as u64) << 1 | 1 }
}

/// A tagged GTID (42) body: envelope (format version 1, size counted from
/// the version byte, last non-ignorable field id) and fields 0–11.
pub(crate) fn mysql_tagged_gtid_body(sid: [u8; 16], tag: &str, number: i64, last_non_ignorable: u64) -> Vec<u8> {
    let mut fields = Vec::new();
    let mut field = |id: u64, value: Vec<u8>| {
        fields.extend(varlen(id));
        fields.extend(value);
    };
    field(0, varlen(0)); // flags
    field(1, sid.iter().flat_map(|&b| varlen(u64::from(b))).collect());
    field(2, varlen(zigzag(number)));
    let mut tag_bytes = varlen(tag.len() as u64);
    tag_bytes.extend_from_slice(tag.as_bytes());
    field(3, tag_bytes);
    field(4, varlen(zigzag(41))); // last_committed
    field(5, varlen(zigzag(42))); // sequence_number
    field(6, varlen(1_717_000_000_000_000)); // immediate commit timestamp (µs)
    field(8, varlen(345)); // transaction length
    field(9, varlen(80_400)); // immediate server version
    let envelope = 1 + 1 + varlen(last_non_ignorable).len(); // version, size (one byte here), lnif
    let mut body = varlen(1);
    body.extend(varlen((envelope + fields.len()) as u64));
    body.extend(varlen(last_non_ignorable));
    body.extend(fields);
    body
}

/// A Query (2) body: thread id, exec time, schema length, error code, no
/// status variables, the schema and a NUL, the statement.
pub(crate) fn query_body(schema: &str, statement: &str) -> Vec<u8> {
    let mut body = vec![8, 0, 0, 0, 0, 0, 0, 0, schema.len() as u8, 0, 0, 0, 0];
    body.extend_from_slice(schema.as_bytes());
    body.push(0);
    body.extend_from_slice(statement.as_bytes());
    body
}
