//! Sluice's MySQL/MariaDB connector.
//!
//! - `source/`: the binlog, read with mysql_async's binlog stream (file/position
//!   and GTID positions, MariaDB's own events parsed from their raw bytes).
//! - `snapshot/`: key-ordered chunk reads of source tables for the initial
//!   snapshot and backfills, each with the binlog transactions it saw.
//! - `sink/`: idempotent, batched apply into a MySQL/MariaDB target with the
//!   source position written to an offsets table in the same transaction
//!   (and a bulk `INSERT` path for snapshot chunks).
//! - `types.rs`: exact conversion between MySQL values and Sluice's values.
//! - `check.rs`: prerequisite checks behind `sluice check`.

mod check;
mod connect;
mod error;
mod sink;
mod snapshot;
mod source;
mod types;

pub use check::{Finding, Severity, TargetExpectation, check_source, check_target};
pub use connect::connect;
pub use error::MySqlError;
pub use sink::{MySqlSink, MySqlSinkConfig, TargetColumn, TargetTableInfo, describe_target_table, read_position};
pub use snapshot::MySqlSnapshotReader;
pub use source::{
    BinlogStatus, Flavor, MySqlSource, MySqlSourceConfig, binlog_status, describe_source_table, resume_position,
};
pub use types::{TypeError, encode_value};
