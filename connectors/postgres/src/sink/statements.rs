//! The SQL the sink runs, one shape per (table, operation, columns).
//!
//! Every write statement takes one array parameter per column and turns
//! the arrays back into rows with `unnest`, so a run of thousands of rows is
//! one round trip and one plan, whatever the batch size. The arrays are
//! built by `params`: a built-in type's own binary form where the values
//! are of its kind, else `text[]` holding `types::encode_text`, converted by
//! PostgreSQL's input functions through a cast to the column's type without
//! modifier (`::numeric`, the assignment then applies `numeric(12,2)`;
//! `::bpchar`, never `::character`, which means `char(1)` and truncates),
//! which works for every type, including enums and domains (on a typed
//! array the cast is a no-op). Identifiers are always quoted; values are
//! always bound. The SQL text is the statement cache's key.
//!
//! - Upsert: `INSERT … OVERRIDING SYSTEM VALUE SELECT unnest($1::…[])::…,
//!   … ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c` for every column but
//!   the key and the insert-only columns (`TargetTable::insert_only`: written
//!   when the row is inserted, kept when it exists); `DO NOTHING` when no
//!   column is left to update (every column in the key or insert-only: an
//!   insert-if-absent). `OVERRIDING SYSTEM VALUE` lets the source's values
//!   into `GENERATED ALWAYS AS IDENTITY` columns and is a no-op otherwise.
//! - Partial update (rows with unchanged TOAST columns) and patch
//!   (`RowWrite::Patch`, soft deletes): `UPDATE … SET columns FROM unnest(…)
//!   WHERE key matches`, setting the present columns that are neither key
//!   nor insert-only. For partial updates the caller compares the row count
//!   with the keys sent; for patches a missing row is simply not matched.
//! - Existence count: the same match as a `SELECT count(*)`, for partial
//!   updates that have no column but the key to set.
//! - Delete: `DELETE … USING unnest(…) WHERE key matches`.
//! - Truncate: `TRUNCATE a, b` for consecutive truncates.
//! - Insert returning (`Sink::insert_returning`, one row): `INSERT INTO t
//!   (columns) VALUES ($1::text::type, …) RETURNING "c"::text` (`DEFAULT
//!   VALUES` when no column is written) — no conflict handling and no
//!   `OVERRIDING SYSTEM VALUE`: the target assigns identities and sequence
//!   defaults.
//! - Read (`Sink::select_text`): `SELECT "c"::text, … FROM t WHERE
//!   "f"::text = $1 AND … ORDER BY "o", … LIMIT $n`: text parameters and
//!   text results whatever the column types (a no-op cast on text columns,
//!   so their indexes still serve the filter).
//! - Savepoints: `SAVEPOINT "s"`, `ROLLBACK TO SAVEPOINT "s"`, `RELEASE
//!   SAVEPOINT "s"`.
//! - Bulk load (`load.rs`): a probe for existing rows in a chunk's key
//!   range, and `COPY t (columns) FROM STDIN`.
//! - Sluice-owned tables (`owned.rs`): their `CREATE` statements.

use sluice_api::TableName;

/// A column as statements see it: its name, the type its values are cast
/// to, and the array type of its parameter (`text[]`, or a built-in type's
/// array when the values travel in binary: see `params`; the cast is then a
/// no-op).
#[derive(Clone, Copy)]
pub(super) struct Col<'a> {
    pub(super) name: &'a str,
    pub(super) cast: &'a str,
    pub(super) param: &'a str,
}

/// `"name"` with embedded quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"`.
pub(crate) fn quote_table(table: &TableName) -> String {
    format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name))
}

/// `unnest($1::text[], $2::int8[], …) AS u("a", …)`.
fn unnest_from(columns: &[Col<'_>], alias: &str) -> String {
    let params: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("${}::{}", i + 1, c.param)).collect();
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c.name)).collect();
    format!("unnest({}) AS {alias}({})", params.join(", "), names.join(", "))
}

/// `alias."c"::type`.
fn cast_of(alias: &str, column: &Col<'_>) -> String {
    format!("{alias}.{}::{}", quote_ident(column.name), column.cast)
}

/// `t."k1" = u."k1"::type AND …` for the key columns.
fn key_match(key: &[Col<'_>], alias: &str) -> String {
    key.iter().map(|k| format!("t.{} = {}", quote_ident(k.name), cast_of(alias, k))).collect::<Vec<_>>().join(" AND ")
}

/// Inserts or replaces whole rows. `key` is a subset of `columns`; the
/// `insert_only` columns are written when a row is inserted and left alone
/// when it exists.
pub(super) fn upsert(table: &TableName, columns: &[Col<'_>], key: &[Col<'_>], insert_only: &[Col<'_>]) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c.name)).collect();
    // Set-returning functions in the select list (a ProjectSet node, the
    // arrays walked in step) rather than `FROM unnest(…)`, whose function
    // scan first copies every row into a tuplestore: measured 3–6 % less
    // server time per row on a 5,000-row upsert.
    let values: Vec<String> =
        columns.iter().enumerate().map(|(i, c)| format!("unnest(${}::{})::{}", i + 1, c.param, c.cast)).collect();
    let key_names: Vec<String> = key.iter().map(|k| quote_ident(k.name)).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !key.iter().chain(insert_only).any(|k| k.name == c.name))
        .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c.name)))
        .collect();
    let action =
        if updates.is_empty() { "DO NOTHING".to_owned() } else { format!("DO UPDATE SET {}", updates.join(", ")) };
    format!(
        "INSERT INTO {} AS t ({}) OVERRIDING SYSTEM VALUE SELECT {} ON CONFLICT ({}) {}",
        quote_table(table),
        names.join(", "),
        values.join(", "),
        key_names.join(", "),
        action
    )
}

/// Updates the non-key `columns` of existing rows; `columns` holds the key
/// columns too (they are matched, not set) and at least one other column.
pub(super) fn update(table: &TableName, columns: &[Col<'_>], key: &[Col<'_>]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .filter(|c| !key.iter().any(|k| k.name == c.name))
        .map(|c| format!("{} = {}", quote_ident(c.name), cast_of("u", c)))
        .collect();
    format!(
        "UPDATE {} AS t SET {} FROM {} WHERE {}",
        quote_table(table),
        sets.join(", "),
        unnest_from(columns, "u"),
        key_match(key, "u")
    )
}

/// Counts the rows matching the keys (one `text[]` per key column).
pub(super) fn count_existing(table: &TableName, key: &[Col<'_>]) -> String {
    format!("SELECT count(*) FROM {} AS t, {} WHERE {}", quote_table(table), unnest_from(key, "u"), key_match(key, "u"))
}

/// Deletes the rows matching the keys (one `text[]` per key column).
pub(super) fn delete(table: &TableName, key: &[Col<'_>]) -> String {
    format!("DELETE FROM {} AS t USING {} WHERE {}", quote_table(table), unnest_from(key, "k"), key_match(key, "k"))
}

/// Whether any row's key lies in `[first, last]` (`$1…$n` the first key's
/// texts, `$n+1…$2n` the last's): the bulk load's check that a chunk's
/// range is still empty in the target. Row comparison, so the key's btree
/// index answers it.
pub(super) fn key_range_probe(table: &TableName, key: &[Col<'_>]) -> String {
    let names: Vec<String> = key.iter().map(|k| quote_ident(k.name)).collect();
    let bound = |offset: usize| -> String {
        let params: Vec<String> =
            key.iter().enumerate().map(|(i, k)| format!("${}::text::{}", offset + i + 1, k.cast)).collect();
        params.join(", ")
    };
    let names = names.join(", ");
    format!(
        "SELECT 1 FROM {} WHERE ({names}) >= ({}) AND ({names}) <= ({}) LIMIT 1",
        quote_table(table),
        bound(0),
        bound(key.len())
    )
}

/// Whether any row's key lies in `(after, through]`, either end open when
/// absent (`$1…` the after key's texts, then the through key's): the check
/// that a chunk's whole planned range is empty before its rows stream in.
pub(super) fn key_interval_probe(table: &TableName, key: &[Col<'_>], after: bool, through: bool) -> String {
    let names: Vec<String> = key.iter().map(|k| quote_ident(k.name)).collect();
    let names = names.join(", ");
    let bound = |offset: usize| -> String {
        let params: Vec<String> =
            key.iter().enumerate().map(|(i, k)| format!("${}::text::{}", offset + i + 1, k.cast)).collect();
        params.join(", ")
    };
    let mut conditions = Vec::new();
    if after {
        conditions.push(format!("({names}) > ({})", bound(0)));
    }
    if through {
        conditions.push(format!("({names}) <= ({})", bound(if after { key.len() } else { 0 })));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    format!("SELECT 1 FROM {}{filter} LIMIT 1", quote_table(table))
}

/// `COPY t (columns) FROM STDIN` in text format: the bulk load of a chunk
/// whose key range is empty in the target.
pub(super) fn copy_in(table: &TableName, columns: &[Col<'_>]) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c.name)).collect();
    format!("COPY {} ({}) FROM STDIN", quote_table(table), names.join(", "))
}

/// Inserts one row (`$1…` the columns' texts) and returns the text of
/// column `returning`; the target fills the columns left out.
pub(super) fn insert_returning(table: &TableName, columns: &[Col<'_>], returning: &str) -> String {
    let returning = format!("RETURNING {}::text", quote_ident(returning));
    if columns.is_empty() {
        return format!("INSERT INTO {} DEFAULT VALUES {returning}", quote_table(table));
    }
    let names: Vec<String> = columns.iter().map(|c| quote_ident(c.name)).collect();
    let values: Vec<String> =
        columns.iter().enumerate().map(|(i, c)| format!("${}::text::{}", i + 1, c.cast)).collect();
    format!("INSERT INTO {} ({}) VALUES ({}) {returning}", quote_table(table), names.join(", "), values.join(", "))
}

/// The text of `columns` of the rows whose `filter` columns' text equals
/// `$1…` (in order), ordered by `order_by`, at most `$n+1` rows when
/// `limit` (a `bigint` parameter after the filter's).
pub(super) fn select_text(
    table: &TableName,
    columns: &[&str],
    filter: &[&str],
    order_by: &[&str],
    limit: bool,
) -> String {
    let selected: Vec<String> = columns.iter().map(|c| format!("{}::text", quote_ident(c))).collect();
    let mut sql = format!("SELECT {} FROM {}", selected.join(", "), quote_table(table));
    if !filter.is_empty() {
        let conditions: Vec<String> =
            filter.iter().enumerate().map(|(i, c)| format!("{}::text = ${}", quote_ident(c), i + 1)).collect();
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    if !order_by.is_empty() {
        let order: Vec<String> = order_by.iter().map(|c| quote_ident(c)).collect();
        sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    if limit {
        sql.push_str(&format!(" LIMIT ${}", filter.len() + 1));
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

/// `SAVEPOINT "s"`, `ROLLBACK TO SAVEPOINT "s"` or `RELEASE SAVEPOINT "s"`.
pub(super) fn savepoint(op: SavepointOp, name: &str) -> String {
    let verb = match op {
        SavepointOp::Set => "SAVEPOINT",
        SavepointOp::RollbackTo => "ROLLBACK TO SAVEPOINT",
        SavepointOp::Release => "RELEASE SAVEPOINT",
    };
    format!("{verb} {}", quote_ident(name))
}

/// Truncates the tables in one statement (foreign keys between them allow
/// only that).
pub(super) fn truncate(tables: &[TableName]) -> String {
    let names: Vec<String> = tables.iter().map(quote_table).collect();
    format!("TRUNCATE {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableName {
        TableName::new("s", "t\"x")
    }

    const A: Col<'static> = Col { name: "a", cast: "bigint", param: "text[]" };
    const B: Col<'static> = Col { name: "b\"q", cast: "numeric", param: "numeric[]" };

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quote_table(&table()), r#""s"."t""x""#);
    }

    #[test]
    fn upsert_updates_non_key_columns_from_excluded() {
        assert_eq!(
            upsert(&table(), &[A, B], &[A], &[]),
            r#"INSERT INTO "s"."t""x" AS t ("a", "b""q") OVERRIDING SYSTEM VALUE SELECT unnest($1::text[])::bigint, unnest($2::numeric[])::numeric ON CONFLICT ("a") DO UPDATE SET "b""q" = EXCLUDED."b""q""#
        );
        assert!(upsert(&table(), &[A], &[A], &[]).ends_with("ON CONFLICT (\"a\") DO NOTHING"));
    }

    #[test]
    fn upsert_leaves_insert_only_columns_out_of_the_update() {
        const C: Col<'static> = Col { name: "c", cast: "text", param: "text[]" };
        assert!(
            upsert(&table(), &[A, B, C], &[A], &[B]).ends_with(r#"ON CONFLICT ("a") DO UPDATE SET "c" = EXCLUDED."c""#)
        );
        // Every non-key column insert-only: an insert-if-absent.
        assert!(upsert(&table(), &[A, B, C], &[A], &[B, C]).ends_with(r#"ON CONFLICT ("a") DO NOTHING"#));
    }

    #[test]
    fn insert_returning_casts_text_parameters_and_returns_text() {
        assert_eq!(
            insert_returning(&table(), &[A, B], "id"),
            r#"INSERT INTO "s"."t""x" ("a", "b""q") VALUES ($1::text::bigint, $2::text::numeric) RETURNING "id"::text"#
        );
        assert_eq!(
            insert_returning(&table(), &[], "id"),
            r#"INSERT INTO "s"."t""x" DEFAULT VALUES RETURNING "id"::text"#
        );
    }

    #[test]
    fn select_text_filters_orders_and_limits_with_bound_parameters() {
        assert_eq!(
            select_text(&table(), &["a", "b\"q"], &["f", "g"], &["o"], true),
            r#"SELECT "a"::text, "b""q"::text FROM "s"."t""x" WHERE "f"::text = $1 AND "g"::text = $2 ORDER BY "o" LIMIT $3"#
        );
        assert_eq!(select_text(&table(), &["a"], &[], &[], false), r#"SELECT "a"::text FROM "s"."t""x""#);
        assert_eq!(select_text(&table(), &["a"], &[], &[], true), r#"SELECT "a"::text FROM "s"."t""x" LIMIT $1"#);
    }

    #[test]
    fn savepoint_names_are_quoted() {
        assert_eq!(savepoint(SavepointOp::Set, "dl_1"), r#"SAVEPOINT "dl_1""#);
        assert_eq!(savepoint(SavepointOp::RollbackTo, "dl_1"), r#"ROLLBACK TO SAVEPOINT "dl_1""#);
        assert_eq!(savepoint(SavepointOp::Release, "dl_1"), r#"RELEASE SAVEPOINT "dl_1""#);
    }

    #[test]
    fn update_sets_present_columns_and_matches_the_key() {
        assert_eq!(
            update(&table(), &[A, B], &[A]),
            r#"UPDATE "s"."t""x" AS t SET "b""q" = u."b""q"::numeric FROM unnest($1::text[], $2::numeric[]) AS u("a", "b""q") WHERE t."a" = u."a"::bigint"#
        );
    }

    #[test]
    fn the_range_probe_compares_key_rows_and_copy_names_the_columns() {
        assert_eq!(
            key_range_probe(&table(), &[A, B]),
            r#"SELECT 1 FROM "s"."t""x" WHERE ("a", "b""q") >= ($1::text::bigint, $2::text::numeric) AND ("a", "b""q") <= ($3::text::bigint, $4::text::numeric) LIMIT 1"#
        );
        assert_eq!(copy_in(&table(), &[A, B]), r#"COPY "s"."t""x" ("a", "b""q") FROM STDIN"#);
    }

    #[test]
    fn delete_matches_every_key_column() {
        assert_eq!(
            delete(&table(), &[A, B]),
            r#"DELETE FROM "s"."t""x" AS t USING unnest($1::text[], $2::numeric[]) AS k("a", "b""q") WHERE t."a" = k."a"::bigint AND t."b""q" = k."b""q"::numeric"#
        );
    }
}
