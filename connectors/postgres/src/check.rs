//! Prerequisite checks behind `sluice check`: everything a source or a
//! target must provide before a pipeline can run, each reported as a
//! [`Finding`] with the SQL or setting that fixes it.
//!
//! The checks only read (catalog queries, `current_setting`, privilege
//! functions); nothing is created. A failed connection or a query that
//! cannot run is itself a finding, so one call always returns a complete
//! report instead of stopping at the first problem. `source` checks a
//! replication source (server version, `wal_level`, role, slots and
//! senders, publication, slot, tables); `target` checks a sink's target
//! tables against the routes' expectations and the offsets table;
//! `compat` is the source-to-target type compatibility matrix.

mod compat;
mod source;
mod target;

pub use sluice_api::{Finding, Severity, TargetExpectation};

pub use source::check_source;
pub use target::check_target;
