//! TABLE_MAP events (type 19): which table a table id stands for, and the
//! binlog types, metadata and (with `binlog_row_metadata=FULL`) names,
//! signedness, character sets, ENUM/SET labels and primary key of its
//! columns.
//!
//! Layout (little-endian): table id (6 bytes; 4 when the FormatDescription
//! gives TABLE_MAP a 6-byte post-header), u16 flags, u8 schema length,
//! schema, NUL, u8 table length, table, NUL, lenenc column count, one type
//! byte per column, lenenc metadata block, null bitmap (⌈n/8⌉ bytes, bit i
//! = column i nullable), then the optional metadata as TLV fields (u8 type,
//! lenenc length, value).
//!
//! Per-column metadata sizes: FLOAT, DOUBLE, BLOB, GEOMETRY, JSON, VECTOR,
//! TIME2, DATETIME2, TIMESTAMP2 and MariaDB's compressed BLOB (140) take 1
//! byte; VARCHAR and MariaDB's compressed VARCHAR (141) 2 bytes (max length
//! LE); STRING, ENUM, SET, NEWDECIMAL (precision, scale) and BIT (bits mod
//! 8, bytes) 2 bytes; everything else none. A STRING column's real type
//! (CHAR/BINARY, ENUM or SET) is in its first metadata byte, with two bits
//! of a long CHAR's length folded into it.
//!
//! Optional metadata fields refer to subsets of the columns, in column
//! order, and Sluice counts them as the server does (checked against
//! MariaDB 10.11; mysql_common counts GEOMETRY differently):
//! - numeric (SIGNEDNESS, one bit each, most significant first): TINY,
//!   SHORT, INT24, LONG, LONGLONG, NEWDECIMAL, FLOAT, DOUBLE, YEAR;
//! - character (DEFAULT_CHARSET as a default collation plus exceptions
//!   indexed within the subset, or COLUMN_CHARSET, one per column): real
//!   type CHAR/BINARY, VARCHAR, BLOB/TEXT, GEOMETRY;
//! - ENUM and SET columns have their own charset fields and label lists.

use super::wire::{Reader, Truncated};
use crate::error::MySqlError;

pub(crate) const TYPE_DECIMAL: u8 = 0;
pub(crate) const TYPE_TINY: u8 = 1;
pub(crate) const TYPE_SHORT: u8 = 2;
pub(crate) const TYPE_LONG: u8 = 3;
pub(crate) const TYPE_FLOAT: u8 = 4;
pub(crate) const TYPE_DOUBLE: u8 = 5;
pub(crate) const TYPE_TIMESTAMP: u8 = 7;
pub(crate) const TYPE_LONGLONG: u8 = 8;
pub(crate) const TYPE_INT24: u8 = 9;
pub(crate) const TYPE_DATE: u8 = 10;
pub(crate) const TYPE_TIME: u8 = 11;
pub(crate) const TYPE_DATETIME: u8 = 12;
pub(crate) const TYPE_YEAR: u8 = 13;
pub(crate) const TYPE_NEWDATE: u8 = 14;
pub(crate) const TYPE_VARCHAR: u8 = 15;
pub(crate) const TYPE_BIT: u8 = 16;
pub(crate) const TYPE_TIMESTAMP2: u8 = 17;
pub(crate) const TYPE_DATETIME2: u8 = 18;
pub(crate) const TYPE_TIME2: u8 = 19;
pub(crate) const TYPE_BLOB_COMPRESSED: u8 = 140;
pub(crate) const TYPE_VARCHAR_COMPRESSED: u8 = 141;
pub(crate) const TYPE_VECTOR: u8 = 242;
pub(crate) const TYPE_JSON: u8 = 245;
pub(crate) const TYPE_NEWDECIMAL: u8 = 246;
pub(crate) const TYPE_ENUM: u8 = 247;
pub(crate) const TYPE_SET: u8 = 248;
pub(crate) const TYPE_TINY_BLOB: u8 = 249;
pub(crate) const TYPE_BLOB: u8 = 252;
pub(crate) const TYPE_STRING: u8 = 254;
pub(crate) const TYPE_GEOMETRY: u8 = 255;

/// Optional metadata field types.
const SIGNEDNESS: u8 = 1;
const DEFAULT_CHARSET: u8 = 2;
const COLUMN_CHARSET: u8 = 3;
const COLUMN_NAME: u8 = 4;
const SET_STR_VALUE: u8 = 5;
const ENUM_STR_VALUE: u8 = 6;
const SIMPLE_PRIMARY_KEY: u8 = 8;
const PRIMARY_KEY_WITH_PREFIX: u8 = 9;
const ENUM_AND_SET_DEFAULT_CHARSET: u8 = 10;
const ENUM_AND_SET_COLUMN_CHARSET: u8 = 11;

/// The table a table id stands for (the cheap part of a TABLE_MAP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableMapHeader {
    pub(crate) table_id: u64,
    pub(crate) schema: String,
    pub(crate) table: String,
}

/// One column as the table map describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MapColumn {
    /// The type byte; for STRING columns the real type (CHAR/BINARY, ENUM, SET).
    pub(crate) column_type: u8,
    /// Type-dependent metadata: `[fsp, 0]`, `[precision, scale]`, `[bits mod 8,
    /// bytes]`, `[length bytes, 0]`, `[max byte length, 0]` (CHAR/VARCHAR),
    /// `[real type, pack length]` (ENUM/SET).
    pub(crate) meta: [u16; 2],
    pub(crate) nullable: bool,
    pub(crate) name: Option<String>,
    pub(crate) unsigned: bool,
    /// Collation id (character, ENUM and SET columns).
    pub(crate) collation: Option<u16>,
    /// ENUM/SET labels as raw bytes in the column's character set.
    pub(crate) labels: Option<Vec<Vec<u8>>>,
}

/// A fully parsed TABLE_MAP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableMap {
    pub(crate) header: TableMapHeader,
    pub(crate) columns: Vec<MapColumn>,
    /// Primary-key column indices (FULL metadata); `None` when not sent.
    pub(crate) primary_key: Option<Vec<usize>>,
    /// True when the optional metadata carried column names (FULL).
    pub(crate) has_names: bool,
}

fn truncated(_: Truncated) -> MySqlError {
    MySqlError::Protocol { what: "TABLE_MAP event", reason: "the event body is truncated or malformed".into() }
}

fn invalid(reason: impl Into<String>) -> MySqlError {
    MySqlError::Protocol { what: "TABLE_MAP event", reason: reason.into() }
}

/// Parses the table id and names; `id_size` is 6 (4 for pre-5.1 servers).
pub(crate) fn parse_header(body: &[u8], id_size: usize) -> Result<(TableMapHeader, Reader<'_>), MySqlError> {
    let mut reader = Reader::new(body);
    let table_id = reader.uint_le(id_size).map_err(truncated)?;
    reader.skip(2).map_err(truncated)?;
    let name = |reader: &mut Reader<'_>| -> Result<String, MySqlError> {
        let len = reader.u8().map_err(truncated)? as usize;
        let bytes = reader.take(len).map_err(truncated)?;
        reader.skip(1).map_err(truncated)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| invalid("a schema or table name is not UTF-8"))
    };
    let schema = name(&mut reader)?;
    let table = name(&mut reader)?;
    Ok((TableMapHeader { table_id, schema, table }, reader))
}

/// Parses a whole TABLE_MAP body.
pub(crate) fn parse(body: &[u8], id_size: usize) -> Result<TableMap, MySqlError> {
    let (header, mut reader) = parse_header(body, id_size)?;
    let count = reader.lenenc_count(1).map_err(truncated)?;
    let types = reader.take(count).map_err(truncated)?;
    let mut metadata = Reader::new(reader.lenenc_bytes().map_err(truncated)?);
    let null_bitmap = reader.take(count.div_ceil(8)).map_err(truncated)?;
    let mut columns = Vec::with_capacity(count);
    for (i, &column_type) in types.iter().enumerate() {
        let (column_type, meta) = column_metadata(column_type, &mut metadata)?;
        columns.push(MapColumn {
            column_type,
            meta,
            nullable: null_bitmap[i / 8] & (1 << (i % 8)) != 0,
            name: None,
            unsigned: false,
            collation: None,
            labels: None,
        });
    }
    let mut map = TableMap { header, columns, primary_key: None, has_names: false };
    while !reader.is_empty() {
        let field_type = reader.u8().map_err(truncated)?;
        let value = reader.lenenc_bytes().map_err(truncated)?;
        apply_optional_field(&mut map, field_type, value)?;
    }
    Ok(map)
}

/// Reads one column's metadata; returns the real type and the metadata.
fn column_metadata(column_type: u8, metadata: &mut Reader<'_>) -> Result<(u8, [u16; 2]), MySqlError> {
    let byte = |m: &mut Reader<'_>| m.u8().map(u16::from).map_err(truncated);
    Ok(match column_type {
        TYPE_FLOAT
        | TYPE_DOUBLE
        | TYPE_TINY_BLOB..=TYPE_BLOB
        | TYPE_GEOMETRY
        | TYPE_JSON
        | TYPE_VECTOR
        | TYPE_TIME2
        | TYPE_DATETIME2
        | TYPE_TIMESTAMP2
        | TYPE_BLOB_COMPRESSED => (column_type, [byte(metadata)?, 0]),
        TYPE_VARCHAR | TYPE_VARCHAR_COMPRESSED => (column_type, [metadata.u16_le().map_err(truncated)?, 0]),
        TYPE_NEWDECIMAL | TYPE_BIT | TYPE_ENUM | TYPE_SET => (column_type, [byte(metadata)?, byte(metadata)?]),
        TYPE_STRING => {
            let (b0, b1) = (byte(metadata)?, byte(metadata)?);
            match b0 as u8 {
                // ENUM/SET logged as STRING: [real type, pack length], as for the direct types.
                real @ (TYPE_ENUM | TYPE_SET) => (real, [b0, b1]),
                0 => (TYPE_STRING, [b1, 0]),
                // A CHAR longer than 255 bytes: two length bits live in byte 0.
                _ if b0 & 0x30 != 0x30 => ((b0 | 0x30) as u8, [b1 | (((b0 & 0x30) ^ 0x30) << 4), 0]),
                real => (real, [b1, 0]),
            }
        }
        _ => (column_type, [0, 0]),
    })
}

fn is_numeric(column_type: u8) -> bool {
    matches!(
        column_type,
        TYPE_TINY
            | TYPE_SHORT
            | TYPE_INT24
            | TYPE_LONG
            | TYPE_LONGLONG
            | TYPE_NEWDECIMAL
            | TYPE_FLOAT
            | TYPE_DOUBLE
            | TYPE_YEAR
            | TYPE_DECIMAL
    )
}

fn is_character(column_type: u8) -> bool {
    matches!(
        column_type,
        TYPE_STRING | TYPE_VARCHAR | TYPE_TINY_BLOB
            ..=TYPE_BLOB | TYPE_GEOMETRY | TYPE_BLOB_COMPRESSED | TYPE_VARCHAR_COMPRESSED
    )
}

/// Indices of the columns a field refers to.
fn subset(map: &TableMap, filter: fn(u8) -> bool) -> Vec<usize> {
    map.columns.iter().enumerate().filter(|(_, c)| filter(c.column_type)).map(|(i, _)| i).collect()
}

fn apply_optional_field(map: &mut TableMap, field_type: u8, value: &[u8]) -> Result<(), MySqlError> {
    let mut reader = Reader::new(value);
    match field_type {
        SIGNEDNESS => {
            for (n, index) in subset(map, is_numeric).into_iter().enumerate() {
                let byte = value.get(n / 8).ok_or_else(|| invalid("SIGNEDNESS is shorter than the numeric columns"))?;
                map.columns[index].unsigned = byte & (0x80 >> (n % 8)) != 0;
            }
        }
        DEFAULT_CHARSET | COLUMN_CHARSET => assign_charsets(map, field_type == COLUMN_CHARSET, is_character, value)?,
        ENUM_AND_SET_DEFAULT_CHARSET | ENUM_AND_SET_COLUMN_CHARSET => assign_charsets(
            map,
            field_type == ENUM_AND_SET_COLUMN_CHARSET,
            |t| matches!(t, TYPE_ENUM | TYPE_SET),
            value,
        )?,
        COLUMN_NAME => {
            for column in &mut map.columns {
                let name = reader.lenenc_bytes().map_err(truncated)?;
                column.name =
                    Some(String::from_utf8(name.to_vec()).map_err(|_| invalid("a column name is not UTF-8"))?);
            }
            map.has_names = true;
        }
        SET_STR_VALUE | ENUM_STR_VALUE => {
            let wanted = if field_type == SET_STR_VALUE { TYPE_SET } else { TYPE_ENUM };
            let indices: Vec<usize> =
                (0..map.columns.len()).filter(|&i| map.columns[i].column_type == wanted).collect();
            for index in indices {
                let count = reader.lenenc_count(1).map_err(truncated)?;
                let labels = (0..count)
                    .map(|_| reader.lenenc_bytes().map(<[u8]>::to_vec))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(truncated)?;
                map.columns[index].labels = Some(labels);
            }
        }
        SIMPLE_PRIMARY_KEY | PRIMARY_KEY_WITH_PREFIX => {
            let mut key = Vec::new();
            while !reader.is_empty() {
                let index = reader.lenenc().map_err(truncated)? as usize;
                if field_type == PRIMARY_KEY_WITH_PREFIX {
                    reader.lenenc().map_err(truncated)?;
                }
                if index >= map.columns.len() {
                    return Err(invalid("a primary-key column index is out of range"));
                }
                key.push(index);
            }
            map.primary_key = Some(key);
        }
        // GEOMETRY_TYPE, COLUMN_VISIBILITY, VECTOR_DIMENSIONALITY and future fields.
        _ => {}
    }
    Ok(())
}

/// Assigns collations to the columns selected by `filter`: one per column
/// (`per_column`), or a default plus (index within the subset, collation) exceptions.
fn assign_charsets(
    map: &mut TableMap,
    per_column: bool,
    filter: fn(u8) -> bool,
    value: &[u8],
) -> Result<(), MySqlError> {
    let mut reader = Reader::new(value);
    let columns = subset(map, filter);
    let collation = |reader: &mut Reader<'_>| -> Result<u16, MySqlError> {
        u16::try_from(reader.lenenc().map_err(truncated)?).map_err(|_| invalid("a collation id is out of range"))
    };
    if per_column {
        for index in columns {
            map.columns[index].collation = Some(collation(&mut reader)?);
        }
        return Ok(());
    }
    let default = collation(&mut reader)?;
    for &index in &columns {
        map.columns[index].collation = Some(default);
    }
    while !reader.is_empty() {
        let position = reader.lenenc().map_err(truncated)? as usize;
        let id = collation(&mut reader)?;
        let index = *columns.get(position).ok_or_else(|| invalid("a charset exception refers to no column"))?;
        map.columns[index].collation = Some(id);
    }
    Ok(())
}

#[cfg(test)]
#[path = "table_map/tests.rs"]
mod tests;
