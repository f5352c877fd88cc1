//! Rows events → before/after row images, one row at a time.
//!
//! Types: WRITE/UPDATE/DELETE v1 (23–25, MariaDB's), v2 (30–32, MySQL's)
//! and MariaDB's compressed v1/v2 (166–168, 169–171). Layout
//! (little-endian): table id (6 bytes; 4 with a 6-byte post-header), u16
//! flags, for v2 a u16 extra-data length (counting itself) and the extra
//! data; then lenenc column count, the "columns present" bitmap of the
//! before image (⌈n/8⌉ bytes), for updates a second bitmap for the after
//! image, then the rows — zlib-compressed in 166–171 (`compressed.rs`).
//!
//! Each row is one image (write: after, delete: before) or two (update:
//! before then after). An image is a NULL bitmap over its present columns
//! (⌈present/8⌉ bytes, bit set = NULL) followed by the non-NULL present
//! values (`decode.rs`). A column absent from an image (a server running
//! `binlog_row_image=MINIMAL` or `NOBLOB` for the session) becomes
//! [`Value::Unchanged`], never NULL.
//!
//! Rows are decoded lazily by [`RowsEvent::rows`], so a large event never
//! becomes a large vector of rows.

use std::borrow::Cow;

use sluice_api::{Operation, Row, Value};

use super::compressed;
use super::decode::decode_cell;
use super::events::{DELETE_ROWS, DELETE_ROWS_COMPRESSED, DELETE_ROWS_V1, UPDATE_ROWS, UPDATE_ROWS_V1};
use super::schema::RoutedTable;
use super::wire::{Reader, Truncated};
use crate::error::MySqlError;

/// MySQL and MariaDB tables have at most 4096 columns.
const MAX_COLUMNS: usize = 4096;
const UPDATE_ROWS_COMPRESSED_V1: u8 = 167;
const DELETE_ROWS_COMPRESSED_V1: u8 = 168;
const WRITE_ROWS_COMPRESSED: u8 = 169;
const UPDATE_ROWS_COMPRESSED: u8 = 170;

/// A parsed rows event (rows not decoded yet).
#[derive(Debug)]
pub(crate) struct RowsEvent<'a> {
    pub(crate) table_id: u64,
    pub(crate) operation: Operation,
    width: usize,
    before_columns: &'a [u8],
    after_columns: &'a [u8],
    rows: Cow<'a, [u8]>,
}

fn truncated(_: Truncated) -> MySqlError {
    MySqlError::Protocol { what: "rows event", reason: "the event body is truncated or malformed".into() }
}

/// The table id a rows event refers to (to skip unrouted tables without parsing).
pub(crate) fn table_id(body: &[u8], id_size: usize) -> Result<u64, MySqlError> {
    Reader::new(body).uint_le(id_size).map_err(truncated)
}

/// Parses a rows event body; `id_size` is 6 (4 for pre-5.1 servers).
pub(crate) fn parse(event_type: u8, body: &[u8], id_size: usize) -> Result<RowsEvent<'_>, MySqlError> {
    let operation = match event_type {
        UPDATE_ROWS_V1 | UPDATE_ROWS | UPDATE_ROWS_COMPRESSED_V1 | UPDATE_ROWS_COMPRESSED => Operation::Update,
        DELETE_ROWS_V1 | DELETE_ROWS | DELETE_ROWS_COMPRESSED_V1 | DELETE_ROWS_COMPRESSED => Operation::Delete,
        _ => Operation::Insert,
    };
    let version2 = matches!(event_type, 30..=32 | WRITE_ROWS_COMPRESSED..=DELETE_ROWS_COMPRESSED);
    let compressed = event_type >= 166;
    let mut reader = Reader::new(body);
    let table_id = reader.uint_le(id_size).map_err(truncated)?;
    reader.skip(2).map_err(truncated)?; // flags
    if version2 {
        let extra = reader.u16_le().map_err(truncated)? as usize;
        reader.skip(extra.checked_sub(2).ok_or(Truncated).map_err(truncated)?).map_err(truncated)?;
    }
    // A column count, not a byte count: bounded by the server's 4096-column limit.
    let width = usize::try_from(reader.lenenc().map_err(truncated)?)
        .ok()
        .filter(|&w| w <= MAX_COLUMNS)
        .ok_or_else(|| MySqlError::Protocol { what: "rows event", reason: "the column count exceeds 4096".into() })?;
    let bitmap_len = width.div_ceil(8);
    let before_columns = reader.take(bitmap_len).map_err(truncated)?;
    let after_columns =
        if operation == Operation::Update { reader.take(bitmap_len).map_err(truncated)? } else { before_columns };
    let rows = reader.rest();
    let rows = if compressed {
        Cow::Owned(
            compressed::inflate(rows)
                .map_err(|reason| MySqlError::Protocol { what: "compressed rows event", reason })?,
        )
    } else {
        Cow::Borrowed(rows)
    };
    Ok(RowsEvent { table_id, operation, width, before_columns, after_columns, rows })
}

/// One decoded row change: the before and after images.
pub(crate) type RowImages = (Option<Row>, Option<Row>);

impl RowsEvent<'_> {
    /// Iterates over the event's rows, decoding each as it is reached.
    pub(crate) fn rows<'t>(&'t self, table: &'t RoutedTable) -> Result<Rows<'t>, MySqlError> {
        if self.width != table.cells.len() {
            return Err(MySqlError::Protocol {
                what: "rows event",
                reason: format!(
                    "the rows of {} (table id {}) have {} columns but its table map has {}",
                    table.schema.name,
                    self.table_id,
                    self.width,
                    table.cells.len()
                ),
            });
        }
        Ok(Rows { event: self, table, reader: Reader::new(&self.rows) })
    }
}

pub(crate) struct Rows<'t> {
    event: &'t RowsEvent<'t>,
    table: &'t RoutedTable,
    reader: Reader<'t>,
}

impl Iterator for Rows<'_> {
    type Item = Result<RowImages, MySqlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.is_empty() {
            return None;
        }
        let event = self.event;
        let images = match event.operation {
            Operation::Insert => self.image(event.after_columns).map(|after| (None, Some(after))),
            Operation::Delete => self.image(event.before_columns).map(|before| (Some(before), None)),
            _ => self
                .image(event.before_columns)
                .and_then(|before| Ok((Some(before), Some(self.image(event.after_columns)?)))),
        };
        if images.is_err() {
            // Stop after the first error: the rest of the event cannot be aligned.
            self.reader = Reader::new(&[]);
        }
        Some(images)
    }
}

fn bit(bitmap: &[u8], index: usize) -> bool {
    bitmap.get(index / 8).is_some_and(|byte| byte & (1 << (index % 8)) != 0)
}

impl Rows<'_> {
    fn image(&mut self, present: &[u8]) -> Result<Row, MySqlError> {
        let width = self.event.width;
        let present_count = (0..width).filter(|&i| bit(present, i)).count();
        let nulls = self.reader.take(present_count.div_ceil(8)).map_err(truncated)?;
        let mut row = Vec::with_capacity(width);
        let mut position = 0;
        for (index, plan) in self.table.cells.iter().enumerate() {
            if !bit(present, index) {
                row.push(Value::Unchanged);
                continue;
            }
            if bit(nulls, position) {
                row.push(Value::Null);
            } else {
                let value = decode_cell(plan, &mut self.reader).map_err(|reason| {
                    let column = &self.table.schema.columns[index];
                    MySqlError::Value {
                        table: self.table.schema.name.to_string(),
                        column: column.name.clone(),
                        type_name: column.type_name.clone(),
                        reason,
                    }
                })?;
                row.push(value);
            }
            position += 1;
        }
        Ok(row)
    }
}

#[cfg(test)]
#[path = "rows/tests.rs"]
mod tests;
