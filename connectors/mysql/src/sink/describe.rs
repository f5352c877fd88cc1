//! What a target table looks like: its columns (types with charset,
//! nullability, defaults, generation), primary key and unique keys, engine,
//! whether it references itself and its `AUTO_INCREMENT` column — read from
//! `information_schema`, for the sink (encoding, the upsert's conflict
//! handling, `insert_returning`) and for `sluice check`.
//!
//! `information_schema` may compare names case-insensitively; the rows are
//! filtered here to the name the route gives, compared as the server
//! compares names: exactly with `lower_case_table_names=0` (the Linux
//! default), lowercase with 1 or 2 (then a route `crm.Orders` describes the
//! stored `crm.orders`). Column types
//! come from `COLUMN_TYPE` (`bigint(20) unsigned`, `enum('a','b')`), with
//! ` CHARACTER SET <charset>` appended for character columns, because the
//! charset decides what text a column can hold. `tinyint(1)` (what BOOLEAN
//! creates) is described as `Bool`. MariaDB's JSON is an alias for LONGTEXT
//! with a `json_valid` check constraint; such columns are described as `Json`.
//! MariaDB's `uuid` is `Uuid`; `inet6`/`inet4` and spatial types are `Other`
//! named by their type. FLOAT(M,D)/DOUBLE(M,D) are `Float32`/`Float64` (what
//! they hold); their `type_name` keeps the (M,D) the encoder checks against.
//!
//! Every unique index counts for the upsert's conflict handling — prefix and
//! functional ones included, since `ON DUPLICATE KEY UPDATE` fires on any of
//! them — but only full-column indexes are reported as keys a route can use.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::{ColumnType, TableName};

use crate::connect::ServerFlavor;
use crate::error::MySqlError;

/// A target table as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetTableInfo {
    pub name: TableName,
    pub columns: Vec<TargetColumn>,
    /// The primary key's columns in index order; empty when there is none.
    pub primary_key: Vec<String>,
    /// Column lists of the other unique indexes on whole columns.
    pub unique_keys: Vec<Vec<String>>,
}

impl TargetTableInfo {
    pub fn column(&self, name: &str) -> Option<&TargetColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// True when the primary key or a unique key has exactly these columns
    /// (in any order) and all of them are NOT NULL: rows are identified by
    /// it. (A unique key over nullable columns lets any number of rows hold
    /// NULL, so upserts by it could duplicate rows.)
    pub fn has_unique_key(&self, columns: &[String]) -> bool {
        let same_set = |key: &Vec<String>| key.len() == columns.len() && key.iter().all(|k| columns.contains(k));
        let not_null = |key: &Vec<String>| key.iter().all(|k| self.column(k).is_some_and(|c| !c.nullable));
        (!self.primary_key.is_empty() && same_set(&self.primary_key))
            || self.unique_keys.iter().any(|key| same_set(key) && not_null(key))
    }
}

/// One column of a target table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    /// The server's column type plus the character set of character columns:
    /// `varchar(40) CHARACTER SET gbk`, `decimal(65,30)`, `bigint(20) unsigned`.
    pub type_name: String,
    pub column_type: ColumnType,
    pub nullable: bool,
    /// A default or `AUTO_INCREMENT` fills the column when an insert leaves it out.
    pub has_default: bool,
    /// `GENERATED ALWAYS AS (…) VIRTUAL|STORED`: cannot be written.
    pub generated: bool,
}

/// A unique index as the upsert's conflict handling sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UniqueIndex {
    pub(crate) name: String,
    /// Column names in index order; `None` for an expression part (MySQL functional index).
    pub(crate) columns: Vec<Option<String>>,
    /// Some part indexes only a prefix of its column.
    pub(crate) prefix: bool,
}

impl UniqueIndex {
    /// `name (a, b)` for messages.
    pub(crate) fn label(&self) -> String {
        let parts: Vec<&str> = self.columns.iter().map(|c| c.as_deref().unwrap_or("(expression)")).collect();
        format!("{} ({})", self.name, parts.join(", "))
    }

    /// Whole columns only: usable as a route key.
    fn whole_columns(&self) -> Option<Vec<String>> {
        if self.prefix {
            return None;
        }
        self.columns.iter().cloned().collect()
    }
}

/// The description plus what the sink needs beyond it.
#[derive(Clone, Debug)]
pub(crate) struct DescribedTable {
    pub(crate) info: TargetTableInfo,
    /// `BASE TABLE`, `VIEW`, `SYSTEM VERSIONED` (MariaDB), …
    pub(crate) table_type: String,
    pub(crate) engine: Option<String>,
    /// Every unique index, the primary key first.
    pub(crate) unique_indexes: Vec<UniqueIndex>,
    /// A foreign key of the table references the table itself.
    pub(crate) self_referencing: bool,
    /// The `AUTO_INCREMENT` column, if any (at most one per table).
    pub(crate) auto_increment: Option<String>,
}

impl DescribedTable {
    /// Engines whose tables take part in transactions: only those keep rows
    /// and the offsets row atomic.
    pub(crate) fn is_transactional(&self) -> bool {
        self.engine.as_deref().is_some_and(|engine| {
            matches!(engine.to_ascii_lowercase().as_str(), "innodb" | "rocksdb" | "tokudb" | "ndbcluster" | "ndb")
        })
    }

    pub(crate) fn is_table(&self) -> bool {
        matches!(self.table_type.as_str(), "BASE TABLE" | "SYSTEM VERSIONED")
    }
}

const TABLE_SQL: &str = "SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?";

const COLUMNS_SQL: &str = "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE = 'YES', \
       COLUMN_DEFAULT IS NOT NULL OR EXTRA LIKE '%auto_increment%', EXTRA, CHARACTER_SET_NAME, \
       CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION \
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

const INDEXES_SQL: &str = "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL \
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
     ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX";

const SELF_REFERENCE_SQL: &str = "SELECT TABLE_NAME, REFERENCED_TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA \
     FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?";

/// MariaDB only: its JSON columns carry a column-level `json_valid` check.
const JSON_CHECKS_SQL: &str = "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE \
     FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?";

type ColumnRow = (
    String,
    String,
    String,
    String,
    bool,
    bool,
    String,
    Option<String>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
);

/// Reads a table's description; `None` when no table or view of that
/// exact name exists.
pub(crate) async fn describe(
    conn: &mut Conn,
    flavor: &ServerFlavor,
    table: &TableName,
) -> Result<Option<DescribedTable>, MySqlError> {
    let context = || format!("describing table {table}");
    let key = (table.schema.as_str(), table.name.as_str());
    // `lower_case_table_names` 1 or 2: the catalog holds the stored spelling.
    let is_table = |name: &str| flavor.names.same(name, &table.name);
    let tables: Vec<(String, String, Option<String>)> =
        conn.exec(TABLE_SQL, key).await.map_err(|e| MySqlError::driver(context(), e))?;
    let Some((_, table_type, engine)) = tables.into_iter().find(|(name, ..)| is_table(name)) else {
        return Ok(None);
    };

    let json_columns: Vec<String> = if flavor.mariadb {
        let checks: Vec<(String, String, String)> =
            conn.exec(JSON_CHECKS_SQL, key).await.map_err(|e| MySqlError::driver(context(), e))?;
        checks
            .into_iter()
            .filter(|(name, column, clause)| is_table(name) && *clause == format!("json_valid(`{column}`)"))
            .map(|(_, column, _)| column)
            .collect()
    } else {
        Vec::new()
    };

    let rows: Vec<ColumnRow> = conn.exec(COLUMNS_SQL, key).await.map_err(|e| MySqlError::driver(context(), e))?;
    let auto_increment = rows
        .iter()
        .find(|row| is_table(&row.0) && row.6.to_ascii_lowercase().contains("auto_increment"))
        .map(|row| row.1.clone());
    let columns = rows
        .into_iter()
        .filter(|row| is_table(&row.0))
        .map(
            |(_, name, data_type, column_type, nullable, has_default, extra, charset, chars, precision, scale, fsp)| {
                let facts = TypeFacts {
                    data_type: data_type.to_ascii_lowercase(),
                    column_type: column_type.to_ascii_lowercase(),
                    max_chars: chars,
                    precision,
                    scale,
                    fsp,
                    json_check: json_columns.contains(&name),
                };
                let type_name = match (&charset, facts.json_check) {
                    (_, true) => "json".to_owned(),
                    (Some(charset), false) => format!("{column_type} CHARACTER SET {charset}"),
                    (None, false) => column_type,
                };
                let extra = extra.to_ascii_uppercase();
                TargetColumn {
                    column_type: facts.column_type(),
                    name,
                    type_name,
                    nullable,
                    has_default,
                    generated: extra.contains("VIRTUAL") || extra.contains("STORED") || extra.contains("PERSISTENT"),
                }
            },
        )
        .collect();

    let index_rows: Vec<(String, String, Option<String>, bool)> =
        conn.exec(INDEXES_SQL, key).await.map_err(|e| MySqlError::driver(context(), e))?;
    let mut unique_indexes: Vec<UniqueIndex> = Vec::new();
    for (_, index, column, prefix) in index_rows.into_iter().filter(|row| is_table(&row.0)) {
        match unique_indexes.last_mut() {
            Some(last) if last.name == index => {
                last.columns.push(column);
                last.prefix |= prefix;
            }
            _ => unique_indexes.push(UniqueIndex { name: index, columns: vec![column], prefix }),
        }
    }
    let primary_key = unique_indexes
        .iter()
        .find(|index| index.name == "PRIMARY")
        .and_then(UniqueIndex::whole_columns)
        .unwrap_or_default();
    let unique_keys =
        unique_indexes.iter().filter(|index| index.name != "PRIMARY").filter_map(UniqueIndex::whole_columns).collect();

    let references: Vec<(String, String, String)> =
        conn.exec(SELF_REFERENCE_SQL, key).await.map_err(|e| MySqlError::driver(context(), e))?;
    let self_referencing = references.iter().any(|(name, referenced, schema)| {
        is_table(name) && is_table(referenced) && flavor.names.same(schema, &table.schema)
    });

    let info = TargetTableInfo { name: table.clone(), columns, primary_key, unique_keys };
    Ok(Some(DescribedTable { info, table_type, engine, unique_indexes, self_referencing, auto_increment }))
}

/// The catalog facts a column's engine-neutral type is derived from.
struct TypeFacts {
    data_type: String,
    column_type: String,
    max_chars: Option<u64>,
    precision: Option<u64>,
    scale: Option<u64>,
    fsp: Option<u64>,
    json_check: bool,
}

impl TypeFacts {
    fn column_type(&self) -> ColumnType {
        let unsigned = self.column_type.contains("unsigned");
        let small = |n: Option<u64>| n.and_then(|n| u32::try_from(n).ok());
        let fsp = self.fsp.and_then(|f| u8::try_from(f).ok());
        let int = |bytes| ColumnType::Int { bytes, unsigned };
        match self.data_type.as_str() {
            "tinyint" if self.column_type == "tinyint(1)" => ColumnType::Bool,
            "tinyint" => int(1),
            "smallint" => int(2),
            "mediumint" => int(3),
            "int" | "integer" => int(4),
            "bigint" => int(8),
            "decimal" | "numeric" | "fixed" => {
                ColumnType::Decimal { precision: small(self.precision), scale: small(self.scale) }
            }
            // FLOAT(M,D)/DOUBLE(M,D) hold FLOAT/DOUBLE values the server rounds
            // to D decimals: the encoder reads (M,D) from the type name
            // (`types/kind.rs`) and takes only values the rounding keeps.
            "float" => ColumnType::Float32,
            "double" | "real" | "double precision" => ColumnType::Float64,
            "bit" => ColumnType::Bits { len: small(self.precision), varying: false },
            "char" | "varchar" => ColumnType::Text { max_chars: small(self.max_chars) },
            "tinytext" | "text" | "mediumtext" | "longtext" if self.json_check => ColumnType::Json,
            "tinytext" | "text" | "mediumtext" | "longtext" => ColumnType::Text { max_chars: None },
            "json" => ColumnType::Json,
            "binary" | "varbinary" => ColumnType::Bytes { max_len: small(self.max_chars) },
            "tinyblob" | "blob" | "mediumblob" | "longblob" => ColumnType::Bytes { max_len: None },
            "date" => ColumnType::Date,
            "datetime" => ColumnType::Timestamp { fsp },
            "timestamp" => ColumnType::TimestampTz { fsp },
            "time" => ColumnType::Duration { fsp },
            "year" => ColumnType::Year,
            "enum" => ColumnType::Enum { labels: labels_of(&self.column_type) },
            "set" => ColumnType::Set { labels: labels_of(&self.column_type) },
            "uuid" => ColumnType::Uuid,
            _ => self.other(),
        }
    }

    fn other(&self) -> ColumnType {
        ColumnType::Other { name: self.column_type.clone() }
    }
}

/// The labels of `enum('a','b''c')` / `set(…)`, quotes undoubled.
pub(crate) fn labels_of(column_type: &str) -> Vec<String> {
    let Some(start) = column_type.find('(') else {
        return Vec::new();
    };
    let mut labels = Vec::new();
    let mut chars = column_type[start + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    label.push('\'');
                } else {
                    break;
                }
            } else {
                label.push(c);
            }
        }
        labels.push(label);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_labels_undouble_quotes_and_keep_commas() {
        assert_eq!(labels_of("enum('a','b''c','d,e')"), vec!["a", "b'c", "d,e"]);
        assert_eq!(labels_of("set('')"), vec![""]);
    }

    #[test]
    fn unique_keys_over_nullable_columns_do_not_identify_rows() {
        let column = |name: &str, nullable| TargetColumn {
            name: name.into(),
            type_name: "int(11)".into(),
            column_type: ColumnType::Int { bytes: 4, unsigned: false },
            nullable,
            has_default: false,
            generated: false,
        };
        let info = TargetTableInfo {
            name: TableName::new("d", "t"),
            columns: vec![column("id", false), column("code", true), column("ref", false)],
            primary_key: vec!["id".into()],
            unique_keys: vec![vec!["code".into()], vec!["ref".into()]],
        };
        assert!(info.has_unique_key(&["id".into()]));
        assert!(info.has_unique_key(&["ref".into()]));
        assert!(!info.has_unique_key(&["code".into()]));
    }
}
