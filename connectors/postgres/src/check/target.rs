//! Checks of a PostgreSQL target against what the routes will write.
//!
//! For each routed table: it exists (Sluice never creates target tables —
//! their design is the DBA's call); every mapped column exists, is not
//! generated, and has a type that can hold the source column's values (see
//! `compat`); the route's key columns carry a primary key or unique
//! constraint (upserts are `INSERT … ON CONFLICT (key)`, which needs one);
//! every `NOT NULL` column without a default is filled by some mapped
//! column; and the role may `SELECT`, `INSERT`, `UPDATE`, `DELETE` (and
//! `TRUNCATE`, to replicate truncates). Then the offsets table: present and
//! writable, or creatable on the first run.

use sluice_api::TableName;
use tokio_postgres::Client;

use super::compat::{Compatibility, compatibility, name_of, suggested_postgres_type};
use super::{Finding, TargetExpectation};
use crate::sink::{TargetTableInfo, describe, quote_ident, quote_table};

const SERVER: &str = "target server";

/// Runs every target check; see the module documentation.
pub async fn check_target(url: &str, offsets_table: &TableName, expectations: &[TargetExpectation]) -> Vec<Finding> {
    let client = match crate::connect::connect(url).await {
        Ok(client) => client,
        Err(error) => return vec![Finding::failed(SERVER, "connect to the target", &error)],
    };
    let role = match client.query_one("SELECT current_user::text, current_database()::text", &[]).await {
        Ok(row) => Role { name: row.get(0), database: row.get(1) },
        Err(error) => return vec![Finding::failed(SERVER, "identify the role", &error)],
    };
    let mut findings = Vec::new();
    for expectation in expectations {
        findings.extend(table_findings(&client, &role, expectation).await);
    }
    findings.extend(offsets_findings(&client, &role, offsets_table).await);
    findings
}

struct Role {
    name: String,
    database: String,
}

async fn table_findings(client: &Client, role: &Role, expectation: &TargetExpectation) -> Vec<Finding> {
    let table = &expectation.table;
    let subject = format!("target table {table}");
    let info = match describe(client, table).await {
        Ok(Some(described)) => described.info,
        Ok(None) => {
            let columns: Vec<&str> = expectation.columns.iter().map(|(name, _)| name.as_str()).collect();
            return vec![Finding::error(
                subject,
                format!(
                    "Table {table} does not exist in database {}; create it (Sluice does not create target tables) \
                     with the columns {}",
                    role.database,
                    columns.join(", ")
                ),
                None,
            )];
        }
        Err(error) => return vec![Finding::failed(subject, "describe the table", &error)],
    };
    let mut findings = Vec::new();
    findings.extend(column_findings(&info, expectation));
    findings.extend(key_finding(&info, expectation));
    findings.extend(not_null_findings(&info, expectation));
    findings.extend(privilege_findings(client, role, table).await);
    if findings.is_empty() {
        findings.push(Finding::ok(
            subject,
            format!("{} mapped columns, key ({}), writable", expectation.columns.len(), expectation.key.join(", ")),
        ));
    }
    findings
}

fn column_findings(info: &TargetTableInfo, expectation: &TargetExpectation) -> Vec<Finding> {
    let table = &info.name;
    let quoted = quote_table(table);
    let mut findings = Vec::new();
    for (name, source_type) in &expectation.columns {
        let subject = format!("target column {table}.{name}");
        let Some(column) = info.column(name) else {
            let suggested = source_type.as_ref().map_or_else(|| "<type>".to_owned(), suggested_postgres_type);
            findings.push(Finding::error(
                subject,
                format!("Column {name:?} does not exist in {table}; add it or fix the route's column mapping"),
                Some(format!("ALTER TABLE {quoted} ADD COLUMN {} {suggested};", quote_ident(name))),
            ));
            continue;
        };
        if column.generated {
            findings.push(Finding::error(
                subject,
                format!("Column {name:?} is generated and cannot be written; leave it out of the route"),
                Some(format!("ALTER TABLE {quoted} ALTER COLUMN {} DROP EXPRESSION;", quote_ident(name))),
            ));
            continue;
        }
        let Some(source_type) = source_type else {
            continue;
        };
        let alter = Some(format!(
            "ALTER TABLE {quoted} ALTER COLUMN {} TYPE {};",
            quote_ident(name),
            suggested_postgres_type(source_type)
        ));
        match compatibility(source_type, &column.column_type) {
            Compatibility::Compatible => {}
            Compatibility::Lossy(reason) => findings.push(Finding::warning(
                subject,
                format!("Source type {} into {}: {reason}", name_of(source_type), column.type_name),
                alter,
            )),
            Compatibility::Incompatible(reason) => findings.push(Finding::error(
                subject,
                format!("Source type {} into {}: {reason}", name_of(source_type), column.type_name),
                alter,
            )),
        }
    }
    findings
}

fn key_finding(info: &TargetTableInfo, expectation: &TargetExpectation) -> Option<Finding> {
    let table = &info.name;
    if expectation.key.is_empty() {
        return Some(Finding::error(
            format!("target table {table}"),
            "The route has no key columns; upserts and deletes need one",
            None,
        ));
    }
    if info.has_unique_key(&expectation.key) {
        return None;
    }
    let quoted: Vec<String> = expectation.key.iter().map(|k| quote_ident(k)).collect();
    Some(Finding::error(
        format!("target table {table}"),
        format!(
            "No primary key or unique constraint on ({}); upserts (INSERT … ON CONFLICT) need one on exactly the \
             route's key columns (not partial, not deferrable)",
            expectation.key.join(", ")
        ),
        Some(format!("ALTER TABLE {} ADD PRIMARY KEY ({});", quote_table(table), quoted.join(", "))),
    ))
}

fn not_null_findings(info: &TargetTableInfo, expectation: &TargetExpectation) -> Vec<Finding> {
    let table = &info.name;
    info.columns
        .iter()
        .filter(|c| !c.nullable && !c.has_default && !c.generated)
        .filter(|c| !expectation.columns.iter().any(|(name, _)| name == &c.name))
        .map(|c| {
            Finding::error(
                format!("target column {table}.{}", c.name),
                format!(
                    "Column {:?} is NOT NULL without a default and no source column is mapped to it: every insert \
                     would fail",
                    c.name
                ),
                Some(format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL; -- or SET DEFAULT …, or map a source column to it",
                    quote_table(table),
                    quote_ident(&c.name)
                )),
            )
        })
        .collect()
}

async fn privilege_findings(client: &Client, role: &Role, table: &TableName) -> Vec<Finding> {
    let subject = format!("target table {table}");
    let quoted = quote_table(table);
    let row = match client
        .query_one(
            "SELECT has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'INSERT'), \
                    has_table_privilege($1, 'UPDATE'), has_table_privilege($1, 'DELETE'), \
                    has_table_privilege($1, 'TRUNCATE')",
            &[&quoted],
        )
        .await
    {
        Ok(row) => row,
        Err(error) => return vec![Finding::failed(subject, "check privileges", &error)],
    };
    let names = ["SELECT", "INSERT", "UPDATE", "DELETE"];
    let missing: Vec<&str> =
        names.iter().enumerate().filter(|(i, _)| !row.get::<_, bool>(*i)).map(|(_, n)| *n).collect();
    let mut findings = Vec::new();
    if !missing.is_empty() {
        findings.push(Finding::error(
            &subject,
            format!("Role {} lacks {} on the table; upserts and deletes need all four", role.name, missing.join(", ")),
            Some(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {quoted} TO {};", quote_ident(&role.name))),
        ));
    }
    if !row.get::<_, bool>(4) {
        findings.push(Finding::warning(
            &subject,
            format!("Role {} lacks TRUNCATE on the table; a replicated TRUNCATE would fail", role.name),
            Some(format!("GRANT TRUNCATE ON {quoted} TO {};", quote_ident(&role.name))),
        ));
    }
    findings
}

async fn offsets_findings(client: &Client, role: &Role, table: &TableName) -> Vec<Finding> {
    let subject = format!("offsets table {table}");
    let quoted = quote_table(table);
    let schema = quote_ident(&table.schema);
    let role_ident = quote_ident(&role.name);
    let row = match client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL, to_regnamespace($2) IS NOT NULL, \
                    has_database_privilege(current_database(), 'CREATE')",
            &[&quoted, &schema],
        )
        .await
    {
        Ok(row) => row,
        Err(error) => return vec![Finding::failed(subject, "look up the offsets table", &error)],
    };
    let (table_exists, schema_exists, may_create_schema): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    let privileges = if table_exists {
        let sql = "SELECT has_table_privilege($1, 'SELECT') AND has_table_privilege($1, 'INSERT') \
                   AND has_table_privilege($1, 'UPDATE')";
        Some((sql, quoted.as_str()))
    } else if schema_exists {
        Some(("SELECT has_schema_privilege($1, 'USAGE') AND has_schema_privilege($1, 'CREATE')", table.schema.as_str()))
    } else {
        None
    };
    let allowed = match privileges {
        None => may_create_schema,
        Some((sql, object)) => match client.query_one(sql, &[&object]).await {
            Ok(row) => row.get::<_, bool>(0),
            Err(error) => return vec![Finding::failed(subject, "check privileges on the offsets table", &error)],
        },
    };
    let create_sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE {quoted} (pipeline text PRIMARY KEY, position text NOT NULL, \
         updated_at timestamptz NOT NULL); GRANT SELECT, INSERT, UPDATE ON {quoted} TO {role_ident};"
    );
    match (table_exists, schema_exists, allowed) {
        (true, _, true) => vec![Finding::ok(subject, "Exists and is writable")],
        (true, _, false) => vec![Finding::error(
            subject,
            format!("Role {} cannot read and write the offsets table", role.name),
            Some(format!(
                "GRANT USAGE ON SCHEMA {schema} TO {role_ident}; GRANT SELECT, INSERT, UPDATE ON {quoted} TO {role_ident};"
            )),
        )],
        (false, _, true) => vec![Finding::ok(subject, "Does not exist yet; Sluice creates it on the first run")],
        (false, true, false) => vec![Finding::error(
            subject,
            format!("Does not exist, and role {} may not create tables in schema {}", role.name, table.schema),
            Some(format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role_ident}; -- or as a DBA: {create_sql}")),
        )],
        (false, false, false) => vec![Finding::error(
            subject,
            format!("Does not exist, and role {} may not create schema {}", role.name, table.schema),
            Some(format!(
                "GRANT CREATE ON DATABASE {} TO {role_ident}; -- or as a DBA: {create_sql}",
                quote_ident(&role.database)
            )),
        )],
    }
}
