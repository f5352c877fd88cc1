//! `check_source` and `check_target` against real MariaDB servers: what is
//! right is reported `Ok`, what is wrong is an `Error` (or a `Warning`) with
//! the fix.

mod source;
mod target;

use sluice_mysql::{Finding, Severity};

/// The findings of `severity` about `subject` (a prefix).
pub fn about<'a>(findings: &'a [Finding], severity: Severity, subject: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.severity == severity && f.subject.starts_with(subject)).collect()
}

pub fn errors(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.severity == Severity::Error).collect()
}
