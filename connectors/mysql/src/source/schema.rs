//! Table schemas of routed tables, built from their table maps.
//!
//! For each TABLE_MAP of a routed table the source builds a [`RoutedTable`]:
//! the engine-neutral [`TableSchema`] every `Change` points at, and one
//! [`CellPlan`] per column telling `rows.rs` how to decode its cells. Names,
//! types, signedness, character sets, ENUM/SET labels and the primary key
//! come from the table map (`binlog_row_metadata=FULL`); MariaDB's UUID,
//! INET6, INET4 and JSON columns and the key of a table without a primary
//! key come from information_schema (`catalog.rs`). A table map after an
//! ALTER TABLE carries the new columns, and every change keeps pointing at
//! the schema its row was written with, so a column added mid-stream never
//! shifts values.
//!
//! The same type vocabulary serves [`catalog_column_type`], which maps
//! information_schema's description for `describe_source_table`.

use std::sync::Arc;

use sluice_api::{Column, ColumnType, TableName, TableSchema};

use super::catalog::{Collations, TableExtras};
use super::charset::Charset;
use super::decode::{CellPlan, Special};
use super::table_map::*;
use crate::error::MySqlError;

/// A routed table as of one table map.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RoutedTable {
    pub(crate) schema: Arc<TableSchema>,
    /// Aligned with `schema.columns`.
    pub(crate) cells: Vec<CellPlan>,
}

/// `` `schema`.`table` ``, backticks doubled.
pub(crate) fn quote_table(table: &TableName) -> String {
    format!("`{}`.`{}`", table.schema.replace('`', "``"), table.name.replace('`', "``"))
}

fn config(table: &TableName, message: String) -> MySqlError {
    MySqlError::Config { setting: format!("source table {table}"), message }
}

/// Builds the schema and cell plans of a routed table's table map.
pub(crate) fn build(map: &TableMap, collations: &Collations, extras: &TableExtras) -> Result<RoutedTable, MySqlError> {
    let name = TableName::new(map.header.schema.clone(), map.header.table.clone());
    if !map.has_names {
        return Err(MySqlError::Config {
            setting: "binlog_row_metadata".into(),
            message: format!(
                "The table map of {name} carries no column names: it was written while binlog_row_metadata was \
                 not FULL. Run SET GLOBAL binlog_row_metadata=FULL and start from a position written after that"
            ),
        });
    }
    let mut columns = Vec::with_capacity(map.columns.len());
    let mut cells = Vec::with_capacity(map.columns.len());
    for column in &map.columns {
        let column_name = column.name.clone().unwrap_or_default();
        let special = extras.special.get(&column_name).copied();
        let (column_type, type_name, cell) = column_plan(&name, column, special, collations)?;
        columns.push(Column {
            name: column_name,
            column_type,
            type_name,
            type_id: u32::from(column.column_type),
            type_modifier: -1,
            is_key: false,
        });
        cells.push(cell);
    }
    let key: Vec<usize> = match &map.primary_key {
        Some(key) if !key.is_empty() => key.clone(),
        _ => extras
            .unique_key
            .as_ref()
            .and_then(|key| key.iter().map(|k| columns.iter().position(|c| c.name == *k)).collect::<Option<Vec<_>>>())
            .unwrap_or_default(),
    };
    for index in key {
        if let Some(column) = columns.get_mut(index) {
            column.is_key = true;
        }
    }
    Ok(RoutedTable {
        schema: Arc::new(TableSchema { id: map.header.table_id, name, columns, full_before_image: true }),
        cells,
    })
}

fn with_sign(name: &str, unsigned: bool) -> String {
    if unsigned { format!("{name} unsigned") } else { name.to_owned() }
}

fn with_fsp(name: &str, fsp: u8) -> String {
    if fsp == 0 { name.to_owned() } else { format!("{name}({fsp})") }
}

/// The column's charset; `None` for a column without one in the metadata.
fn charset_of(
    table: &TableName,
    column: &MapColumn,
    collations: &Collations,
) -> Result<(Charset, u8, String), MySqlError> {
    let name = column.name.as_deref().unwrap_or_default();
    let id = column.collation.ok_or_else(|| {
        config(table, format!("Column {name} has no character set in its table map; set binlog_row_metadata=FULL"))
    })?;
    let info = collations.get(id).ok_or_else(|| {
        config(table, format!("Column {name} uses collation id {id}, which the server does not list"))
    })?;
    let charset = Charset::from_name(&info.charset).ok_or_else(|| {
        config(table, format!("Column {name} uses character set {}, which Sluice cannot decode", info.charset))
    })?;
    Ok((charset, info.max_len.max(1), info.charset.clone()))
}

fn column_plan(
    table: &TableName,
    column: &MapColumn,
    special: Option<Special>,
    collations: &Collations,
) -> Result<(ColumnType, String, CellPlan), MySqlError> {
    let [m0, m1] = column.meta;
    let unsigned = column.unsigned;
    let int = |bytes: u8, name: &str| {
        (ColumnType::Int { bytes, unsigned }, with_sign(name, unsigned), CellPlan::Int { bytes, unsigned })
    };
    let fsp = m0.min(255) as u8;
    Ok(match column.column_type {
        TYPE_TINY => int(1, "tinyint"),
        TYPE_SHORT => int(2, "smallint"),
        TYPE_INT24 => int(3, "mediumint"),
        TYPE_LONG => int(4, "int"),
        TYPE_LONGLONG => int(8, "bigint"),
        TYPE_FLOAT => (ColumnType::Float32, "float".into(), CellPlan::Float),
        TYPE_DOUBLE => (ColumnType::Float64, "double".into(), CellPlan::Double),
        TYPE_NEWDECIMAL => {
            let (precision, scale) = (m0 as u8, m1 as u8);
            let column_type =
                ColumnType::Decimal { precision: Some(u32::from(precision)), scale: Some(u32::from(scale)) };
            (column_type, format!("decimal({precision},{scale})"), CellPlan::Decimal { precision, scale })
        }
        TYPE_BIT => {
            let bits = m1 * 8 + m0;
            (
                ColumnType::Bits { len: Some(u32::from(bits)), varying: false },
                format!("bit({bits})"),
                CellPlan::Bit { bits },
            )
        }
        TYPE_YEAR => (ColumnType::Year, "year".into(), CellPlan::Year),
        TYPE_DATE | TYPE_NEWDATE => (ColumnType::Date, "date".into(), CellPlan::Date),
        TYPE_TIME2 => (ColumnType::Duration { fsp: Some(fsp) }, with_fsp("time", fsp), CellPlan::Time2 { fsp }),
        TYPE_TIME => (ColumnType::Duration { fsp: Some(0) }, "time".into(), CellPlan::TimeV1),
        TYPE_DATETIME2 => {
            (ColumnType::Timestamp { fsp: Some(fsp) }, with_fsp("datetime", fsp), CellPlan::Datetime2 { fsp })
        }
        TYPE_DATETIME => (ColumnType::Timestamp { fsp: Some(0) }, "datetime".into(), CellPlan::DatetimeV1),
        TYPE_TIMESTAMP2 => {
            (ColumnType::TimestampTz { fsp: Some(fsp) }, with_fsp("timestamp", fsp), CellPlan::Timestamp2 { fsp })
        }
        TYPE_TIMESTAMP => (ColumnType::TimestampTz { fsp: Some(0) }, "timestamp".into(), CellPlan::TimestampV1),
        TYPE_STRING | TYPE_VARCHAR => {
            let fixed = column.column_type == TYPE_STRING;
            let max_bytes = m0;
            let (charset, max_len, _) = charset_of(table, column, collations)?;
            let special = special.filter(|special| {
                charset.is_binary()
                    && fixed
                    && match special {
                        Special::Uuid | Special::Inet6 => max_bytes == 16,
                        Special::Inet4 => max_bytes == 4,
                        Special::Json => false,
                    }
            });
            let (column_type, type_name) = match special {
                Some(Special::Uuid) => (ColumnType::Uuid, "uuid".to_owned()),
                Some(Special::Inet6) => (ColumnType::Other { name: "inet6".into() }, "inet6".to_owned()),
                Some(_) => (ColumnType::Other { name: "inet4".into() }, "inet4".to_owned()),
                None if charset.is_binary() => (
                    ColumnType::Bytes { max_len: Some(u32::from(max_bytes)) },
                    format!("{}({max_bytes})", if fixed { "binary" } else { "varbinary" }),
                ),
                None => {
                    let chars = max_bytes / u16::from(max_len);
                    (
                        ColumnType::Text { max_chars: Some(u32::from(chars)) },
                        format!("{}({chars})", if fixed { "char" } else { "varchar" }),
                    )
                }
            };
            (column_type, type_name, CellPlan::String { max_bytes, fixed, charset, special })
        }
        TYPE_TINY_BLOB..=TYPE_BLOB => {
            let length_bytes = m0 as u8;
            let (charset, _, _) = charset_of(table, column, collations)?;
            let special = special.filter(|special| *special == Special::Json && !charset.is_binary());
            let size = ["tiny", "", "medium", "long"].get(usize::from(length_bytes.saturating_sub(1))).copied();
            let size = size.ok_or_else(|| {
                config(table, format!("Column {} has an invalid BLOB length size", column_label(column)))
            })?;
            let (column_type, type_name) = if special.is_some() {
                (ColumnType::Json, "json".to_owned())
            } else if charset.is_binary() {
                let max_len = u32::try_from((1u64 << (8 * u32::from(length_bytes))) - 1).unwrap_or(u32::MAX);
                (ColumnType::Bytes { max_len: Some(max_len) }, format!("{size}blob"))
            } else {
                (ColumnType::Text { max_chars: None }, format!("{size}text"))
            };
            (column_type, type_name, CellPlan::Blob { length_bytes, charset, special })
        }
        TYPE_JSON => (ColumnType::Json, "json".into(), CellPlan::Json { length_bytes: m0 as u8 }),
        TYPE_GEOMETRY => (
            ColumnType::Other { name: "geometry".into() },
            "geometry".into(),
            CellPlan::OpaqueBytes { length_bytes: m0 as u8 },
        ),
        TYPE_VECTOR => (
            ColumnType::Other { name: "vector".into() },
            "vector".into(),
            CellPlan::OpaqueBytes { length_bytes: m0 as u8 },
        ),
        TYPE_ENUM | TYPE_SET => {
            let (charset, _, charset_name) = charset_of(table, column, collations)?;
            let labels = column
                .labels
                .as_ref()
                .ok_or_else(|| {
                    config(
                        table,
                        format!(
                            "Column {} has no labels in its table map; set binlog_row_metadata=FULL",
                            column_label(column)
                        ),
                    )
                })?
                .iter()
                .map(|label| {
                    if charset.is_binary() {
                        Some(String::from_utf8_lossy(label).into_owned())
                    } else {
                        charset.decode(label)
                    }
                })
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| {
                    config(
                        table,
                        format!("Column {} has labels that are not valid {charset_name}", column_label(column)),
                    )
                })?;
            let pack_length = m1 as u8;
            let quoted: Vec<String> = labels.iter().map(|l| format!("'{}'", l.replace('\'', "''"))).collect();
            if column.column_type == TYPE_ENUM {
                let type_name = format!("enum({})", quoted.join(","));
                (ColumnType::Enum { labels: labels.clone() }, type_name, CellPlan::Enum { pack_length, labels })
            } else {
                let type_name = format!("set({})", quoted.join(","));
                (ColumnType::Set { labels: labels.clone() }, type_name, CellPlan::Set { pack_length, labels })
            }
        }
        TYPE_BLOB_COMPRESSED | TYPE_VARCHAR_COMPRESSED => {
            return Err(config(
                table,
                format!(
                    "Column {} uses MariaDB column compression (the COMPRESSED attribute), whose values Sluice cannot \
                     read from the binlog; remove the attribute with ALTER TABLE",
                    column_label(column)
                ),
            ));
        }
        other => {
            return Err(config(
                table,
                format!(
                    "Column {} has binlog column type {other}, which Sluice does not support",
                    column_label(column)
                ),
            ));
        }
    })
}

fn column_label(column: &MapColumn) -> &str {
    column.name.as_deref().unwrap_or("?")
}

/// Maps information_schema's `DATA_TYPE`/`COLUMN_TYPE` to the same
/// vocabulary the table maps produce; the type name is `COLUMN_TYPE`.
pub(crate) fn catalog_column_type(
    data_type: &str,
    column_type: &str,
    max_chars: Option<u64>,
    charset: Option<&str>,
    is_json: bool,
) -> (ColumnType, String) {
    let lower = column_type.to_ascii_lowercase();
    let unsigned = lower.contains("unsigned");
    let args: Vec<u32> = lower
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let fsp = Some(args.first().copied().unwrap_or(0) as u8);
    let max = max_chars.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let column_type = match data_type.to_ascii_lowercase().as_str() {
        "tinyint" => ColumnType::Int { bytes: 1, unsigned },
        "smallint" => ColumnType::Int { bytes: 2, unsigned },
        "mediumint" => ColumnType::Int { bytes: 3, unsigned },
        "int" | "integer" => ColumnType::Int { bytes: 4, unsigned },
        "bigint" => ColumnType::Int { bytes: 8, unsigned },
        "decimal" | "numeric" => {
            ColumnType::Decimal { precision: args.first().copied(), scale: Some(args.get(1).copied().unwrap_or(0)) }
        }
        "float" => ColumnType::Float32,
        "double" | "real" => ColumnType::Float64,
        "bit" => ColumnType::Bits { len: Some(args.first().copied().unwrap_or(1)), varying: false },
        "year" => ColumnType::Year,
        "date" => ColumnType::Date,
        "time" => ColumnType::Duration { fsp },
        "datetime" => ColumnType::Timestamp { fsp },
        "timestamp" => ColumnType::TimestampTz { fsp },
        "char" | "varchar" if charset != Some("binary") => ColumnType::Text { max_chars: max },
        "char" | "varchar" | "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            ColumnType::Bytes { max_len: max }
        }
        "tinytext" | "text" | "mediumtext" | "longtext" if is_json => return (ColumnType::Json, "json".into()),
        "tinytext" | "text" | "mediumtext" | "longtext" => ColumnType::Text { max_chars: None },
        "json" => ColumnType::Json,
        "uuid" => ColumnType::Uuid,
        "enum" => ColumnType::Enum { labels: quoted_labels(column_type) },
        "set" => ColumnType::Set { labels: quoted_labels(column_type) },
        other => ColumnType::Other { name: other.to_owned() },
    };
    (column_type, lower)
}

/// The labels of `enum('a','b''c')` / `set(...)`.
fn quoted_labels(column_type: &str) -> Vec<String> {
    let Some(inside) = column_type.split_once('(').map(|(_, rest)| rest) else { return Vec::new() };
    let mut labels = Vec::new();
    let mut chars = inside.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                other => label.push(other),
            }
        }
        labels.push(label);
    }
    labels
}

#[cfg(test)]
#[path = "schema/tests.rs"]
mod tests;
