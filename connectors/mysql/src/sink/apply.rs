//! Applying a batch of row writes inside the open target transaction.
//!
//! Writes arrive in source order. They are cut into runs of consecutive
//! writes with the same table and kind — and, for upserts, the same set of
//! unchanged columns — and the runs execute in order, as multi-row
//! statements of at most `max_rows_per_statement` rows, 65,535 parameters
//! and half of `max_allowed_packet` (and 999 keys per `IN` list). Keeping
//! run order keeps per-key order and the order across tables that foreign
//! keys need.
//!
//! Within a run only the last image of each key matters: an upsert run
//! keeps the last row per key and a delete run each key once — except for
//! tables written in source order (see `resolve`), where every row goes
//! through, in order (MySQL applies the rows of one `INSERT … ON DUPLICATE
//! KEY UPDATE` one after another, so the result is the same as one
//! statement per row).
//!
//! Insert-only columns (`TargetTable::insert_only`) are written only when an
//! upsert inserts the row: `ON DUPLICATE KEY UPDATE` leaves them out (the
//! no-op `k = k`, or the guard alone, when nothing is left). When a run
//! upserts one key several times, the deduplicated row takes its
//! insert-only cells from the key's *first* image and the rest from its
//! last — what applying them one by one (as the source-ordered path does)
//! would leave, whether or not the row existed before.
//!
//! A row with unchanged columns (PostgreSQL's unchanged TOAST) becomes an
//! `UPDATE` of the columns that are present (insert-only columns excepted:
//! the row exists by definition): the target keeps its value, never NULL or
//! a placeholder. If the row is missing the target has diverged, and the
//! batch fails with [`MySqlError::MissingTargetRows`] instead of inventing
//! values.
//!
//! A patch run (`RowWrite::Patch`, soft deletes) is the same one-row
//! `UPDATE`, per row, of the columns that are neither key, insert-only nor
//! unchanged, last image per key (or every row in order); a key the target
//! does not hold matches nothing and is left absent. Soft deletes are rare
//! enough that a statement per row is fine.
//!
//! Upsert and delete statements are sent ahead (see `ahead`): each goes out
//! once the one before it has succeeded, and a refusal fails a later call.
//! Partial updates, patches (whose matched-row counts matter) and truncates
//! run in place. What the server refuses while writing is translated in
//! `refusals`.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Params, Value as Param};
use sluice_api::{RowWrite, Run, RunKind, TableName, TargetTable, Value, runs};

use super::MySqlSink;
use super::ahead::Statement;
use super::describe::describe;
use super::refusals::write_error;
use super::resolve::{ResolvedTable, check_route};
use super::statements;
use crate::error::MySqlError;
use crate::types::{TypeError, encode};

/// The protocol's limit on parameters per prepared statement.
const MAX_PARAMS: usize = 65_535;
/// Keys per `IN (…)` list. MariaDB turns an IN list of 1000 or more values
/// (`in_predicate_conversion_threshold`) into a subquery over a table value
/// constructor, a plan that is not always the index lookup a DELETE wants.
const MAX_IN_LIST: usize = 999;

pub(super) type EncodedRow = Vec<Param>;

impl MySqlSink {
    /// Executes `writes` in order inside the open transaction.
    pub(super) async fn apply(&mut self, writes: Vec<RowWrite>) -> Result<(), MySqlError> {
        for Run { kind, range } in runs(&writes, false) {
            let run = &writes[range];
            let resolved = self.resolve(run[0].table()).await?;
            match kind {
                RunKind::Truncate => self.truncate(&resolved).await?,
                RunKind::Patch { unchanged } => self.patch(&resolved, run, &unchanged).await?,
                RunKind::Delete => self.delete(&resolved, run).await?,
                RunKind::Upsert { unchanged } if unchanged.is_empty() => self.upsert(&resolved, run).await?,
                RunKind::Upsert { unchanged } => self.update_present(&resolved, run, &unchanged).await?,
            }
        }
        Ok(())
    }

    pub(super) async fn resolve(&mut self, table: &Arc<TargetTable>) -> Result<Arc<ResolvedTable>, MySqlError> {
        if let Some(resolved) = self.resolved.get(table.as_ref()) {
            return Ok(Arc::clone(resolved));
        }
        let name = TableName::new(&table.schema, &table.name);
        self.settle().await?;
        let described = describe(self.link.conn()?, &self.flavor, &name).await?;
        let resolved = Arc::new(check_route(table, &name, described)?);
        if resolved.guarded() {
            tracing::debug!(table = %name, keys = resolved.other_unique.len(), "target has other unique keys; upserts are guarded");
        }
        self.resolved.insert(table.as_ref().clone(), Arc::clone(&resolved));
        Ok(resolved)
    }

    async fn truncate(&mut self, table: &ResolvedTable) -> Result<(), MySqlError> {
        let sql = statements::delete_all(&table.name);
        let conn = self.ready_in_transaction().await?;
        conn.query_drop(sql).await.map_err(|e| MySqlError::driver(format!("truncate of {}", table.name), e))?;
        tracing::debug!(table = %table.name, "emptied target table");
        Ok(())
    }

    async fn delete(&mut self, table: &Arc<ResolvedTable>, run: &[RowWrite]) -> Result<(), MySqlError> {
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Delete { key, .. } = write {
                check_width(table, key.len(), table.key.len())?;
                rows.push(encode_cells(table, key.iter().zip(table.key.iter().copied()))?);
            }
        }
        let key_positions: Vec<usize> = (0..table.key.len()).collect();
        let rows = last_per_key(rows, &key_positions, &[]);
        let key_names = table.key_names();
        let count = rows.len();
        for chunk in self.chunks(rows, key_names.len(), MAX_IN_LIST) {
            self.send_ahead(Statement {
                sql: statements::delete(&table.name, &key_names, chunk.len()),
                params: Params::Positional(chunk.into_iter().flatten().collect()),
                what: format!("delete from {}", table.name),
                refusals: None,
            })
            .await?;
        }
        tracing::debug!(table = %table.name, keys = count, "sent deletes of target rows");
        Ok(())
    }

    async fn upsert(&mut self, table: &Arc<ResolvedTable>, run: &[RowWrite]) -> Result<(), MySqlError> {
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(table, values.len(), table.columns.len())?;
                check_key_present(table, values)?;
                rows.push(encode_cells(table, values.iter().zip(0..))?);
            }
        }
        let count = rows.len();
        let rows = if table.ordered { rows } else { last_per_key(rows, &table.key, &table.insert_only) };
        let columns = table.column_names();
        let style = self.incoming();
        for chunk in self.chunks(rows, columns.len(), usize::MAX) {
            let sql = statements::upsert(
                &table.name,
                &columns,
                &table.key,
                &table.insert_only,
                chunk.len(),
                style,
                table.guarded(),
            );
            self.send_ahead(Statement {
                sql,
                params: Params::Positional(chunk.into_iter().flatten().collect()),
                what: format!("upsert into {}", table.name),
                refusals: Some(Arc::clone(table)),
            })
            .await?;
        }
        tracing::debug!(table = %table.name, rows = count, "sent upserts of target rows");
        Ok(())
    }

    /// Updates rows whose images lack the `unchanged` columns; every key must
    /// match an existing row.
    async fn update_present(
        &mut self,
        table: &ResolvedTable,
        run: &[RowWrite],
        unchanged: &[usize],
    ) -> Result<(), MySqlError> {
        if let Some(&k) = table.key.iter().find(|k| unchanged.contains(k)) {
            return Err(value_error(table, k, TypeError::new("a key column is unchanged (not captured) in an update")));
        }
        // Insert-only columns keep the target's value: the row exists.
        let set: Vec<usize> = (0..table.columns.len())
            .filter(|i| !unchanged.contains(i) && !table.key.contains(i) && !table.insert_only.contains(i))
            .collect();
        // Each row: the `set` values, then the key values (the statement's parameter order).
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(table, values.len(), table.columns.len())?;
                let cells = set.iter().chain(table.key.iter()).map(|&i| (&values[i], i));
                rows.push(encode_cells(table, cells)?);
            }
        }
        let key_positions: Vec<usize> = (set.len()..set.len() + table.key.len()).collect();
        let rows = if table.ordered { rows } else { last_per_key(rows, &key_positions, &[]) };
        let expected = rows.len() as u64;
        let matched = if set.is_empty() {
            let keys = rows.into_iter().map(|row| row[set.len()..].to_vec()).collect();
            self.count_existing(table, keys).await?
        } else {
            let set_names: Vec<&str> = set.iter().map(|&i| table.columns[i].name.as_str()).collect();
            let sql = statements::update(&table.name, &set_names, &table.key_names());
            let mut matched = 0;
            // In place: the matched rows count.
            let conn = self.ready_in_transaction().await?;
            for row in rows {
                if let Err(error) = conn.exec_drop(&sql, Params::Positional(row)).await {
                    return Err(write_error(table, format!("update of {}", table.name), error));
                }
                // CLIENT_FOUND_ROWS: matched rows, also when nothing changed.
                matched += conn.affected_rows().min(1);
            }
            matched
        };
        if matched < expected && self.copying.contains(&table.name) {
            tracing::debug!(table = %table.name, rows = expected - matched, "partial updates of rows not copied yet left to the snapshot");
        } else if matched < expected {
            return Err(MySqlError::MissingTargetRows { table: table.name.to_string(), missing: expected - matched });
        }
        tracing::debug!(table = %table.name, rows = matched, "updated target rows keeping unchanged columns");
        Ok(())
    }

    /// Updates the rows of a patch run that exist, setting the columns that
    /// are neither key nor insert-only nor `unchanged` (the run's images
    /// share them); keys the target does not hold are left absent.
    async fn patch(&mut self, table: &ResolvedTable, run: &[RowWrite], unchanged: &[usize]) -> Result<(), MySqlError> {
        if let Some(&k) = table.key.iter().find(|k| unchanged.contains(k)) {
            return Err(value_error(table, k, TypeError::new("a key column is unchanged in a patch")));
        }
        let set = run[0].table().settable(unchanged);
        if set.is_empty() {
            return Ok(());
        }
        // Each row: the `set` values, then the key values (the statement's parameter order).
        let mut rows = Vec::with_capacity(run.len());
        for write in run {
            if let RowWrite::Patch { values, .. } = write {
                check_width(table, values.len(), table.columns.len())?;
                rows.push(encode_cells(table, set.iter().chain(table.key.iter()).map(|&i| (&values[i], i)))?);
            }
        }
        let key_positions: Vec<usize> = (set.len()..set.len() + table.key.len()).collect();
        let rows = if table.ordered { rows } else { last_per_key(rows, &key_positions, &[]) };
        let set_names: Vec<&str> = set.iter().map(|&i| table.columns[i].name.as_str()).collect();
        let sql = statements::update(&table.name, &set_names, &table.key_names());
        let mut updated = 0;
        let conn = self.ready_in_transaction().await?;
        for row in rows {
            if let Err(error) = conn.exec_drop(&sql, Params::Positional(row)).await {
                return Err(write_error(table, format!("patch of {}", table.name), error));
            }
            updated += conn.affected_rows().min(1);
        }
        tracing::debug!(table = %table.name, rows = updated, "patched target rows");
        Ok(())
    }

    async fn count_existing(&mut self, table: &ResolvedTable, keys: Vec<EncodedRow>) -> Result<u64, MySqlError> {
        let key_names = table.key_names();
        let mut total = 0u64;
        let chunks = self.chunks(keys, key_names.len(), MAX_IN_LIST);
        let conn = self.ready_in_transaction().await?;
        for chunk in chunks {
            let sql = statements::count_existing(&table.name, &key_names, chunk.len());
            let count: Option<u64> = conn
                .exec_first(sql, Params::Positional(chunk.into_iter().flatten().collect()))
                .await
                .map_err(|e| MySqlError::driver(format!("lookup of rows in {}", table.name), e))?;
            total += count.unwrap_or(0);
        }
        Ok(total)
    }

    /// Cuts `rows` of `width` parameters into statement-sized chunks: at most
    /// `max_rows_per_statement` (and `cap`) rows, 65,535 parameters, and about
    /// half of `max_allowed_packet` bytes (at least one row each).
    pub(super) fn chunks(&self, rows: Vec<EncodedRow>, width: usize, cap: usize) -> Vec<Vec<EncodedRow>> {
        let max_rows = self.max_rows_per_statement.min(cap).min(MAX_PARAMS / width.max(1)).max(1);
        let mut chunks = Vec::new();
        let mut current: Vec<EncodedRow> = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let size: usize = row.iter().map(param_size).sum();
            if !current.is_empty() && (current.len() >= max_rows || bytes + size > self.max_statement_bytes) {
                chunks.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(row);
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        chunks
    }
}

/// Roughly what a parameter costs in the execute packet.
fn param_size(param: &Param) -> usize {
    match param {
        Param::Bytes(bytes) => bytes.len() + 9,
        _ => 16,
    }
}

/// A write whose image does not match the route's columns is an engine bug;
/// refuse it rather than shift values into the wrong columns.
pub(super) fn check_width(table: &ResolvedTable, values: usize, columns: usize) -> Result<(), MySqlError> {
    if values == columns {
        return Ok(());
    }
    Err(MySqlError::Value {
        table: table.name.to_string(),
        column: "*".into(),
        type_name: String::new(),
        reason: format!("a write has {values} values for {columns} columns; this is a Sluice bug"),
    })
}

/// Key columns must carry values: NULL never matches in a unique index.
pub(super) fn check_key_present(table: &ResolvedTable, values: &[Value]) -> Result<(), MySqlError> {
    match table.key.iter().find(|&&k| values[k].is_null()) {
        Some(&k) => {
            Err(value_error(table, k, TypeError::new("NULL in a key column; rows are identified by their key")))
        }
        None => Ok(()),
    }
}

/// Encodes cells, each with the index of its route column.
pub(super) fn encode_cells<'v>(
    table: &ResolvedTable,
    cells: impl Iterator<Item = (&'v Value, usize)>,
) -> Result<EncodedRow, MySqlError> {
    cells
        .map(|(value, i)| {
            let column = &table.columns[i];
            encode(value, &column.kind, column.nullable).map_err(|e| value_error(table, i, e))
        })
        .collect()
}

fn value_error(table: &ResolvedTable, column: usize, error: TypeError) -> MySqlError {
    let column = &table.columns[column];
    MySqlError::Value {
        table: table.name.to_string(),
        column: column.name.clone(),
        type_name: column.type_name.clone(),
        reason: error.reason().to_owned(),
    }
}

/// A hashable identity of an encoded key cell (parameters have no `Hash`).
fn cell_identity(param: &Param, out: &mut Vec<u8>) {
    match param {
        Param::NULL => out.push(0),
        Param::Bytes(bytes) => {
            out.push(1);
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        Param::Int(v) => {
            out.push(2);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Param::UInt(v) => {
            out.push(3);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Param::Float(v) => {
            out.push(4);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Param::Double(v) => {
            out.push(5);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Param::Date(y, mo, d, h, mi, s, us) => {
            out.push(6);
            out.extend_from_slice(&y.to_le_bytes());
            out.extend_from_slice(&[*mo, *d, *h, *mi, *s]);
            out.extend_from_slice(&us.to_le_bytes());
        }
        Param::Time(neg, d, h, mi, s, us) => {
            out.push(7);
            out.push(u8::from(*neg));
            out.extend_from_slice(&d.to_le_bytes());
            out.extend_from_slice(&[*h, *mi, *s]);
            out.extend_from_slice(&us.to_le_bytes());
        }
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
    // Per key identity: (first occurrence, last occurrence).
    let mut seen: HashMap<Vec<u8>, (usize, usize)> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mut identity = Vec::new();
        for &k in key {
            cell_identity(&row[k], &mut identity);
        }
        seen.entry(identity).and_modify(|(_, last)| *last = i).or_insert((i, i));
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
    let mut out = Vec::with_capacity(seen.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[i64]) -> EncodedRow {
        cells.iter().map(|&c| Param::Int(c)).collect()
    }

    #[test]
    fn last_image_per_key_wins_in_last_occurrence_order() {
        let rows = vec![row(&[1, 10]), row(&[2, 20]), row(&[1, 11]), row(&[3, 30]), row(&[2, 21])];
        assert_eq!(last_per_key(rows, &[0], &[]), vec![row(&[1, 11]), row(&[3, 30]), row(&[2, 21])]);
    }

    #[test]
    fn insert_only_cells_come_from_the_first_image_of_a_key() {
        let rows = vec![row(&[1, 10, 100]), row(&[2, 20, 200]), row(&[1, 11, 101]), row(&[1, 12, 102])];
        assert_eq!(last_per_key(rows, &[0], &[2]), vec![row(&[2, 20, 200]), row(&[1, 12, 100])]);
    }

    #[test]
    fn key_identity_distinguishes_types_and_lengths() {
        let a = vec![Param::Bytes(b"ab".to_vec()), Param::Bytes(b"c".to_vec())];
        let b = vec![Param::Bytes(b"a".to_vec()), Param::Bytes(b"bc".to_vec())];
        assert_eq!(last_per_key(vec![a.clone(), b.clone()], &[0, 1], &[]), vec![a, b]);
        assert_eq!(last_per_key(vec![vec![Param::Int(1)], vec![Param::UInt(1)]], &[0], &[]).len(), 2);
    }
}
