//! The PostgreSQL snapshot reader: a source table read in key-ordered
//! chunks over an ordinary connection while the replication stream keeps
//! running, each chunk with the exact set of transactions its read saw (see
//! `sluice_api::snapshot` for how the engine reconciles the two).
//!
//! # The read view
//!
//! A chunk is read in `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`.
//! Such a transaction takes its snapshot at its first statement, not at
//! `BEGIN`, and keeps it to the end; so the first statement is `SELECT
//! pg_current_snapshot()`, which reports that very snapshot, and every later
//! statement (the `COPY` of the rows) reads through it. A transaction was
//! seen iff it is visible in that snapshot: before `xmin`, or before `xmax`
//! and not in progress. `pg_current_snapshot()` gives 64-bit `xid8`s
//! (epoch << 32 | xid); pgoutput sends 32-bit xids, so each is truncated to
//! its low 32 bits and compared modulo 2³², as PostgreSQL itself does.
//! A transaction the stream has already sent may still be invisible here:
//! its commit record is flushed, and decoded by the walsender, before it
//! leaves the proc array. The engine refuses such a read (see its
//! `snapshot/window.rs`); [`PostgresSnapshotReader::read_view`] takes a
//! view without rows, for it to learn what has become visible.
//!
//! The same first statement reads `pg_current_wal_insert_lsn()`. A
//! transaction becomes visible only after its commit record was inserted
//! into the WAL, so the insert position read after the snapshot was taken
//! is beyond the commit record of every transaction the snapshot sees — the
//! chunk's `high` — even under `synchronous_commit = off`, when the write
//! and flush positions may lag behind. When the insert position sits at the
//! start of a page, PostgreSQL reports it past the page header (24 bytes, or
//! 40 on the first page of a segment), while the stream's positions are
//! record ends (the page boundary itself); `high` is moved back to the
//! boundary, or an idle server would never stream past it.
//!
//! # Rows
//!
//! Rows are read with `COPY (SELECT … ORDER BY key) TO STDOUT` in text
//! format (see `copy_text`): one round trip, the server's own text output
//! of every value — what pgoutput sends for the same row under the same
//! session settings — decoded by the stream's own decoder
//! (`relations::decode_cell`), so a chunk's values equal the stream's.
//! `COPY` takes no parameters: range bounds are written as literals, the
//! value's `encode_text` form quoted as a standard string (every `'`
//! doubled; the session sets `standard_conforming_strings = on`, so a
//! backslash is just a backslash) and cast to the column's type.
//! Boundaries are found with a bound query (`$n::text::type`) that returns
//! the key as the type's output (`format('%s', k)`), never `k::text`: that
//! cast differs from the output function for `character(n)` (padding
//! dropped), `boolean` (`true` for `t`) and `inet` (netmask added).
//!
//! Ranges use row comparison, `(k1, k2) > (v1, v2) AND (k1, k2) <= (w1,
//! w2)`, which PostgreSQL evaluates in the order `ORDER BY k1, k2` sorts
//! (each column's default operator class and collation) and answers from
//! the key's btree index. Identifiers are always quoted; the DBA's `filter`
//! is ANDed in parenthesised, as written.

use std::sync::Arc;

use futures_util::StreamExt;
use sluice_api::{
    ChunkRange, ChunkRead, Column, ConnectorError, Lsn, Position, ReadView, Row, SnapshotReader, TableName,
    TableSchema, Value,
};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::copy_text::{LineBuffer, for_each_field};
use crate::error::PostgresError;
use crate::sink::{quote_ident, quote_table};
use crate::source::catalog::describe_source_table;
use crate::source::relations::decode_cell;
use crate::types::encode_text;

/// The first statement of a chunk's transaction: it takes the snapshot.
const VIEW_SQL: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
     SELECT pg_catalog.pg_current_snapshot()::text, pg_catalog.pg_current_wal_insert_lsn()::text";

/// Page header sizes of the WAL (`SizeOfXLogShortPHD`, `SizeOfXLogLongPHD`).
const SHORT_PAGE_HEADER: u64 = 24;
const LONG_PAGE_HEADER: u64 = 40;

/// Reads a PostgreSQL source table in chunks; one connection, one chunk at
/// a time. See the module documentation.
pub struct PostgresSnapshotReader {
    client: Client,
    /// `wal_block_size` and `wal_segment_size` (fixed at initdb).
    wal_block: u64,
    wal_segment: u64,
    /// A chunk's `BEGIN` went out and neither `COMMIT` nor `ROLLBACK` since
    /// (a `read_chunk` future dropped half-way): rolled back before anything else.
    in_transaction: bool,
}

impl PostgresSnapshotReader {
    /// Connects to the source database `url` names (see `connect.rs`).
    pub async fn connect(url: &str) -> Result<PostgresSnapshotReader, PostgresError> {
        let client = crate::connect::connect(url).await?;
        let context = "setting up the snapshot session";
        client
            .batch_execute("SET standard_conforming_strings = on")
            .await
            .map_err(|e| PostgresError::query(context, e))?;
        let row = client
            .query_one(
                "SELECT current_setting('wal_block_size')::int8, \
                        (SELECT setting::int8 FROM pg_catalog.pg_settings WHERE name = 'wal_segment_size')",
                &[],
            )
            .await
            .map_err(|e| PostgresError::query(context, e))?;
        let (block, segment): (i64, i64) = (row.get(0), row.get(1));
        Ok(PostgresSnapshotReader {
            client,
            wal_block: u64::try_from(block).unwrap_or(8192).max(1),
            wal_segment: u64::try_from(segment).unwrap_or(16 << 20).max(1),
            in_transaction: false,
        })
    }

    /// See [`SnapshotReader::describe`]: the table as the stream describes it
    /// (`describe_source_table` resolves types with the stream's resolver).
    pub async fn describe(&mut self, table: &TableName) -> Result<Option<Arc<TableSchema>>, PostgresError> {
        self.end_abandoned().await?;
        Ok(describe_source_table(&self.client, table).await?.map(Arc::new))
    }

    /// See [`SnapshotReader::has_null_key`].
    pub async fn has_null_key(&mut self, schema: &TableSchema, key: &[usize]) -> Result<bool, PostgresError> {
        self.end_abandoned().await?;
        let keys = key_columns(schema, key)?;
        if keys.is_empty() {
            return Ok(false);
        }
        let any_null: Vec<String> = keys.iter().map(|c| format!("{} IS NULL", quote_ident(&c.name))).collect();
        let sql =
            format!("SELECT EXISTS (SELECT 1 FROM {} WHERE {})", quote_table(&schema.name), any_null.join(" OR "));
        let row = self
            .client
            .query_one(&sql, &[])
            .await
            .map_err(|e| PostgresError::query(format!("looking for NULL keys in {}", schema.name), e))?;
        Ok(row.get(0))
    }

    /// See [`SnapshotReader::estimate_rows`]: `pg_class.reltuples`, summed
    /// over the partitions of a partitioned table; never analysed counts 0.
    pub async fn estimate_rows(&mut self, schema: &TableSchema) -> Result<u64, PostgresError> {
        self.end_abandoned().await?;
        let row = self
            .client
            .query_one(
                // pg_partition_tree lists a partitioned table's partitions
                // and nothing for an ordinary table.
                "SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::float8 FROM pg_catalog.pg_class c \
                 WHERE c.oid = $1::text::regclass OR c.oid IN \
                   (SELECT p.relid FROM pg_catalog.pg_partition_tree($1::text::regclass) p WHERE p.isleaf)",
                &[&quote_table(&schema.name)],
            )
            .await
            .map_err(|e| PostgresError::query(format!("estimating the rows of {}", schema.name), e))?;
        let estimate: f64 = row.get(0);
        // Saturating float-to-int conversion; reltuples is never negative here.
        Ok(estimate as u64)
    }

    /// See [`SnapshotReader::next_boundary`].
    pub async fn next_boundary(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        after: Option<&[Value]>,
        chunk_rows: usize,
        filter: Option<&str>,
    ) -> Result<Option<Vec<Value>>, PostgresError> {
        self.end_abandoned().await?;
        let keys = key_columns(schema, key)?;
        if keys.is_empty() {
            return Err(no_key(schema));
        }
        let mut params: Vec<Option<String>> = Vec::new();
        let mut conditions = Vec::new();
        if let Some(after) = after {
            let bound = bound_values(schema, &keys, after, |column, text| {
                params.push(Some(text));
                format!("${}::text::{}", params.len(), column.type_name)
            })?;
            conditions.push(format!("({}) > ({bound})", key_list(&keys)));
        }
        let outputs: Vec<String> = keys
            .iter()
            .map(|c| {
                let name = quote_ident(&c.name);
                format!("CASE WHEN {name} IS NULL THEN NULL ELSE pg_catalog.format('%s', {name}) END")
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM {}{} ORDER BY {} LIMIT 1 OFFSET {}",
            outputs.join(", "),
            quote_table(&schema.name),
            where_clause(conditions, filter),
            key_list(&keys),
            chunk_rows.max(1) - 1
        );
        let typed: Vec<(&(dyn ToSql + Sync), Type)> =
            params.iter().map(|p| (p as &(dyn ToSql + Sync), Type::TEXT)).collect();
        let row = self
            .client
            .query_typed_opt(&sql, &typed)
            .await
            .map_err(|e| PostgresError::query(format!("finding the next chunk boundary of {}", schema.name), e))?;
        let Some(row) = row else { return Ok(None) };
        let boundary = keys
            .iter()
            .enumerate()
            .map(|(i, column)| match row.get::<_, Option<&str>>(i) {
                None => Ok(Value::Null),
                Some(text) => decode_cell(schema, column, text.as_bytes()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(boundary))
    }

    /// See [`SnapshotReader::read_chunk`] and the module documentation.
    pub async fn read_chunk(
        &mut self,
        schema: &Arc<TableSchema>,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
    ) -> Result<ChunkRead, PostgresError> {
        self.end_abandoned().await?;
        let sql = chunk_sql(schema, key, range, filter)?;
        self.in_transaction = true;
        let result = self.read_in_transaction(schema, &sql).await;
        let ended = match &result {
            Ok(_) => self.client.batch_execute("COMMIT").await.map_err(|e| PostgresError::query("commit", e)),
            Err(_) => self.client.batch_execute("ROLLBACK").await.map_err(|e| PostgresError::query("rollback", e)),
        };
        if ended.is_ok() {
            self.in_transaction = false;
        }
        let (rows, view, high) = result?;
        ended?;
        tracing::debug!(table = %schema.name, rows = rows.len(), high = %high, "read snapshot chunk");
        Ok(ChunkRead { rows, view, high: Position::Postgres(high) })
    }

    /// See [`SnapshotReader::read_view`]: the snapshot of one autocommit
    /// statement, which shows what a chunk read starting now would see.
    pub async fn read_view(&mut self) -> Result<ReadView, PostgresError> {
        self.end_abandoned().await?;
        let row = self
            .client
            .query_one("SELECT pg_catalog.pg_current_snapshot()::text", &[])
            .await
            .map_err(|e| PostgresError::query("taking a read view", e))?;
        parse_snapshot(row.get(0))
    }

    /// `format_type(type, typmod)` of each named column of `table` — what
    /// the target's describe reports, to compare column types exactly.
    pub async fn column_type_names(
        &mut self,
        table: &TableName,
        columns: &[&str],
    ) -> Result<Vec<String>, PostgresError> {
        let qualified = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name));
        let mut names = Vec::with_capacity(columns.len());
        for column in columns {
            let row = self
                .client
                .query_one(
                    "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a \
                     WHERE a.attrelid = $1::text::regclass AND a.attname = $2 AND NOT a.attisdropped",
                    &[&qualified, column],
                )
                .await
                .map_err(|e| PostgresError::query(format!("reading the column types of {table}"), e))?;
            names.push(row.get(0));
        }
        Ok(names)
    }

    /// Like [`Self::read_chunk_copy_text`], as a stream of COPY text pieces
    /// as the server sends them (for piping straight into a target's COPY).
    pub async fn stream_chunk_copy_text(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
        columns: &[usize],
    ) -> Result<tokio_postgres::CopyOutStream, PostgresError> {
        self.end_abandoned().await?;
        let sql = chunk_sql_of(schema, key, range, filter, Some(columns))?;
        self.client
            .copy_out(sql.as_str())
            .await
            .map_err(|e| PostgresError::query(format!("reading a snapshot chunk of {}", schema.name), e))
    }

    /// One-shot copies between identical PostgreSQL column types: the rows
    /// of `range` as COPY text, `columns` (schema indices) in that order,
    /// undecoded; with the number of rows. No read view (nothing streams).
    /// Both ends run with the same session settings (`connect.rs`), so the
    /// text form of a value is the same on both sides.
    pub async fn read_chunk_copy_text(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
        columns: &[usize],
    ) -> Result<(Vec<u8>, u64), PostgresError> {
        self.end_abandoned().await?;
        let sql = chunk_sql_of(schema, key, range, filter, Some(columns))?;
        let context = || format!("reading a snapshot chunk of {}", schema.name);
        let stream = self.client.copy_out(sql.as_str()).await.map_err(|e| PostgresError::query(context(), e))?;
        let mut stream = std::pin::pin!(stream);
        let mut data = Vec::new();
        while let Some(piece) = stream.next().await {
            data.extend_from_slice(&piece.map_err(|e| PostgresError::query(context(), e))?);
        }
        let rows = memchr::memchr_iter(b'\n', &data).count() as u64;
        Ok((data, rows))
    }

    async fn read_in_transaction(
        &mut self,
        schema: &TableSchema,
        sql: &str,
    ) -> Result<(Vec<Row>, ReadView, Lsn), PostgresError> {
        let messages = self
            .client
            .simple_query(VIEW_SQL)
            .await
            .map_err(|e| PostgresError::query(format!("starting a snapshot read of {}", schema.name), e))?;
        let (snapshot, insert_lsn) = messages
            .iter()
            .find_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some((row.get(0), row.get(1))),
                _ => None,
            })
            .and_then(|(snapshot, lsn)| Some((snapshot?, lsn?)))
            .ok_or_else(|| protocol("the snapshot query returned no row"))?;
        let view = parse_snapshot(snapshot)?;
        let insert_lsn: Lsn = insert_lsn.parse().map_err(|_| protocol("pg_current_wal_insert_lsn() is not an LSN"))?;
        let high = Lsn(end_of_inserted_wal(insert_lsn.0, self.wal_block, self.wal_segment));

        let context = || format!("reading a snapshot chunk of {}", schema.name);
        let stream = self.client.copy_out(sql).await.map_err(|e| PostgresError::query(context(), e))?;
        let mut stream = std::pin::pin!(stream);
        let mut lines = LineBuffer::default();
        let mut scratch = Vec::new();
        let mut rows: Vec<Row> = Vec::new();
        while let Some(data) = stream.next().await {
            let data = data.map_err(|e| PostgresError::query(context(), e))?;
            lines.push(&data, |line| {
                rows.push(decode_line(schema, line, &mut scratch)?);
                Ok::<(), PostgresError>(())
            })?;
        }
        lines.finish().map_err(|e| protocol(&e.0))?;
        Ok((rows, view, high))
    }

    /// Rolls back a chunk transaction a dropped `read_chunk` left open, so
    /// no later statement runs in its old snapshot.
    async fn end_abandoned(&mut self) -> Result<(), PostgresError> {
        if self.in_transaction {
            self.client.batch_execute("ROLLBACK").await.map_err(|e| PostgresError::query("rollback", e))?;
            self.in_transaction = false;
        }
        Ok(())
    }
}

impl SnapshotReader for PostgresSnapshotReader {
    async fn describe(&mut self, table: &TableName) -> Result<Option<Arc<TableSchema>>, ConnectorError> {
        Ok(PostgresSnapshotReader::describe(self, table).await?)
    }

    async fn has_null_key(&mut self, schema: &TableSchema, key: &[usize]) -> Result<bool, ConnectorError> {
        Ok(PostgresSnapshotReader::has_null_key(self, schema, key).await?)
    }

    async fn estimate_rows(&mut self, schema: &TableSchema) -> Result<u64, ConnectorError> {
        Ok(PostgresSnapshotReader::estimate_rows(self, schema).await?)
    }

    async fn next_boundary(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        after: Option<&[Value]>,
        chunk_rows: usize,
        filter: Option<&str>,
    ) -> Result<Option<Vec<Value>>, ConnectorError> {
        Ok(PostgresSnapshotReader::next_boundary(self, schema, key, after, chunk_rows, filter).await?)
    }

    async fn read_chunk(
        &mut self,
        schema: &Arc<TableSchema>,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
    ) -> Result<ChunkRead, ConnectorError> {
        Ok(PostgresSnapshotReader::read_chunk(self, schema, key, range, filter).await?)
    }

    async fn read_view(&mut self) -> Result<ReadView, ConnectorError> {
        Ok(PostgresSnapshotReader::read_view(self).await?)
    }
}

/// `COPY (SELECT every column FROM t WHERE range AND filter ORDER BY key) TO STDOUT`.
fn chunk_sql(
    schema: &TableSchema,
    key: &[usize],
    range: &ChunkRange,
    filter: Option<&str>,
) -> Result<String, PostgresError> {
    chunk_sql_of(schema, key, range, filter, None)
}

/// `chunk_sql` for a subset of columns (schema indices, in output order).
fn chunk_sql_of(
    schema: &TableSchema,
    key: &[usize],
    range: &ChunkRange,
    filter: Option<&str>,
    only: Option<&[usize]>,
) -> Result<String, PostgresError> {
    let keys = key_columns(schema, key)?;
    if keys.is_empty() && (range.after.is_some() || range.through.is_some()) {
        return Err(no_key(schema));
    }
    let mut conditions = Vec::new();
    for (bound, operator) in [(&range.after, ">"), (&range.through, "<=")] {
        if let Some(values) = bound {
            let literals = bound_values(schema, &keys, values, |column, text| literal(&text, &column.type_name))?;
            conditions.push(format!("({}) {operator} ({literals})", key_list(&keys)));
        }
    }
    let columns: Vec<String> = match only {
        Some(indices) => indices
            .iter()
            .map(|&i| schema.columns.get(i).map(|c| quote_ident(&c.name)))
            .collect::<Option<_>>()
            .ok_or_else(|| bug(schema, "a copied column index is out of range; this is a Sluice bug".into()))?,
        None => schema.columns.iter().map(|c| quote_ident(&c.name)).collect(),
    };
    let order = if keys.is_empty() { String::new() } else { format!(" ORDER BY {}", key_list(&keys)) };
    Ok(format!(
        "COPY (SELECT {} FROM {}{}{order}) TO STDOUT",
        columns.join(", "),
        quote_table(&schema.name),
        where_clause(conditions, filter)
    ))
}

/// The key columns by index; an index out of range is an engine bug.
fn key_columns<'a>(schema: &'a TableSchema, key: &[usize]) -> Result<Vec<&'a Column>, PostgresError> {
    key.iter()
        .map(|&i| {
            schema.columns.get(i).ok_or_else(|| {
                bug(schema, format!("key column {i} of {} columns; this is a Sluice bug", schema.columns.len()))
            })
        })
        .collect()
}

/// `"k1", "k2"`.
fn key_list(keys: &[&Column]) -> String {
    keys.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ")
}

/// A bound's values, each encoded with `encode_text` and rendered by
/// `render` (a literal or a parameter), comma-separated.
fn bound_values(
    schema: &TableSchema,
    keys: &[&Column],
    values: &[Value],
    mut render: impl FnMut(&Column, String) -> String,
) -> Result<String, PostgresError> {
    if values.len() != keys.len() {
        return Err(bug(
            schema,
            format!("a chunk bound has {} values for {} key columns; this is a Sluice bug", values.len(), keys.len()),
        ));
    }
    let mut rendered = Vec::with_capacity(keys.len());
    for (column, value) in keys.iter().zip(values) {
        let value_error = |reason: &str| PostgresError::Value {
            table: schema.name.to_string(),
            column: column.name.clone(),
            type_name: column.type_name.clone(),
            reason: reason.to_owned(),
        };
        let text = encode_text(value)
            .map_err(|e| value_error(e.reason()))?
            .ok_or_else(|| value_error("a chunk bound cannot be NULL"))?;
        rendered.push(render(column, text));
    }
    Ok(rendered.join(", "))
}

/// `'text'::type`, a standard string literal (`'` doubled; backslashes are
/// plain characters under `standard_conforming_strings = on`).
fn literal(text: &str, type_name: &str) -> String {
    format!("'{}'::{type_name}", text.replace('\'', "''"))
}

/// ` WHERE c1 AND c2 AND (filter)`, or nothing.
fn where_clause(mut conditions: Vec<String>, filter: Option<&str>) -> String {
    if let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) {
        conditions.push(format!("({filter})"));
    }
    if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) }
}

/// One COPY line into a row of the schema's columns.
fn decode_line(schema: &TableSchema, line: &[u8], scratch: &mut Vec<u8>) -> Result<Row, PostgresError> {
    let mut row = Vec::with_capacity(schema.columns.len());
    if schema.columns.is_empty() {
        return if line.is_empty() { Ok(row) } else { Err(width_error(schema, 1)) };
    }
    let mut fields = 0;
    for_each_field(line, scratch, |i, field| {
        fields += 1;
        let column = schema.columns.get(i).ok_or_else(|| width_error(schema, i + 1))?;
        row.push(match field {
            None => Value::Null,
            Some(bytes) => decode_cell(schema, column, bytes)?,
        });
        Ok(())
    })?;
    if fields != schema.columns.len() {
        return Err(width_error(schema, fields));
    }
    Ok(row)
}

fn width_error(schema: &TableSchema, fields: usize) -> PostgresError {
    protocol(&format!("a COPY row of {} has {fields} or more fields for {} columns", schema.name, schema.columns.len()))
}

/// Parses `pg_current_snapshot()`'s text, `xmin:xmax:xip1,xip2,…` (64-bit
/// xids), into a view of 32-bit xids as pgoutput reports them.
fn parse_snapshot(text: &str) -> Result<ReadView, PostgresError> {
    let malformed = || protocol("pg_current_snapshot() is not xmin:xmax:xip,…");
    let xid = |part: &str| part.parse::<u64>().map(|x| x as u32).map_err(|_| malformed());
    let mut parts = text.splitn(3, ':');
    let (Some(xmin), Some(xmax), Some(xip)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let in_progress = xip.split(',').filter(|x| !x.is_empty()).map(xid).collect::<Result<Vec<u32>, PostgresError>>()?;
    Ok(ReadView::Postgres { xmin: xid(xmin)?, xmax: xid(xmax)?, in_progress })
}

/// The end of the WAL inserted so far, as a record end: an insert position
/// just past a page header (nothing of the page written yet) is moved back
/// to the page boundary, where the last record ended. No record ends inside
/// a header, nor right after one (a continued record puts at least a byte
/// after it, and records are 8-byte aligned), so this is exact.
fn end_of_inserted_wal(insert: u64, block: u64, segment: u64) -> u64 {
    if insert % segment == LONG_PAGE_HEADER {
        insert - LONG_PAGE_HEADER
    } else if insert % block == SHORT_PAGE_HEADER && insert % segment != SHORT_PAGE_HEADER {
        insert - SHORT_PAGE_HEADER
    } else {
        insert
    }
}

fn no_key(schema: &TableSchema) -> PostgresError {
    PostgresError::Config {
        setting: format!("snapshot of {}", schema.name),
        message: format!("Table {} has no key columns to read it in chunks by; give it a primary key", schema.name),
    }
}

fn bug(schema: &TableSchema, reason: String) -> PostgresError {
    PostgresError::Value { table: schema.name.to_string(), column: "*".into(), type_name: String::new(), reason }
}

fn protocol(reason: &str) -> PostgresError {
    PostgresError::Protocol { what: "snapshot read", reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use sluice_api::{ColumnType, Decimal, Seen, Transaction};

    use super::*;

    fn column(name: &str, column_type: ColumnType, type_name: &str, is_key: bool) -> Column {
        Column { name: name.into(), column_type, type_name: type_name.into(), type_id: 0, type_modifier: -1, is_key }
    }

    fn schema() -> TableSchema {
        TableSchema {
            id: 1,
            name: TableName::new("s", "t\"x"),
            columns: vec![
                column("id", ColumnType::Int { bytes: 4, unsigned: false }, "integer", true),
                column("na'me", ColumnType::Text { max_chars: None }, "text", true),
                column("amount", ColumnType::Decimal { precision: Some(12), scale: Some(2) }, "numeric(12,2)", false),
            ],
            full_before_image: false,
        }
    }

    #[test]
    fn chunk_sql_quotes_identifiers_and_literals() {
        let range = ChunkRange {
            after: Some(vec![Value::Int(1), Value::Text("it's \\ here".into())]),
            through: Some(vec![Value::Int(9), Value::Text("z".into())]),
        };
        let sql = chunk_sql(&schema(), &[0, 1], &range, Some("amount > 0")).unwrap();
        assert_eq!(
            sql,
            r#"COPY (SELECT "id", "na'me", "amount" FROM "s"."t""x" WHERE ("id", "na'me") > ('1'::integer, 'it''s \ here'::text) AND ("id", "na'me") <= ('9'::integer, 'z'::text) AND (amount > 0) ORDER BY "id", "na'me") TO STDOUT"#
        );
        let all = chunk_sql(&schema(), &[0], &ChunkRange::default(), None).unwrap();
        assert_eq!(all, r#"COPY (SELECT "id", "na'me", "amount" FROM "s"."t""x" ORDER BY "id") TO STDOUT"#);
    }

    #[test]
    fn bad_bounds_are_errors_without_the_value() {
        let null = ChunkRange { after: Some(vec![Value::Null]), through: None };
        assert!(matches!(chunk_sql(&schema(), &[0], &null, None), Err(PostgresError::Value { .. })));
        let short = ChunkRange { after: Some(vec![Value::Int(1)]), through: None };
        assert!(chunk_sql(&schema(), &[0, 1], &short, None).is_err());
        assert!(chunk_sql(&schema(), &[7], &ChunkRange::default(), None).is_err());
        let secret = ChunkRange { after: Some(vec![Value::Int(1), Value::Text("secret\0".into())]), through: None };
        let error = chunk_sql(&schema(), &[0, 1], &secret, None).unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn copy_lines_decode_into_rows_of_the_schema() {
        let mut scratch = Vec::new();
        let row = decode_line(&schema(), b"7\ttab\\there\t-0.50", &mut scratch).unwrap();
        let amount = Value::Decimal(Decimal::parse("-0.50").unwrap());
        assert_eq!(row, vec![Value::Int(7), Value::Text("tab\there".into()), amount]);
        assert_eq!(decode_line(&schema(), b"7\t\\N\t\\N", &mut scratch).unwrap()[1], Value::Null);
        assert!(matches!(decode_line(&schema(), b"7\tx", &mut scratch), Err(PostgresError::Protocol { .. })));
        assert!(matches!(decode_line(&schema(), b"7\tx\t1\t2", &mut scratch), Err(PostgresError::Protocol { .. })));
        let error = decode_line(&schema(), b"secret\tx\t1", &mut scratch).unwrap_err();
        assert!(matches!(&error, PostgresError::Value { column, .. } if column == "id"), "{error:?}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn snapshots_truncate_xid8_to_the_xids_pgoutput_sends() {
        let epoch = 3u64 << 32;
        let text = format!("{}:{}:{},{}", epoch + 100, epoch + 110, epoch + 100, epoch + 105);
        let view = parse_snapshot(&text).unwrap();
        assert_eq!(view, ReadView::Postgres { xmin: 100, xmax: 110, in_progress: vec![100, 105] });
        let tx = |id: &str| Transaction {
            id: id.into(),
            position: Position::Postgres(Lsn(1)),
            commit_time_micros: 0,
            origin: None,
        };
        assert_eq!(view.saw(&tx("104")), Seen::Yes);
        assert_eq!(view.saw(&tx("105")), Seen::No);
        assert_eq!(parse_snapshot("5:5:").unwrap(), ReadView::Postgres { xmin: 5, xmax: 5, in_progress: vec![] });
        assert!(parse_snapshot("5:5").is_err());
        assert!(parse_snapshot("x:5:").is_err());
    }

    #[test]
    fn an_insert_position_after_a_page_header_moves_back_to_the_page_boundary() {
        let (block, segment) = (8192, 16 << 20);
        assert_eq!(end_of_inserted_wal(5 * segment + 40, block, segment), 5 * segment);
        assert_eq!(end_of_inserted_wal(5 * segment + 3 * block + 24, block, segment), 5 * segment + 3 * block);
        // A record ending 40 bytes into an ordinary page, or mid-page: kept.
        assert_eq!(end_of_inserted_wal(3 * block + 40, block, segment), 3 * block + 40);
        assert_eq!(end_of_inserted_wal(3 * block + 48, block, segment), 3 * block + 48);
    }
}

#[cfg(test)]
mod rate {
    use std::time::Instant;

    use sluice_api::ColumnType;

    use super::*;

    /// Client-side decode rate of `COPY` text for 10,000-row chunks of
    /// (bigint, int, text, numeric(12,2), timestamptz, 100-char text):
    /// `cargo test --release -p sluice-postgres --lib -- --ignored --nocapture decode_rate`
    #[test]
    #[ignore = "a measurement; run in release with --ignored --nocapture"]
    fn decode_rate() {
        let column = |name: &str, column_type: ColumnType, type_name: &str| Column {
            name: name.into(),
            column_type,
            type_name: type_name.into(),
            type_id: 0,
            type_modifier: -1,
            is_key: name == "id",
        };
        let schema = TableSchema {
            id: 1,
            name: TableName::new("public", "r"),
            columns: vec![
                column("id", ColumnType::Int { bytes: 8, unsigned: false }, "bigint"),
                column("n", ColumnType::Int { bytes: 4, unsigned: false }, "integer"),
                column("name", ColumnType::Text { max_chars: None }, "text"),
                column("amount", ColumnType::Decimal { precision: Some(12), scale: Some(2) }, "numeric(12,2)"),
                column("at", ColumnType::TimestampTz { fsp: None }, "timestamp with time zone"),
                column("pad", ColumnType::Text { max_chars: None }, "text"),
            ],
            full_before_image: false,
        };
        let pad = "7c77f048a2d02e784926184a82686fa03183fc21acb07e30098c42484e12d6973183fc21acb07e30098c42484e12d697318";
        // One CopyData message per row, as the server sends them.
        let messages: Vec<Vec<u8>> = (1..=10_000u64)
            .map(|g| {
                format!(
                    "{g}\t{}\tname {g}\t{}.{:02}\t2024-01-{:02} {:02}:{:02}:{:02}.5+00\t{pad}\n",
                    g % 1000,
                    g * 137 / 100,
                    g * 37 % 100,
                    1 + g % 28,
                    g % 24,
                    g % 60,
                    g * 7 % 60
                )
                .into_bytes()
            })
            .collect();
        let mut best = f64::MAX;
        for _ in 0..20 {
            let started = Instant::now();
            let mut lines = LineBuffer::default();
            let mut scratch = Vec::new();
            let mut rows: Vec<Row> = Vec::new();
            for message in &messages {
                lines
                    .push(message, |line| {
                        rows.push(decode_line(&schema, line, &mut scratch)?);
                        Ok::<(), PostgresError>(())
                    })
                    .unwrap();
            }
            assert_eq!(rows.len(), messages.len());
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!("decode: {:.0} rows/s (best of 20 passes over 10,000 rows)", messages.len() as f64 / best);
    }
}
