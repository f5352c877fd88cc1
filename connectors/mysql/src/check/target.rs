//! Target checks: what a MySQL/MariaDB target must provide for the sink.
//!
//! Per routed table: it exists as a table of a transactional engine, has
//! every routed column (none generated) with a type that can take the
//! source's values (`compat`), a primary key or unique NOT NULL key equal to
//! the route's key, no NOT NULL column without a default left out of the
//! route (inserts would fail), and the account holds SELECT, INSERT, UPDATE
//! and DELETE on it. Other unique keys are reported: upserts into such a
//! table are guarded and stop the pipeline on a conflict (see the sink).
//! Then the offsets table: usable if it exists, or creatable.
//!
//! Privileges are read from `information_schema` (`USER_PRIVILEGES`,
//! `SCHEMA_PRIVILEGES`, `TABLE_PRIVILEGES`), which show the current
//! account's grants; privileges that come through a role are not visible
//! there, so with a role active a missing privilege is only a warning.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::TableName;

use super::compat::compatibility;
use super::{Finding, Severity, TargetExpectation};
use crate::connect::{ConnectSettings, ServerFlavor};
use crate::error::MySqlError;
use crate::sink::{DescribedTable, describe, quote_ident, quote_table};

const SERVER: &str = "target server";

const PRIVILEGES_SQL: &str = "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? \
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND ? LIKE TABLE_SCHEMA \
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES \
       WHERE GRANTEE = ? AND TABLE_SCHEMA = ? AND TABLE_NAME = ?";

const WRITE_PRIVILEGES: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE"];

/// The account as `information_schema` names grantees, and whether a role is active.
struct Account {
    grantee: String,
    role_active: bool,
}

/// Checks a target for routes with `expectations` and the offsets table
/// (same argument order as `sluice_postgres::check_target`).
pub async fn check_target(url: &str, offsets_table: &TableName, expectations: &[TargetExpectation]) -> Vec<Finding> {
    let settings = match ConnectSettings::parse(url) {
        Ok(settings) => settings,
        Err(error) => return vec![Finding::failed(SERVER, "read the target URL", &error)],
    };
    let mut conn = match settings.connect_with(&|builder| builder).await {
        Ok(conn) => conn,
        Err(error) => return vec![Finding::failed(SERVER, "connect to the target", &error)],
    };
    let mut findings = Vec::new();
    let flavor = match ServerFlavor::detect(&mut conn).await {
        Ok(flavor) => {
            let (major, minor, patch) = flavor.version;
            findings.push(Finding::ok(SERVER, format!("{} {major}.{minor}.{patch}", flavor.name())));
            flavor
        }
        Err(error) => return vec![Finding::failed(SERVER, "read the server version", &error)],
    };
    let account = match account(&mut conn).await {
        Ok(account) => account,
        Err(error) => {
            findings.push(Finding::failed(SERVER, "read the current account", &error));
            return findings;
        }
    };
    for expectation in expectations {
        target_table(&mut conn, &flavor, &account, expectation, &mut findings).await;
    }
    offsets(&mut conn, &flavor, &account, offsets_table, &mut findings).await;
    let _ = conn.disconnect().await;
    findings
}

async fn account(conn: &mut Conn) -> Result<Account, MySqlError> {
    let row: Option<(String, Option<String>)> = conn
        .query_first("SELECT CURRENT_USER(), CURRENT_ROLE()")
        .await
        .map_err(|e| MySqlError::driver("reading the current account", e))?;
    let (user, role) = row.unwrap_or_default();
    let grantee = match user.rsplit_once('@') {
        Some((name, host)) => format!("'{name}'@'{host}'"),
        None => user,
    };
    Ok(Account { grantee, role_active: role.is_some_and(|r| !r.is_empty() && r != "NONE") })
}

/// The privileges the account holds on `table` (global, database or table level).
async fn privileges_on(conn: &mut Conn, account: &Account, table: &TableName) -> Result<Vec<String>, MySqlError> {
    let g = account.grantee.as_str();
    let params = (g, g, table.schema.as_str(), g, table.schema.as_str(), table.name.as_str());
    conn.exec(PRIVILEGES_SQL, params).await.map_err(|e| MySqlError::driver(format!("reading privileges on {table}"), e))
}

/// Findings for missing `needed` privileges on `table`.
async fn check_privileges(
    conn: &mut Conn,
    account: &Account,
    table: &TableName,
    needed: &[&str],
    subject: &str,
    findings: &mut Vec<Finding>,
) -> bool {
    let held = match privileges_on(conn, account, table).await {
        Ok(held) => held,
        Err(error) => {
            findings.push(Finding::failed(subject, "read the account's privileges", &error));
            return false;
        }
    };
    let missing: Vec<&str> = needed.iter().copied().filter(|p| !held.iter().any(|h| h == p)).collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("{} lacks {} on {table}", account.grantee, missing.join(", "));
    let fix = Some(format!(
        "GRANT {} ON {}.{} TO {};",
        missing.join(", "),
        quote_ident(&table.schema),
        quote_ident(&table.name),
        account.grantee
    ));
    if account.role_active {
        findings.push(Finding::warning(subject, format!("{message} (unless the active role grants it)"), fix));
    } else {
        findings.push(Finding::error(subject, message, fix));
    }
    false
}

fn table_problems(table: &TableName, described: &DescribedTable) -> Option<(String, String)> {
    if !described.is_table() {
        return Some((
            format!("{table} is a {}, not a table", described.table_type.to_lowercase()),
            "Route to a base table".into(),
        ));
    }
    if !described.is_transactional() {
        return Some((
            format!(
                "{table} uses the {} engine, which is not transactional: rows and positions could not commit together",
                described.engine.as_deref().unwrap_or("unknown")
            ),
            format!("ALTER TABLE {} ENGINE=InnoDB;", quote_table(table)),
        ));
    }
    None
}

async fn target_table(
    conn: &mut Conn,
    flavor: &ServerFlavor,
    account: &Account,
    expectation: &TargetExpectation,
    findings: &mut Vec<Finding>,
) {
    let table = &expectation.table;
    let subject = format!("table {table}");
    let described = match describe(conn, flavor, table).await {
        Ok(Some(described)) => described,
        Ok(None) => {
            let columns: Vec<String> = expectation.columns.iter().map(|(name, _)| quote_ident(name)).collect();
            findings.push(Finding::error(
                subject,
                format!("Target table {table} does not exist"),
                Some(format!(
                    "CREATE TABLE {} ({} …, PRIMARY KEY (…)) ENGINE=InnoDB;",
                    quote_table(table),
                    columns.join(" …, ")
                )),
            ));
            return;
        }
        Err(error) => {
            findings.push(Finding::failed(subject, "describe the table", &error));
            return;
        }
    };
    let before = findings.len();
    if let Some((message, fix)) = table_problems(table, &described) {
        findings.push(Finding::error(subject.clone(), message, Some(fix)));
    }
    let info = &described.info;
    for (name, source_type) in &expectation.columns {
        let column_subject = format!("column {table}.{name}");
        let Some(column) =
            info.column(name).or_else(|| info.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
        else {
            findings.push(Finding::error(
                column_subject,
                format!("Target table {table} has no column {name:?}"),
                Some(format!("ALTER TABLE {} ADD COLUMN {} …;", quote_table(table), quote_ident(name))),
            ));
            continue;
        };
        if column.generated {
            findings.push(Finding::error(
                column_subject,
                "The column is generated and cannot be written",
                Some("Leave it out of the route's columns".into()),
            ));
            continue;
        }
        if let Some(source_type) = source_type {
            match compatibility(source_type, column) {
                (Severity::Ok, _) => {}
                (Severity::Warning, message) => findings.push(Finding::warning(column_subject, message, None)),
                (Severity::Error, message) => findings.push(Finding::error(
                    column_subject,
                    message,
                    Some("Change the column's type, or map the column to another one".into()),
                )),
            }
        }
    }
    for column in &info.columns {
        let routed = expectation.columns.iter().any(|(name, _)| name.eq_ignore_ascii_case(&column.name));
        if !routed && !column.nullable && !column.has_default && !column.generated {
            findings.push(Finding::error(
                format!("column {table}.{}", column.name),
                "The column is NOT NULL without a default and not routed: inserts would fail",
                Some(format!(
                    "Route a source column into it, or ALTER TABLE {} ALTER COLUMN {} SET DEFAULT …;",
                    quote_table(table),
                    quote_ident(&column.name)
                )),
            ));
        }
    }
    let key: Vec<String> = expectation
        .key
        .iter()
        .map(|k| info.columns.iter().find(|c| c.name.eq_ignore_ascii_case(k)).map_or(k.clone(), |c| c.name.clone()))
        .collect();
    if !info.has_unique_key(&key) {
        let quoted: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
        findings.push(Finding::error(
            subject.clone(),
            format!("{table} has no primary key or unique key of NOT NULL columns on ({})", key.join(", ")),
            Some(format!("ALTER TABLE {} ADD PRIMARY KEY ({});", quote_table(table), quoted.join(", "))),
        ));
    } else {
        let others: Vec<String> = described
            .unique_indexes
            .iter()
            .filter(|index| {
                index.prefix
                    || index.columns.len() != key.len()
                    || index.columns.iter().any(|c| c.as_ref().is_none_or(|c| !key.contains(c)))
            })
            .map(|index| index.label())
            .collect();
        if !others.is_empty() {
            findings.push(Finding::warning(
                subject.clone(),
                format!(
                    "{table} has unique keys besides the route key: {}. Upserts are guarded: a row that \
                     conflicts with a different row on one of them stops the pipeline instead of overwriting it",
                    others.join(", ")
                ),
                None,
            ));
        }
    }
    let privileged = check_privileges(conn, account, table, WRITE_PRIVILEGES, &subject, findings).await;
    if privileged && findings[before..].iter().all(|f| f.severity != Severity::Error) {
        findings.push(Finding::ok(subject, "exists with the routed columns and key, and is writable"));
    }
}

async fn offsets(
    conn: &mut Conn,
    flavor: &ServerFlavor,
    account: &Account,
    table: &TableName,
    findings: &mut Vec<Finding>,
) {
    let subject = format!("offsets table {table}");
    match describe(conn, flavor, table).await {
        Ok(Some(described)) => {
            if let Some((message, fix)) = table_problems(table, &described) {
                findings.push(Finding::error(subject, message, Some(fix)));
                return;
            }
            if check_privileges(conn, account, table, WRITE_PRIVILEGES, &subject, findings).await {
                findings.push(Finding::ok(subject, "exists and is writable"));
            }
        }
        Ok(None) => {
            let needed = ["CREATE", "SELECT", "INSERT", "UPDATE", "DELETE"];
            if check_privileges(conn, account, table, &needed, &subject, findings).await {
                findings.push(Finding::ok(subject, "does not exist yet; the sink will create it"));
            }
        }
        Err(error) => findings.push(Finding::failed(subject, "describe the offsets table", &error)),
    }
}
