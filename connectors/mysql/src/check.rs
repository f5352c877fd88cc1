//! Prerequisite checks behind `sluice check`: everything a MySQL/MariaDB
//! source or target must provide before a pipeline can run, each reported
//! as a [`Finding`] with the SQL or setting that fixes it.
//!
//! The checks only read (server variables, `SHOW GRANTS`, `SHOW BINARY
//! LOGS`, `information_schema`, and one non-blocking binlog read to date a
//! binlog file); nothing is created. A failed connection or a query that
//! cannot run is itself a finding, so one call always returns a complete
//! report instead of stopping at the first problem. `source` checks a
//! binlog source (binlog settings, privileges, server id, retention against
//! a checkpoint, tables); `target` checks a sink's target tables against
//! the routes' expectations, privileges and the offsets table; `compat` is
//! the source-to-target type compatibility matrix. The result types
//! are `sluice_api`'s, shared with every connector.

mod binlog_age;
mod compat;
mod source;
mod target;

pub use sluice_api::{Finding, Severity, TargetExpectation};

pub use source::check_source;
pub use target::check_target;

/// The server error code of a driver error, if it is one.
fn server_code(error: &mysql_async::Error) -> Option<u16> {
    match error {
        mysql_async::Error::Server(server) => Some(server.code),
        _ => None,
    }
}
