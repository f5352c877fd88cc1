//! Exact conversion of Sluice's values into parameters for a MySQL/MariaDB
//! target column (the encode side; decoding binlog rows lives in `source/`).
//!
//! The sink binds every value as a prepared-statement parameter
//! (`mysql_async::Value`), chosen for the *target column's* type: the column
//! decides, because MySQL converts silently where Sluice must not. A value
//! is either written so that it reads back exactly, or refused with a reason
//! (the caller adds table and column; the reason never contains the value).
//! What the server would round, truncate, clip or reinterpret is checked
//! here first:
//! - integers against the column's range (including `BIGINT UNSIGNED` up to
//!   18446744073709551615), decimals against precision and scale (MySQL
//!   rounds surplus fraction digits with only a note, even in strict mode),
//!   floats for exact representability; NaN and infinities are refused
//!   (neither DECIMAL nor FLOAT/DOUBLE holds them); FLOAT(M,D) and
//!   DOUBLE(M,D) take a number only when the server's rounding to D
//!   decimals leaves it unchanged (`numeric::to_scaled_float`);
//! - dates and times against the types' ranges (DATE/DATETIME years
//!   1000–9999, TIMESTAMP 1970-01-01 00:00:01 to 2038-01-19 03:14:07.999999
//!   UTC, TIME ±838:59:59) and fractional digits against the column's `fsp`
//!   (MySQL rounds, MariaDB truncates: both silently). MySQL zero dates
//!   (`0000-00-00`, `2024-00-10`) are written as they are, for MySQL-to-MySQL
//!   pipelines: the session's `sql_mode` leaves out `NO_ZERO_DATE`;
//! - text against the column's character set (see `text`): the connection
//!   speaks utf8mb4 and the server converts to the column's charset; in
//!   strict mode a character the charset lacks is an error (1366), which is
//!   exact, and Sluice checks the common charsets itself first to refuse
//!   with a clean message;
//! - ENUM and SET labels must match a declared label byte for byte (MySQL
//!   would match case-insensitively and store the declared spelling).
//!
//! Instants (`TimestampTz`) are written as UTC: the sink's session runs with
//! `time_zone='+00:00'`, so a TIMESTAMP column stores exactly that instant
//! and a DATETIME column gets the UTC wall-clock time. A `Timestamp` without
//! zone written into a TIMESTAMP column is taken as UTC likewise.
//!
//! Submodules: `kind` (the target column classified once), `numeric`,
//! `temporal`, `text` (charsets, text forms, JSON for arrays); `proptests`.

mod kind;
mod numeric;
#[cfg(test)]
mod proptests;
mod temporal;
mod text;

use std::fmt;

use mysql_async::Value as Param;
use sluice_api::Value;

pub(crate) use kind::{ColumnKind, GEOMETRY_TYPES};
pub(crate) use text::{parse_uuid, uuid_text};

use crate::sink::TargetColumn;

/// Why a value cannot be written to a column; the caller adds table and
/// column. The message never contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError(pub(crate) String);

impl TypeError {
    pub(crate) fn new(reason: impl Into<String>) -> TypeError {
        TypeError(reason.into())
    }

    /// The reason, without the value.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TypeError {}

/// Encodes `value` as a parameter for `column` (as `describe_table` reports
/// it), exactly or not at all.
pub fn encode_value(value: &Value, column: &TargetColumn) -> Result<Param, TypeError> {
    encode(value, &ColumnKind::of(column), column.nullable)
}

/// [`encode_value`] with the column already classified.
pub(crate) fn encode(value: &Value, kind: &ColumnKind, nullable: bool) -> Result<Param, TypeError> {
    match value {
        Value::Null if nullable => return Ok(Param::NULL),
        Value::Null => {
            return Err(TypeError::new(
                "NULL for a NOT NULL column (MySQL would substitute a default or an auto value); \
                 make the column nullable or fix the route",
            ));
        }
        Value::Unchanged => {
            return Err(TypeError::new("an unchanged (not captured) value cannot be written; this is a Sluice bug"));
        }
        _ => {}
    }
    match kind {
        ColumnKind::Int { min, max } => numeric::to_int(value, *min, *max, kind),
        ColumnKind::Decimal { precision, scale } => numeric::to_decimal(value, *precision, *scale),
        ColumnKind::Float32 => numeric::to_float32(value),
        ColumnKind::Float64 => numeric::to_float64(value),
        ColumnKind::ScaledFloat { double, precision, scale, unsigned } => {
            numeric::to_scaled_float(value, *double, *precision, *scale, *unsigned)
        }
        ColumnKind::Bit { len } => numeric::to_bit(value, *len),
        ColumnKind::Text { charset, max_chars } => text::to_text(value, charset.as_deref(), *max_chars),
        ColumnKind::Json => text::to_json(value),
        ColumnKind::Binary { fixed, max_len } => text::to_binary(value, *fixed, *max_len),
        ColumnKind::Date => temporal::to_date(value),
        ColumnKind::DateTime { fsp } => temporal::to_datetime(value, *fsp),
        ColumnKind::Timestamp { fsp } => temporal::to_timestamp(value, *fsp),
        ColumnKind::Time { fsp } => temporal::to_time(value, *fsp),
        ColumnKind::Year => temporal::to_year(value),
        ColumnKind::Enum { labels } => text::to_enum(value, labels),
        ColumnKind::Set { labels } => text::to_set(value, labels),
        ColumnKind::Uuid => text::to_uuid(value),
        ColumnKind::Inet => text::to_inet(value),
        ColumnKind::Geometry => match value {
            // MySQL's internal geometry format (SRID + WKB), as a MySQL
            // source delivers it; the server validates it.
            Value::Bytes(bytes) => Ok(Param::Bytes(bytes.clone())),
            other => Err(mismatch(other, kind)),
        },
        ColumnKind::Other { .. } => Err(mismatch(value, kind)),
    }
}

/// The refusal for a value kind the column cannot take at all.
pub(crate) fn mismatch(value: &Value, kind: &ColumnKind) -> TypeError {
    TypeError::new(format!("values of kind {} cannot be written into a {} column", value.kind_name(), kind.describe()))
}
