//! Snapshot chunks into the target ([`Sink::load`](sluice_api::Sink::load)):
//! plain multi-row `INSERT`s when the chunk's key range is empty in the
//! target, upserts otherwise.
//!
//! A chunk is the rows of one source table in source key order, whole
//! rows, all upserts. Most chunks of an initial snapshot land in an empty
//! range, where a plain `INSERT … VALUES (…),(…)` is cheaper than
//! `INSERT … ON DUPLICATE KEY UPDATE` (no duplicate handling, no guard).
//! So, inside the sink's open transaction:
//!
//! 1. every row is checked and encoded exactly as the upsert path does
//!    (same refusals, same errors naming table and column, never a value);
//! 2. `SELECT 1 FROM t WHERE <target key between the first and the last
//!    row's key> LIMIT 1` probes the range; if it holds a row, the chunk
//!    goes through the ordinary upsert path;
//! 3. otherwise the rows go in plain INSERTs sized like upserts (rows per
//!    statement, 65,535 parameters, half of `max_allowed_packet`). The probe
//!    is a shortcut, not a guarantee: the target's collation may order keys
//!    differently from the source's, and a secondary unique key may
//!    collide. Either shows as a duplicate-key error (1062); InnoDB rolls
//!    back that one statement by itself (the transaction stays open, the
//!    earlier statements stay applied), and that statement's rows and all
//!    later ones go through the upsert path. A chunk is never failed nor
//!    duplicated by the bulk path.
//!
//! Insert-only columns need nothing here: the plain INSERTs only ever write
//! rows that are new, and the upsert path they fall back to leaves them
//! alone on rows that exist.

use std::sync::Arc;

use mysql_async::Params;
use mysql_async::prelude::Queryable;
use sluice_api::{RowWrite, TargetTable, Value};

use super::apply::{EncodedRow, check_key_present, check_width, encode_cells};
use super::refusals::write_error;
use super::resolve::ResolvedTable;
use super::{MySqlSink, quote_ident, statements};
use crate::error::MySqlError;
use crate::snapshot::{Bound, key_bound};

/// `ER_DUP_ENTRY`.
const DUPLICATE_ENTRY: u16 = 1062;

/// The table of a chunk that qualifies for the bulk path: upserts of one
/// table, no unchanged values.
fn chunk_table(writes: &[RowWrite]) -> Option<Arc<TargetTable>> {
    let RowWrite::Upsert { table, .. } = writes.first()? else { return None };
    let qualifies = writes.iter().all(|write| match write {
        RowWrite::Upsert { table: t, values } => {
            (Arc::ptr_eq(t, table) || t == table) && !values.iter().any(|v| matches!(v, Value::Unchanged))
        }
        _ => false,
    });
    qualifies.then(|| Arc::clone(table))
}

impl MySqlSink {
    /// See [`Sink::load`](sluice_api::Sink::load) and the module documentation.
    pub async fn load(&mut self, mut writes: Vec<RowWrite>) -> Result<(), MySqlError> {
        let Some(table) = chunk_table(&writes) else {
            return self.write(writes).await;
        };
        self.check_not_failed()?;
        self.begin();
        let resolved = self.resolve(&table).await?;
        let mut rows = Vec::with_capacity(writes.len());
        for write in &writes {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(&resolved, values.len(), resolved.columns.len())?;
                check_key_present(&resolved, values)?;
                rows.push(encode_cells(&resolved, values.iter().zip(0..))?);
            }
        }
        if self.any_in_range(&resolved, &rows).await? {
            tracing::debug!(table = %resolved.name, rows = rows.len(), "target holds rows in the chunk's key range; upserting");
            return self.apply(writes).await;
        }
        let columns = resolved.column_names();
        let mut inserted = 0;
        for chunk in self.chunks(rows, columns.len(), usize::MAX) {
            let count = chunk.len();
            let sql = statements::insert(&resolved.name, &columns, count);
            // In place: a duplicate-key refusal sends the rest down the upsert path.
            let conn = self.ready_in_transaction().await?;
            match conn.exec_drop(sql, Params::Positional(chunk.into_iter().flatten().collect())).await {
                Ok(()) => inserted += count,
                Err(mysql_async::Error::Server(error)) if error.code == DUPLICATE_ENTRY => {
                    tracing::debug!(
                        table = %resolved.name,
                        inserted,
                        rest = writes.len() - inserted,
                        "duplicate key in a bulk insert; upserting the rest of the chunk"
                    );
                    self.bulk_inserted_rows += inserted as u64;
                    let rest = writes.split_off(inserted);
                    return self.apply(rest).await;
                }
                Err(error) => return Err(write_error(&resolved, format!("insert into {}", resolved.name), error)),
            }
        }
        self.bulk_inserted_rows += inserted as u64;
        tracing::debug!(table = %resolved.name, rows = inserted, "bulk-inserted snapshot chunk");
        Ok(())
    }

    /// Rows [`MySqlSink::load`] wrote with plain INSERTs (not upserts) since
    /// this sink connected.
    pub fn bulk_inserted_rows(&self) -> u64 {
        self.bulk_inserted_rows
    }

    /// Whether the target holds a row whose key lies between the first and
    /// the last row's key (in the target's key order).
    async fn any_in_range(&mut self, table: &ResolvedTable, rows: &[EncodedRow]) -> Result<bool, MySqlError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(false) };
        let names: Vec<String> = table.key_names().iter().map(|k| quote_ident(k)).collect();
        let placeholders = vec!["?".to_owned(); names.len()];
        let (low, low_order) = key_bound(&names, &placeholders, Bound::From);
        let (high, high_order) = key_bound(&names, &placeholders, Bound::Through);
        let mut params: Vec<_> = low_order.iter().map(|&i| first[table.key[i]].clone()).collect();
        params.extend(high_order.iter().map(|&i| last[table.key[i]].clone()));
        let sql = statements::any_in_range(&table.name, &format!("({low}) AND ({high})"));
        let conn = self.ready_in_transaction().await?;
        let found: Option<i64> = conn
            .exec_first(sql, Params::Positional(params))
            .await
            .map_err(|e| MySqlError::driver(format!("looking for rows of {} in a chunk's key range", table.name), e))?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Arc<TargetTable> {
        Arc::new(TargetTable {
            schema: "d".into(),
            name: name.into(),
            columns: vec!["id".into()],
            key: vec![0],
            insert_only: vec![],
        })
    }

    #[test]
    fn only_whole_upserts_of_one_table_take_the_bulk_path() {
        let t = table("t");
        let upsert = |t: &Arc<TargetTable>, v| RowWrite::Upsert { table: Arc::clone(t), values: vec![v] };
        assert!(chunk_table(&[upsert(&t, Value::Int(1)), upsert(&table("t"), Value::Int(2))]).is_some());
        assert!(chunk_table(&[upsert(&t, Value::Int(1)), upsert(&table("u"), Value::Int(2))]).is_none());
        assert!(chunk_table(&[upsert(&t, Value::Unchanged)]).is_none());
        assert!(chunk_table(&[RowWrite::Truncate { table: Arc::clone(&t) }]).is_none());
        assert!(chunk_table(&[]).is_none());
    }
}
