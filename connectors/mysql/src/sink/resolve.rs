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
//!
//! Insert-only columns (`TargetTable::insert_only`) are kept by index; key
//! columns listed there change nothing (a key is never assigned). Written
//! in source order, a run's repeated upserts of one key leave the
//! insert-only cells of the first that inserted the row, exactly as the
//! deduplicated path does (see `apply`).
//!
//! The target of `Sink::insert_returning` is checked by `check_insert`: the
//! same table and column checks, no key (nothing is upserted), the
//! `returning` column present, and a way to learn its value (see
//! `returning_via`).

use sluice_api::{TableName, TargetTable};

use super::describe::DescribedTable;
use super::statements::{quote_ident, quote_table};
use crate::connect::ServerFlavor;
use crate::error::MySqlError;
use crate::types::ColumnKind;

#[derive(Debug)]
pub(super) struct ResolvedTable {
    pub(super) name: TableName,
    pub(super) columns: Vec<ResolvedColumn>,
    /// Indices into `columns`.
    pub(super) key: Vec<usize>,
    /// Indices into `columns` (no key column): written only when an upsert
    /// inserts the row.
    pub(super) insert_only: Vec<usize>,
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
    let described = check_table(table, name, described)?;
    let columns = check_columns(table, name, &described)?;
    let info = &described.info;
    if table.key.is_empty() || table.key.iter().any(|&k| k >= table.columns.len()) {
        return Err(config(format!("The route into {name} has no valid key columns; set the route's key")));
    }
    if table.insert_only.iter().any(|&i| i >= table.columns.len()) {
        return Err(config(format!(
            "The route into {name} has an insert-only column out of range; this is a Sluice bug"
        )));
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
    let insert_only = table.insert_only.iter().copied().filter(|i| !table.key.contains(i)).collect();
    Ok(ResolvedTable { name: name.clone(), columns, key: table.key.clone(), insert_only, other_unique, ordered })
}

/// How `insert_returning` learns the value the target gave a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ReturningVia {
    /// MariaDB 10.5+: `INSERT … RETURNING` this column (the target's spelling).
    Clause(String),
    /// MySQL and older MariaDB: the insert id of the OK packet (what
    /// `LAST_INSERT_ID()` reports), for the `AUTO_INCREMENT` column only.
    InsertId,
}

/// Checks the target of an insert with a returned value: the table and
/// column checks of [`check_route`], no key (nothing is upserted), and a
/// `returning` column the server can report.
pub(super) fn check_insert(
    table: &TargetTable,
    name: &TableName,
    described: Option<DescribedTable>,
    flavor: &ServerFlavor,
    returning: &str,
) -> Result<(ResolvedTable, ReturningVia), MySqlError> {
    let described = check_table(table, name, described)?;
    let columns = check_columns(table, name, &described)?;
    let via = returning_via(&described, flavor, name, returning)?;
    let resolved = ResolvedTable {
        name: name.clone(),
        columns,
        key: Vec::new(),
        insert_only: Vec::new(),
        other_unique: Vec::new(),
        ordered: false,
    };
    Ok((resolved, via))
}

/// MariaDB 10.5+ returns any column; MySQL (no `RETURNING`) and older
/// MariaDB only report the `AUTO_INCREMENT` value of an insert.
pub(super) fn returning_via(
    described: &DescribedTable,
    flavor: &ServerFlavor,
    name: &TableName,
    returning: &str,
) -> Result<ReturningVia, MySqlError> {
    let config = |message: String| MySqlError::Config { setting: format!("target table {name}"), message };
    let info = &described.info;
    let column = info
        .columns
        .iter()
        .find(|c| c.name == returning)
        .or_else(|| info.columns.iter().find(|c| c.name.eq_ignore_ascii_case(returning)))
        .ok_or_else(|| {
            config(format!(
                "Target table {name} has no column {returning:?} to return the inserted row's value from; fix the \
                 route's target key column or add it (ALTER TABLE {} ADD COLUMN {} … AUTO_INCREMENT)",
                quote_table(name),
                quote_ident(returning)
            ))
        })?;
    if flavor.mariadb && flavor.version >= (10, 5, 0) {
        return Ok(ReturningVia::Clause(column.name.clone()));
    }
    if described.auto_increment.as_deref() == Some(column.name.as_str()) {
        return Ok(ReturningVia::InsertId);
    }
    let auto_increment = match &described.auto_increment {
        Some(other) => format!("its AUTO_INCREMENT column is {other:?}"),
        None => "it has no AUTO_INCREMENT column".to_owned(),
    };
    Err(config(format!(
        "{} {}.{}.{} cannot report the value it gives column {:?} of {name} on insert: it has no \
         INSERT … RETURNING, and LAST_INSERT_ID() reports only an AUTO_INCREMENT column, but {auto_increment}; make \
         {:?} the table's AUTO_INCREMENT column or use MariaDB 10.5 or later as the target",
        flavor.name(),
        flavor.version.0,
        flavor.version.1,
        flavor.version.2,
        column.name,
        column.name
    )))
}

/// The table exists, is a base table, and is transactional.
fn check_table(
    table: &TargetTable,
    name: &TableName,
    described: Option<DescribedTable>,
) -> Result<DescribedTable, MySqlError> {
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
    Ok(described)
}

/// Every routed column exists (exactly, or else case-insensitively) and is
/// not generated.
fn check_columns(
    table: &TargetTable,
    name: &TableName,
    described: &DescribedTable,
) -> Result<Vec<ResolvedColumn>, MySqlError> {
    let config = |message: String| MySqlError::Config { setting: format!("target table {name}"), message };
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
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use sluice_api::{ColumnType, TableName};

    use super::*;
    use crate::sink::describe::{TargetColumn, TargetTableInfo};

    fn described(auto_increment: Option<&str>) -> DescribedTable {
        let column = |name: &str| TargetColumn {
            name: name.into(),
            type_name: "int(11)".into(),
            column_type: ColumnType::Int { bytes: 4, unsigned: false },
            nullable: false,
            has_default: true,
            generated: false,
        };
        DescribedTable {
            info: TargetTableInfo {
                name: TableName::new("d", "t"),
                columns: vec![column("id"), column("code")],
                primary_key: vec!["id".into()],
                unique_keys: vec![],
            },
            table_type: "BASE TABLE".into(),
            engine: Some("InnoDB".into()),
            unique_indexes: vec![],
            self_referencing: false,
            auto_increment: auto_increment.map(str::to_owned),
        }
    }

    #[test]
    fn mariadb_10_5_returns_any_column_through_returning() {
        let name = TableName::new("d", "t");
        let maria = ServerFlavor::parse("10.11.6-MariaDB");
        assert_eq!(
            returning_via(&described(None), &maria, &name, "code").unwrap(),
            ReturningVia::Clause("code".into())
        );
        assert_eq!(returning_via(&described(None), &maria, &name, "ID").unwrap(), ReturningVia::Clause("id".into()));
    }

    #[test]
    fn mysql_and_older_mariadb_report_only_the_auto_increment_column() {
        let name = TableName::new("d", "t");
        for flavor in [ServerFlavor::parse("8.0.36"), ServerFlavor::parse("10.4.30-MariaDB")] {
            assert_eq!(returning_via(&described(Some("id")), &flavor, &name, "id").unwrap(), ReturningVia::InsertId);
            let error = returning_via(&described(Some("id")), &flavor, &name, "code").unwrap_err();
            assert_eq!(sluice_api::HasErrorKind::kind(&error), sluice_api::ErrorKind::Config);
            let message = error.to_string();
            assert!(
                message.contains("d.t") && message.contains("\"code\"") && message.contains("RETURNING"),
                "{message}"
            );
            assert!(message.contains("AUTO_INCREMENT column is \"id\""), "{message}");
            let error = returning_via(&described(None), &flavor, &name, "id").unwrap_err();
            assert!(error.to_string().contains("no AUTO_INCREMENT column"), "{error}");
        }
    }

    #[test]
    fn a_missing_returning_column_is_a_config_error_naming_it() {
        let name = TableName::new("d", "t");
        let error =
            returning_via(&described(None), &ServerFlavor::parse("10.11.6-MariaDB"), &name, "nope").unwrap_err();
        assert_eq!(sluice_api::HasErrorKind::kind(&error), sluice_api::ErrorKind::Config);
        assert!(error.to_string().contains("no column \"nope\""), "{error}");
    }
}
