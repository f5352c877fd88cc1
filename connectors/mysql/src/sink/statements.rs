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
//!   KEY UPDATE c = sluice_row.c`. Key columns and insert-only columns
//!   (`TargetTable::insert_only`: written when the row is inserted, kept
//!   when it exists) are not assigned. When nothing is left to assign (every
//!   column in the key or insert-only: an insert-if-absent) the clause is
//!   the no-op `k = k` — never `INSERT IGNORE`, which would turn every
//!   error of the statement into a warning.
//! - Guarded upsert, for tables with unique indexes besides the route key.
//!   `ON DUPLICATE KEY UPDATE` fires on a conflict with *any* unique index:
//!   a row whose route key is new but whose value of another unique key is
//!   held by a different row would silently overwrite that other row. The
//!   guard is the first assignment, `k = IF(k = <incoming k> AND …, k, NULL)`:
//!   on the row's own key it changes nothing; on another row, it assigns
//!   NULL to a NOT NULL key column, which strict mode refuses (error 1048
//!   naming that column) — the whole statement fails instead of overwriting.
//!   Assignments run left to right on the old values, so the guard sees the
//!   existing row's key before anything is changed. With every other column
//!   insert-only the guard is the only assignment (and the no-op on the
//!   row's own key).
//! - Partial update (rows with unchanged columns) and patch
//!   (`RowWrite::Patch`, soft deletes): `UPDATE t SET c = ?, … WHERE k = ?
//!   AND …`, one row per statement, setting the present columns that are
//!   neither key nor insert-only; with `CLIENT_FOUND_ROWS` the affected
//!   count is the matched count, so a missing row shows as 0 (an error for
//!   partial updates, nothing for patches).
//! - Existence count: `SELECT COUNT(*) FROM t WHERE k IN (…)`, for partial
//!   updates that set no column but the key.
//! - Delete: `DELETE FROM t WHERE (k1, k2) IN ((?, ?), …)`.
//! - Bulk insert (snapshot chunks into an empty key range, see `load`):
//!   `INSERT INTO t (cols) VALUES (?,…),(?,…)`, and the range probe before
//!   it, `SELECT 1 FROM t WHERE <key range> LIMIT 1`.
//! - Insert returning (`Sink::insert_returning`, one row, no conflict
//!   handling): MariaDB 10.5+ `INSERT INTO t (cols) VALUES (?, …) RETURNING
//!   CAST(c AS CHAR)`; elsewhere (MySQL has no `RETURNING`) the plain
//!   `INSERT`, with the value `LAST_INSERT_ID()` reports (the OK packet's
//!   insert id) — only for the table's `AUTO_INCREMENT` column. `() VALUES
//!   ()` when no column is written.
//! - Read (`Sink::select_text`): `SELECT CAST(c AS CHAR), … FROM t WHERE
//!   f = ? AND … ORDER BY o, … LIMIT ?`.
//! - Savepoints: `SAVEPOINT s`, `ROLLBACK TO SAVEPOINT s`, `RELEASE
//!   SAVEPOINT s`.
//! - Truncate: `DELETE FROM t`, not `TRUNCATE TABLE`: TRUNCATE is DDL in
//!   MySQL and commits the open transaction implicitly, which would break the
//!   atomicity of rows and offsets (and a rollback could not undo it).
//! - Sluice-owned tables (`owned`): their `CREATE` statements.

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

/// Inserts or replaces `rows` whole rows. `key` and `insert_only` index
/// into `columns` (insert-only columns are written only when a row is
/// inserted); `guard`: refuse to update a row other than the one with the
/// incoming key.
pub(super) fn upsert(
    table: &TableName,
    columns: &[&str],
    key: &[usize],
    insert_only: &[usize],
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
            if !key.contains(&i) && !insert_only.contains(&i) {
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

/// Inserts one row and returns the text of column `returning`: MariaDB
/// 10.5+ (`returning_clause`), or the plain insert whose OK packet carries
/// the `AUTO_INCREMENT` value.
pub(super) fn insert_one(table: &TableName, columns: &[&str], returning: Option<&str>) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote_table(table),
        names.join(", "),
        vec!["?"; columns.len()].join(", ")
    );
    if let Some(returning) = returning {
        sql.push_str(&format!(" RETURNING CAST({} AS CHAR)", quote_ident(returning)));
    }
    sql
}

/// The text of `columns` of the rows whose `filter` columns equal the
/// parameters (in order), ordered by `order_by`, at most `limit` (a last
/// parameter) rows.
pub(super) fn select_text(
    table: &TableName,
    columns: &[&str],
    filter: &[&str],
    order_by: &[&str],
    limit: bool,
) -> String {
    let selected: Vec<String> = columns.iter().map(|c| format!("CAST({} AS CHAR)", quote_ident(c))).collect();
    let mut sql = format!("SELECT {} FROM {}", selected.join(", "), quote_table(table));
    if !filter.is_empty() {
        let conditions: Vec<String> = filter.iter().map(|c| format!("{} = ?", quote_ident(c))).collect();
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    if !order_by.is_empty() {
        let order: Vec<String> = order_by.iter().map(|c| quote_ident(c)).collect();
        sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    if limit {
        sql.push_str(" LIMIT ?");
    }
    sql
}

/// What a savepoint statement does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SavepointOp {
    Set,
    RollbackTo,
    Release,
}

/// `SAVEPOINT s`, `ROLLBACK TO SAVEPOINT s` or `RELEASE SAVEPOINT s`.
pub(super) fn savepoint(op: SavepointOp, name: &str) -> String {
    let verb = match op {
        SavepointOp::Set => "SAVEPOINT",
        SavepointOp::RollbackTo => "ROLLBACK TO SAVEPOINT",
        SavepointOp::Release => "RELEASE SAVEPOINT",
    };
    format!("{verb} {}", quote_ident(name))
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
            upsert(&table(), &["id", "v`x"], &[0], &[], 2, Incoming::ValuesFunction, false),
            "INSERT INTO `d``b`.`t` (`id`, `v``x`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `v``x` = VALUES(`v``x`)"
        );
        assert_eq!(
            upsert(&table(), &["id", "v"], &[0], &[], 1, Incoming::RowAlias, false),
            "INSERT INTO `d``b`.`t` (`id`, `v`) VALUES (?, ?) AS sluice_row ON DUPLICATE KEY UPDATE `v` = sluice_row.`v`"
        );
        assert!(
            upsert(&table(), &["id"], &[0], &[], 1, Incoming::ValuesFunction, false).ends_with("UPDATE `id` = `id`")
        );
    }

    #[test]
    fn guarded_upsert_nulls_the_key_when_another_row_matched() {
        assert_eq!(
            upsert(&table(), &["a", "b", "v"], &[0, 1], &[], 1, Incoming::ValuesFunction, true),
            "INSERT INTO `d``b`.`t` (`a`, `b`, `v`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \
             `a` = IF(`a` = VALUES(`a`) AND `b` = VALUES(`b`), `a`, NULL), `v` = VALUES(`v`)"
        );
    }

    #[test]
    fn insert_only_columns_are_not_assigned_and_nothing_left_is_a_no_op() {
        assert_eq!(
            upsert(&table(), &["id", "a", "b"], &[0], &[1], 1, Incoming::ValuesFunction, false),
            "INSERT INTO `d``b`.`t` (`id`, `a`, `b`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `b` = VALUES(`b`)"
        );
        assert!(
            upsert(&table(), &["id", "a", "b"], &[0], &[1, 2], 2, Incoming::RowAlias, false)
                .ends_with("AS sluice_row ON DUPLICATE KEY UPDATE `id` = `id`")
        );
        // Guarded: the guard alone, still refusing to touch another row.
        assert!(
            upsert(&table(), &["id", "a"], &[0], &[1], 1, Incoming::ValuesFunction, true)
                .ends_with("ON DUPLICATE KEY UPDATE `id` = IF(`id` = VALUES(`id`), `id`, NULL)")
        );
    }

    #[test]
    fn single_inserts_return_the_column_as_text_or_rely_on_the_insert_id() {
        assert_eq!(
            insert_one(&table(), &["a", "b"], Some("id")),
            "INSERT INTO `d``b`.`t` (`a`, `b`) VALUES (?, ?) RETURNING CAST(`id` AS CHAR)"
        );
        assert_eq!(insert_one(&table(), &["a"], None), "INSERT INTO `d``b`.`t` (`a`) VALUES (?)");
        assert_eq!(insert_one(&table(), &[], None), "INSERT INTO `d``b`.`t` () VALUES ()");
    }

    #[test]
    fn reads_cast_to_text_and_bind_filters_and_limit() {
        assert_eq!(
            select_text(&table(), &["a", "change"], &["f", "g"], &["o", "p"], true),
            "SELECT CAST(`a` AS CHAR), CAST(`change` AS CHAR) FROM `d``b`.`t` WHERE `f` = ? AND `g` = ? \
             ORDER BY `o`, `p` LIMIT ?"
        );
        assert_eq!(select_text(&table(), &["a"], &[], &[], false), "SELECT CAST(`a` AS CHAR) FROM `d``b`.`t`");
        assert_eq!(savepoint(SavepointOp::RollbackTo, "dl_1"), "ROLLBACK TO SAVEPOINT `dl_1`");
        assert_eq!(savepoint(SavepointOp::Set, "s"), "SAVEPOINT `s`");
        assert_eq!(savepoint(SavepointOp::Release, "s"), "RELEASE SAVEPOINT `s`");
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
