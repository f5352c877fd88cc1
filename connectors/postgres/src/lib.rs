//! Sluice's PostgreSQL connector.
//!
//! - `source/`: logical replication over the streaming replication protocol
//!   (`replication=database`, `START_REPLICATION … LOGICAL` with pgoutput),
//!   built on `postgres-protocol` because tokio-postgres cannot speak it.
//! - `sink/`: idempotent, batched apply into a PostgreSQL target with the
//!   source position written to an offsets table in the same transaction.
//! - `snapshot.rs`: the initial snapshot / backfill reader — key-ordered
//!   chunks by `COPY`, each with the snapshot (read view) it was read in.
//! - `copy_text.rs`: PostgreSQL's `COPY` text format, for the snapshot
//!   reader and the sink's bulk load.
//! - `types.rs`: exact conversion between PostgreSQL's text forms and
//!   Sluice's [`sluice_api::Value`].
//! - `check.rs`: prerequisite checks behind `sluice check`, and slot status
//!   behind `sluice status`.
//! - `connect.rs` / `tls.rs`: connection settings and TLS for both the
//!   ordinary and the replication connection.

mod check;
mod connect;
mod copy_text;
mod error;
mod sink;
mod snapshot;
mod source;
mod tls;
mod types;

pub use check::{Finding, Severity, TargetExpectation, check_source, check_target};
pub use connect::connect;
pub use error::PostgresError;
pub use sink::{
    CopyTextLoad, PostgresSink, PostgresSinkConfig, TargetColumn, TargetTableInfo, describe_target_table, read_position,
};
pub use snapshot::PostgresSnapshotReader;
pub use source::catalog::{describe_source_table, replica_identity};
pub use source::slot::{SlotStatus, drop_publication, drop_slot, slot_status};
pub use source::{PostgresSource, PostgresSourceConfig, resume_position};
pub use types::{TypeError, builtin_column_type, decode_text, encode_text};
