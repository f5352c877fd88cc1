//! Schemas built from a captured MariaDB table map: type vocabulary, the
//! information_schema extras, keys, and the refusals that name a fix.

use super::*;
use crate::source::fixtures::{WIDE_TABLE_MAP, collations, extras, hex};
use crate::source::table_map;

fn wide_table() -> RoutedTable {
    build(&table_map::parse(&hex(WIDE_TABLE_MAP), 6).unwrap(), &collations(), &extras()).unwrap()
}

#[test]
fn wide_table_types_and_names() {
    let table = wide_table();
    let schema = &table.schema;
    assert_eq!(schema.name, TableName::new("x", "t"));
    assert_eq!(schema.id, 18);
    assert_eq!(schema.key_indices(), vec![0]);
    let column = |name: &str| &schema.columns[schema.column_index(name).unwrap()];
    assert_eq!(column("u").column_type, ColumnType::Int { bytes: 4, unsigned: true });
    assert_eq!(column("u").type_name, "int unsigned");
    assert_eq!(column("bi").column_type, ColumnType::Int { bytes: 8, unsigned: true });
    assert_eq!(column("y").column_type, ColumnType::Year);
    assert_eq!(column("c").column_type, ColumnType::Text { max_chars: Some(4) });
    assert_eq!(column("c").type_name, "char(4)");
    assert_eq!(column("j").column_type, ColumnType::Json);
    assert_eq!(column("uu").column_type, ColumnType::Uuid);
    assert_eq!(column("i6").type_name, "inet6");
    assert_eq!(column("b").column_type, ColumnType::Bytes { max_len: Some(4) });
    assert_eq!(column("t2").column_type, ColumnType::Duration { fsp: Some(2) });
    assert_eq!(column("ts").column_type, ColumnType::TimestampTz { fsp: Some(6) });
    assert_eq!(column("dt").type_name, "datetime(3)");
    assert_eq!(column("dec1").type_name, "decimal(65,30)");
    assert_eq!(column("bt").column_type, ColumnType::Bits { len: Some(10), varying: false });
    assert_eq!(column("e").column_type, ColumnType::Enum { labels: vec!["a".into(), "b".into()] });
    assert_eq!(column("s").type_name, "set('p','q')");
    assert_eq!(column("g").column_type, ColumnType::Other { name: "geometry".into() });
    assert_eq!(table.cells.len(), schema.columns.len());
}

#[test]
fn extras_that_do_not_fit_the_binlog_type_are_ignored() {
    let map = table_map::parse(&hex(WIDE_TABLE_MAP), 6).unwrap();
    let mut extras = extras();
    extras.special.insert("b".into(), Special::Uuid); // BINARY(4) cannot be a UUID
    extras.special.insert("c".into(), Special::Json); // CHAR is no MariaDB JSON
    let table = build(&map, &collations(), &extras).unwrap();
    let column = |name: &str| &table.schema.columns[table.schema.column_index(name).unwrap()];
    assert_eq!(column("b").column_type, ColumnType::Bytes { max_len: Some(4) });
    assert_eq!(column("c").column_type, ColumnType::Text { max_chars: Some(4) });
}

#[test]
fn a_unique_key_stands_in_for_a_missing_primary_key() {
    let mut map = table_map::parse(&hex(WIDE_TABLE_MAP), 6).unwrap();
    map.primary_key = None;
    let mut extras = extras();
    extras.unique_key = Some(vec!["u".into(), "bi".into()]);
    let table = build(&map, &collations(), &extras).unwrap();
    assert_eq!(table.schema.key_indices(), vec![2, 15]);
    extras.unique_key = Some(vec!["gone".into()]);
    assert!(build(&map, &collations(), &extras).unwrap().schema.key_indices().is_empty());
}

#[test]
fn missing_names_or_charsets_are_config_errors_with_the_fix() {
    let mut map = table_map::parse(&hex(WIDE_TABLE_MAP), 6).unwrap();
    map.has_names = false;
    let error = build(&map, &collations(), &extras()).unwrap_err();
    assert!(matches!(error, MySqlError::Config { .. }));
    assert!(error.to_string().contains("SET GLOBAL binlog_row_metadata=FULL"), "{error}");

    let map = table_map::parse(&hex(WIDE_TABLE_MAP), 6).unwrap();
    let mut without_gbk = collations();
    without_gbk.0.remove(&28);
    let error = build(&map, &without_gbk, &extras()).unwrap_err();
    assert!(error.to_string().contains("collation id 28"), "{error}");
}

#[test]
fn catalog_types_use_the_same_vocabulary() {
    assert_eq!(
        catalog_column_type("bigint", "bigint(20) unsigned", None, None, false),
        (ColumnType::Int { bytes: 8, unsigned: true }, "bigint(20) unsigned".into())
    );
    assert_eq!(
        catalog_column_type("decimal", "decimal(65,30)", None, None, false).0,
        ColumnType::Decimal { precision: Some(65), scale: Some(30) }
    );
    assert_eq!(catalog_column_type("time", "time(2)", None, None, false).0, ColumnType::Duration { fsp: Some(2) });
    assert_eq!(catalog_column_type("longtext", "longtext", None, Some("utf8mb4"), true).0, ColumnType::Json);
    assert_eq!(
        catalog_column_type("varchar", "varchar(40)", Some(40), Some("gbk"), false).0,
        ColumnType::Text { max_chars: Some(40) }
    );
    assert_eq!(
        catalog_column_type("enum", "enum('a','it''s')", None, Some("utf8mb4"), false).0,
        ColumnType::Enum { labels: vec!["a".into(), "it's".into()] }
    );
    assert_eq!(catalog_column_type("uuid", "uuid", None, None, false).0, ColumnType::Uuid);
    assert_eq!(quote_table(&TableName::new("a`b", "t")), "`a``b`.`t`");
}
