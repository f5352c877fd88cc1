//! The offsets table: one row per pipeline (source) holding the source
//! position the target has applied up to, written in the same transaction
//! as the rows — so after any crash the target itself says exactly which
//! source transactions it holds, and the engine resumes after them.
//!
//! ```sql
//! CREATE TABLE sluice.offsets (
//!     pipeline   VARCHAR(190) NOT NULL PRIMARY KEY,  -- 190 × 4 bytes fits any InnoDB key limit
//!     position   TEXT NOT NULL,                      -- Position::encode(), e.g. binlog:mysql-bin.000003:1234
//!     updated_at TIMESTAMP(6) NOT NULL
//! ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//! ```
//!
//! `ENGINE=InnoDB` is explicit: with a non-transactional default engine the
//! position would not commit or roll back with the rows. The binary
//! collation keeps pipeline names case-sensitive. The database and table are
//! created when missing (DDL, so before any transaction: DDL commits
//! implicitly); the database's existence is checked first because
//! `CREATE DATABASE IF NOT EXISTS` needs the CREATE privilege even when the
//! database exists. Two sinks creating it at once is harmless (`IF NOT EXISTS`).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sluice_api::{Position, TableName};

use super::statements::{Incoming, quote_ident, quote_table};
use crate::error::MySqlError;

/// Privilege errors: 1044 database access denied, 1142 table command denied, 1227 privilege needed.
const ACCESS_DENIED: &[u16] = &[1044, 1142, 1227];

/// Creates the offsets table (and its database) unless it exists, and
/// checks that it is transactional.
pub(super) async fn ensure(conn: &mut Conn, table: &TableName) -> Result<(), MySqlError> {
    let context = || format!("checking the offsets table {table}");
    let schemata: Vec<String> = conn
        .exec("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (&table.schema,))
        .await
        .map_err(|e| MySqlError::driver(context(), e))?;
    let tables: Vec<(String, Option<String>)> = conn
        .exec(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&table.schema, &table.name),
        )
        .await
        .map_err(|e| MySqlError::driver(context(), e))?;
    let existing = tables.into_iter().find(|(name, _)| *name == table.name);
    match existing {
        Some((_, engine)) => {
            let engine = engine.unwrap_or_default();
            if !engine.eq_ignore_ascii_case("innodb") {
                return Err(MySqlError::Config {
                    setting: format!("offsets table {table}"),
                    message: format!(
                        "The offsets table {table} uses the {engine} engine, which is not transactional, so \
                         positions would not commit atomically with the rows; run ALTER TABLE {} ENGINE=InnoDB",
                        quote_table(table)
                    ),
                });
            }
        }
        None => {
            if !schemata.contains(&table.schema) {
                let sql = format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(&table.schema));
                conn.query_drop(sql).await.map_err(|e| creation_error(table, e))?;
            }
            conn.query_drop(create_sql(table)).await.map_err(|e| creation_error(table, e))?;
            tracing::info!(table = %table, "created the offsets table");
        }
    }
    Ok(())
}

pub(super) fn create_sql(table: &TableName) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (pipeline VARCHAR(190) NOT NULL PRIMARY KEY, position TEXT NOT NULL, \
         updated_at TIMESTAMP(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        quote_table(table)
    )
}

fn creation_error(table: &TableName, error: mysql_async::Error) -> MySqlError {
    let denied = matches!(&error, mysql_async::Error::Server(server) if ACCESS_DENIED.contains(&server.code));
    if !denied {
        return MySqlError::driver(format!("creating the offsets table {table}"), error);
    }
    MySqlError::Setup {
        setting: format!("offsets table {table}"),
        message: format!(
            "This account may not create the offsets table {table}; run GRANT CREATE, SELECT, INSERT, UPDATE, \
             DELETE ON {}.* TO <sluice account>; or create it yourself: CREATE DATABASE IF NOT EXISTS {}; {};",
            quote_ident(&table.schema),
            quote_ident(&table.schema),
            create_sql(table)
        ),
        source: Box::new(error),
    }
}

/// The position recorded for `pipeline`, reading only: `None` when the
/// offsets table or the row does not exist (for `sluice status`, which must
/// not create anything).
pub(crate) async fn read_position(
    conn: &mut Conn,
    table: &TableName,
    pipeline: &str,
) -> Result<Option<Position>, MySqlError> {
    let context = || format!("reading the offsets table {table}");
    let found: Option<String> = conn
        .exec_first(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&table.schema, &table.name),
        )
        .await
        .map_err(|e| MySqlError::driver(context(), e))?;
    if found.is_none() {
        return Ok(None);
    }
    let stored: Option<String> =
        conn.exec_first(select_sql(table), (pipeline,)).await.map_err(|e| MySqlError::driver(context(), e))?;
    stored.map(|text| parse_stored(table, pipeline, &text)).transpose()
}

pub(super) fn select_sql(table: &TableName) -> String {
    format!("SELECT position FROM {} WHERE pipeline = ?", quote_table(table))
}

pub(super) fn delete_sql(table: &TableName) -> String {
    format!("DELETE FROM {} WHERE pipeline = ?", quote_table(table))
}

/// The offsets write and `COMMIT` — after `START TRANSACTION` when `begin`
/// (a transaction with nothing else in it) — as one multi-statement query,
/// so a commit sent ahead costs one round trip. The server stops at the
/// first statement of such a query that fails: a refused position write
/// commits nothing. Pipeline and position go in as hex literals with a
/// `utf8mb4` introducer: nothing to escape, whatever they hold. The time
/// is the server's (UTC in the sink's session).
pub(super) fn commit_sql(table: &TableName, style: Incoming, pipeline: &str, position: &str, begin: bool) -> String {
    let begin = if begin { "START TRANSACTION; " } else { "" };
    let upsert = upsert_sql(table, style, &utf8mb4_literal(pipeline), &utf8mb4_literal(position));
    format!("{begin}{upsert}; COMMIT")
}

fn upsert_sql(table: &TableName, style: Incoming, pipeline: &str, position: &str) -> String {
    let (alias, new_position, updated_at) = match style {
        Incoming::ValuesFunction => ("", "VALUES(position)", "VALUES(updated_at)"),
        Incoming::RowAlias => (" AS sluice_row", "sluice_row.position", "sluice_row.updated_at"),
    };
    format!(
        "INSERT INTO {} (pipeline, position, updated_at) VALUES ({pipeline}, {position}, CURRENT_TIMESTAMP(6)){alias} \
         ON DUPLICATE KEY UPDATE position = {new_position}, updated_at = {updated_at}",
        quote_table(table)
    )
}

/// `_utf8mb4 X'…'`: the text's UTF-8 bytes as a string literal.
fn utf8mb4_literal(text: &str) -> String {
    let hex: String = text.bytes().map(|b| format!("{b:02X}")).collect();
    format!("_utf8mb4 X'{hex}'")
}

/// Parses a stored position; an unparsable one is a configuration error
/// naming the table (someone wrote it by hand, or another tool owns the table).
pub(super) fn parse_stored(table: &TableName, pipeline: &str, text: &str) -> Result<Position, MySqlError> {
    Position::decode(text).map_err(|_| MySqlError::Config {
        setting: format!("offsets table {table}"),
        message: format!(
            "The position stored for pipeline {pipeline:?} in {table} is not a Sluice position \
             (expected e.g. binlog:mysql-bin.000003:1234); fix or delete that row, or point offsets_table \
             at a table Sluice owns"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_upsert_uses_the_servers_incoming_row_syntax() {
        let table = TableName::new("sluice", "offsets");
        assert!(
            upsert_sql(&table, Incoming::ValuesFunction, "?", "?")
                .ends_with("position = VALUES(position), updated_at = VALUES(updated_at)")
        );
        assert!(
            upsert_sql(&table, Incoming::RowAlias, "?", "?")
                .contains("CURRENT_TIMESTAMP(6)) AS sluice_row ON DUPLICATE")
        );
    }

    #[test]
    fn the_commit_carries_pipeline_and_position_as_hex_literals() {
        let table = TableName::new("sluice", "offsets");
        let sql = commit_sql(&table, Incoming::ValuesFunction, "e'r\\p", "binlog:f:4", true);
        assert!(sql.starts_with("START TRANSACTION; INSERT INTO `sluice`.`offsets`"), "{sql}");
        assert!(
            sql.contains("VALUES (_utf8mb4 X'6527725C70', _utf8mb4 X'62696E6C6F673A663A34', CURRENT_TIMESTAMP(6))"),
            "{sql}"
        );
        assert!(sql.ends_with("; COMMIT"), "{sql}");
        assert!(!commit_sql(&table, Incoming::RowAlias, "", "p", false).contains("START"));
        assert!(commit_sql(&table, Incoming::RowAlias, "", "p", false).contains("(_utf8mb4 X'', _utf8mb4 X'70'"));
    }
}
