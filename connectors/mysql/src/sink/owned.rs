//! The tables Sluice owns in a MySQL/MariaDB target besides the offsets
//! table: the crosswalk and the dead letters (what they hold is in
//! [`sluice_api::owned`]), created when missing by
//! [`MySqlSink::ensure_owned_tables`]. With the default names:
//!
//! ```sql
//! CREATE TABLE sluice.crosswalk (
//!     `name` VARCHAR(190) NOT NULL, `source_key` VARCHAR(500) NOT NULL, `target_key` TEXT NOT NULL,
//!     `created_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
//!     PRIMARY KEY (`name`, `source_key`)
//! ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
//! CREATE TABLE sluice.dead_letters (
//!     `pipeline` VARCHAR(190) NOT NULL, `route` VARCHAR(190) NOT NULL, `source_key` VARCHAR(500) NOT NULL,
//!     `seq` VARCHAR(64) NOT NULL, `source_table` VARCHAR(400) NOT NULL, `operation` VARCHAR(16) NOT NULL,
//!     `position` TEXT NOT NULL, `error` TEXT NOT NULL, `change` LONGTEXT NOT NULL,
//!     `recorded_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
//!     PRIMARY KEY (`route`, `source_key`, `seq`), KEY `pipeline` (`pipeline`)
//! ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
//! ```
//!
//! The column lists and keys come from `sluice_api::owned`, so the tables
//! are exactly what the engine writes; the time columns are filled by their
//! default (the engine never writes them; the sink's session is UTC). Key
//! columns are `VARCHAR`s sized so that each index fits InnoDB's 3,072-byte
//! key limit at 4 bytes per utf8mb4 character (crosswalk 2,760, dead letters
//! 3,016); `utf8mb4_bin` compares keys byte for byte, as the source's keys
//! are. `change` is a reserved word: every identifier is quoted. InnoDB is
//! explicit, so these rows commit and roll back with the replicated rows.
//!
//! Creation takes the offsets table's care (see `offsets`): the catalog is
//! checked first, because `CREATE DATABASE IF NOT EXISTS` needs the CREATE
//! privilege even when the database exists; `IF NOT EXISTS` makes a race
//! with another sink harmless, and an error is ignored when the table exists
//! afterwards; an account that may not create them gets an error naming the
//! grant, or the statements to run as an account that may. Then each table
//! is checked as the write path checks a route's target (transactional
//! engine, its columns and key, through `resolve`). DDL commits implicitly,
//! so this runs only outside a target transaction.

use std::sync::Arc;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::owned::{CROSSWALK, DEAD_LETTERS, OwnedShape as Shape, OwnedTables};
use sluice_api::{TableName, TargetTable};

use super::MySqlSink;
use super::statements::{quote_ident, quote_table};
use crate::error::MySqlError;

/// Privilege errors: 1044 database access denied, 1142 table command denied, 1227 privilege needed.
const ACCESS_DENIED: &[u16] = &[1044, 1142, 1227];

/// The type of an owned table's column. Key and indexed columns are
/// `VARCHAR`s (see the module documentation); the rest `TEXT`, and the
/// raw change, which can be large, `LONGTEXT`.
fn column_type(column: &str) -> &'static str {
    match column {
        "name" | "pipeline" | "route" => "VARCHAR(190)",
        "source_key" => "VARCHAR(500)",
        "seq" => "VARCHAR(64)",
        "source_table" => "VARCHAR(400)",
        "operation" => "VARCHAR(16)",
        "change" => "LONGTEXT",
        _ => "TEXT",
    }
}

impl MySqlSink {
    /// Creates the crosswalk and the dead-letter table (and their
    /// databases) when missing, and checks that they are what the engine
    /// writes. An account that may not create them gets a `Config` error
    /// naming the grant (or the statements) to run. Call it outside a
    /// target transaction (DDL would commit it).
    pub async fn ensure_owned_tables(&mut self, tables: &OwnedTables) -> Result<(), MySqlError> {
        self.settle().await?;
        if self.in_transaction {
            return Err(MySqlError::Config {
                setting: "sink".into(),
                message: "Sluice's own tables are created outside a target transaction (DDL would commit it); \
                          this is a Sluice bug"
                    .into(),
            });
        }
        for (shape, table) in [(&CROSSWALK, &tables.crosswalk), (&DEAD_LETTERS, &tables.dead_letters)] {
            ensure(self.link.conn()?, shape, table).await?;
            // The engine writes them as route targets: check them that way now.
            let columns = shape.columns.iter().map(|c| (*c).to_owned()).collect();
            let target = Arc::new(TargetTable::new(&table.schema, &table.name, columns, shape.key.to_vec()));
            self.resolve(&target).await?;
        }
        Ok(())
    }
}

fn create_sql(shape: &Shape, table: &TableName) -> String {
    let mut definitions: Vec<String> =
        shape.columns.iter().map(|c| format!("{} {} NOT NULL", quote_ident(c), column_type(c))).collect();
    definitions.push(format!("{} DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)", quote_ident(shape.time_column)));
    let key: Vec<String> = shape.key.iter().map(|&k| quote_ident(shape.columns[k])).collect();
    definitions.push(format!("PRIMARY KEY ({})", key.join(", ")));
    if let Some(column) = shape.indexed {
        definitions.push(format!("KEY {0} ({0})", quote_ident(column)));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin \
         ROW_FORMAT=DYNAMIC",
        quote_table(table),
        definitions.join(", ")
    )
}

/// Creates one owned table (and its database) unless it exists.
async fn ensure(conn: &mut Conn, shape: &Shape, table: &TableName) -> Result<(), MySqlError> {
    if table_exists(conn, shape, table).await? {
        return Ok(());
    }
    let context = || format!("checking the {} {table}", shape.what);
    let schemata: Vec<String> = conn
        .exec("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (&table.schema,))
        .await
        .map_err(|e| MySqlError::driver(context(), e))?;
    let created = async {
        if !schemata.contains(&table.schema) {
            conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(&table.schema))).await?;
        }
        conn.query_drop(create_sql(shape, table)).await
    }
    .await;
    match created {
        Ok(()) => tracing::info!(table = %table, "created the {}", shape.what),
        // Another sink may have won a race; only a table still missing is an error.
        Err(error) if !table_exists(conn, shape, table).await.unwrap_or(false) => {
            return Err(creation_error(shape, table, error));
        }
        Err(_) => {}
    }
    Ok(())
}

async fn table_exists(conn: &mut Conn, shape: &Shape, table: &TableName) -> Result<bool, MySqlError> {
    let names: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&table.schema, &table.name),
        )
        .await
        .map_err(|e| MySqlError::driver(format!("checking the {} {table}", shape.what), e))?;
    Ok(names.contains(&table.name))
}

fn creation_error(shape: &Shape, table: &TableName, error: mysql_async::Error) -> MySqlError {
    let denied = matches!(&error, mysql_async::Error::Server(server) if ACCESS_DENIED.contains(&server.code));
    if !denied {
        return MySqlError::driver(format!("creating the {} {table}", shape.what), error);
    }
    let database = quote_ident(&table.schema);
    MySqlError::Setup {
        setting: format!("{} {table}", shape.what),
        message: format!(
            "This account may not create the {} {table}; run GRANT CREATE, SELECT, INSERT, UPDATE, DELETE ON \
             {database}.* TO <sluice account>; or create it yourself: CREATE DATABASE IF NOT EXISTS {database}; {}; \
             and grant SELECT, INSERT, UPDATE, DELETE on it",
            shape.what,
            create_sql(shape, table)
        ),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of a utf8mb4 index over these columns.
    fn key_bytes(columns: &[&str]) -> u32 {
        columns
            .iter()
            .map(|c| {
                let ty = column_type(c);
                let chars: u32 = ty.trim_start_matches("VARCHAR(").trim_end_matches(')').parse().expect(ty);
                chars * 4
            })
            .sum()
    }

    #[test]
    fn keys_fit_innodbs_key_limit() {
        let crosswalk: Vec<&str> = CROSSWALK.key.iter().map(|&k| CROSSWALK.columns[k]).collect();
        let dead: Vec<&str> = DEAD_LETTERS.key.iter().map(|&k| DEAD_LETTERS.columns[k]).collect();
        assert_eq!(key_bytes(&crosswalk), 2760);
        assert_eq!(key_bytes(&dead), 3016);
        assert!(key_bytes(&["pipeline"]) <= 3072);
    }

    #[test]
    fn the_tables_have_the_engines_columns_and_keys() {
        assert_eq!(
            create_sql(&CROSSWALK, &TableName::new("sluice", "crosswalk")),
            "CREATE TABLE IF NOT EXISTS `sluice`.`crosswalk` (`name` VARCHAR(190) NOT NULL, `source_key` VARCHAR(500) \
             NOT NULL, `target_key` TEXT NOT NULL, `created_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
             PRIMARY KEY (`name`, `source_key`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin \
             ROW_FORMAT=DYNAMIC"
        );
        let dead = create_sql(&DEAD_LETTERS, &TableName::new("sluice", "dead_letters"));
        assert!(
            dead.contains(
                "`pipeline` VARCHAR(190) NOT NULL, `route` VARCHAR(190) NOT NULL, `source_key` VARCHAR(500) NOT NULL, \
                 `seq` VARCHAR(64) NOT NULL, `source_table` VARCHAR(400) NOT NULL, `operation` VARCHAR(16) NOT NULL, \
                 `position` TEXT NOT NULL, `error` TEXT NOT NULL, `change` LONGTEXT NOT NULL, \
                 `recorded_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
                 PRIMARY KEY (`route`, `source_key`, `seq`), KEY `pipeline` (`pipeline`))"
            ),
            "{dead}"
        );
    }
}
