//! What a target table looks like: its columns (types, nullability,
//! defaults, generation), primary key and unique keys — read from the
//! catalog, for the sink (casts, `ON CONFLICT` arbiter) and for `sluice check`.
//!
//! Names are matched exactly (`pg_namespace.nspname` / `pg_class.relname`),
//! never case-folded or resolved through `search_path`: the route says which
//! table it means. A key usable by `ON CONFLICT` is a unique index that is
//! valid, not partial, has no expressions and is not deferrable; its key
//! columns (not `INCLUDE` columns) must equal the route's key as a set.

use sluice_api::{ColumnType, TableName};
use tokio_postgres::Client;

use crate::error::PostgresError;
use crate::types::builtin_column_type;

/// A target table as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetTableInfo {
    pub name: TableName,
    pub columns: Vec<TargetColumn>,
    /// The primary key's columns in index order; empty when there is none.
    pub primary_key: Vec<String>,
    /// Column lists of the other unique indexes `ON CONFLICT` can use.
    pub unique_keys: Vec<Vec<String>>,
}

impl TargetTableInfo {
    pub fn column(&self, name: &str) -> Option<&TargetColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// True when the primary key or a unique key has exactly these columns
    /// (in any order): `ON CONFLICT (columns)` then finds its arbiter.
    pub fn has_unique_key(&self, columns: &[String]) -> bool {
        let same_set = |key: &Vec<String>| key.len() == columns.len() && key.iter().all(|k| columns.contains(k));
        (!self.primary_key.is_empty() && same_set(&self.primary_key)) || self.unique_keys.iter().any(same_set)
    }
}

/// One column of a target table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `numeric(12,2)`, `character varying(40)`.
    pub type_name: String,
    pub column_type: ColumnType,
    pub nullable: bool,
    /// A default or identity fills the column when an insert leaves it out.
    pub has_default: bool,
    /// `GENERATED ALWAYS AS (…) STORED`: cannot be written.
    pub generated: bool,
}

/// The description plus what the sink's statements need per column.
#[derive(Debug)]
pub(crate) struct DescribedTable {
    pub(crate) info: TargetTableInfo,
    /// `format_type(atttypid, -1)` per column, aligned with `info.columns`:
    /// the type text is cast to before assignment. Not `format_type(oid,
    /// NULL)`: that prints `character` and `bit`, which mean `char(1)` and
    /// `bit(1)` and would truncate (or refuse) longer values; with `-1` they
    /// are the unconstrained `bpchar` and `"bit"`.
    pub(crate) casts: Vec<String>,
    /// `atttypid` per column (a domain's own OID, not its base type's).
    pub(crate) type_oids: Vec<u32>,
}

const TABLE_SQL: &str = "SELECT c.oid, c.relkind::text FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2";

/// Columns with their type details; enum labels for enums and arrays of
/// enums; domains resolved to their base type.
const COLUMNS_SQL: &str = "SELECT a.attname::text, \
       pg_catalog.format_type(a.atttypid, a.atttypmod), \
       pg_catalog.format_type(a.atttypid, -1), \
       a.atttypid::oid, a.atttypmod, NOT a.attnotnull, \
       a.atthasdef OR a.attidentity <> '', a.attgenerated <> '', \
       t.typtype::text, t.typbasetype::oid, t.typtypmod, \
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e \
         WHERE e.enumtypid = CASE WHEN t.typtype = 'e' THEN t.oid WHEN et.typtype = 'e' THEN et.oid END), \
       et.typtype IS NOT NULL \
     FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
     LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' \
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// Unique indexes usable as `ON CONFLICT` arbiters, with key columns in order.
const KEYS_SQL: &str = "SELECT i.indisprimary, \
       array_agg(a.attname::text ORDER BY k.ord) \
     FROM pg_catalog.pg_index i \
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
     WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indimmediate \
       AND i.indpred IS NULL AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts \
     GROUP BY i.indexrelid, i.indisprimary ORDER BY NOT i.indisprimary, i.indexrelid";

/// Reads a table's description; `None` when no table (or partitioned
/// table) of that exact name exists.
pub(crate) async fn describe(client: &Client, table: &TableName) -> Result<Option<DescribedTable>, PostgresError> {
    let context = || format!("describing target table {table}");
    let rows =
        client.query(TABLE_SQL, &[&table.schema, &table.name]).await.map_err(|e| PostgresError::query(context(), e))?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let relkind: String = row.get(1);
    if !matches!(relkind.as_str(), "r" | "p") {
        return Err(PostgresError::Config {
            setting: format!("target table {table}"),
            message: format!(
                "Target {table} is not a table (relkind {relkind}); route to an ordinary or partitioned table"
            ),
        });
    }
    let mut columns = Vec::new();
    let mut casts = Vec::new();
    let mut type_oids = Vec::new();
    for row in client.query(COLUMNS_SQL, &[&oid]).await.map_err(|e| PostgresError::query(context(), e))? {
        let type_name: String = row.get(1);
        let column_type = column_type_of(&row, &type_name);
        columns.push(TargetColumn {
            name: row.get(0),
            type_name,
            column_type,
            nullable: row.get(5),
            has_default: row.get(6),
            generated: row.get(7),
        });
        casts.push(row.get(2));
        type_oids.push(row.get(3));
    }
    let mut primary_key = Vec::new();
    let mut unique_keys = Vec::new();
    for row in client.query(KEYS_SQL, &[&oid]).await.map_err(|e| PostgresError::query(context(), e))? {
        let primary: bool = row.get(0);
        let key: Vec<String> = row.get(1);
        if primary {
            primary_key = key;
        } else {
            unique_keys.push(key);
        }
    }
    let info = TargetTableInfo { name: table.clone(), columns, primary_key, unique_keys };
    Ok(Some(DescribedTable { info, casts, type_oids }))
}

/// The engine-neutral type of a column: built-in types by OID, enums (and
/// arrays of enums) with their labels, domains as their base type, anything
/// else as `Other` named like `format_type` names it.
fn column_type_of(row: &tokio_postgres::Row, type_name: &str) -> ColumnType {
    let oid: u32 = row.get(3);
    let typmod: i32 = row.get(4);
    let typtype: String = row.get(8);
    let base_oid: u32 = row.get(9);
    let base_typmod: i32 = row.get(10);
    let labels: Option<Vec<String>> = row.get(11);
    let is_array: bool = row.get(12);
    if let Some((column_type, _)) = builtin_column_type(oid, typmod) {
        return column_type;
    }
    if let Some(labels) = labels {
        let enum_type = ColumnType::Enum { labels };
        return if is_array { ColumnType::Array(Box::new(enum_type)) } else { enum_type };
    }
    if typtype == "d"
        && let Some((column_type, _)) = builtin_column_type(base_oid, base_typmod)
    {
        return column_type;
    }
    ColumnType::Other { name: type_name.to_owned() }
}
