//! The tables Sluice owns in a PostgreSQL target besides the offsets table:
//! the crosswalk and the dead letters (what they hold is in
//! [`sluice_api::owned`]), created when missing by
//! [`PostgresSink::ensure_owned_tables`]. With the default names:
//!
//! ```sql
//! CREATE TABLE sluice.crosswalk (
//!     name text NOT NULL, source_key text NOT NULL, target_key text NOT NULL,
//!     created_at timestamptz NOT NULL DEFAULT now(),
//!     PRIMARY KEY (name, source_key));
//! CREATE TABLE sluice.dead_letters (
//!     pipeline text NOT NULL, route text NOT NULL, source_key text NOT NULL, seq text NOT NULL,
//!     source_table text NOT NULL, operation text NOT NULL, position text NOT NULL,
//!     error text NOT NULL, change text NOT NULL,
//!     recorded_at timestamptz NOT NULL DEFAULT now(),
//!     PRIMARY KEY (route, source_key, seq));
//! CREATE INDEX dead_letters_pipeline_idx ON sluice.dead_letters (pipeline);
//! ```
//!
//! The column lists and keys come from `sluice_api::owned`, so the tables
//! are exactly what the engine writes; the time columns are filled by their
//! default (the engine never writes them).
//!
//! Creation takes the offsets table's care (see `offsets`): the catalog is
//! checked first, because `CREATE SCHEMA IF NOT EXISTS` needs the database's
//! `CREATE` privilege even when the schema exists; a table and its index are
//! created in one implicit transaction; losing a creation race to another
//! sink is fine when the table exists afterwards; a role that may not create
//! them gets an error naming the grant to run, or the statements to run as
//! a role that may. Then each table is checked as the write path checks a
//! route's target (its columns and key, through `resolve`), and for the
//! privileges the engine's writes need. DDL, so only outside a target
//! transaction.

use std::sync::Arc;

use sluice_api::owned::{CROSSWALK, DEAD_LETTERS, OwnedShape as Shape, OwnedTables};
use sluice_api::{TableName, TargetTable};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::PostgresSink;
use super::statements::{quote_ident, quote_table};
use crate::error::PostgresError;

impl PostgresSink {
    /// Creates the crosswalk and the dead-letter table (and their schemas)
    /// when missing, and checks that they are what the engine writes and
    /// that this role may read and write them. A role that may not create
    /// them gets a `Config` error naming the grant (or the statements) to
    /// run. Call it outside a target transaction (before the first write).
    pub async fn ensure_owned_tables(&mut self, tables: &OwnedTables) -> Result<(), PostgresError> {
        self.settle().await?;
        if self.in_transaction {
            return Err(PostgresError::Config {
                setting: "sink".into(),
                message: "Sluice's own tables are created outside a target transaction; this is a Sluice bug".into(),
            });
        }
        for (shape, table) in [(&CROSSWALK, &tables.crosswalk), (&DEAD_LETTERS, &tables.dead_letters)] {
            ensure(&self.client, shape, table).await?;
            // The engine writes them as route targets: check them that way now.
            let columns = shape.columns.iter().map(|c| (*c).to_owned()).collect();
            let target = Arc::new(TargetTable::new(&table.schema, &table.name, columns, shape.key.to_vec()));
            self.resolve(&target).await?;
        }
        Ok(())
    }
}

/// `CREATE TABLE IF NOT EXISTS …` and its index, as one batch.
fn create_sql(shape: &Shape, table: &TableName) -> String {
    let qualified = quote_table(table);
    let mut definitions: Vec<String> =
        shape.columns.iter().map(|c| format!("{} text NOT NULL", quote_ident(c))).collect();
    definitions.push(format!("{} timestamptz NOT NULL DEFAULT now()", quote_ident(shape.time_column)));
    let key: Vec<String> = shape.key.iter().map(|&k| quote_ident(shape.columns[k])).collect();
    definitions.push(format!("PRIMARY KEY ({})", key.join(", ")));
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {qualified} ({})", definitions.join(", "));
    if let Some(column) = shape.indexed {
        let index = quote_ident(&format!("{}_{column}_idx", table.name));
        sql.push_str(&format!("; CREATE INDEX IF NOT EXISTS {index} ON {qualified} ({})", quote_ident(column)));
    }
    sql
}

/// Creates one owned table (and its schema) unless it exists, and checks
/// that this role can read and write it.
async fn ensure(client: &Client, shape: &Shape, table: &TableName) -> Result<(), PostgresError> {
    let exists_sql = "SELECT to_regclass($1) IS NOT NULL, to_regnamespace($2) IS NOT NULL, \
                      current_user::text, current_database()::text";
    let qualified = quote_table(table);
    let schema = quote_ident(&table.schema);
    let context = || format!("checking the {} {table}", shape.what);
    let row =
        client.query_one(exists_sql, &[&qualified, &schema]).await.map_err(|e| PostgresError::query(context(), e))?;
    let (table_exists, schema_exists, role, database): (bool, bool, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if !table_exists {
        let mut sql = String::new();
        if !schema_exists {
            sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; "));
        }
        sql.push_str(&create_sql(shape, table));
        match client.batch_execute(&sql).await {
            Ok(()) => tracing::info!(table = %table, "created the {}", shape.what),
            Err(error) => {
                let recheck = client.query_one(exists_sql, &[&qualified, &schema]).await.ok();
                let created_meanwhile = recheck.is_some_and(|row| row.get::<_, bool>(0));
                if !created_meanwhile {
                    return Err(creation_error(shape, table, &role, &database, schema_exists, error));
                }
            }
        }
    }
    let privileges_sql = "SELECT has_schema_privilege($2, 'USAGE') AND has_table_privilege($1, 'SELECT') \
                          AND has_table_privilege($1, 'INSERT') AND has_table_privilege($1, 'UPDATE') \
                          AND has_table_privilege($1, 'DELETE')";
    let row = client
        .query_one(privileges_sql, &[&qualified, &table.schema])
        .await
        .map_err(|e| PostgresError::query(context(), e))?;
    if !row.get::<_, bool>(0) {
        let role_ident = quote_ident(&role);
        return Err(PostgresError::Config {
            setting: format!("{} {table}", shape.what),
            message: format!(
                "Role {role} cannot read and write the {} {table}; run GRANT USAGE ON SCHEMA {schema} TO {role_ident}; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified} TO {role_ident};",
                shape.what
            ),
        });
    }
    Ok(())
}

fn creation_error(
    shape: &Shape,
    table: &TableName,
    role: &str,
    database: &str,
    schema_exists: bool,
    error: tokio_postgres::Error,
) -> PostgresError {
    if error.code() != Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        return PostgresError::query(format!("creating the {} {table}", shape.what), error);
    }
    let schema = quote_ident(&table.schema);
    let role_ident = quote_ident(role);
    let grant = if schema_exists {
        format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role_ident};")
    } else {
        format!("GRANT CREATE ON DATABASE {} TO {role_ident};", quote_ident(database))
    };
    PostgresError::Setup {
        setting: format!("{} {table}", shape.what),
        message: format!(
            "Role {role} may not create the {} {table}; run {grant} or create it yourself: \
             CREATE SCHEMA IF NOT EXISTS {schema}; {}; and grant SELECT, INSERT, UPDATE, DELETE on it to {role_ident}",
            shape.what,
            create_sql(shape, table)
        ),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_have_the_engines_columns_as_text_and_its_keys() {
        let crosswalk = create_sql(&CROSSWALK, &TableName::new("sluice", "crosswalk"));
        assert_eq!(
            crosswalk,
            r#"CREATE TABLE IF NOT EXISTS "sluice"."crosswalk" ("name" text NOT NULL, "source_key" text NOT NULL, "target_key" text NOT NULL, "created_at" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("name", "source_key"))"#
        );
        let dead = create_sql(&DEAD_LETTERS, &TableName::new("sluice", "dead_letters"));
        assert!(dead.contains(r#""change" text NOT NULL, "recorded_at" timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("route", "source_key", "seq"))"#), "{dead}");
        assert!(
            dead.ends_with(
                r#"; CREATE INDEX IF NOT EXISTS "dead_letters_pipeline_idx" ON "sluice"."dead_letters" ("pipeline")"#
            ),
            "{dead}"
        );
    }
}
