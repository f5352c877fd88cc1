//! The SQL the sink runs, one shape per (table, operation, columns, rows).
//!
//! Every value is a `?` parameter of a prepared statement (mysql_async
//! caches the prepared statements by SQL text); identifiers are always
//! quoted with backticks, embedded backticks doubled. A statement holds at
//! most 65,535 parameters, the protocol's limit — the caller sizes its chunks.
//!
//! - Upsert: `INSERT INTO t (cols) VALUES (?,…),(?,…) ON DUPLICATE KEY UPDATE
//!   c = VALUES(c), …` — or, on MySQL 8.0.19+, where `VALUES()` is
//!   deprecated, the row-alias form `… VALUES (…) AS sluice_row ON DUPLICATE
//!   KEY UPDATE c = sluice_row.c`. When every column is part of the key there
//!   is nothing to update and the clause is the no-op `k = k`.
//! - Guarded upsert, for tables with unique indexes besides the route key.
//!   `ON DUPLICATE KEY UPDATE` fires on a conflict with *any* unique index:
//!   a row whose route key is new but whose value of another unique key is
//!   held by a different row would silently overwrite that other row. The
//!   guard is the first assignment, `k = IF(k = <incoming k> AND …, k, NULL)`:
//!   on the row's own key it changes nothing; on another row, it assigns
//!   NULL to a NOT NULL key column, which strict mode refuses (error 1048
//!   naming that column) — the whole statement fails instead of overwriting.
//!   Assignments run left to right on the old values, so the guard sees the
//!   existing row's key before anything is changed.
//! - Partial update (rows with unchanged columns): `UPDATE t SET c = ?, …
//!   WHERE k = ? AND …`, one row per statement; with `CLIENT_FOUND_ROWS` the
//!   affected count is the matched count, so a missing row shows as 0.
//! - Existence count: `SELECT COUNT(*) FROM t WHERE k IN (…)`, for partial
//!   updates that set no column but the key.
//! - Delete: `DELETE FROM t WHERE (k1, k2) IN ((?, ?), …)`.
//! - Bulk insert (snapshot chunks into an empty key range, see `load`):
//!   `INSERT INTO t (cols) VALUES (?,…),(?,…)`, and the range probe before
//!   it, `SELECT 1 FROM t WHERE <key range> LIMIT 1`.
//! - Truncate: `DELETE FROM t`, not `TRUNCATE TABLE`: TRUNCATE is DDL in
//!   MySQL and commits the open transaction implicitly, which would break the
//!   atomicity of rows and offsets (and a rollback could not undo it).

use sluice_api::TableName;

/// How an `ON DUPLICATE KEY UPDATE` clause refers to the incoming row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Incoming {
    /// `VALUES(c)`: MariaDB, MySQL before 8.0.19.
    ValuesFunction,
    /// `sluice_row.c` with `AS sluice_row` after the rows: MySQL 8.0.19+.
    RowAlias,
}

const ROW_ALIAS: &str = "sluice_row";

/// `` `name` `` with embedded backticks doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `database`.`table` ``.
pub(crate) fn quote_table(table: &TableName) -> String {
    format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name))
}

/// `(?, ?, ?)` repeated `rows` times, comma-separated.
fn placeholder_rows(width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

fn incoming(style: Incoming, column: &str) -> String {
    match style {
        Incoming::ValuesFunction => format!("VALUES({})", quote_ident(column)),
        Incoming::RowAlias => format!("{ROW_ALIAS}.{}", quote_ident(column)),
    }
}

/// Inserts or replaces `rows` whole rows. `key` indexes into `columns`;
/// `guard`: refuse to update a row other than the one with the incoming key.
pub(super) fn upsert(
    table: &TableName,
    columns: &[&str],
    key: &[usize],
    rows: usize,
    style: Incoming,
    guard: bool,
) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let mut assignments = Vec::new();
    if let Some(&first) = key.first() {
        let first = quote_ident(columns[first]);
        if guard {
            let same_key: Vec<String> =
                key.iter().map(|&k| format!("{} = {}", quote_ident(columns[k]), incoming(style, columns[k]))).collect();
            assignments.push(format!("{first} = IF({}, {first}, NULL)", same_key.join(" AND ")));
        }
        for (i, column) in columns.iter().enumerate() {
            if !key.contains(&i) {
                assignments.push(format!("{} = {}", quote_ident(column), incoming(style, column)));
            }
        }
        if assignments.is_empty() {
            assignments.push(format!("{first} = {first}"));
        }
    }
    let alias = match style {
        Incoming::ValuesFunction => String::new(),
        Incoming::RowAlias => format!(" AS {ROW_ALIAS}"),
    };
    format!(
        "INSERT INTO {} ({}) VALUES {}{alias} ON DUPLICATE KEY UPDATE {}",
        quote_table(table),
        names.join(", "),
        placeholder_rows(columns.len(), rows),
        assignments.join(", ")
    )
}

/// Inserts `rows` whole rows, without conflict handling: the bulk path of
/// snapshot chunks (a duplicate key fails the statement, error 1062).
pub(super) fn insert(table: &TableName, columns: &[&str], rows: usize) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote_table(table),
        names.join(", "),
        placeholder_rows(columns.len(), rows)
    )
}

/// Whether any row has a key within `range` (an expanded key comparison).
pub(super) fn any_in_range(table: &TableName, range: &str) -> String {
    format!("SELECT 1 FROM {} WHERE {range} LIMIT 1", quote_table(table))
}

/// Updates the `set` columns of the one row with the `key` columns' values;
/// parameters: the `set` values, then the key values.
pub(super) fn update(table: &TableName, set: &[&str], key: &[&str]) -> String {
    let sets: Vec<String> = set.iter().map(|c| format!("{} = ?", quote_ident(c))).collect();
    let matches: Vec<String> = key.iter().map(|k| format!("{} = ?", quote_ident(k))).collect();
    format!("UPDATE {} SET {} WHERE {}", quote_table(table), sets.join(", "), matches.join(" AND "))
}

/// `k IN (?, …)` or `(k1, k2) IN ((?, ?), …)` for `rows` keys.
fn key_in(key: &[&str], rows: usize) -> String {
    let names: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
    if key.len() == 1 {
        format!("{} IN ({})", names[0], vec!["?"; rows].join(", "))
    } else {
        format!("({}) IN ({})", names.join(", "), placeholder_rows(key.len(), rows))
    }
}

/// Counts the rows matching `rows` keys.
pub(super) fn count_existing(table: &TableName, key: &[&str], rows: usize) -> String {
    format!("SELECT COUNT(*) FROM {} WHERE {}", quote_table(table), key_in(key, rows))
}

/// Deletes the rows matching `rows` keys.
pub(super) fn delete(table: &TableName, key: &[&str], rows: usize) -> String {
    format!("DELETE FROM {} WHERE {}", quote_table(table), key_in(key, rows))
}

/// Removes every row, inside the transaction.
pub(super) fn delete_all(table: &TableName) -> String {
    format!("DELETE FROM {}", quote_table(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableName {
        TableName::new("d`b", "t")
    }

    #[test]
    fn identifiers_are_quoted_with_backticks_doubled() {
        assert_eq!(quote_table(&table()), "`d``b`.`t`");
    }

    #[test]
    fn upsert_updates_non_key_columns_from_the_incoming_row() {
        assert_eq!(
            upsert(&table(), &["id", "v`x"], &[0], 2, Incoming::ValuesFunction, false),
            "INSERT INTO `d``b`.`t` (`id`, `v``x`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `v``x` = VALUES(`v``x`)"
        );
        assert_eq!(
            upsert(&table(), &["id", "v"], &[0], 1, Incoming::RowAlias, false),
            "INSERT INTO `d``b`.`t` (`id`, `v`) VALUES (?, ?) AS sluice_row ON DUPLICATE KEY UPDATE `v` = sluice_row.`v`"
        );
        assert!(upsert(&table(), &["id"], &[0], 1, Incoming::ValuesFunction, false).ends_with("UPDATE `id` = `id`"));
    }

    #[test]
    fn guarded_upsert_nulls_the_key_when_another_row_matched() {
        assert_eq!(
            upsert(&table(), &["a", "b", "v"], &[0, 1], 1, Incoming::ValuesFunction, true),
            "INSERT INTO `d``b`.`t` (`a`, `b`, `v`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \
             `a` = IF(`a` = VALUES(`a`) AND `b` = VALUES(`b`), `a`, NULL), `v` = VALUES(`v`)"
        );
    }

    #[test]
    fn deletes_and_counts_match_single_and_composite_keys() {
        assert_eq!(delete(&table(), &["id"], 3), "DELETE FROM `d``b`.`t` WHERE `id` IN (?, ?, ?)");
        assert_eq!(
            count_existing(&table(), &["a", "b"], 2),
            "SELECT COUNT(*) FROM `d``b`.`t` WHERE (`a`, `b`) IN ((?, ?), (?, ?))"
        );
        assert_eq!(update(&table(), &["v"], &["a", "b"]), "UPDATE `d``b`.`t` SET `v` = ? WHERE `a` = ? AND `b` = ?");
        assert_eq!(delete_all(&table()), "DELETE FROM `d``b`.`t`");
        assert_eq!(insert(&table(), &["id", "v"], 2), "INSERT INTO `d``b`.`t` (`id`, `v`) VALUES (?, ?), (?, ?)");
        assert_eq!(any_in_range(&table(), "`id` >= ?"), "SELECT 1 FROM `d``b`.`t` WHERE `id` >= ? LIMIT 1");
    }
}
