//! What the source reads from information_schema: collation ids → character
//! sets, the MariaDB column types the binlog cannot tell apart, key columns,
//! and whole table descriptions ([`describe_source_table`]).
//!
//! The binlog is the truth for column order, names and storage types (the
//! table map describes the table as it was when the row was written);
//! information_schema describes the table as it is now, so it is only asked
//! what the binlog lacks, by column name:
//! - MariaDB UUID, INET6 and INET4 travel as BINARY(16)/BINARY(4)
//!   (`DATA_TYPE` says `uuid`, `inet6`, `inet4`);
//! - MariaDB JSON is LONGTEXT with a column check `json_valid(`col`)`;
//! - without a primary key (the table map's FULL metadata names it), the
//!   first UNIQUE index whose columns are all NOT NULL identifies rows, as
//!   InnoDB itself chooses it.
//!
//! Queries bind every value; identifiers in `SHOW INDEX` are quoted with
//! backticks (doubled inside).

use std::collections::HashMap;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::{Column, TableName, TableSchema};

use super::decode::Special;
use super::schema::{catalog_column_type, quote_table};
use crate::connect::ServerFlavor;
use crate::error::MySqlError;

/// A collation's character set and its longest character in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CollationCharset {
    pub(crate) charset: String,
    pub(crate) max_len: u8,
}

/// Collation id → character set, as the server defines them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Collations(pub(crate) HashMap<u16, CollationCharset>);

impl Collations {
    pub(crate) fn get(&self, id: u16) -> Option<&CollationCharset> {
        self.0.get(&id)
    }
}

/// Reads every collation id. MariaDB 10.10+ lists the ids of its UCA 14.0
/// collations only in COLLATION_CHARACTER_SET_APPLICABILITY.
pub(crate) async fn load_collations(conn: &mut Conn, mariadb: bool) -> Result<Collations, MySqlError> {
    let max_lens: HashMap<String, u8> = conn
        .query::<(String, u8), _>("SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS")
        .await
        .map_err(|e| MySqlError::driver("reading information_schema.CHARACTER_SETS", e))?
        .into_iter()
        .collect();
    let mut rows = conn
        .query::<(u64, String), _>(
            "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL",
        )
        .await
        .map_err(|e| MySqlError::driver("reading information_schema.COLLATIONS", e))?;
    if mariadb {
        // Absent before MariaDB 10.10: then COLLATIONS has every id.
        if let Ok(more) = conn
            .query::<(u64, String), _>(
                "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY",
            )
            .await
        {
            rows.extend(more);
        }
    }
    let map = rows
        .into_iter()
        .filter_map(|(id, charset)| {
            let max_len = *max_lens.get(&charset)?;
            Some((u16::try_from(id).ok()?, CollationCharset { charset, max_len }))
        })
        .collect();
    Ok(Collations(map))
}

/// What information_schema adds to a routed table's table map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableExtras {
    /// Columns whose real type the binlog does not show.
    pub(crate) special: HashMap<String, Special>,
    /// The first UNIQUE NOT NULL index, for tables without a primary key.
    pub(crate) unique_key: Option<Vec<String>>,
}

/// Reads the extras of one table (empty when the table no longer exists).
pub(crate) async fn table_extras(conn: &mut Conn, table: &TableName, mariadb: bool) -> Result<TableExtras, MySqlError> {
    let mut extras = TableExtras::default();
    if mariadb {
        let typed: Vec<(String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE IN ('uuid', 'inet6', 'inet4')",
                (&table.schema, &table.name),
            )
            .await
            .map_err(|e| MySqlError::driver(format!("reading the columns of {table}"), e))?;
        for (column, data_type) in typed {
            let special = match data_type.as_str() {
                "uuid" => Special::Uuid,
                "inet6" => Special::Inet6,
                _ => Special::Inet4,
            };
            extras.special.insert(column, special);
        }
        for column in json_columns(conn, table).await? {
            extras.special.insert(column, Special::Json);
        }
    }
    extras.unique_key = key_columns(conn, table).await?.and_then(|key| (!key.primary).then_some(key.columns));
    Ok(extras)
}

/// MariaDB JSON columns: column-level checks reading exactly `json_valid(`col`)`.
async fn json_columns(conn: &mut Conn, table: &TableName) -> Result<Vec<String>, MySqlError> {
    let clauses: Vec<(String, String)> = conn
        .exec(
            "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND LEVEL = 'Column'",
            (&table.schema, &table.name),
        )
        .await
        .map_err(|e| MySqlError::driver(format!("reading the check constraints of {table}"), e))?;
    Ok(clauses
        .into_iter()
        .filter(|(column, clause)| *clause == format!("json_valid(`{}`)", column.replace('`', "``")))
        .map(|(column, _)| column)
        .collect())
}

/// A table's identifying columns.
pub(crate) struct KeyColumns {
    pub(crate) primary: bool,
    pub(crate) columns: Vec<String>,
}

/// The primary key, or else the first UNIQUE index (in definition order)
/// whose columns are all NOT NULL and not prefixes; `None` if the table is
/// missing or has neither.
pub(crate) async fn key_columns(conn: &mut Conn, table: &TableName) -> Result<Option<KeyColumns>, MySqlError> {
    let rows: Vec<mysql_async::Row> = match conn.query(format!("SHOW INDEX FROM {}", quote_table(table))).await {
        Ok(rows) => rows,
        // 1146: the table does not exist (any more).
        Err(mysql_async::Error::Server(error)) if error.code == 1146 => return Ok(None),
        Err(e) => return Err(MySqlError::driver(format!("reading the indexes of {table}"), e)),
    };
    let mut indexes: Vec<(String, bool, Vec<String>)> = Vec::new();
    for row in rows {
        let text = |name: &str| row.get_opt::<Option<String>, _>(name).and_then(Result::ok).flatten();
        let (Some(index), Some(column)) = (text("Key_name"), text("Column_name")) else { continue };
        let unique = text("Non_unique").as_deref() == Some("0");
        let usable = unique && text("Null").unwrap_or_default().is_empty() && text("Sub_part").is_none();
        match indexes.iter_mut().find(|(name, ..)| *name == index) {
            Some((_, ok, columns)) => {
                *ok &= usable;
                columns.push(column);
            }
            None => indexes.push((index, usable, vec![column])),
        }
    }
    if let Some((_, _, columns)) = indexes.iter().find(|(name, ..)| name == "PRIMARY") {
        return Ok(Some(KeyColumns { primary: true, columns: columns.clone() }));
    }
    Ok(indexes.into_iter().find(|(_, usable, _)| *usable).map(|(_, _, columns)| KeyColumns { primary: false, columns }))
}

/// Describes a source table from information_schema: its columns in order,
/// with `is_key` set on the primary key (or the first UNIQUE NOT NULL
/// index). `None` if the table does not exist. The name is the route's and
/// matches as the server matches names (`lower_case_table_names`); the
/// schema carries the route's spelling.
pub async fn describe_source_table(conn: &mut Conn, table: &TableName) -> Result<Option<TableSchema>, MySqlError> {
    let flavor = ServerFlavor::detect(conn).await?;
    let mariadb = flavor.mariadb;
    type ColumnRow = (String, String, String, String, String, Option<u64>, Option<String>);
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, \
             CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (&table.schema, &table.name),
        )
        .await
        .map_err(|e| MySqlError::driver(format!("describing {table}"), e))?;
    // Only the table the server means by this name (`lower_case_table_names`).
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|row| flavor.names.same(&row.0, &table.schema) && flavor.names.same(&row.1, &table.name))
        .map(|(_, _, name, data_type, column_type, max_chars, charset)| {
            (name, data_type, column_type, max_chars, charset)
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let json = if mariadb { json_columns(conn, table).await? } else { Vec::new() };
    let key = key_columns(conn, table).await?.map(|key| key.columns).unwrap_or_default();
    let columns = rows
        .into_iter()
        .map(|(name, data_type, column_type, max_chars, charset)| {
            let is_json = json.contains(&name);
            let (column_type, type_name) =
                catalog_column_type(&data_type, &column_type, max_chars, charset.as_deref(), is_json);
            Column { is_key: key.contains(&name), name, column_type, type_name, type_id: 0, type_modifier: -1 }
        })
        .collect();
    Ok(Some(TableSchema { id: 0, name: table.clone(), columns, full_before_image: true }))
}
