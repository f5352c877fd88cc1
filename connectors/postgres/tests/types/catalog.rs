//! `builtin_column_type` against the server's catalog: display names equal
//! `format_type` for every built-in type Sluice lists, and the list leaves
//! out no user-visible built-in base type.

use sluice_postgres::builtin_column_type;
use sluice_testkit::PgServer;

/// Built-in base types deliberately not listed: internal or planner-only.
const NOT_LISTED: &[&str] = &[
    "gtsvector",
    "pg_ddl_command",
    "pg_dependencies",
    "pg_mcv_list",
    "pg_ndistinct",
    "pg_node_tree",
    "pg_brin_bloom_summary",
    "pg_brin_minmax_multi_summary",
];

#[tokio::test]
async fn builtin_type_names_match_format_type() {
    let database = PgServer::shared().create_database("types_catalog").await;
    let client = database.connect().await;
    let rows = client
        .query(
            "SELECT oid::oid, typarray::oid, typname::text, format_type(oid, -1), format_type(typarray, -1) \
             FROM pg_type WHERE oid < 10000 AND typtype IN ('b', 'r', 'm') AND typcategory <> 'A' \
             AND typarray <> 0 AND typisdefined ORDER BY oid",
            &[],
        )
        .await
        .unwrap();
    let mut missing = Vec::new();
    for row in &rows {
        let (oid, array_oid, typname): (u32, u32, String) = (row.get(0), row.get(1), row.get(2));
        let (name, array_name): (String, String) = (row.get(3), row.get(4));
        match builtin_column_type(oid, -1) {
            None if NOT_LISTED.contains(&typname.as_str()) => {}
            None => missing.push(typname),
            Some((_, ours)) => {
                assert_eq!(ours, name, "type {oid}");
                let (_, ours) = builtin_column_type(array_oid, -1).unwrap_or_else(|| panic!("array of {typname}"));
                assert_eq!(ours, array_name, "array type {array_oid}");
            }
        }
    }
    assert!(missing.is_empty(), "built-in types missing from types/oids.rs: {missing:?}");
    assert!(rows.len() > 60);
}

#[tokio::test]
async fn type_modifiers_print_like_format_type() {
    let database = PgServer::shared().create_database("types_typmod").await;
    let client = database.connect().await;
    client
        .batch_execute(
            "CREATE TABLE modified (a numeric(12,2), b numeric(3,-2), c character varying(40), d character(5), \
             e bit(8), f bit varying(16), g time(3), h time(0) with time zone, i timestamp(6), \
             j timestamp(1) with time zone, k interval year to month, l interval(3), m interval day to second(4), \
             n interval minute, o numeric(12,2)[], p character varying(7)[], q timestamp(2) with time zone[])",
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT atttypid, atttypmod, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'modified'::regclass AND attnum > 0 ORDER BY attnum",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 17);
    for row in rows {
        let (oid, typmod, expected): (u32, i32, String) = (row.get(0), row.get(1), row.get(2));
        let (_, name) = builtin_column_type(oid, typmod).unwrap();
        assert_eq!(name, expected, "type {oid} modifier {typmod}");
    }
}
