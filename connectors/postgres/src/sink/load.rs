//! Bulk loading of snapshot chunks ([`sluice_api::Sink::load`]).
//!
//! A chunk is whole rows of one table in source key order, most often into
//! a target that has none of them yet. Then `COPY … FROM STDIN` is far
//! cheaper than `INSERT … ON CONFLICT`: no arbiter lookups, no plan per
//! statement, the rows streamed in PostgreSQL's text format (see
//! `copy_text`; values are the same `encode_text` forms the upsert path
//! binds, written with COPY's backslash escapes).
//!
//! Inside the sink's open transaction:
//! 1. every row is encoded exactly as the upsert path encodes it (same
//!    per-column checks, same `Value` errors naming table and column);
//! 2. a probe asks whether the target holds any row whose key lies between
//!    the chunk's first and last keys (row comparison, index-backed); if so
//!    the chunk goes through the upsert path;
//! 3. otherwise `SAVEPOINT`, `COPY`, `RELEASE SAVEPOINT`. If `COPY` fails
//!    with a unique violation (SQLSTATE 23505) — the target orders the key
//!    differently (another collation or type) so the probe looked at the
//!    wrong range, a key repeats within the chunk, or a secondary unique key
//!    clashes — `ROLLBACK TO SAVEPOINT` undoes just the `COPY`, and the
//!    chunk goes through the upsert path, which then succeeds or fails
//!    exactly as it would have on its own.
//!
//! What `COPY` refuses, the upsert path refuses too, with the same error
//! kind: the server converts each value with the column type's input
//! function and typmod (the upsert path casts to the type, then assignment
//! applies the typmod: the same checks — length, precision, domain and
//! `NOT NULL`/`CHECK` constraints — and the same SQLSTATEs), and failures
//! are `PostgresError::Query` naming the table, as the upsert path's are.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::SinkExt;
use sluice_api::{RowWrite, TargetTable, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use super::PostgresSink;
use super::apply::{EncodedRow, ResolvedTable, check_width, encode_cells};
use super::statements;
use crate::copy_text::push_field;
use crate::error::PostgresError;

/// Bytes of COPY data sent per `CopyData` message.
const COPY_PIECE: usize = 256 * 1024;

const SAVEPOINT: &str = "sluice_load";

impl PostgresSink {
    /// See [`sluice_api::Sink::load`] and the module documentation.
    pub async fn load(&mut self, writes: Vec<RowWrite>) -> Result<(), PostgresError> {
        let Some(table) = bulk_table(&writes) else {
            // Not a chunk of whole rows of one table: the ordinary path.
            return self.write(writes).await;
        };
        self.begin().await?;
        let resolved = self.resolve(&table).await?;
        let mut rows: Vec<EncodedRow> = Vec::with_capacity(writes.len());
        for write in &writes {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(&resolved, values.len(), resolved.width())?;
                rows.push(encode_cells(&resolved, values.iter().zip(0..))?);
            }
        }
        if self.range_has_rows(&resolved, &rows).await? {
            tracing::debug!(table = %resolved.name, rows = rows.len(), "chunk range not empty in the target: upserting");
            return self.apply(writes).await;
        }
        let savepoint = |verb: &str| format!("{verb} {SAVEPOINT}");
        self.client
            .batch_execute(&savepoint("SAVEPOINT"))
            .await
            .map_err(|e| PostgresError::query("savepoint before a bulk load", e))?;
        match self.copy_rows(&resolved, &rows).await {
            Ok(copied) => {
                self.client
                    .batch_execute(&savepoint("RELEASE SAVEPOINT"))
                    .await
                    .map_err(|e| PostgresError::query("release of the bulk load savepoint", e))?;
                tracing::debug!(table = %resolved.name, rows = copied, "copied chunk into the target");
                Ok(())
            }
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                self.client
                    .batch_execute(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| PostgresError::query("rollback to the bulk load savepoint", e))?;
                tracing::debug!(table = %resolved.name, rows = rows.len(), "copy met existing keys: upserting");
                self.apply(writes).await
            }
            Err(error) => Err(PostgresError::query(format!("copy into {}", resolved.name), error)),
        }
    }

    /// Whether the target has a row whose key lies between the first and
    /// the last row's keys.
    async fn range_has_rows(&mut self, table: &ResolvedTable, rows: &[EncodedRow]) -> Result<bool, PostgresError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(false) };
        let bounds: Vec<&Option<String>> =
            table.key.iter().map(|&k| &first[k]).chain(table.key.iter().map(|&k| &last[k])).collect();
        let params: Vec<(&(dyn ToSql + Sync), Type)> =
            bounds.iter().map(|b| (*b as &(dyn ToSql + Sync), Type::TEXT)).collect();
        let sql = statements::key_range_probe(&table.name, &table.key_cols());
        let found = self
            .client
            .query_typed_opt(&sql, &params)
            .await
            .map_err(|e| PostgresError::query(format!("lookup of rows in {}", table.name), e))?;
        Ok(found.is_some())
    }

    /// Streams `rows` through `COPY … FROM STDIN`; returns the rows copied.
    async fn copy_rows(&mut self, table: &ResolvedTable, rows: &[EncodedRow]) -> Result<u64, tokio_postgres::Error> {
        let columns: Vec<_> = (0..table.width()).map(|i| table.col(i)).collect();
        let sql = statements::copy_in(&table.name, &columns);
        let sink = self.client.copy_in::<_, Bytes>(&sql).await?;
        let mut sink = std::pin::pin!(sink);
        let mut piece = Vec::with_capacity(COPY_PIECE + 4096);
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    piece.push(b'\t');
                }
                push_field(&mut piece, cell.as_deref());
            }
            piece.push(b'\n');
            if piece.len() >= COPY_PIECE {
                let full = std::mem::replace(&mut piece, Vec::with_capacity(COPY_PIECE + 4096));
                sink.feed(Bytes::from(full)).await?;
            }
        }
        if !piece.is_empty() {
            sink.feed(Bytes::from(piece)).await?;
        }
        sink.as_mut().finish().await
    }
}

/// The table of a chunk: every write an upsert of whole rows (no unchanged
/// columns) into the same table.
fn bulk_table(writes: &[RowWrite]) -> Option<Arc<TargetTable>> {
    let RowWrite::Upsert { table: first, .. } = writes.first()? else { return None };
    let whole_rows_of_one_table = writes.iter().all(|write| match write {
        RowWrite::Upsert { table, values } => {
            (Arc::ptr_eq(table, first) || table == first) && !values.contains(&Value::Unchanged)
        }
        _ => false,
    });
    whole_rows_of_one_table.then(|| Arc::clone(first))
}
