//! A route's target table checked against the catalog, once per
//! transaction sequence (the cache is dropped on rollback, so a target the
//! DBA fixed is picked up when the pipeline restarts).
//!
//! The table must exist, be a table (not a view) of a transactional engine
//! (only then do rows and the offsets row commit or roll back together), have
//! every routed column (none generated), and have a primary key or a unique
//! key of NOT NULL columns equal to the route's key. Column names match
//! exactly, or else case-insensitively, as MySQL matches them.
//!
//! How upserts behave follows from the other unique indexes:
//! - none: rows are deduplicated per key within a run (the last image wins)
//!   and written with plain `INSERT … ON DUPLICATE KEY UPDATE`;
//! - some (a secondary UNIQUE, or a primary key that is not the route key):
//!   the upsert is *guarded* (see `statements`) so a conflict on another
//!   unique index fails loudly instead of overwriting a different row, and
//!   rows go in source order without deduplication, so that a value moving
//!   from one row to another within a run (a swap) is applied in the order
//!   that made it legal in the source.
//!
//! A self-referencing foreign key also keeps source order: InnoDB checks
//! foreign keys row by row, so a child may not precede its parent.

use sluice_api::{TableName, TargetTable};

use super::describe::DescribedTable;
use super::statements::{quote_ident, quote_table};
use crate::error::MySqlError;
use crate::types::ColumnKind;

#[derive(Debug)]
pub(super) struct ResolvedTable {
    pub(super) name: TableName,
    pub(super) columns: Vec<ResolvedColumn>,
    /// Indices into `columns`.
    pub(super) key: Vec<usize>,
    /// Labels of the unique indexes other than the route key; non-empty:
    /// upserts are guarded.
    pub(super) other_unique: Vec<String>,
    /// Write in source order without deduplication.
    pub(super) ordered: bool,
}

#[derive(Debug)]
pub(super) struct ResolvedColumn {
    /// The target's spelling of the column name.
    pub(super) name: String,
    pub(super) type_name: String,
    pub(super) kind: ColumnKind,
    pub(super) nullable: bool,
}

impl ResolvedTable {
    pub(super) fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    pub(super) fn key_names(&self) -> Vec<&str> {
        self.key.iter().map(|&k| self.columns[k].name.as_str()).collect()
    }

    pub(super) fn guarded(&self) -> bool {
        !self.other_unique.is_empty()
    }
}

pub(super) fn check_route(
    table: &TargetTable,
    name: &TableName,
    described: Option<DescribedTable>,
) -> Result<ResolvedTable, MySqlError> {
    let config = |message: String| MySqlError::Config { setting: format!("target table {name}"), message };
    let Some(described) = described else {
        return Err(config(format!(
            "Target table {name} does not exist; create it with the routed columns ({}) and restart",
            table.columns.join(", ")
        )));
    };
    if !described.is_table() {
        return Err(config(format!(
            "Target {name} is a {}, not a table; route to a base table",
            described.table_type.to_lowercase()
        )));
    }
    if !described.is_transactional() {
        return Err(config(format!(
            "Target table {name} uses the {} engine, which is not transactional: rows and positions could not \
             commit or roll back together; run ALTER TABLE {} ENGINE=InnoDB",
            described.engine.as_deref().unwrap_or("unknown"),
            quote_table(name)
        )));
    }
    let info = &described.info;
    let mut columns = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let target = info
            .columns
            .iter()
            .find(|c| &c.name == column)
            .or_else(|| info.columns.iter().find(|c| c.name.to_lowercase() == column.to_lowercase()))
            .ok_or_else(|| {
                config(format!(
                    "Target table {name} has no column {column:?}; add it (ALTER TABLE {} ADD COLUMN {} …) \
                     or fix the route's column mapping",
                    quote_table(name),
                    quote_ident(column)
                ))
            })?;
        if target.generated {
            return Err(config(format!(
                "Column {column:?} of target table {name} is generated and cannot be written; \
                 leave it out of the route's columns"
            )));
        }
        columns.push(ResolvedColumn {
            name: target.name.clone(),
            type_name: target.type_name.clone(),
            kind: ColumnKind::of(target),
            nullable: target.nullable,
        });
    }
    if table.key.is_empty() || table.key.iter().any(|&k| k >= table.columns.len()) {
        return Err(config(format!("The route into {name} has no valid key columns; set the route's key")));
    }
    let key_names: Vec<String> = table.key.iter().map(|&k| columns[k].name.clone()).collect();
    if !info.has_unique_key(&key_names) {
        let quoted: Vec<String> = key_names.iter().map(|k| quote_ident(k)).collect();
        return Err(config(format!(
            "Target table {name} has no primary key or unique key of NOT NULL columns on ({}), which upserts \
             (INSERT … ON DUPLICATE KEY UPDATE) need; run ALTER TABLE {} ADD PRIMARY KEY ({});",
            key_names.join(", "),
            quote_table(name),
            quoted.join(", ")
        )));
    }
    let other_unique: Vec<String> = described
        .unique_indexes
        .iter()
        .filter(|index| {
            let same = index.columns.len() == key_names.len()
                && !index.prefix
                && index.columns.iter().all(|c| c.as_ref().is_some_and(|c| key_names.contains(c)));
            !same
        })
        .map(|index| index.label())
        .collect();
    let ordered = !other_unique.is_empty() || described.self_referencing;
    Ok(ResolvedTable { name: name.clone(), columns, key: table.key.clone(), other_unique, ordered })
}
