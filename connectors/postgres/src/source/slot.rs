//! Publication and replication slot management.
//!
//! The publication decides which tables' changes the walsender decodes; the
//! slot is the server-side bookmark: it keeps the WAL from `restart_lsn` on
//! and remembers `confirmed_flush_lsn`, the position Sluice last reported as
//! durable in every target. Both are created when missing. A slot that
//! exists but belongs to another plugin or database, streams to another
//! process, or has lost WAL (`wal_status = 'lost'`) is an error: the last
//! one means changes are gone and a resnapshot is needed.
//!
//! Everything here runs over an ordinary connection except slot creation,
//! which is a replication command (`CREATE_REPLICATION_SLOT`).

use sluice_api::{Lsn, TableName};
use tokio_postgres::Client;

use super::wire::ReplicationConnection;
use crate::error::PostgresError;

/// `"name"`, with embedded quotes doubled.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with embedded quotes doubled (replication commands take no parameters).
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_table(table: &TableName) -> String {
    format!("{}.{}", quote_identifier(&table.schema), quote_identifier(&table.name))
}

/// PostgreSQL accepts slot names of lower-case letters, digits and `_`, at most 63 bytes.
pub(crate) fn validate_slot_name(slot: &str) -> Result<(), PostgresError> {
    let valid = !slot.is_empty()
        && slot.len() <= 63
        && slot.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(PostgresError::Config {
            setting: "slot".into(),
            message: format!(
                "Replication slot name {slot:?} is invalid; use 1 to 63 lower-case letters, digits and underscores"
            ),
        })
    }
}

/// Creates the publication `FOR TABLE <tables>` (rooted at partitioned
/// parents) when missing, or adds the tables it lacks. When Sluice may not
/// do it, the error gives the SQL for a DBA to run.
pub(crate) async fn ensure_publication(
    client: &Client,
    publication: &str,
    tables: &[TableName],
) -> Result<(), PostgresError> {
    let existing = client
        .query_opt("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = $1", &[&publication])
        .await
        .map_err(|e| PostgresError::query(format!("looking up publication {publication:?}"), e))?;
    let table_list = |tables: &[&TableName]| tables.iter().map(|t| quote_table(t)).collect::<Vec<_>>().join(", ");
    match existing {
        None => {
            let all: Vec<&TableName> = tables.iter().collect();
            let sql = if all.is_empty() {
                format!("CREATE PUBLICATION {}", quote_identifier(publication))
            } else {
                format!(
                    "CREATE PUBLICATION {} FOR TABLE {} WITH (publish_via_partition_root = true)",
                    quote_identifier(publication),
                    table_list(&all)
                )
            };
            run_or_explain(client, &sql, &format!("creating publication {publication:?}")).await?;
            tracing::info!(publication, tables = tables.len(), "created publication");
            Ok(())
        }
        Some(row) if row.get::<_, bool>(0) => Ok(()),
        Some(_) => {
            let rows = client
                .query(
                    "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables WHERE pubname = $1",
                    &[&publication],
                )
                .await
                .map_err(|e| PostgresError::query(format!("listing the tables of publication {publication:?}"), e))?;
            let present: Vec<TableName> =
                rows.iter().map(|r| TableName::new(r.get::<_, String>(0), r.get::<_, String>(1))).collect();
            let missing: Vec<&TableName> = tables.iter().filter(|t| !present.contains(t)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            let sql = format!("ALTER PUBLICATION {} ADD TABLE {}", quote_identifier(publication), table_list(&missing));
            run_or_explain(client, &sql, &format!("adding tables to publication {publication:?}")).await?;
            tracing::info!(publication, added = missing.len(), "added tables to publication");
            Ok(())
        }
    }
}

/// Runs DDL; a privilege failure becomes a Config error carrying the SQL.
async fn run_or_explain(client: &Client, sql: &str, context: &str) -> Result<(), PostgresError> {
    match client.batch_execute(sql).await {
        Ok(()) => Ok(()),
        Err(error) if error.code().is_some_and(|c| c.code() == "42501") => Err(PostgresError::Setup {
            setting: "publication".into(),
            message: format!("Sluice may not do this ({context}); ask a DBA to run: {sql};"),
            source: Box::new(error),
        }),
        Err(error) => Err(PostgresError::query(context.to_owned(), error)),
    }
}

/// What the server reported after creating a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CreatedSlot {
    /// Where decoding becomes consistent: the slot's first confirmed position.
    pub(crate) consistent_point: Lsn,
    /// With [`SnapshotAction::Export`]: the snapshot to pass to
    /// `SET TRANSACTION SNAPSHOT` on an ordinary connection, valid while the
    /// replication connection stays open and runs no other command.
    pub(crate) snapshot_name: Option<String>,
}

/// Whether slot creation exports the snapshot it is consistent at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnapshotAction {
    /// No snapshot (streaming only).
    Nothing,
    /// Export it, for a consistent initial copy (the snapshot feature).
    #[allow(dead_code, reason = "used by the initial-snapshot feature")]
    Export,
}

/// Creates a permanent logical slot with pgoutput on the replication
/// connection. PostgreSQL 15 syntax is `… LOGICAL pgoutput (SNAPSHOT 'x')`;
/// older servers spell it `NOEXPORT_SNAPSHOT` / `EXPORT_SNAPSHOT`.
pub(crate) async fn create_slot(
    connection: &mut ReplicationConnection,
    slot: &str,
    snapshot: SnapshotAction,
) -> Result<CreatedSlot, PostgresError> {
    validate_slot_name(slot)?;
    let option = match (connection.server_major >= 15, snapshot) {
        (true, SnapshotAction::Nothing) => "(SNAPSHOT 'nothing')",
        (true, SnapshotAction::Export) => "(SNAPSHOT 'export')",
        (false, SnapshotAction::Nothing) => "NOEXPORT_SNAPSHOT",
        (false, SnapshotAction::Export) => "EXPORT_SNAPSHOT",
    };
    let sql = format!("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {option}", quote_identifier(slot));
    let rows = connection.simple_query(&sql, &format!("creating replication slot {slot:?}")).await?;
    // Columns: slot_name, consistent_point, snapshot_name, output_plugin.
    let row = rows
        .first()
        .ok_or_else(|| PostgresError::Protocol { what: "CREATE_REPLICATION_SLOT result", reason: "no row".into() })?;
    let consistent_point = parse_lsn(row.get(1).cloned().flatten(), "CREATE_REPLICATION_SLOT consistent_point")?;
    let snapshot_name = row.get(2).cloned().flatten();
    tracing::info!(slot, %consistent_point, "created replication slot");
    Ok(CreatedSlot { consistent_point, snapshot_name })
}

fn parse_lsn(text: Option<String>, what: &'static str) -> Result<Lsn, PostgresError> {
    let text = text.ok_or_else(|| PostgresError::Protocol { what, reason: "missing LSN".into() })?;
    text.parse().map_err(|_| PostgresError::Protocol { what, reason: format!("{text:?} is not an LSN") })
}

/// Checks that the slot exists and may stream to Sluice, creating it when
/// missing; returns its confirmed position.
pub(crate) async fn ensure_slot(
    client: &Client,
    connection: &mut ReplicationConnection,
    slot: &str,
) -> Result<Lsn, PostgresError> {
    validate_slot_name(slot)?;
    let row = client
        .query_opt(
            "SELECT COALESCE(plugin::text, ''), slot_type::text, COALESCE(database::text, ''), active, active_pid, \
                    COALESCE(wal_status, ''), confirmed_flush_lsn::text, current_database()::text \
             FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| PostgresError::query(format!("looking up replication slot {slot:?}"), e))?;
    let Some(row) = row else {
        return Ok(create_slot(connection, slot, SnapshotAction::Nothing).await?.consistent_point);
    };
    let plugin: String = row.get(0);
    let slot_type: String = row.get(1);
    let database: String = row.get(2);
    let active: bool = row.get(3);
    let active_pid: Option<i32> = row.get(4);
    let wal_status: String = row.get(5);
    let confirmed: Option<String> = row.get(6);
    let current_database: String = row.get(7);
    if slot_type != "logical" || plugin != "pgoutput" {
        return Err(PostgresError::Config {
            setting: "slot".into(),
            message: format!(
                "Replication slot {slot:?} exists but is a {slot_type} slot with plugin {plugin:?}, not a logical \
                 pgoutput slot; configure another slot name or drop it (SELECT pg_drop_replication_slot('{slot}'))"
            ),
        });
    }
    if database != current_database {
        return Err(PostgresError::Config {
            setting: "slot".into(),
            message: format!(
                "Replication slot {slot:?} belongs to database {database:?}, not {current_database:?}; \
                 configure another slot name"
            ),
        });
    }
    if wal_status == "lost" {
        return Err(PostgresError::ResnapshotNeeded {
            message: format!(
                "Replication slot {slot:?} has lost WAL it needed (wal_status = lost, e.g. max_slot_wal_keep_size \
                 was exceeded): changes were removed before Sluice read them"
            ),
        });
    }
    if active {
        return Err(PostgresError::SlotInUse { slot: slot.to_owned(), pid: active_pid.unwrap_or(0) });
    }
    parse_lsn(confirmed, "pg_replication_slots.confirmed_flush_lsn")
}

/// The state of a slot, for `sluice status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotStatus {
    /// The position last reported as durable in every target.
    pub confirmed_flush: Lsn,
    /// The oldest WAL the slot still holds.
    pub restart_lsn: Lsn,
    /// The server's current WAL position (replay position on a standby).
    pub current_wal: Lsn,
    /// WAL bytes retained for the slot (`current_wal - restart_lsn`).
    pub retained_bytes: u64,
    /// A walsender is streaming from the slot.
    pub active: bool,
    /// `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13+).
    pub wal_status: String,
}

/// Reads a slot's state; `None` when the slot does not exist.
pub async fn slot_status(client: &Client, slot: &str) -> Result<Option<SlotStatus>, PostgresError> {
    let row = client
        .query_opt(
            "WITH here AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
                                       ELSE pg_current_wal_lsn() END AS lsn) \
             SELECT COALESCE(s.confirmed_flush_lsn, '0/0')::text, COALESCE(s.restart_lsn, '0/0')::text, \
                    COALESCE(here.lsn, '0/0')::text, \
                    GREATEST(COALESCE(pg_wal_lsn_diff(here.lsn, s.restart_lsn), 0), 0)::int8, \
                    s.active, COALESCE(s.wal_status, '') \
             FROM pg_catalog.pg_replication_slots s CROSS JOIN here WHERE s.slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| PostgresError::query(format!("reading the status of replication slot {slot:?}"), e))?;
    let Some(row) = row else { return Ok(None) };
    let retained: i64 = row.get(3);
    Ok(Some(SlotStatus {
        confirmed_flush: parse_lsn(row.get(0), "pg_replication_slots.confirmed_flush_lsn")?,
        restart_lsn: parse_lsn(row.get(1), "pg_replication_slots.restart_lsn")?,
        current_wal: parse_lsn(row.get(2), "current WAL position")?,
        retained_bytes: u64::try_from(retained).unwrap_or(0),
        active: row.get(4),
        wal_status: row.get(5),
    }))
}

/// Drops a replication slot (for `sluice checkpoints reset`); `Ok(false)`
/// when it did not exist. A slot in use is not dropped.
pub async fn drop_slot(client: &Client, slot: &str) -> Result<bool, PostgresError> {
    let row = client
        .query_opt("SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .map_err(|e| PostgresError::query(format!("looking up replication slot {slot:?}"), e))?;
    let Some(row) = row else { return Ok(false) };
    if let Some(pid) = row.get::<_, Option<i32>>(0) {
        return Err(PostgresError::SlotInUse { slot: slot.to_owned(), pid });
    }
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .map_err(|e| PostgresError::query(format!("dropping replication slot {slot:?}"), e))?;
    tracing::info!(slot, "dropped replication slot");
    Ok(true)
}

/// Drops a publication if it exists; `Ok(false)` when it did not.
pub async fn drop_publication(client: &Client, publication: &str) -> Result<bool, PostgresError> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", &[&publication])
        .await
        .map_err(|e| PostgresError::query(format!("looking up publication {publication:?}"), e))?
        .is_some();
    if exists {
        client
            .batch_execute(&format!("DROP PUBLICATION IF EXISTS {}", quote_identifier(publication)))
            .await
            .map_err(|e| PostgresError::query(format!("dropping publication {publication:?}"), e))?;
        tracing::info!(publication, "dropped publication");
    }
    Ok(exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_double_their_quotes() {
        assert_eq!(quote_identifier(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_table(&TableName::new("s", "t")), r#""s"."t""#);
    }

    #[test]
    fn slot_names_follow_postgres_rules() {
        assert!(validate_slot_name("sluice_orders_1").is_ok());
        for bad in ["", "Upper", "with-dash", "x'; DROP", &"a".repeat(64)] {
            assert!(validate_slot_name(bad).is_err(), "{bad:?}");
        }
    }
}
