//! The offsets table: one row per pipeline (source) holding the source
//! position the target has applied up to, written in the same transaction
//! as the rows — so after any crash the target itself says exactly which
//! source transactions it holds, and the engine resumes after them.
//!
//! ```sql
//! CREATE TABLE sluice.offsets (
//!     pipeline   text PRIMARY KEY,
//!     position   text NOT NULL,        -- Position::encode(), e.g. pg:0/16B3748
//!     updated_at timestamptz NOT NULL
//! );
//! ```
//!
//! Creation checks the catalog first: `CREATE SCHEMA IF NOT EXISTS` checks
//! the database `CREATE` privilege before it looks whether the schema
//! exists, so a role that may only write an existing offsets table must not
//! even try it. Two sinks creating the table at once may race; losing the
//! race (a duplicate-object error) is fine when the table exists afterwards.

use sluice_api::{Position, TableName};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::statements::{quote_ident, quote_table};
use crate::error::PostgresError;

/// Creates the offsets table (and its schema) unless it exists, and checks
/// that this role can read and write it.
pub(super) async fn ensure(client: &Client, table: &TableName) -> Result<(), PostgresError> {
    let exists_sql = "SELECT to_regclass($1) IS NOT NULL, to_regnamespace($2) IS NOT NULL, \
                      current_user::text, current_database()::text";
    let qualified = quote_table(table);
    let schema = quote_ident(&table.schema);
    let context = || format!("checking the offsets table {table}");
    let row =
        client.query_one(exists_sql, &[&qualified, &schema]).await.map_err(|e| PostgresError::query(context(), e))?;
    let (table_exists, schema_exists, role, database): (bool, bool, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if !table_exists {
        let mut sql = String::new();
        if !schema_exists {
            sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; "));
        }
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {qualified} (pipeline text PRIMARY KEY, position text NOT NULL, \
             updated_at timestamptz NOT NULL)"
        ));
        if let Err(error) = client.batch_execute(&sql).await {
            let recheck = client.query_one(exists_sql, &[&qualified, &schema]).await.ok();
            let created_meanwhile = recheck.is_some_and(|row| row.get::<_, bool>(0));
            if !created_meanwhile {
                return Err(creation_error(table, &role, &database, schema_exists, error));
            }
        }
        tracing::info!(table = %table, "created the offsets table");
    }
    let privileges_sql = "SELECT has_table_privilege($1, 'SELECT') AND has_table_privilege($1, 'INSERT') \
                          AND has_table_privilege($1, 'UPDATE')";
    let row = client.query_one(privileges_sql, &[&qualified]).await.map_err(|e| PostgresError::query(context(), e))?;
    if !row.get::<_, bool>(0) {
        return Err(PostgresError::Config {
            setting: format!("offsets table {table}"),
            message: format!(
                "Role {role} cannot read and write the offsets table {table}; run \
                 GRANT USAGE ON SCHEMA {schema} TO {role_ident}; GRANT SELECT, INSERT, UPDATE ON {qualified} TO {role_ident};",
                role_ident = quote_ident(&role)
            ),
        });
    }
    Ok(())
}

fn creation_error(
    table: &TableName,
    role: &str,
    database: &str,
    schema_exists: bool,
    error: tokio_postgres::Error,
) -> PostgresError {
    let qualified = quote_table(table);
    let schema = quote_ident(&table.schema);
    let role_ident = quote_ident(role);
    if error.code() != Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        return PostgresError::query(format!("creating the offsets table {table}"), error);
    }
    let grant = if schema_exists {
        format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role_ident};")
    } else {
        format!("GRANT CREATE ON DATABASE {} TO {role_ident};", quote_ident(database))
    };
    PostgresError::Setup {
        setting: format!("offsets table {table}"),
        message: format!(
            "Role {role} may not create the offsets table {table}; run {grant} or create it yourself: \
             CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE {qualified} (pipeline text PRIMARY KEY, \
             position text NOT NULL, updated_at timestamptz NOT NULL); and grant SELECT, INSERT, UPDATE on it"
        ),
        source: Box::new(error),
    }
}

/// The position recorded for `pipeline`, reading only: `None` when the
/// offsets table or the row does not exist (for `sluice status`, which must
/// not create anything).
pub(crate) async fn read_position(
    client: &Client,
    table: &TableName,
    pipeline: &str,
) -> Result<Option<Position>, PostgresError> {
    let context = || format!("reading the offsets table {table}");
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quote_table(table)])
        .await
        .map_err(|e| PostgresError::query(context(), e))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row =
        client.query_opt(&select_sql(table), &[&pipeline]).await.map_err(|e| PostgresError::query(context(), e))?;
    row.map(|row| parse_stored(table, pipeline, row.get(0))).transpose()
}

pub(super) fn select_sql(table: &TableName) -> String {
    format!("SELECT position FROM {} WHERE pipeline = $1", quote_table(table))
}

pub(super) fn delete_sql(table: &TableName) -> String {
    format!("DELETE FROM {} WHERE pipeline = $1", quote_table(table))
}

pub(super) fn upsert_sql(table: &TableName) -> String {
    format!(
        "INSERT INTO {} (pipeline, position, updated_at) VALUES ($1, $2, now()) \
         ON CONFLICT (pipeline) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at",
        quote_table(table)
    )
}

/// Parses a stored position; an unparsable one is a configuration error
/// naming the table (someone wrote it by hand, or another tool owns the table).
pub(super) fn parse_stored(table: &TableName, pipeline: &str, text: &str) -> Result<Position, PostgresError> {
    Position::decode(text).map_err(|_| PostgresError::Config {
        setting: format!("offsets table {table}"),
        message: format!(
            "The position stored for pipeline {pipeline:?} in {table} is not a Sluice position \
             (expected e.g. pg:0/16B3748); fix or delete that row, or point offsets_table at a table Sluice owns"
        ),
    })
}
