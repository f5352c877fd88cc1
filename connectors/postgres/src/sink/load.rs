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
//! Insert-only columns need nothing here: `COPY` only ever writes rows
//! that are new, and the upsert path it falls back to leaves them alone on
//! rows that exist.
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
use super::apply::{EncodedRow, ResolvedTable, check_width, encode_cell, encode_cells, value_error};
use super::statements;
use crate::copy_text::push_field;
use crate::error::PostgresError;

/// Bytes of COPY data sent per `CopyData` message.
const COPY_PIECE: usize = 256 * 1024;

const SAVEPOINT: &str = "sluice_load";

impl PostgresSink {
    /// See [`sluice_api::Sink::load`] and the module documentation.
    pub async fn load(&mut self, writes: Vec<RowWrite>) -> Result<(), PostgresError> {
        self.settle().await?;
        let Some(table) = bulk_table(&writes) else {
            // Not a chunk of whole rows of one table: the ordinary path.
            return self.write(writes).await;
        };
        self.begin().await?;
        let resolved = self.resolve(&table).await?;
        // Every row is encoded straight into COPY text (no per-cell
        // strings for the common types), with the same checks as upserts.
        let mut data = Vec::with_capacity(writes.len() * 64);
        let mut rows = 0usize;
        for write in &writes {
            if let RowWrite::Upsert { values, .. } = write {
                check_width(&resolved, values.len(), resolved.width())?;
                push_row(&mut data, &resolved, values)?;
                rows += 1;
            }
        }
        let bounds = match (writes.first(), writes.last()) {
            (Some(RowWrite::Upsert { values: first, .. }), Some(RowWrite::Upsert { values: last, .. })) => {
                let key = |values: &[Value]| encode_cells(&resolved, resolved.key.iter().map(|&k| (&values[k], k)));
                Some((key(first)?, key(last)?))
            }
            _ => None,
        };
        if self.range_has_rows(&resolved, bounds.as_ref()).await? {
            tracing::debug!(table = %resolved.name, rows, "chunk range not empty in the target: upserting");
            return self.apply_settled(writes).await;
        }
        let savepoint = |verb: &str| format!("{verb} {SAVEPOINT}");
        self.client
            .batch_execute(&savepoint("SAVEPOINT"))
            .await
            .map_err(|e| PostgresError::query("savepoint before a bulk load", e))?;
        match self.copy_rows(&resolved, data).await {
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
                tracing::debug!(table = %resolved.name, rows, "copy met existing keys: upserting");
                self.apply_settled(writes).await
            }
            Err(error) => Err(PostgresError::query(format!("copy into {}", resolved.name), error)),
        }
    }

    /// `apply`, its statements answered before returning: a load reports
    /// its refusals itself.
    async fn apply_settled(&mut self, writes: Vec<RowWrite>) -> Result<(), PostgresError> {
        self.apply(writes).await?;
        self.settle().await
    }

    /// One-shot copies between identical column types: `data` is COPY text
    /// from the source, one field per column of `table` in order, and
    /// `source_types` the source columns' type names (`format_type`). When
    /// every type matches the target's and the chunk's key range is empty,
    /// the bytes go into `COPY … FROM STDIN` as they are — no decoding, the
    /// way `pg_dump | psql` moves them (both sessions run with the same
    /// settings, so text forms agree). Otherwise nothing is written and the
    /// caller loads the chunk the ordinary way.
    pub async fn load_copy_text(
        &mut self,
        table: &Arc<TargetTable>,
        source_types: &[String],
        data: Vec<u8>,
    ) -> Result<CopyTextLoad, PostgresError> {
        self.settle().await?;
        self.begin().await?;
        let resolved = self.resolve(table).await?;
        if source_types.len() != resolved.width()
            || (0..resolved.width()).any(|i| resolved.type_name(i) != source_types[i])
        {
            return Ok(CopyTextLoad::TypesDiffer);
        }
        let bounds = copy_text_bounds(&data, &resolved.key);
        if self.range_has_rows(&resolved, bounds.as_ref()).await? {
            return Ok(CopyTextLoad::RangeOccupied);
        }
        self.client
            .batch_execute(&format!("SAVEPOINT {SAVEPOINT}"))
            .await
            .map_err(|e| PostgresError::query("savepoint before a bulk load", e))?;
        match self.copy_rows(&resolved, data).await {
            Ok(copied) => {
                self.client
                    .batch_execute(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| PostgresError::query("release of the bulk load savepoint", e))?;
                tracing::debug!(table = %resolved.name, rows = copied, "copied chunk text into the target");
                Ok(CopyTextLoad::Loaded)
            }
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                self.client
                    .batch_execute(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| PostgresError::query("rollback to the bulk load savepoint", e))?;
                Ok(CopyTextLoad::RangeOccupied)
            }
            Err(error) => Err(PostgresError::query(format!("copy into {}", resolved.name), error)),
        }
    }

    /// Like [`Self::load_copy_text`], but the rows stream in as the source
    /// sends them (`pieces`: COPY text from the source's `COPY … TO
    /// STDOUT`), so both servers work at once, as with `pg_dump | psql`. The
    /// emptiness check covers the chunk's whole planned range (`after`,
    /// `through`: key values, ends open when `None`). Returns the rows
    /// copied with `Loaded`. On `RangeOccupied` the source stream may be
    /// partly consumed: read the chunk again.
    pub async fn load_copy_text_stream<S>(
        &mut self,
        table: &Arc<TargetTable>,
        source_types: &[String],
        after: Option<&[Value]>,
        through: Option<&[Value]>,
        pieces: S,
    ) -> Result<(CopyTextLoad, u64), PostgresError>
    where
        S: futures_util::Stream<Item = Result<Bytes, tokio_postgres::Error>> + Send,
    {
        use futures_util::StreamExt;
        self.settle().await?;
        self.begin().await?;
        let resolved = self.resolve(table).await?;
        if source_types.len() != resolved.width()
            || (0..resolved.width()).any(|i| resolved.type_name(i) != source_types[i])
        {
            return Ok((CopyTextLoad::TypesDiffer, 0));
        }
        let texts = |values: Option<&[Value]>| -> Result<Vec<String>, PostgresError> {
            let Some(values) = values else { return Ok(Vec::new()) };
            values
                .iter()
                .zip(&resolved.key)
                .map(|(value, &column)| match encode_cell(value, resolved.column_type(column)) {
                    Ok(Some(text)) => Ok(text),
                    Ok(None) => Err(value_error(&resolved, column, crate::types::TypeError::new("a NULL key"))),
                    Err(error) => Err(value_error(&resolved, column, error)),
                })
                .collect()
        };
        let (after_texts, through_texts) = (texts(after)?, texts(through)?);
        let key_cols = resolved.key_cols();
        let sql = statements::key_interval_probe(&resolved.name, &key_cols, after.is_some(), through.is_some());
        let params: Vec<(&(dyn ToSql + Sync), Type)> =
            after_texts.iter().chain(&through_texts).map(|t| (t as &(dyn ToSql + Sync), Type::TEXT)).collect();
        let occupied = self
            .client
            .query_typed_opt(&sql, &params)
            .await
            .map_err(|e| PostgresError::query(format!("lookup of rows in {}", resolved.name), e))?
            .is_some();
        if occupied {
            return Ok((CopyTextLoad::RangeOccupied, 0));
        }
        self.client
            .batch_execute(&format!("SAVEPOINT {SAVEPOINT}"))
            .await
            .map_err(|e| PostgresError::query("savepoint before a bulk load", e))?;
        let columns: Vec<_> = (0..resolved.width()).map(|i| resolved.col(i)).collect();
        let copy_sql = statements::copy_in(&resolved.name, &columns);
        let mut rows = 0u64;
        let result: Result<u64, (bool, PostgresError)> = async {
            let copy = self
                .client
                .copy_in::<_, Bytes>(&copy_sql)
                .await
                .map_err(|e| (false, PostgresError::query(format!("copy into {}", resolved.name), e)))?;
            let mut copy = std::pin::pin!(copy);
            let mut pieces = std::pin::pin!(pieces);
            while let Some(piece) = pieces.next().await {
                let piece =
                    piece.map_err(|e| (true, PostgresError::query("reading a snapshot chunk from the source", e)))?;
                rows += memchr::memchr_iter(b'\n', &piece).count() as u64;
                copy.feed(piece)
                    .await
                    .map_err(|e| (false, PostgresError::query(format!("copy into {}", resolved.name), e)))?;
            }
            copy.as_mut()
                .finish()
                .await
                .map_err(|e| (false, PostgresError::query(format!("copy into {}", resolved.name), e)))
        }
        .await;
        match result {
            Ok(_) => {
                self.client
                    .batch_execute(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| PostgresError::query("release of the bulk load savepoint", e))?;
                tracing::debug!(table = %resolved.name, rows, "streamed chunk text into the target");
                Ok((CopyTextLoad::Loaded, rows))
            }
            Err((from_source, error)) => {
                self.client
                    .batch_execute(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await
                    .map_err(|e| PostgresError::query("rollback to the bulk load savepoint", e))?;
                let unique = matches!(&error, PostgresError::Query { source, .. } if source.code() == Some(&SqlState::UNIQUE_VIOLATION));
                if unique && !from_source { Ok((CopyTextLoad::RangeOccupied, 0)) } else { Err(error) }
            }
        }
    }

    /// Whether the target has a row whose key lies between the first and
    /// the last row's keys.
    async fn range_has_rows(
        &mut self,
        table: &ResolvedTable,
        bounds: Option<&(EncodedRow, EncodedRow)>,
    ) -> Result<bool, PostgresError> {
        let Some((first, last)) = bounds else { return Ok(false) };
        let bounds: Vec<&Option<String>> = first.iter().chain(last.iter()).collect();
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
    async fn copy_rows(&mut self, table: &ResolvedTable, data: Vec<u8>) -> Result<u64, tokio_postgres::Error> {
        let columns: Vec<_> = (0..table.width()).map(|i| table.col(i)).collect();
        let sql = statements::copy_in(&table.name, &columns);
        let sink = self.client.copy_in::<_, Bytes>(&sql).await?;
        let mut sink = std::pin::pin!(sink);
        let mut data = Bytes::from(data);
        while !data.is_empty() {
            // Pieces end anywhere: COPY data is a byte stream.
            let piece = data.split_to(data.len().min(COPY_PIECE));
            sink.feed(piece).await?;
        }
        sink.as_mut().finish().await
    }
}

/// What [`PostgresSink::load_copy_text`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyTextLoad {
    Loaded,
    /// A column's type differs from the source's: load decoded values.
    TypesDiffer,
    /// The target already holds keys in the chunk's range: upsert instead.
    RangeOccupied,
}

/// The key fields of the first and the last line of COPY text, unescaped.
fn copy_text_bounds(data: &[u8], key: &[usize]) -> Option<(EncodedRow, EncodedRow)> {
    let body = data.strip_suffix(b"\n")?;
    let first = &body[..memchr::memchr(b'\n', body).unwrap_or(body.len())];
    let last = &body[memchr::memrchr(b'\n', body).map_or(0, |i| i + 1)..];
    let fields = |line: &[u8]| -> Option<EncodedRow> {
        let mut all: Vec<Option<String>> = Vec::new();
        let mut scratch = Vec::new();
        crate::copy_text::for_each_field::<()>(line, &mut scratch, |_, field| {
            all.push(field.map(|f| String::from_utf8_lossy(f).into_owned()));
            Ok(())
        })
        .ok()?;
        key.iter().map(|&k| all.get(k).cloned()).collect()
    };
    Some((fields(first)?, fields(last)?))
}

/// Appends one row in COPY text format. Text-like values and numbers are
/// written in place; every other value goes through the upsert path's
/// `encode_cell` (same forms, same refusals).
fn push_row(out: &mut Vec<u8>, table: &ResolvedTable, values: &[Value]) -> Result<(), PostgresError> {
    use std::io::Write;
    for (column, value) in values.iter().enumerate() {
        if column > 0 {
            out.push(b'\t');
        }
        match value {
            Value::Null => push_field(out, None),
            Value::Text(text) | Value::Json(text) | Value::Enum(text) => {
                if memchr::memchr(0, text.as_bytes()).is_some() {
                    let error =
                        crate::types::TypeError::new("text contains a NUL character, which PostgreSQL cannot store");
                    return Err(value_error(table, column, error));
                }
                push_field(out, Some(text));
            }
            Value::Decimal(decimal) => out.extend_from_slice(decimal.as_str().as_bytes()),
            Value::Int(i) => write!(out, "{i}").expect("writing to a Vec"),
            Value::UInt(u) => write!(out, "{u}").expect("writing to a Vec"),
            other => {
                let cell = encode_cell(other, table.column_type(column)).map_err(|e| value_error(table, column, e))?;
                push_field(out, cell.as_deref());
            }
        }
    }
    out.push(b'\n');
    Ok(())
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
