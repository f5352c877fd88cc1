//! Event bodies as MariaDB 10.11 wrote them (bytes copied from a binlog),
//! plus hand-built MySQL bodies and truncated input.

use proptest::prelude::*;

use super::*;

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
    let mut body = vec![1];
    body.extend_from_slice(&[
        0x3E, 0x11, 0xFA, 0x47, 0x71, 0xCA, 0x11, 0xE1, 0x9E, 0x33, 0xC8, 0x0A, 0xA9, 0x42, 0x95, 0x62,
    ]);
    body.extend_from_slice(&23u64.to_le_bytes());
    body.extend_from_slice(&[0; 16]);
    assert_eq!(parse_mysql_gtid(&body).unwrap(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    assert!(parse_mysql_gtid(&body[..10]).is_err());
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
        let _ = parse_query(&body, flag);
    }
}
