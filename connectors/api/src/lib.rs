//! Sluice's connector API: the change model every connector speaks.
//!
//! Sources (PostgreSQL WAL, MySQL/MariaDB binlog, SQL Server CDC) decode
//! their logs into [`SourceEvent`]s made of [`Change`]s whose cells are
//! [`Value`]s; the engine maps them through routes into [`RowWrite`]s; sinks
//! apply those idempotently and record the [`Position`] in the same target
//! transaction. Errors carry an [`ErrorKind`] that drives the retry policy.

mod change;
mod check;
mod error;
pub mod owned;
mod position;
mod runs;
mod schema;
mod sink;
mod snapshot;
mod source;
mod value;

pub use change::{Change, Operation, Row, RowWrite, SourceEvent, TargetTable, Transaction};
pub use check::{Finding, Severity, TargetExpectation};
pub use error::{ConnectorError, ErrorKind, HasErrorKind};
pub use position::{BinlogPosition, InvalidPosition, Lsn, Position};
pub use runs::{Run, RunKind, runs};
pub use schema::{Column, ColumnType, TableName, TableSchema};
pub use sink::Sink;
pub use snapshot::{ChunkRange, ChunkRead, ReadView, Seen, SnapshotReader};
pub use source::{Source, SourceStream};
pub use value::{
    BitString, CivilDate, Date, Decimal, Interval, InvalidDecimal, TimeOfDay, Timestamp, TimestampTz, Value,
    format_clock,
};
