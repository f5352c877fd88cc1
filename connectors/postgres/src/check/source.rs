//! Checks of a PostgreSQL replication source.
//!
//! Logical replication needs: PostgreSQL 10 or later (14+ recommended: the
//! pgoutput features Sluice uses matured there); `wal_level = logical`
//! (a restart to change); a role with `REPLICATION` (or superuser); a free
//! replication slot and WAL sender unless Sluice's slot exists already; the
//! publication (created or completed on first run when the role may: that
//! takes `CREATE` on the database for a new publication, ownership of the
//! publication to add tables, and ownership of the tables); the slot, if it
//! exists, on pgoutput in this database and with its WAL intact; and every
//! routed table present, readable (`SELECT`, for the initial copy) and with
//! a replica identity that identifies rows (a primary key, `REPLICA
//! IDENTITY USING INDEX` or `FULL`) — without one PostgreSQL refuses updates
//! and deletes on a published table.

use sluice_api::TableName;
use tokio_postgres::Client;

use super::Finding;
use crate::sink::{quote_ident, quote_table};

const SERVER: &str = "source server";

/// Runs every source check; see the module documentation.
pub async fn check_source(url: &str, slot: &str, publication: &str, tables: &[TableName]) -> Vec<Finding> {
    let client = match crate::connect::connect(url).await {
        Ok(client) => client,
        Err(error) => return vec![Finding::failed(SERVER, "connect to the source", &error)],
    };
    let mut findings = Vec::new();
    let server = match server_facts(&client).await {
        Ok(server) => server,
        Err(error) => return vec![Finding::failed(SERVER, "read the server settings", &error)],
    };
    findings.push(version_finding(&server));
    findings.push(wal_level_finding(&server));
    findings.push(role_finding(&server));
    findings.extend(slot_findings(&client, &server, slot).await);
    findings.extend(publication_findings(&client, &server, publication, tables).await);
    for table in tables {
        findings.extend(table_findings(&client, &server, table).await);
    }
    findings
}

struct ServerFacts {
    version_num: i32,
    version: String,
    wal_level: String,
    max_replication_slots: i32,
    max_wal_senders: i32,
    superuser: bool,
    replication: bool,
    role: String,
    database: String,
}

async fn server_facts(client: &Client) -> Result<ServerFacts, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version'), \
                    current_setting('wal_level'), current_setting('max_replication_slots')::int, \
                    current_setting('max_wal_senders')::int, r.rolsuper, r.rolreplication, \
                    current_user::text, current_database()::text \
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await?;
    Ok(ServerFacts {
        version_num: row.get(0),
        version: row.get(1),
        wal_level: row.get(2),
        max_replication_slots: row.get(3),
        max_wal_senders: row.get(4),
        superuser: row.get(5),
        replication: row.get(6),
        role: row.get(7),
        database: row.get(8),
    })
}

fn version_finding(server: &ServerFacts) -> Finding {
    if server.version_num < 100_000 {
        Finding::error(
            SERVER,
            format!("PostgreSQL {} has no pgoutput logical replication; Sluice needs 10 or later", server.version),
            Some("Upgrade the source to PostgreSQL 14 or later".into()),
        )
    } else if server.version_num < 140_000 {
        Finding::warning(
            SERVER,
            format!("PostgreSQL {} works, but 14 or later is recommended for logical replication", server.version),
            Some("Plan an upgrade to PostgreSQL 14 or later".into()),
        )
    } else {
        Finding::ok(SERVER, format!("PostgreSQL {}", server.version))
    }
}

fn wal_level_finding(server: &ServerFacts) -> Finding {
    if server.wal_level == "logical" {
        Finding::ok(SERVER, "wal_level is logical")
    } else {
        Finding::error(
            SERVER,
            format!("wal_level is {}; logical decoding needs wal_level = logical", server.wal_level),
            Some("ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL".into()),
        )
    }
}

fn role_finding(server: &ServerFacts) -> Finding {
    let subject = format!("role {}", server.role);
    if server.superuser || server.replication {
        Finding::ok(subject, if server.superuser { "Superuser" } else { "Has the REPLICATION attribute" })
    } else {
        Finding::error(
            subject,
            format!(
                "Role {} may not open replication connections; it needs the REPLICATION attribute \
                 (on managed services: the provider's replication role, e.g. rds_replication)",
                server.role
            ),
            Some(format!("ALTER ROLE {} REPLICATION;", quote_ident(&server.role))),
        )
    }
}

async fn slot_findings(client: &Client, server: &ServerFacts, slot: &str) -> Vec<Finding> {
    let subject = format!("slot {slot:?}");
    // wal_status exists from PostgreSQL 13 on.
    let wal_status = if server.version_num >= 130_000 { "wal_status::text" } else { "NULL::text" };
    let sql = format!(
        "SELECT slot_name::text, plugin::text, slot_type::text, database::text, active, active_pid, {wal_status} \
         FROM pg_catalog.pg_replication_slots"
    );
    let slots = match client.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(error) => return vec![Finding::failed(subject, "list the replication slots", &error)],
    };
    let senders = match client.query_one("SELECT count(*)::int FROM pg_catalog.pg_stat_replication", &[]).await {
        Ok(row) => row.get::<_, i32>(0),
        Err(error) => return vec![Finding::failed(subject, "count the WAL senders", &error)],
    };
    let ours = slots.iter().find(|row| row.get::<_, String>(0) == slot);
    let mut findings = Vec::new();
    let drop_fix = Some(format!(
        "SELECT pg_drop_replication_slot('{}'); -- or configure another slot name",
        slot.replace('\'', "''")
    ));
    match ours {
        None => {
            if slots.len() as i32 >= server.max_replication_slots {
                findings.push(Finding::error(
                    &subject,
                    format!(
                        "The slot does not exist and all {} replication slots are taken; Sluice cannot create it",
                        server.max_replication_slots
                    ),
                    Some(format!(
                        "ALTER SYSTEM SET max_replication_slots = {}; -- then restart PostgreSQL (or drop an unused slot)",
                        server.max_replication_slots + 1
                    )),
                ));
            } else {
                findings.push(Finding::ok(&subject, "Does not exist yet; Sluice creates it on the first run"));
            }
        }
        Some(row) => {
            let (plugin, slot_type, database): (Option<String>, String, Option<String>) =
                (row.get(1), row.get(2), row.get(3));
            let (active, pid, wal_status): (bool, Option<i32>, Option<String>) = (row.get(4), row.get(5), row.get(6));
            if slot_type != "logical" || plugin.as_deref() != Some("pgoutput") {
                findings.push(Finding::error(
                    &subject,
                    format!(
                        "The slot exists but is a {slot_type} slot with plugin {}; Sluice needs a logical slot on pgoutput",
                        plugin.as_deref().unwrap_or("none")
                    ),
                    drop_fix,
                ));
            } else if database.as_deref() != Some(server.database.as_str()) {
                findings.push(Finding::error(
                    &subject,
                    format!(
                        "The slot belongs to database {}, not {}; slots decode one database only",
                        database.as_deref().unwrap_or("?"),
                        server.database
                    ),
                    drop_fix,
                ));
            } else if wal_status.as_deref() == Some("lost") {
                findings.push(Finding::error(
                    &subject,
                    "The WAL this slot needs has been removed (wal_status lost): changes are gone and a new \
                     initial snapshot is needed",
                    Some(format!(
                        "SELECT pg_drop_replication_slot('{}'); then sluice checkpoints reset, then run",
                        slot.replace('\'', "''")
                    )),
                ));
            } else if wal_status.as_deref() == Some("unreserved") {
                findings.push(Finding::warning(
                    &subject,
                    "The slot's WAL is about to be removed (wal_status unreserved, past max_slot_wal_keep_size); \
                     start Sluice soon or the slot is lost",
                    Some("ALTER SYSTEM SET max_slot_wal_keep_size = -1; SELECT pg_reload_conf();".into()),
                ));
            } else if active {
                let pid = pid.unwrap_or(0);
                findings.push(Finding::warning(
                    &subject,
                    format!(
                        "The slot is in use by server process {pid}; fine if that is this Sluice pipeline running, \
                         otherwise another consumer holds it"
                    ),
                    Some(format!("SELECT pg_terminate_backend({pid}); -- only if it is not Sluice")),
                ));
            } else {
                findings.push(Finding::ok(&subject, "Exists: logical, pgoutput, in this database, WAL retained"));
            }
        }
    }
    let slot_active = ours.is_some_and(|row| row.get::<_, bool>(4));
    if !slot_active && senders >= server.max_wal_senders {
        findings.push(Finding::error(
            SERVER,
            format!(
                "All {} WAL senders are in use; Sluice's replication connection would be refused",
                server.max_wal_senders
            ),
            Some(format!(
                "ALTER SYSTEM SET max_wal_senders = {}; -- then restart PostgreSQL",
                server.max_wal_senders + 1
            )),
        ));
    }
    findings
}

async fn publication_findings(
    client: &Client,
    server: &ServerFacts,
    publication: &str,
    tables: &[TableName],
) -> Vec<Finding> {
    let subject = format!("publication {publication:?}");
    let quoted = quote_ident(publication);
    let table_list = |tables: &[&TableName]| tables.iter().map(|t| quote_table(t)).collect::<Vec<_>>().join(", ");
    let existing = client
        .query_opt(
            "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, \
                    pg_has_role(pubowner, 'USAGE') \
             FROM pg_catalog.pg_publication WHERE pubname = $1",
            &[&publication],
        )
        .await;
    let row = match existing {
        Ok(row) => row,
        Err(error) => return vec![Finding::failed(subject, "look up the publication", &error)],
    };
    let owned = match owned_tables(client, tables).await {
        Ok(owned) => owned,
        Err(error) => return vec![Finding::failed(subject, "check the tables' owners", &error)],
    };
    let all: Vec<&TableName> = tables.iter().collect();
    let Some(row) = row else {
        let may_create =
            match client.query_one("SELECT has_database_privilege(current_database(), 'CREATE')", &[]).await {
                Ok(row) => row.get::<_, bool>(0),
                Err(error) => return vec![Finding::failed(subject, "check the CREATE privilege", &error)],
            };
        let fix = Some(format!(
            "CREATE PUBLICATION {quoted} FOR TABLE {} WITH (publish_via_partition_root = true); -- as the tables' owner",
            table_list(&all)
        ));
        return if server.superuser || (may_create && owned.len() == tables.len()) {
            vec![Finding::ok(subject, "Does not exist yet; Sluice creates it on the first run")]
        } else {
            vec![Finding::warning(
                subject,
                format!(
                    "Does not exist, and role {} cannot create it (that needs CREATE on the database and ownership \
                     of every routed table); create it before the first run",
                    server.role
                ),
                fix,
            )]
        };
    };
    let (all_tables, insert, update, delete, truncate, owns_publication): (bool, bool, bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
    let mut findings = Vec::new();
    if !(insert && update && delete) {
        findings.push(Finding::error(
            &subject,
            "The publication does not publish every insert, update and delete; the target would miss changes",
            Some(format!("ALTER PUBLICATION {quoted} SET (publish = 'insert, update, delete, truncate');")),
        ));
    } else if !truncate {
        findings.push(Finding::warning(
            &subject,
            "The publication does not publish TRUNCATE; a truncated source table stays full in the target",
            Some(format!("ALTER PUBLICATION {quoted} SET (publish = 'insert, update, delete, truncate');")),
        ));
    }
    if !all_tables {
        let present = match client
            .query(
                "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables WHERE pubname = $1",
                &[&publication],
            )
            .await
        {
            Ok(rows) => {
                rows.iter().map(|r| TableName::new(r.get::<_, String>(0), r.get::<_, String>(1))).collect::<Vec<_>>()
            }
            Err(error) => return vec![Finding::failed(subject, "list the publication's tables", &error)],
        };
        let missing: Vec<&TableName> = tables.iter().filter(|t| !present.contains(t)).collect();
        if !missing.is_empty() {
            let names = missing.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
            let fix = Some(format!("ALTER PUBLICATION {quoted} ADD TABLE {};", table_list(&missing)));
            let can_add = server.superuser || (owns_publication && missing.iter().all(|t| owned.contains(t)));
            findings.push(if can_add {
                Finding::warning(&subject, format!("Lacks {names}; Sluice adds them on the first run"), fix)
            } else {
                Finding::error(
                    &subject,
                    format!(
                        "Lacks {names}, and role {} may not add them (it must own the publication and the tables)",
                        server.role
                    ),
                    fix,
                )
            });
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(subject, "Exists and publishes every routed table"));
    }
    findings
}

/// The routed tables the role owns (directly or through a role it belongs to).
async fn owned_tables(client: &Client, tables: &[TableName]) -> Result<Vec<TableName>, tokio_postgres::Error> {
    let mut owned = Vec::new();
    for table in tables {
        let row = client
            .query_opt(
                "SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                &[&table.schema, &table.name],
            )
            .await?;
        if row.is_some_and(|r| r.get::<_, bool>(0)) {
            owned.push(table.clone());
        }
    }
    Ok(owned)
}

async fn table_findings(client: &Client, server: &ServerFacts, table: &TableName) -> Vec<Finding> {
    let subject = format!("table {table}");
    let quoted = quote_table(table);
    let schema = match crate::describe_source_table(client, table).await {
        Ok(Some(schema)) => schema,
        Ok(None) => {
            return vec![Finding::error(
                subject,
                format!(
                    "Table {table} does not exist in database {} (names are case-sensitive); fix the route or create it",
                    server.database
                ),
                None,
            )];
        }
        Err(error) => return vec![Finding::failed(subject, "describe the table", &error)],
    };
    let identity = match crate::replica_identity(client, table).await {
        Ok(identity) => identity.unwrap_or('d'),
        Err(error) => return vec![Finding::failed(subject, "read the replica identity", &error)],
    };
    let has_key = schema.columns.iter().any(|c| c.is_key);
    let mut findings = Vec::new();
    let identity_fix =
        Some(format!("ALTER TABLE {quoted} ADD PRIMARY KEY (…); -- or: ALTER TABLE {quoted} REPLICA IDENTITY FULL;"));
    match identity {
        'n' => findings.push(Finding::error(
            &subject,
            "REPLICA IDENTITY NOTHING: PostgreSQL refuses updates and deletes on it once published, and they \
             cannot be replicated",
            Some(format!(
                "ALTER TABLE {quoted} REPLICA IDENTITY DEFAULT; -- with a primary key, or REPLICA IDENTITY FULL"
            )),
        )),
        'd' if !has_key => findings.push(Finding::error(
            &subject,
            "No primary key and REPLICA IDENTITY DEFAULT: updates and deletes cannot be replicated \
             (PostgreSQL refuses them on a published table)",
            identity_fix,
        )),
        'f' if !has_key => findings.push(Finding::warning(
            &subject,
            "REPLICA IDENTITY FULL without a primary key: changes carry whole old rows (more WAL) and the \
             route must name its key columns",
            None,
        )),
        _ => {}
    }
    match client.query_one("SELECT has_table_privilege($1, 'SELECT')", &[&quoted]).await {
        Ok(row) if row.get::<_, bool>(0) => {}
        Ok(_) => findings.push(Finding::error(
            &subject,
            format!("Role {} may not read the table (needed for the initial copy)", server.role),
            Some(format!("GRANT SELECT ON {quoted} TO {};", quote_ident(&server.role))),
        )),
        Err(error) => findings.push(Finding::failed(&subject, "check the SELECT privilege", &error)),
    }
    if findings.is_empty() {
        let identity = match identity {
            'f' => "replica identity full",
            'i' => "replica identity index",
            _ => "primary key",
        };
        findings.push(Finding::ok(subject, format!("{} columns, {identity}, readable", schema.columns.len())));
    }
    findings
}
