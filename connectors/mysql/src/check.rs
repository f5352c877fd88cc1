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
//! the source-to-target type compatibility matrix. The types mirror
//! `sluice_postgres`'s (same shape); the engine converts them.

mod binlog_age;
mod compat;
mod source;
mod target;

use std::error::Error;

use sluice_api::{ColumnType, TableName};

pub use source::check_source;
pub use target::check_target;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The prerequisite holds.
    Ok,
    /// The pipeline runs, but something may fail later or need attention.
    Warning,
    /// The pipeline cannot run (or cannot run correctly) until this is fixed.
    Error,
}

/// One result of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// What was checked: `source server`, `binlog`, `table shop.orders`.
    pub subject: String,
    /// What was found, and why it matters.
    pub message: String,
    /// The SQL or setting change that fixes it, when there is one.
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn ok(subject: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { severity: Severity::Ok, subject: subject.into(), message: message.into(), fix: None }
    }

    pub(crate) fn warning(subject: impl Into<String>, message: impl Into<String>, fix: Option<String>) -> Finding {
        Finding { severity: Severity::Warning, subject: subject.into(), message: message.into(), fix }
    }

    pub(crate) fn error(subject: impl Into<String>, message: impl Into<String>, fix: Option<String>) -> Finding {
        Finding { severity: Severity::Error, subject: subject.into(), message: message.into(), fix }
    }

    /// A check that could not run: the error and its causes, so the reader
    /// sees the server's reason (never a password: messages carry none).
    pub(crate) fn failed(subject: impl Into<String>, what: &str, error: &(dyn Error + 'static)) -> Finding {
        Finding::error(subject, format!("Could not {what}: {}", error_chain(error)), None)
    }
}

/// What a route expects of one target table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetExpectation {
    pub table: TableName,
    /// Target column names with the source column's type, when known.
    pub columns: Vec<(String, Option<ColumnType>)>,
    /// The target columns rows are upserted and deleted by.
    pub key: Vec<String>,
}

/// `error: cause: cause …`.
fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The server error code of a driver error, if it is one.
fn server_code(error: &mysql_async::Error) -> Option<u16> {
    match error {
        mysql_async::Error::Server(server) => Some(server.code),
        _ => None,
    }
}
