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
use std::hash::Hash;
use std::sync::Arc;

use sluice_api::{ColumnType, RowWrite, Run, RunKind, TableName, TargetTable, TimeOfDay, Value, runs};
use tokio_postgres::Statement;
use tokio_postgres::types::{ToSql, Type};

use super::PostgresSink;
use super::describe::{DescribedTable, describe};
use super::params::{ArrayParam, ColumnArray, Element, element_of};
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
    /// How the column's values travel in statements' array parameters
    /// when they are of the matching kind (see `params`).
    element: Element,
}

impl ResolvedTable {
    /// Column `index` as statements see it, its parameter a `text[]`.
    pub(super) fn col(&self, index: usize) -> Col<'_> {
        self.col_with(index, Element::Text)
    }

    /// Column `index`, its parameter an array of `element`.
    fn col_with(&self, index: usize, element: Element) -> Col<'_> {
        let column = &self.columns[index];
        Col { name: &column.name, cast: &column.cast, param: element.array_type() }
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
                RunKind::Truncate => {
                    self.settle().await?;
                    self.truncate(run).await?;
                }
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
        // A statement sent ahead may have failed: its error, not the
        // aborted transaction's, is the one to report.
        self.settle().await?;
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
        let images = images_of(table, run)?;
        // A delete's image is its key: cell j belongs to key column j.
        let picks: Vec<Pick> = table.key.iter().enumerate().map(|(cell, &column)| Pick { cell, column }).collect();
        let key_positions: Vec<usize> = (0..picks.len()).collect();
        let encoded = self.encode(table, &images, &picks, &key_positions, &[])?;
        let key = encoded.cols(table, &picks);
        let sql = statements::delete(&table.name, &key);
        let rows = encoded.rows;
        self.send_encoded(&sql, encoded, format!("delete from {}", table.name)).await?;
        tracing::debug!(table = %table.name, rows, "deleting target rows");
        Ok(())
    }

    async fn upsert(&mut self, table: &ResolvedTable, run: &[RowWrite]) -> Result<(), PostgresError> {
        let images = images_of(table, run)?;
        let count = images.len();
        let picks: Vec<Pick> = (0..table.columns.len()).map(|column| Pick { cell: column, column }).collect();
        let encoded = self.encode(table, &images, &picks, &table.key, &table.insert_only)?;
        let columns = encoded.cols(table, &picks);
        let key: Vec<Col<'_>> = table.key.iter().map(|&k| columns[k]).collect();
        let insert_only: Vec<Col<'_>> = table.insert_only.iter().map(|&i| columns[i]).collect();
        let sql = statements::upsert(&table.name, &columns, &key, &insert_only);
        self.send_encoded(&sql, encoded, format!("upsert into {}", table.name)).await?;
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
        let images = images_of(table, run)?;
        let sets_something = present.len() > table.key.len();
        // Without a column to set, only the keys' existence is checked.
        let picked = if sets_something { present } else { table.key.clone() };
        let picks: Vec<Pick> = picked.iter().map(|&column| Pick { cell: column, column }).collect();
        let key_positions: Vec<usize> = table.key.iter().filter_map(|k| picked.iter().position(|p| p == k)).collect();
        let encoded = self.encode(table, &images, &picks, &key_positions, &[])?;
        let expected = encoded.rows as u64;
        // The matched count is needed now.
        self.settle().await?;
        let columns = encoded.cols(table, &picks);
        let key: Vec<Col<'_>> = key_positions.iter().map(|&p| columns[p]).collect();
        let matched = if sets_something {
            let sql = statements::update(&table.name, &columns, &key);
            self.execute_encoded(&sql, encoded, Answer::Affected, || format!("update of {}", table.name)).await?
        } else {
            let sql = statements::count_existing(&table.name, &key);
            self.execute_encoded(&sql, encoded, Answer::Count, || format!("lookup of rows in {}", table.name)).await?
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
        let images = images_of(table, run)?;
        let picks: Vec<Pick> = table.key.iter().chain(&set).map(|&column| Pick { cell: column, column }).collect();
        let key_positions: Vec<usize> = (0..table.key.len()).collect();
        let encoded = self.encode(table, &images, &picks, &key_positions, &[])?;
        let columns = encoded.cols(table, &picks);
        let key: Vec<Col<'_>> = columns[..table.key.len()].to_vec();
        let sql = statements::update(&table.name, &columns, &key);
        self.settle().await?;
        let updated =
            self.execute_encoded(&sql, encoded, Answer::Affected, || format!("patch of {}", table.name)).await?;
        tracing::debug!(table = %table.name, rows = updated, "patched target rows");
        Ok(())
    }

    /// Encodes `images` for a statement over the `picks` columns, keeping
    /// the last image of each key (`key`: positions in `picks`; the cells at
    /// `first_wins` come from the key's first image), split into executions
    /// of at most `max_rows_per_statement` rows.
    fn encode(
        &self,
        table: &ResolvedTable,
        images: &[&[Value]],
        picks: &[Pick],
        key: &[usize],
        first_wins: &[usize],
    ) -> Result<Encoded, PostgresError> {
        let kept = last_per_key(table, images, picks, key)?;
        let rows = kept.len();
        let chunk_rows = self.max_rows_per_statement.max(1);
        let chunk_count = rows.div_ceil(chunk_rows);
        let mut elements = Vec::with_capacity(picks.len());
        let mut chunks: Vec<Vec<ArrayParam>> = (0..chunk_count).map(|_| Vec::with_capacity(picks.len())).collect();
        for (position, pick) in picks.iter().enumerate() {
            let first = first_wins.contains(&position);
            let cells =
                kept.iter().map(|&(last, first_index)| &images[if first { first_index } else { last }][pick.cell]);
            let (element, arrays) = encode_column(table, pick.column, cells, rows, chunk_rows)?;
            elements.push(element);
            for (chunk, array) in chunks.iter_mut().zip(arrays) {
                chunk.push(array);
            }
        }
        Ok(Encoded { elements, chunks, rows })
    }

    /// The cached statement for `sql`, its parameters the arrays of `encoded`.
    async fn prepared_for(&mut self, sql: &str, encoded: &Encoded) -> Result<Statement, PostgresError> {
        let types: Vec<Type> = encoded.elements.iter().map(|e| e.array_pg_type()).collect();
        self.prepared_typed(sql, &types, || format!("preparing {sql}")).await
    }

    /// Sends `sql` once per chunk of `encoded` without waiting for the
    /// answers (see the module docs of `sink`); `context` names the
    /// statement in its error.
    async fn send_encoded(&mut self, sql: &str, encoded: Encoded, context: String) -> Result<(), PostgresError> {
        if encoded.rows == 0 {
            return Ok(());
        }
        let statement = self.prepared_for(sql, &encoded).await?;
        for params in encoded.chunks {
            let client = Arc::clone(&self.client);
            let statement = statement.clone();
            let context = context.clone();
            self.send_ahead(async move {
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                client.execute(&statement, &refs).await.map(drop).map_err(|e| PostgresError::query(context, e))
            })
            .await?;
        }
        Ok(())
    }

    /// Runs `sql` once per chunk of `encoded`, waiting for each answer:
    /// the rows affected, or for a `SELECT count(*)` the counts, summed.
    async fn execute_encoded(
        &mut self,
        sql: &str,
        encoded: Encoded,
        answer: Answer,
        context: impl Fn() -> String,
    ) -> Result<u64, PostgresError> {
        if encoded.rows == 0 {
            return Ok(0);
        }
        let statement = self.prepared_for(sql, &encoded).await?;
        let mut total = 0u64;
        for params in &encoded.chunks {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let query = |e| PostgresError::query(context(), e);
            total += match answer {
                Answer::Affected => self.client.execute(&statement, &refs).await.map_err(query)?,
                Answer::Count => {
                    let row = self.client.query_one(&statement, &refs).await.map_err(query)?;
                    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
                }
            };
        }
        Ok(total)
    }
}

/// What a statement run by `execute_encoded` answers.
#[derive(Clone, Copy)]
enum Answer {
    Affected,
    Count,
}

/// Where a statement column's value is found: the image's cell, and the
/// route column it is written to.
#[derive(Clone, Copy)]
struct Pick {
    cell: usize,
    column: usize,
}

/// A run's rows encoded for one statement shape.
struct Encoded {
    /// Per statement column, the element its array carries.
    elements: Vec<Element>,
    /// Per execution, one array per statement column.
    chunks: Vec<Vec<ArrayParam>>,
    /// Rows after keeping the last image per key.
    rows: usize,
}

impl Encoded {
    /// The statement columns, each with its parameter's array type.
    fn cols<'t>(&self, table: &'t ResolvedTable, picks: &[Pick]) -> Vec<Col<'t>> {
        picks.iter().zip(&self.elements).map(|(pick, &element)| table.col_with(pick.column, element)).collect()
    }
}

/// The images of a run's writes, each checked for width: the whole row of
/// an upsert or patch, the key of a delete (truncates have none).
fn images_of<'r>(table: &ResolvedTable, run: &'r [RowWrite]) -> Result<Vec<&'r [Value]>, PostgresError> {
    let mut images = Vec::with_capacity(run.len());
    for write in run {
        let (image, width) = match write {
            RowWrite::Upsert { values, .. } | RowWrite::Patch { values, .. } => (values, table.columns.len()),
            RowWrite::Delete { key, .. } => (key, table.key.len()),
            RowWrite::Truncate { .. } => continue,
        };
        check_width(table, image.len(), width)?;
        images.push(image.as_slice());
    }
    Ok(images)
}

/// One column's arrays, one per chunk of `chunk_rows` cells: the column's
/// binary element when every cell is of its kind, else text (see `params`).
fn encode_column<'v>(
    table: &ResolvedTable,
    column: usize,
    cells: impl Iterator<Item = &'v Value> + Clone,
    rows: usize,
    chunk_rows: usize,
) -> Result<(Element, Vec<ArrayParam>), PostgresError> {
    let resolved = &table.columns[column];
    let finish = |array: ColumnArray| array.finish().map_err(|e| value_error(table, column, e));
    if resolved.element != Element::Text {
        let mut arrays = Vec::with_capacity(rows.div_ceil(chunk_rows));
        let mut array = ColumnArray::new(resolved.element, rows.min(chunk_rows));
        let mut binary = true;
        for (i, value) in cells.clone().enumerate() {
            if i > 0 && i % chunk_rows == 0 {
                let full = std::mem::replace(&mut array, ColumnArray::new(resolved.element, chunk_rows));
                arrays.push(finish(full)?);
            }
            if !array.push_binary(value) {
                binary = false;
                break;
            }
        }
        if binary {
            arrays.push(finish(array)?);
            return Ok((resolved.element, arrays));
        }
    }
    let mut arrays = Vec::with_capacity(rows.div_ceil(chunk_rows));
    let mut array = ColumnArray::new(Element::Text, rows.min(chunk_rows));
    for (i, value) in cells.enumerate() {
        if i > 0 && i % chunk_rows == 0 {
            let full = std::mem::replace(&mut array, ColumnArray::new(Element::Text, chunk_rows));
            arrays.push(finish(full)?);
        }
        match value {
            Value::Null => array.push_text(None),
            Value::Text(text) | Value::Json(text) | Value::Enum(text) if !text.contains('\0') => {
                array.push_text(Some(text))
            }
            other => {
                let text = encode_cell(other, &resolved.column_type).map_err(|e| value_error(table, column, e))?;
                array.push_text(text.as_deref());
            }
        }
    }
    arrays.push(finish(array)?);
    Ok((Element::Text, arrays))
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
            element: element_of(described.type_oids[index], &target.column_type),
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

/// The images to write, as (index of the key's last image, index of its
/// first image), in the order of those last images: only the last image of
/// each key matters (`key`: positions in `picks`). Keys are compared by
/// their encoded text (integers directly).
fn last_per_key(
    table: &ResolvedTable,
    images: &[&[Value]],
    picks: &[Pick],
    key: &[usize],
) -> Result<Vec<(usize, usize)>, PostgresError> {
    let all = || (0..images.len()).map(|i| (i, i)).collect();
    if images.len() < 2 || key.is_empty() {
        return Ok(all());
    }
    // The common case: one integer key column.
    if let [position] = key {
        let cell = picks[*position].cell;
        let integers: Option<Vec<i64>> =
            images.iter().map(|image| if let Value::Int(i) = image[cell] { Some(i) } else { None }).collect();
        if let Some(integers) = integers {
            return Ok(occurrences(integers).unwrap_or_else(all));
        }
    }
    let mut texts = Vec::with_capacity(images.len());
    for image in images {
        let mut text = Vec::with_capacity(key.len());
        for &position in key {
            let Pick { cell, column } = picks[position];
            text.push(
                encode_cell(&image[cell], &table.columns[column].column_type)
                    .map_err(|e| value_error(table, column, e))?,
            );
        }
        texts.push(text);
    }
    Ok(occurrences(texts).unwrap_or_else(all))
}

/// For keys in image order: `None` when all differ, else the kept images
/// as (last index, first index) of each key, in last-index order.
fn occurrences<K: Hash + Eq>(keys: Vec<K>) -> Option<Vec<(usize, usize)>> {
    let count = keys.len();
    let mut seen: HashMap<K, (usize, usize)> = HashMap::with_capacity(count);
    for (i, key) in keys.into_iter().enumerate() {
        seen.entry(key).and_modify(|(_, last)| *last = i).or_insert((i, i));
    }
    if seen.len() == count {
        return None;
    }
    let mut first_of: Vec<Option<usize>> = vec![None; count];
    for (first, last) in seen.into_values() {
        first_of[last] = Some(first);
    }
    Some(first_of.into_iter().enumerate().filter_map(|(last, first)| first.map(|first| (last, first))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_image_per_key_wins_in_last_occurrence_order() {
        let keys = vec![1, 2, 1, 3, 2];
        assert_eq!(occurrences(keys), Some(vec![(2, 0), (3, 3), (4, 1)]));
        assert_eq!(occurrences(vec!["a", "b"]), None, "all distinct: every image is kept as it is");
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
