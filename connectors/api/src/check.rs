//! The result types of `sluice check`, shared by every connector: each
//! connector's checks report [`Finding`]s, and the engine prints them the
//! same way whatever the engine behind them.

use std::error::Error;

use crate::schema::{ColumnType, TableName};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The prerequisite holds.
    Ok,
    /// The pipeline runs, but something may fail later, lose precision or need attention.
    Warning,
    /// The pipeline cannot run (or cannot run correctly) until this is fixed.
    Error,
}

/// One result of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// What was checked: `source server`, `slot "sluice_erp"`, `table shop.orders`.
    pub subject: String,
    /// What was found, and why it matters.
    pub message: String,
    /// The SQL or setting change that fixes it, when there is one.
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(subject: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { severity: Severity::Ok, subject: subject.into(), message: message.into(), fix: None }
    }

    pub fn warning(subject: impl Into<String>, message: impl Into<String>, fix: Option<String>) -> Finding {
        Finding { severity: Severity::Warning, subject: subject.into(), message: message.into(), fix }
    }

    pub fn error(subject: impl Into<String>, message: impl Into<String>, fix: Option<String>) -> Finding {
        Finding { severity: Severity::Error, subject: subject.into(), message: message.into(), fix }
    }

    /// A check that could not run: the error and its causes, so the reader
    /// sees the server's reason (never a password: messages carry none).
    pub fn failed(subject: impl Into<String>, what: &str, error: &(dyn Error + 'static)) -> Finding {
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

/// `error: cause: cause …`, skipping a cause whose text the message already holds.
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
