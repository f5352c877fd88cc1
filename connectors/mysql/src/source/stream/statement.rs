//! What Query statements and rows events do to the open group.
//!
//! Statements (`ddl.rs` classifies them): `BEGIN`/`XA START` open a group,
//! `COMMIT`/`ROLLBACK` end one; `TRUNCATE` of a routed table is a Truncate
//! change; DDL naming a table drops what is cached about it, so its next
//! table map is described afresh; DDL that changes rows without rows events
//! (partition truncation, exchange, tablespace import) and statement-based
//! DML on routed tables stop the stream, because the targets cannot follow.
//!
//! Rows events of routed tables are decoded row by row and sent as they are
//! decoded; those of other tables are skipped by their table id, undecoded.

use std::sync::Arc;

use sluice_api::{Change, Operation, Position, SourceEvent, TableName};

use super::{Decoder, Stop};
use crate::error::MySqlError;
use crate::source::ddl::Statement;
use crate::source::rows;
use crate::source::tables::Lookup;

impl Decoder {
    /// The error for a routed table dropped at `event_start`.
    fn dropped(&self, table: &TableName, event_start: u64) -> MySqlError {
        MySqlError::ResnapshotNeeded {
            message: format!(
                "Routed table {table} was dropped at {}; its rows remain in the targets but are gone from the \
                 source. Remove its route, or re-create the table and re-copy it",
                Position::Binlog(self.position(event_start))
            ),
        }
    }

    pub(super) async fn statement(
        &mut self,
        statement: Statement,
        event_start: u64,
        timestamp: u32,
        log_pos: u64,
    ) -> Result<(), Stop> {
        let standalone = self.group.is_none();
        match &statement {
            Statement::Begin | Statement::XaStart => {
                let xa = statement == Statement::XaStart;
                match self.group.as_mut() {
                    // MariaDB's GTID event already opened the group (and stands for BEGIN).
                    Some(group) if !group.begun => group.xa |= xa,
                    Some(_) => self.expect_no_group("BEGIN")?,
                    None => self.open_group(event_start, timestamp, xa),
                }
                return Ok(());
            }
            Statement::Commit | Statement::Rollback if !standalone => return self.commit(log_pos).await,
            _ => {}
        }
        if standalone {
            self.open_group(event_start, timestamp, false);
        }
        let covered = self.group.as_ref().is_some_and(|group| group.covered);
        match statement {
            Statement::Truncate(table) if self.tables.routes.contains(&table) && !covered => {
                let schema = self.tables.schema_for_truncate(&table).await?;
                let transaction = self.begin_if_needed().await?;
                let change =
                    Change { transaction, table: schema, operation: Operation::Truncate, before: None, after: None };
                self.emit(SourceEvent::Change(change)).await?;
            }
            Statement::RollbackToSavepoint if self.group.as_ref().is_some_and(|group| group.begun) => {
                return Err(MySqlError::Unreplicable {
                    position: Position::Binlog(self.position(event_start)).to_string(),
                    reason: "a transaction rolled back to a savepoint after changes of routed tables were logged \
                             (it mixed transactional and non-transactional tables), so which changes remain is \
                             unknown"
                        .into(),
                }
                .into());
            }
            Statement::SchemaChange(tables) => {
                for table in tables {
                    if self.tables.routes.contains(&table) {
                        tracing::info!(table = %table, "schema change of a routed table; its next table map describes it");
                    }
                    self.tables.forget(&table);
                }
            }
            // A dropped routed table took its rows with it, without row
            // events: the targets still hold them. Carrying on would leave
            // them stale (and mix them with a re-created table's rows), so
            // the route stops and says what to do.
            Statement::DropTables(tables) => {
                if !covered && let Some(table) = tables.iter().find(|table| self.tables.routes.contains(table)) {
                    return Err(self.dropped(table, event_start).into());
                }
                for table in tables {
                    self.tables.forget(&table);
                }
            }
            Statement::DropSchema(schema) => {
                let dropped = self.tables.routes.in_schema(&schema);
                if !covered && let Some(table) = dropped.first() {
                    return Err(self.dropped(table, event_start).into());
                }
                for table in dropped {
                    self.tables.forget(&table);
                }
            }
            Statement::Unmappable { table, operation } if self.tables.routes.contains(&table) && !covered => {
                return Err(MySqlError::ResnapshotNeeded {
                    message: format!(
                        "ALTER TABLE {table} … {operation} at {} changed rows without row events; the targets \
                         cannot follow it",
                        Position::Binlog(self.position(event_start))
                    ),
                }
                .into());
            }
            Statement::Dml(names) if !covered => {
                if let Some(table) = names.into_iter().find(|table| self.tables.routes.contains(table)) {
                    return Err(MySqlError::Config {
                        setting: "binlog_format".into(),
                        message: format!(
                            "A statement-based change that mentions routed table {table} is in the binlog at {}: \
                             a session wrote with binlog_format other than ROW. Make every writer use ROW",
                            Position::Binlog(self.position(event_start))
                        ),
                    }
                    .into());
                }
            }
            _ => {}
        }
        if standalone {
            self.commit(log_pos).await?;
        }
        Ok(())
    }

    pub(super) async fn rows(&mut self, event_type: u8, body: &[u8]) -> Result<(), Stop> {
        let Some(group) = &self.group else {
            return Err(MySqlError::Protocol {
                what: "rows event",
                reason: format!("rows outside a transaction at {}:{}", self.file, self.end),
            }
            .into());
        };
        if group.covered {
            return Ok(());
        }
        let table_id = rows::table_id(body, self.id_size)?;
        let table = match self.tables.lookup(table_id) {
            Lookup::Unrouted => return Ok(()),
            Lookup::Routed(table) => table,
            Lookup::Unknown => {
                return Err(MySqlError::Protocol {
                    what: "rows event",
                    reason: format!(
                        "rows for table id {table_id}, which no table map announced, at {}:{}",
                        self.file, self.end
                    ),
                }
                .into());
            }
        };
        if group.xa {
            return Err(MySqlError::Unreplicable {
                position: Position::Binlog(self.position(self.end)).to_string(),
                reason: format!(
                    "an XA transaction changed routed table {}; its prepared changes may still be rolled back, \
                     and XA transactions are not supported",
                    table.schema.name
                ),
            }
            .into());
        }
        let event = rows::parse(event_type, body, self.id_size)?;
        let operation = event.operation;
        let transaction = self.begin_if_needed().await?;
        for images in event.rows(&table)? {
            let (before, after) = images?;
            let change = Change {
                transaction: Arc::clone(&transaction),
                table: Arc::clone(&table.schema),
                operation,
                before,
                after,
            };
            self.emit(SourceEvent::Change(change)).await?;
        }
        Ok(())
    }
}
