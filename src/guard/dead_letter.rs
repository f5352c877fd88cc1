//! Dead letters: changes of `on_error = "dead_letter"` routes that could not
//! be mapped or that the target refused, recorded in the target's
//! dead-letter table in the same transaction as the position that passes
//! over them — so after any crash a dead letter exists exactly when its
//! change counts as applied.
//!
//! Order is never broken: once a source row (route + source key) has a dead
//! letter, its later changes are recorded behind it ("waits behind an
//! earlier dead letter") instead of being applied, until `sluice dlq retry`
//! applies them in order or `sluice dlq drop` discards them. The set of
//! such blocked keys is read from the table when a writer starts.
//!
//! The raw change is kept as JSON ([`RecordedChange`]) so a retry can map it
//! again through the route as configured then (after the DBA fixed the map,
//! the target constraint or the route).

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_api::owned::{DEAD_LETTER_COLUMNS, DEAD_LETTER_KEY};
use sluice_api::{
    Change, Column, ColumnType, ConnectorError, Operation, Position, RowWrite, Sink, TableName, TableSchema,
    TargetTable, Transaction, Value,
};

use crate::connectors::AnySink;
use crate::route::Guarded;

/// The error text of a change recorded behind an earlier dead letter.
pub(crate) const WAITING: &str = "waits behind an earlier dead letter of this source row";

/// A change as the dead-letter table keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RecordedChange {
    /// `schema.table`.
    pub(crate) table: String,
    pub(crate) operation: String,
    pub(crate) columns: Vec<RecordedColumn>,
    pub(crate) full_before_image: bool,
    pub(crate) before: Option<Vec<Value>>,
    pub(crate) after: Option<Vec<Value>>,
    pub(crate) transaction: String,
    pub(crate) position: String,
    pub(crate) commit_time_micros: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RecordedColumn {
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) key: bool,
}

impl RecordedChange {
    pub(crate) fn of(change: &Change) -> RecordedChange {
        RecordedChange {
            table: change.table.name.to_string(),
            operation: change.operation.as_str().to_owned(),
            columns: change
                .table
                .columns
                .iter()
                .map(|c| RecordedColumn { name: c.name.clone(), type_name: c.type_name.clone(), key: c.is_key })
                .collect(),
            full_before_image: change.table.full_before_image,
            before: change.before.clone(),
            after: change.after.clone(),
            transaction: change.transaction.id.clone(),
            position: change.transaction.position.encode(),
            commit_time_micros: change.transaction.commit_time_micros,
        }
    }

    /// The change again, to map it through a route. Column types are the
    /// source's type names only (routes map by name; values carry their kind).
    pub(crate) fn to_change(&self) -> Result<Change, String> {
        let table =
            TableName::parse(&self.table).ok_or_else(|| format!("table {:?} is not schema.table", self.table))?;
        let operation = match self.operation.as_str() {
            "insert" => Operation::Insert,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            "truncate" => Operation::Truncate,
            other => return Err(format!("unknown operation {other:?}")),
        };
        let position = Position::decode(&self.position).map_err(|e| e.to_string())?;
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                column_type: ColumnType::Other { name: c.type_name.clone() },
                type_name: c.type_name.clone(),
                type_id: 0,
                type_modifier: -1,
                is_key: c.key,
            })
            .collect();
        Ok(Change {
            transaction: Arc::new(Transaction {
                id: self.transaction.clone(),
                position,
                commit_time_micros: self.commit_time_micros,
                origin: None,
            }),
            table: Arc::new(TableSchema { id: 0, name: table, columns, full_before_image: self.full_before_image }),
            operation,
            before: self.before.clone(),
            after: self.after.clone(),
        })
    }
}

/// The dead-letter table of one target, and the source rows blocked behind
/// its entries for one pipeline.
pub(crate) struct DeadLetters {
    pipeline: String,
    table: Arc<TargetTable>,
    name: TableName,
    blocked: HashSet<(Arc<str>, String)>,
    journal: Vec<((Arc<str>, String), bool)>,
}

impl DeadLetters {
    /// Reads the keys `pipeline` has dead letters for.
    pub(crate) async fn load(
        sink: &mut AnySink,
        name: TableName,
        pipeline: &str,
    ) -> Result<DeadLetters, ConnectorError> {
        let rows = sink.select_text(&name, &["route", "source_key"], &[("pipeline", pipeline)], &[], None).await?;
        let blocked = rows
            .into_iter()
            .filter_map(|row| {
                let mut cells = row.into_iter();
                Some((Arc::from(cells.next()??.as_str()), cells.next()??))
            })
            .collect();
        Ok(DeadLetters::with_blocked(name, pipeline, blocked))
    }

    pub(crate) fn with_blocked(name: TableName, pipeline: &str, blocked: HashSet<(Arc<str>, String)>) -> DeadLetters {
        let columns = DEAD_LETTER_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        let table = TargetTable::new(name.schema.clone(), name.name.clone(), columns, DEAD_LETTER_KEY.to_vec());
        DeadLetters { pipeline: pipeline.to_owned(), table: Arc::new(table), name, blocked, journal: Vec::new() }
    }

    pub(crate) fn table_name(&self) -> &TableName {
        &self.name
    }

    pub(crate) fn blocked_count(&self) -> usize {
        self.blocked.len()
    }

    /// Whether the source row of `change` waits behind a dead letter.
    pub(crate) fn is_blocked(&self, change: &Guarded) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(Arc::clone(&change.route.name), change.source_key.clone()))
    }

    /// The entry recording `change` with `error`, blocking its source row.
    pub(crate) fn record(&mut self, change: &Guarded, error: &str) -> RowWrite {
        let key = (Arc::clone(&change.route.name), change.source_key.clone());
        let newly = self.blocked.insert(key.clone());
        self.journal.push((key, newly));
        let recorded = change.origin.as_deref().map(RecordedChange::of);
        let (table, operation, position) = match &recorded {
            Some(r) => (r.table.clone(), r.operation.clone(), r.position.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        let json = recorded.map(|r| serde_json::to_string(&r).expect("values serialize")).unwrap_or_default();
        RowWrite::Upsert {
            table: Arc::clone(&self.table),
            values: [
                self.pipeline.clone(),
                change.route.name.to_string(),
                change.source_key.clone(),
                change.seq.clone(),
                table,
                operation,
                position,
                error.to_owned(),
                json,
            ]
            .into_iter()
            .map(Value::Text)
            .collect(),
        }
    }

    /// The delete of one entry (a retried or dropped dead letter).
    pub(crate) fn remove_entry(&self, route: &str, source_key: &str, seq: &str) -> RowWrite {
        RowWrite::Delete {
            table: Arc::clone(&self.table),
            key: vec![Value::Text(route.to_owned()), Value::Text(source_key.to_owned()), Value::Text(seq.to_owned())],
        }
    }

    /// The source row no longer waits (its dead letters are gone).
    pub(crate) fn unblock(&mut self, route: &str, source_key: &str) {
        let key = (Arc::from(route), source_key.to_owned());
        if self.blocked.remove(&key) {
            self.journal.push((key, false));
        }
    }

    pub(crate) fn mark(&self) -> usize {
        self.journal.len()
    }

    /// Undoes blocks and unblocks since `mark` (their writes were rolled back).
    pub(crate) fn undo_to(&mut self, mark: usize) {
        while self.journal.len() > mark {
            let (key, inserted) = self.journal.pop().expect("above mark");
            if inserted {
                self.blocked.remove(&key);
            } else {
                self.blocked.insert(key);
            }
        }
    }

    pub(crate) fn committed(&mut self) {
        self.journal.clear();
    }

    /// The open transaction was rolled back: undo everything since the last commit.
    pub(crate) fn rolled_back(&mut self) {
        self.undo_to(0);
    }
}
