//! Event bodies as MariaDB 10.11 wrote them (bytes copied from a binlog),
//! plus hand-built MySQL bodies and truncated input.

use proptest::prelude::*;

use super::*;
use crate::source::fixtures::{SERVER_UUID, mysql_gtid_body, mysql_tagged_gtid_body};

#[test]
fn mariadb_gtid_event_body() {
    // GTID 0-1-7 of a transactional group: seq_no 7, domain 0, flags 0x0C, padding.
    let body = [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0C, 0, 0, 0, 0, 0, 0];
    let gtid = parse_mariadb_gtid(&body, 1).unwrap();
    assert_eq!(gtid.text(), "0-1-7");
    assert!(!gtid.is_standalone());
    // A DDL group: FL_STANDALONE | FL_DDL, domain 3.
    let mut ddl = body;
    ddl[0] = 6;
    ddl[8] = 3;
    ddl[12] = 0x21;
    let gtid = parse_mariadb_gtid(&ddl, 42).unwrap();
    assert_eq!(gtid.text(), "3-42-6");
    assert!(gtid.is_standalone());
    assert!(parse_mariadb_gtid(&body[..12], 1).is_err());
}

#[test]
fn mariadb_gtid_list_event_body() {
    // Gtid list [0-1-5], copied from a binlog.
    let body = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0];
    let list = parse_gtid_list(&body).unwrap();
    assert_eq!(list.iter().map(MariaDbGtid::text).collect::<Vec<_>>(), ["0-1-5"]);
    // Flags in the top 4 bits of the count; two entries.
    let mut two = vec![2, 0, 0, 0x10];
    two.extend_from_slice(&[1, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    two.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
    let list = parse_gtid_list(&two).unwrap();
    assert_eq!(list.iter().map(MariaDbGtid::text).collect::<Vec<_>>(), ["1-9-3", "0-1-8"]);
    assert!(parse_gtid_list(&[0xFF, 0xFF, 0xFF, 0x0F]).is_err(), "a count beyond the body");
    assert!(parse_gtid_list(&[]).is_err());
}

#[test]
fn binlog_checkpoint_names_a_file() {
    let body = [10, 0, 0, 0, b'b', b'i', b'n', b'.', b'0', b'0', b'0', b'0', b'0', b'2'];
    assert_eq!(parse_binlog_checkpoint(&body).unwrap(), "bin.000002");
    assert!(parse_binlog_checkpoint(&body[..8]).is_err());
}

#[test]
fn first_rotate_loses_its_checksum_bytes() {
    let mut body = 4u64.to_le_bytes().to_vec();
    body.extend_from_slice(b"mysql-bin.000007");
    body.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
    let rotate = parse_rotate(&body, true).unwrap();
    assert_eq!(rotate, Rotate { position: 4, file: "mysql-bin.000007".into() });
    assert!(parse_rotate(&body, false).is_err(), "checksum bytes are not a file name");
    assert!(parse_rotate(&body[..6], false).is_err());
}

#[test]
fn mysql_gtid_is_uuid_colon_number() {
    let body = mysql_gtid_body(SERVER_UUID, 23);
    assert_eq!(parse_mysql_gtid(&body).unwrap().to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    // MySQL 5.6 bodies end after the GNO.
    assert_eq!(parse_mysql_gtid(&body[..25]).unwrap().number, 23);
    assert!(parse_mysql_gtid(&body[..10]).is_err());
    assert!(parse_mysql_gtid(&mysql_gtid_body(SERVER_UUID, 0)).is_err(), "GTID numbers start at 1");
    assert!(parse_mysql_gtid(&mysql_gtid_body(SERVER_UUID, -5)).is_err());
}

#[test]
fn mysql_tagged_gtid_event_body() {
    let body = mysql_tagged_gtid_body(SERVER_UUID, "abc", 23, 0);
    // Spot checks of the hand encoding: version 1 is 0x02, the size (the
    // whole body, under 128) is len << 1, no non-ignorable field, field 0
    // (flags) 0; field 1's first UUID byte 0x3E is 0x7C, 0xFA takes two
    // bytes (0xE9 0x03), number 23 zigzags to 46 = 0x5C, the tag is 0x06 "abc".
    assert_eq!(&body[..4], &[0x02, (body.len() as u8) << 1, 0x00, 0x00]);
    assert_eq!(&body[5..9], &[0x02, 0x7C, 0x22, 0xE9]);
    let tail = body.windows(6).position(|w| w == [0x04, 0x5C, 0x06, 0x06, b'a', b'b']).expect("fields 2 and 3");
    assert!(tail > 20);
    let gtid = parse_mysql_tagged_gtid(&body).unwrap();
    assert_eq!(gtid.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:abc:23");

    // mysql_common's encoder of the same event (an independent implementation) agrees.
    let tag = mysql_common::packets::Tag::new("abc").unwrap().into_owned();
    let event = mysql_common::binlog::events::GtidEvent::new_tagged(SERVER_UUID, tag, 23);
    let mut theirs = Vec::new();
    mysql_common::proto::MySerialize::serialize(&event, &mut theirs);
    assert_eq!(parse_mysql_tagged_gtid(&theirs).unwrap(), gtid);

    // Fields a newer MySQL marks as non-ignorable are refused, as is an envelope beyond the body.
    let newer = mysql_tagged_gtid_body(SERVER_UUID, "abc", 23, 13);
    let error = parse_mysql_tagged_gtid(&newer).unwrap_err().to_string();
    assert!(error.contains("field 12"), "{error}");
    assert!(parse_mysql_tagged_gtid(&mysql_tagged_gtid_body(SERVER_UUID, "abc", 23, 12)).is_ok());
    assert!(parse_mysql_tagged_gtid(&body[..body.len() - 1]).is_err(), "shorter than its size");
    let mut no_number = body.clone();
    let at = no_number.windows(2).position(|w| w == [0x04, 0x5C]).unwrap();
    no_number[at] = 0x0E; // field id 7 instead of 2: the number is missing
    assert!(parse_mysql_tagged_gtid(&no_number).is_err());
    let mut bad_tag = body;
    let at = bad_tag.windows(3).position(|w| w == b"abc").unwrap();
    bad_tag[at] = b'9';
    assert!(parse_mysql_tagged_gtid(&bad_tag).is_err(), "a tag cannot start with a digit");
}

#[test]
fn previous_gtids_body_is_a_gtid_set() {
    // One SID, intervals [1, 6) and [11, 19): 3e11…:1-5:11-18.
    let mut body = 1u64.to_le_bytes().to_vec();
    body.extend_from_slice(&SERVER_UUID);
    body.extend_from_slice(&2u64.to_le_bytes());
    for value in [1i64, 6, 11, 19] {
        body.extend_from_slice(&value.to_le_bytes());
    }
    let set = parse_previous_gtids(&body).unwrap();
    assert_eq!(set.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18");
    assert!(matches!(parse_previous_gtids(&body[..30]), Err(MySqlError::Protocol { .. })));
}

fn query_body(schema: &str, status: &[u8], statement: &[u8]) -> Vec<u8> {
    let mut body = vec![8, 0, 0, 0, 0, 0, 0, 0, schema.len() as u8, 0, 0];
    body.extend_from_slice(&(status.len() as u16).to_le_bytes());
    body.extend_from_slice(status);
    body.extend_from_slice(schema.as_bytes());
    body.push(0);
    body.extend_from_slice(statement);
    body
}

#[test]
fn query_event_schema_and_statement() {
    let body = query_body("shop", &[0x00, 0x00, 0x00, 0x00, 0x00], b"truncate z");
    let query = parse_query(&body, false).unwrap();
    assert_eq!(query.schema, "shop");
    assert_eq!(query.statement, b"truncate z");
    assert!(parse_query(&body[..14], false).is_err());
}

#[test]
fn compressed_query_event_is_inflated() {
    use std::io::Write;
    let statement = b"ALTER TABLE t ADD COLUMN c INT".repeat(10);
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&statement).unwrap();
    let zlib = encoder.finish().unwrap();
    let mut block = vec![0x82];
    block.extend_from_slice(&(statement.len() as u16).to_be_bytes());
    block.extend_from_slice(&zlib);
    let query = parse_query(&query_body("db", &[], &block), true).unwrap();
    assert_eq!(query.statement, statement);
    assert!(parse_query(&query_body("db", &[], b"not zlib"), true).is_err());
}

#[test]
fn classification_refuses_what_could_carry_rows() {
    assert_eq!(classify(WRITE_ROWS_COMPRESSED_V1, 0), EventKind::Rows);
    assert_eq!(classify(DELETE_ROWS_COMPRESSED, 0), EventKind::Rows);
    assert_eq!(classify(QUERY_COMPRESSED, 0), EventKind::Query { compressed: true });
    assert_eq!(classify(ANNOTATE_ROWS, 0), EventKind::Harmless);
    assert_eq!(classify(MARIADB_GTID, 0), EventKind::MariaDbGtid);
    assert_eq!(classify(GTID, 0), EventKind::MySqlGtid);
    assert_eq!(classify(GTID_TAGGED, 0), EventKind::MySqlTaggedGtid, "never mistaken for an anonymous GTID");
    assert_eq!(classify(ANONYMOUS_GTID, 0), EventKind::AnonymousGtid);
    assert_eq!(classify(PREVIOUS_GTIDS, 0), EventKind::PreviousGtids);
    assert!(matches!(classify(PARTIAL_UPDATE_ROWS, 0), EventKind::Unsupported(_)));
    assert!(matches!(classify(20, 0), EventKind::Unsupported(_)));
    assert_eq!(classify(200, 0), EventKind::Unknown);
    assert_eq!(classify(200, FLAG_IGNORABLE), EventKind::Harmless);
}

proptest! {
    #[test]
    fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..48), server: u32, flag: bool) {
        let _ = parse_rotate(&body, flag);
        let _ = parse_mariadb_gtid(&body, server);
        let _ = parse_gtid_list(&body);
        let _ = parse_binlog_checkpoint(&body);
        let _ = parse_mysql_gtid(&body);
        let _ = parse_mysql_tagged_gtid(&body);
        let _ = parse_previous_gtids(&body);
        let _ = parse_query(&body, flag);
    }
}
