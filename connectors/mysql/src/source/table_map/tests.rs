//! TABLE_MAP parsing against a body MariaDB 10.11 wrote with
//! `binlog_row_metadata=FULL` for a table of many types, so the
//! optional-metadata alignment (YEAR counted as numeric, GEOMETRY as
//! character) is checked against the server, not against a guess.

use proptest::prelude::*;

use super::*;
use crate::source::fixtures::{WIDE_TABLE_MAP, hex};

#[test]
fn full_metadata_of_a_mariadb_table_map() {
    let map = parse(&hex(WIDE_TABLE_MAP), 6).unwrap();
    assert_eq!(map.header, TableMapHeader { table_id: 18, schema: "x".into(), table: "t".into() });
    let names: Vec<_> = map.columns.iter().map(|c| c.name.clone().unwrap()).collect();
    assert_eq!(
        names,
        ["id", "y", "u", "g", "e", "s", "c", "j", "uu", "i6", "b", "d", "t2", "dt", "ts", "bi", "dec1", "bt"]
    );
    assert_eq!(map.primary_key, Some(vec![0]));
    let column = |name: &str| map.columns.iter().find(|c| c.name.as_deref() == Some(name)).unwrap();
    // Signedness: YEAR takes a bit, so `dec1` stays signed.
    assert!(!column("id").unsigned && column("u").unsigned && column("bi").unsigned);
    assert!(!column("dec1").unsigned);
    assert_eq!(column("dec1").meta, [65, 30]);
    // Character sets: GEOMETRY counts as a character column.
    assert_eq!(column("g").collation, Some(63));
    assert_eq!(column("c").collation, Some(28), "gbk_chinese_ci");
    assert_eq!(column("j").collation, Some(46), "utf8mb4_bin");
    assert_eq!(column("uu").collation, Some(63));
    assert_eq!(column("e").collation, Some(8), "latin1_swedish_ci");
    // Real types and lengths of STRING columns.
    assert_eq!((column("e").column_type, column("e").meta[1]), (TYPE_ENUM, 1));
    assert_eq!((column("s").column_type, column("s").meta[1]), (TYPE_SET, 1));
    assert_eq!((column("c").column_type, column("c").meta[0]), (TYPE_STRING, 8));
    assert_eq!(column("e").labels, Some(vec![b"a".to_vec(), b"b".to_vec()]));
    assert_eq!(column("s").labels, Some(vec![b"p".to_vec(), b"q".to_vec()]));
    assert_eq!((column("t2").column_type, column("t2").meta[0]), (TYPE_TIME2, 2));
    assert_eq!(column("bt").meta, [2, 1]);
    assert!(!column("id").nullable && column("y").nullable);
}

#[test]
fn long_char_length_is_folded_into_the_type_byte() {
    // CHAR(255) utf8mb4 = 1020 bytes: 0xFE ^ ((1020 >> 4) & 0x30) = 0xCE, low byte 0xFC.
    let mut metadata = Reader::new(&[0xCE, 0xFC]);
    assert_eq!(column_metadata(TYPE_STRING, &mut metadata).unwrap(), (TYPE_STRING, [1020, 0]));
}

#[test]
fn header_only_parse_needs_no_column_metadata() {
    let body = hex(WIDE_TABLE_MAP);
    let (header, _) = parse_header(&body, 6).unwrap();
    assert_eq!((header.schema.as_str(), header.table.as_str()), ("x", "t"));
    assert!(parse(&body[..40], 6).is_err());
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_or_mutated_bodies(
        bytes in proptest::collection::vec(any::<u8>(), 0..96),
        position in 0usize..200, value: u8, cut in 0usize..200
    ) {
        let _ = parse(&bytes, 6);
        let mut body = hex(WIDE_TABLE_MAP);
        let len = body.len();
        body[position % len] = value;
        body.truncate(cut.max(1) % (len + 1));
        let _ = parse(&body, 6);
    }
}
