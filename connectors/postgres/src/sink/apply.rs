//! Applying a batch of row writes inside the open target transaction.
//!
//! Writes arrive in source order. They are cut into runs of consecutive
//! writes with the same table and kind — and, for upserts, the same set of
//! unchanged (TOAST) columns — and the runs execute in order, one statement
//! per run (split every `max_rows_per_statement` rows). Keeping run order
//! keeps per-key order and the order across tables that foreign keys need.
//!
//! Within a run only the last image of each key matters: an upsert run keeps
//! the last row per key (PostgreSQL also refuses an `ON CONFLICT DO UPDATE`
//! that touches one row twice), a delete run each key once. Keys are
//! compared by their encoded text; two spellings PostgreSQL considers equal
//! (`1.0` and `1.00` in a numeric key, case variants under a
//! case-insensitive collation) would still reach one statement twice, which
//! the server refuses loudly rather than silently.
//!
//! Insert-only columns (`TargetTable::insert_only`) are written only when an
//! upsert inserts the row: the upsert leaves them out of `DO UPDATE SET`
//! (`DO NOTHING` when nothing is left). When a run upserts one key several
//! times, the merged row takes its insert-only cells from the key's *first*
//! image and the rest from its last — what applying them one by one would
//! leave whether or not the row existed before.
//!
//! A row with unchanged columns becomes a partial `UPDATE` of the columns
//! that are present (insert-only columns excepted: the row exists by
//! definition): the target keeps its value, never `NULL` or a placeholder.
//! If fewer rows matched than keys were sent, the target lacks rows the
//! source has — it has diverged — and the batch fails with
//! [`PostgresError::MissingTargetRows`] instead of inventing values.
//!
//! A patch run (`RowWrite::Patch`, soft deletes) is the same `UPDATE` of the
//! columns that are neither key, insert-only nor unchanged, last image per
//! key; a key the target does not hold is simply not matched.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{ColumnType, RowWrite, Run, RunKind, TableName, TargetTable, TimeOfDay, Value, runs};
use tokio_postgres::types::ToSql;

use super::PostgresSink;
use super::describe::{DescribedTable, describe};
use super::statements::{self, Col, quote_ident, quote_table};
use crate::error::PostgresError;
use crate::types::{TypeError, encode_text};

/// A route's target table resolved against the catalog: per route column,
/// its target name, cast type and engine-neutral type.
#[derive(Debug)]
pub(super) struct ResolvedTable {
    pub(super) name: TableName,
    columns: Vec<ResolvedColumn>,
    /// Indices into `columns`.
    pub(super) key: Vec<usize>,
    /// Indices into `columns`: written only when an upsert inserts the row.
    pub(super) insert_only: Vec<usize>,
}

#[derive(Debug)]
struct ResolvedColumn {
    name: String,
    cast: String,
    type_name: String,
    column_type: ColumnType,
}

impl ResolvedTable {
    pub(super) fn col(&self, index: usize) -> Col<'_> {
        let column = &self.columns[index];
        Col { name: &column.name, cast: &column.cast }
    }

    pub(super) fn key_cols(&self) -> Vec<Col<'_>> {
        self.key.iter().map(|&i| self.col(i)).collect()
    }

    /// The target type of routed column `index`, as `format_type` prints it.
    pub(super) fn type_name(&self, index: usize) -> &str {
        &self.columns[index].type_name
    }

    pub(super) fn column_type(&self, index: usize) -> &ColumnType {
        &self.columns[index].column_type
    }

    /// The number of routed columns.
    pub(super) fn width(&self) -> usize {
        self.columns.len()
    }
}

/// Encoded rows: one text (or NULL) per selected column.
pub(super) type EncodedRow = Vec<Option<String>>;

impl PostgresSink {
    /// Executes `writes` in order inside the open transaction.
    pub(super) async fn apply(&mut self, writes: Vec<RowWrite>) -> Result<(), PostgresError> {
        // Consecutive truncates, of any tables, become one statement: a
        // table referenced by a foreign key can only be truncated together
        // with the tables referencing it.
        for Run { kind, range } in runs(&writes, true) {
            let run = &writes[range];
            match kind {
                RunKind::Truncate => self.truncate(run).await?,
                RunKind::Delete => {
                    let resolved = self.resolve(run[0].table()).await?;
                    self.delete(&resolved, run).await?;
                }
                RunKind::Patch { unchanged } => {
                    let resolved = self.resolve(run[0].table()).await?;
                    self.patch(&resolved, run, &unchanged).await?;
                }
                RunKind::Upsert { unchanged } => {
                    let resolved = self.resolve(run[0].table()).await?;
                    if unchanged.is_empty() {
                        self.upsert(&resolved, run).await?;
                    } else {
                        self.update_present(&resolved, run, &unchanged).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The target table of a route, described and checked once per
    /// transaction sequence (the cache is dropped on rollback, so a fixed
    /// target is picked up after a restart of the pipeline).
    pub(super) async fn resolve(&mut self, table: &Arc<TargetTable>) -> Result<Arc<ResolvedTable>, PostgresError> {
        if let Some(resolved) = self.resolved.get(table.as_ref()) {
            return Ok(Arc::clone(resolved));
        }
        let name = TableName::new(&table.schema, &table.name);
        let described = describe(&self.client, &name).await?;
        let resolved = Arc::new(check_route(table, &name, described)?);
        self.resolved.insert(table.as_ref().clone(), Arc::clone(&resolved));
        Ok(resolved)
    }

    async fn truncate(&mut self, run: &[RowWrite]) -> Result<(), PostgresError> {
        let mut names: Vec<TableName> = Vec::with_capacity(run.len());
        for write in run {
            let name = self.resolve(write.table()).await?.name.clone();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let list: Vec<String> = names.iter().map(ToString::to_string).collect();
        self.client
            .batch_execute(&statements::truncate(&names))
            .await
            .map_err(|e| PostgresError::query(format!("truncate {}", list.join(", ")), e))?;
        tracing::debug!(tables = %list.join(", "), "truncated target tables");
        Ok(())
    }

    async fn delete(&mut self, table: &ResolvedTable, run: &[RowWrite]) -> Result<(), PostgresError> {
        let key_positions: Vec<usize> = (0..table.key.len()).collect();
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Delete { key, .. } = write {
                check_width(table, key.len(), table.key.len())?;
                rows.push(encode_cells(table, key.iter().zip(table.key.iter().copied()))?);
            }
        }
        let rows = last_per_key(rows, &key_positions, &[]);
        let sql = statements::delete(&table.name, &table.key_cols());
        let context = || format!("delete from {}", table.name);
        let deleted = self.execute_chunks(&sql, rows, context).await?;
        tracing::debug!(table = %table.name, rows = deleted, "deleted target rows");
        Ok(())
    }

    async fn upsert(&mut self, table: &ResolvedTable, run: &[RowWrite]) -> Result<(), PostgresError> {
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(table, values.len(), table.columns.len())?;
                rows.push(encode_cells(table, values.iter().zip(0..))?);
            }
        }
        let count = rows.len();
        let rows = last_per_key(rows, &table.key, &table.insert_only);
        let columns: Vec<Col<'_>> = (0..table.columns.len()).map(|i| table.col(i)).collect();
        let insert_only: Vec<Col<'_>> = table.insert_only.iter().map(|&i| table.col(i)).collect();
        let sql = statements::upsert(&table.name, &columns, &table.key_cols(), &insert_only);
        self.execute_chunks(&sql, rows, || format!("upsert into {}", table.name)).await?;
        tracing::debug!(table = %table.name, rows = count, "upserted target rows");
        Ok(())
    }

    /// Updates rows whose images lack the `unchanged` columns; every key must
    /// match an existing row.
    async fn update_present(
        &mut self,
        table: &ResolvedTable,
        run: &[RowWrite],
        unchanged: &[usize],
    ) -> Result<(), PostgresError> {
        if let Some(&k) = table.key.iter().find(|k| unchanged.contains(k)) {
            return Err(value_error(table, k, TypeError::new("a key column is unchanged (TOAST) in an update")));
        }
        // Insert-only columns keep the target's value: the row exists.
        let present: Vec<usize> =
            (0..table.columns.len()).filter(|i| !unchanged.contains(i) && !table.insert_only.contains(i)).collect();
        let key_positions: Vec<usize> = table.key.iter().filter_map(|k| present.iter().position(|p| p == k)).collect();
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(table, values.len(), table.columns.len())?;
                rows.push(encode_cells(table, present.iter().map(|&i| (&values[i], i)))?);
            }
        }
        let rows = last_per_key(rows, &key_positions, &[]);
        let expected = rows.len() as u64;
        let sets_something = present.len() > table.key.len();
        let matched = if sets_something {
            let columns: Vec<Col<'_>> = present.iter().map(|&i| table.col(i)).collect();
            let sql = statements::update(&table.name, &columns, &table.key_cols());
            self.execute_chunks(&sql, rows, || format!("update of {}", table.name)).await?
        } else {
            let keys = rows.into_iter().map(|row| key_positions.iter().map(|&p| row[p].clone()).collect()).collect();
            self.count_existing(table, keys).await?
        };
        if matched < expected && self.copying.contains(&table.name) {
            tracing::debug!(table = %table.name, rows = expected - matched, "partial updates of rows not copied yet left to the snapshot");
        } else if matched < expected {
            return Err(PostgresError::MissingTargetRows {
                table: table.name.to_string(),
                missing: expected - matched,
            });
        }
        tracing::debug!(table = %table.name, rows = matched, "updated target rows keeping unchanged columns");
        Ok(())
    }

    /// Updates the rows of a patch run that exist, setting the columns that
    /// are neither key nor insert-only nor `unchanged` (the run's images
    /// share them); keys the target does not hold are left absent.
    async fn patch(
        &mut self,
        table: &ResolvedTable,
        run: &[RowWrite],
        unchanged: &[usize],
    ) -> Result<(), PostgresError> {
        if let Some(&k) = table.key.iter().find(|k| unchanged.contains(k)) {
            return Err(value_error(table, k, TypeError::new("a key column is unchanged in a patch")));
        }
        let set = run[0].table().settable(unchanged);
        if set.is_empty() {
            return Ok(());
        }
        let present: Vec<usize> = table.key.iter().chain(&set).copied().collect();
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Patch { values, .. } = write {
                check_width(table, values.len(), table.columns.len())?;
                rows.push(encode_cells(table, present.iter().map(|&i| (&values[i], i)))?);
            }
        }
        let key_positions: Vec<usize> = (0..table.key.len()).collect();
        let rows = last_per_key(rows, &key_positions, &[]);
        let columns: Vec<Col<'_>> = present.iter().map(|&i| table.col(i)).collect();
        let sql = statements::update(&table.name, &columns, &table.key_cols());
        let updated = self.execute_chunks(&sql, rows, || format!("patch of {}", table.name)).await?;
        tracing::debug!(table = %table.name, rows = updated, "patched target rows");
        Ok(())
    }

    async fn count_existing(&mut self, table: &ResolvedTable, keys: Vec<EncodedRow>) -> Result<u64, PostgresError> {
        let sql = statements::count_existing(&table.name, &table.key_cols());
        let statement = self.prepared(&sql, table.key.len()).await?;
        let mut total = 0u64;
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let chunk: Vec<EncodedRow> = keys.by_ref().take(self.max_rows_per_statement).collect();
            let params = columns_of(chunk, table.key.len());
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let row = self
                .client
                .query_one(&statement, &refs)
                .await
                .map_err(|e| PostgresError::query(format!("lookup of rows in {}", table.name), e))?;
            total += u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        }
        Ok(total)
    }

    /// Runs a one-`text[]`-per-column statement over `rows`, at most
    /// `max_rows_per_statement` rows per execution; returns the rows affected.
    async fn execute_chunks(
        &mut self,
        sql: &str,
        rows: Vec<EncodedRow>,
        context: impl Fn() -> String,
    ) -> Result<u64, PostgresError> {
        let Some(width) = rows.first().map(Vec::len) else {
            return Ok(0);
        };
        let statement = self.prepared(sql, width).await?;
        let mut affected = 0;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<EncodedRow> = rows.by_ref().take(self.max_rows_per_statement).collect();
            let params = columns_of(chunk, width);
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            affected += self.client.execute(&statement, &refs).await.map_err(|e| PostgresError::query(context(), e))?;
        }
        Ok(affected)
    }
}

/// Checks a route's target table against the catalog: it exists, has every
/// routed column (none generated), and a unique key equal to the route's key.
pub(super) fn check_route(
    table: &TargetTable,
    name: &TableName,
    described: Option<DescribedTable>,
) -> Result<ResolvedTable, PostgresError> {
    let config = |message: String| PostgresError::Config { setting: format!("target table {name}"), message };
    let described = exists(table, name, described)?;
    let columns = check_columns(table, name, &described)?;
    if table.key.is_empty() || table.key.iter().any(|&k| k >= table.columns.len()) {
        return Err(config(format!("The route into {name} has no valid key columns; set the route's key")));
    }
    if table.insert_only.iter().any(|&i| i >= table.columns.len()) {
        return Err(config(format!(
            "The route into {name} has an insert-only column out of range; this is a Sluice bug"
        )));
    }
    let key_names: Vec<String> = table.key.iter().map(|&k| table.columns[k].clone()).collect();
    if !described.info.has_unique_key(&key_names) {
        let quoted: Vec<String> = key_names.iter().map(|k| quote_ident(k)).collect();
        return Err(config(format!(
            "Target table {name} has no primary key or unique constraint on ({}), which upserts \
             (INSERT … ON CONFLICT) need; run ALTER TABLE {} ADD PRIMARY KEY ({});",
            key_names.join(", "),
            quote_table(name),
            quoted.join(", ")
        )));
    }
    // A key column is never updated anyway; listing it as insert-only changes nothing.
    let insert_only = table.insert_only.iter().copied().filter(|i| !table.key.contains(i)).collect();
    Ok(ResolvedTable { name: name.clone(), columns, key: table.key.clone(), insert_only })
}

/// Checks the target of an insert with a returned value (no key needed:
/// nothing is upserted): the table exists, has every written column (none
/// generated) and the `returning` column, whose name is returned as the
/// target spells it.
pub(super) fn check_insert(
    table: &TargetTable,
    name: &TableName,
    described: Option<DescribedTable>,
    returning: &str,
) -> Result<ResolvedTable, PostgresError> {
    let described = exists(table, name, described)?;
    let columns = check_columns(table, name, &described)?;
    if described.info.column(returning).is_none() {
        return Err(PostgresError::Config {
            setting: format!("target table {name}"),
            message: format!(
                "Target table {name} has no column {returning:?} to return the inserted row's value from; \
                 fix the route's target key column or add it (ALTER TABLE {} ADD COLUMN {} … GENERATED ALWAYS AS IDENTITY)",
                quote_table(name),
                quote_ident(returning)
            ),
        });
    }
    Ok(ResolvedTable { name: name.clone(), columns, key: Vec::new(), insert_only: Vec::new() })
}

fn exists(
    table: &TargetTable,
    name: &TableName,
    described: Option<DescribedTable>,
) -> Result<DescribedTable, PostgresError> {
    described.ok_or_else(|| PostgresError::Config {
        setting: format!("target table {name}"),
        message: format!(
            "Target table {name} does not exist; create it with the routed columns ({}) and restart",
            table.columns.join(", ")
        ),
    })
}

/// Every routed column exists in the target and is not generated.
fn check_columns(
    table: &TargetTable,
    name: &TableName,
    described: &DescribedTable,
) -> Result<Vec<ResolvedColumn>, PostgresError> {
    let config = |message: String| PostgresError::Config { setting: format!("target table {name}"), message };
    let mut columns = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let index = described.info.columns.iter().position(|c| &c.name == column).ok_or_else(|| {
            config(format!(
                "Target table {name} has no column {column:?}; add it (ALTER TABLE {} ADD COLUMN {} …) \
                 or fix the route's column mapping",
                quote_table(name),
                quote_ident(column)
            ))
        })?;
        let target = &described.info.columns[index];
        if target.generated {
            return Err(config(format!(
                "Column {column:?} of target table {name} is generated and cannot be written; \
                 leave it out of the route's columns or drop its generation expression"
            )));
        }
        columns.push(ResolvedColumn {
            name: column.clone(),
            cast: described.casts[index].clone(),
            type_name: target.type_name.clone(),
            column_type: target.column_type.clone(),
        });
    }
    Ok(columns)
}

/// Encodes cells, each with the index of its route column.
pub(super) fn encode_cells<'v>(
    table: &ResolvedTable,
    cells: impl Iterator<Item = (&'v Value, usize)>,
) -> Result<EncodedRow, PostgresError> {
    cells
        .map(|(value, column)| {
            encode_cell(value, &table.columns[column].column_type).map_err(|e| value_error(table, column, e))
        })
        .collect()
}

/// A write whose image does not match the route's columns is an engine bug;
/// refuse it rather than shift values into the wrong columns.
pub(super) fn check_width(table: &ResolvedTable, values: usize, columns: usize) -> Result<(), PostgresError> {
    if values == columns {
        return Ok(());
    }
    Err(PostgresError::Value {
        table: table.name.to_string(),
        column: "*".into(),
        type_name: String::new(),
        reason: format!("a write has {values} values for {columns} columns; this is a Sluice bug"),
    })
}

pub(super) fn value_error(table: &ResolvedTable, column: usize, error: TypeError) -> PostgresError {
    let column = &table.columns[column];
    PostgresError::Value {
        table: table.name.to_string(),
        column: column.name.clone(),
        type_name: column.type_name.clone(),
        reason: error.reason().to_owned(),
    }
}

/// [`encode_text`], adapted to the target column where PostgreSQL has no
/// type of the value's own: a MySQL `SET` into a non-array column is written
/// in MySQL's `a,b` form, and a duration into `time` must lie within a day.
pub(super) fn encode_cell(value: &Value, target: &ColumnType) -> Result<Option<String>, TypeError> {
    match (value, target) {
        (Value::Set(labels), target) if !matches!(target, ColumnType::Array(_)) => {
            let joined = labels.join(",");
            encode_text(&Value::Text(joined))
        }
        (Value::Duration(micros), ColumnType::Time { .. })
            if *micros < 0 || micros.unsigned_abs() > TimeOfDay::MAX_MICROS =>
        {
            Err(TypeError::new(
                "a negative duration or one beyond 24:00:00 does not fit PostgreSQL time; make the target column interval",
            ))
        }
        _ => encode_text(value),
    }
}

/// Keeps the last row of each key (`key` = positions in the row), in the
/// order of those last occurrences; the cells at `first_wins` (insert-only
/// columns) come from the key's first row: a later upsert of a row the
/// first one inserted would have left them as that insert wrote them.
fn last_per_key(rows: Vec<EncodedRow>, key: &[usize], first_wins: &[usize]) -> Vec<EncodedRow> {
    if rows.len() < 2 {
        return rows;
    }
    // Per key: (first occurrence, last occurrence).
    let mut seen: HashMap<Vec<&Option<String>>, (usize, usize)> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        seen.entry(key.iter().map(|&k| &row[k]).collect()).and_modify(|(_, last)| *last = i).or_insert((i, i));
    }
    if seen.len() == rows.len() {
        return rows;
    }
    // Per row: the first occurrence of its key when the row is its key's last.
    let mut keep: Vec<Option<usize>> = vec![None; rows.len()];
    for &(first, last) in seen.values() {
        keep[last] = Some(first);
    }
    let mut rows: Vec<Option<EncodedRow>> = rows.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(keep.iter().filter(|k| k.is_some()).count());
    for i in 0..rows.len() {
        let Some(first) = keep[i] else { continue };
        let mut row = rows[i].take().unwrap_or_default();
        if first != i
            && let Some(first_row) = rows[first].as_ref()
        {
            for &c in first_wins {
                row[c] = first_row[c].clone();
            }
        }
        out.push(row);
    }
    out
}

/// Row-major encoded rows to one array per column.
fn columns_of(rows: Vec<EncodedRow>, width: usize) -> Vec<Vec<Option<String>>> {
    let mut columns: Vec<Vec<Option<String>>> = (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        for (column, cell) in columns.iter_mut().zip(row) {
            column.push(cell);
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> EncodedRow {
        cells.iter().map(|c| Some((*c).to_owned())).collect()
    }

    #[test]
    fn last_image_per_key_wins_in_last_occurrence_order() {
        let rows = vec![row(&["1", "a"]), row(&["2", "b"]), row(&["1", "c"]), row(&["3", "d"]), row(&["2", "e"])];
        assert_eq!(last_per_key(rows, &[0], &[]), vec![row(&["1", "c"]), row(&["3", "d"]), row(&["2", "e"])]);
    }

    #[test]
    fn insert_only_cells_come_from_the_first_image_of_a_key() {
        let rows = vec![row(&["1", "a", "x"]), row(&["2", "b", "y"]), row(&["1", "c", "z"]), row(&["1", "d", "w"])];
        assert_eq!(last_per_key(rows, &[0], &[2]), vec![row(&["2", "b", "y"]), row(&["1", "d", "x"])]);
    }

    #[test]
    fn sets_become_comma_lists_unless_the_target_is_an_array() {
        let set = Value::Set(vec!["a".into(), "b".into()]);
        let text = ColumnType::Text { max_chars: None };
        assert_eq!(encode_cell(&set, &text).unwrap().unwrap(), "a,b");
        let array = ColumnType::Array(Box::new(text));
        assert_eq!(encode_cell(&set, &array).unwrap().unwrap(), "{a,b}");
    }

    #[test]
    fn negative_durations_do_not_fit_time() {
        let time = ColumnType::Time { fsp: None };
        assert!(encode_cell(&Value::Duration(-1), &time).is_err());
        assert_eq!(encode_cell(&Value::Duration(1_500_000), &time).unwrap().unwrap(), "00:00:01.5");
        assert_eq!(encode_cell(&Value::Duration(-1), &ColumnType::Interval).unwrap().unwrap(), "-00:00:00.000001");
    }
}
