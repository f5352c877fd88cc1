//! Reconciling one chunk read with the stream: the chunk's window.
//!
//! A window opens in the router when the chunk's read is requested, so every
//! change the stream delivers from then on passes through it. Each change to
//! the chunk's table is classified by the read's [`ReadView`]:
//!
//! - while the read is in flight the changes are recorded;
//! - when the rows arrive, the recorded changes are replayed onto them, then
//!   later changes are applied as they come: a change the read did **not**
//!   see (or may not have seen) is merged into the buffered row of its key —
//!   insert and update replace it (an unchanged TOAST cell keeps the read's
//!   value, which is current precisely because the update did not touch it),
//!   delete removes it, truncate empties the chunk. A change the read saw is
//!   already in the rows and is skipped. The stream also applies every
//!   change to the target as usual;
//! - the chunk is emitted (written after everything the stream delivered
//!   before it) at the next transaction boundary, in chunk order;
//! - after emission and until the stream passes the read's `high` position,
//!   a change the read saw to a key the chunk wrote is *dropped* for the
//!   chunk's route: it is older than the row just written. Once the stream
//!   is past `high`, no change can have been seen and the window closes.
//!
//! One more case lies *before* the window: a transaction the stream
//! delivered (and the target applied) before the window opened, but which
//! the read still did not see. PostgreSQL makes a transaction visible to
//! other snapshots only after its commit record is flushed, and the
//! walsender decodes and sends it from the flush on; MariaDB's dump thread
//! can send a group from the binlog before InnoDB commits it. A busy machine
//! can stretch that moment long enough for the stream to deliver the
//! transaction, the router to open a window and the read to take its
//! snapshot in it. The window never recorded that change and the read's
//! rows lack it, so the chunk would write the row back as it was before
//! (a deleted row returns, an update is undone). [`Unconfirmed`] keeps, per
//! table, the delivered transactions no read has yet shown visible; a
//! window gets its table's list when it opens, and a read that did not see
//! one of them is discarded and the chunk read again (see
//! [`Window::rows_arrived`]).
//!
//! So the written row is never older than what the target held, and no
//! change is lost behind the copy. Per row, the transactions a read sees are
//! a prefix of that row's history (row locks order writers of one row, and
//! a writer waiting for another becomes visible after it), which is what
//! makes "skip seen, merge unseen" exact. `Seen::Maybe` changes (MySQL
//! without binlog snapshot status) are merged and never dropped: re-applying
//! changes in log order over a newer row converges to the same row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sluice_api::{Change, Operation, Position, ReadView, Row, Seen, TableName, Transaction, Value};

/// A key in hashable form: the key cells serialised.
pub(crate) type KeyBytes = Vec<u8>;

pub(crate) fn key_bytes(row: &Row, key: &[usize]) -> KeyBytes {
    let cells: Vec<&Value> = key.iter().map(|&i| &row[i]).collect();
    serde_json::to_vec(&cells).expect("values serialise")
}

/// Where a window is in its life.
#[derive(Debug)]
enum Phase {
    /// The read is in flight: changes are kept to replay onto its rows.
    /// `delivered`: transactions the stream had delivered to the table
    /// before the window opened and no read had shown visible yet.
    Reading { recorded: Vec<Change>, delivered: Vec<Arc<Transaction>> },
    /// Rows arrived; changes are merged as they come. `index` maps a key to
    /// its row; deleted rows become `None` (the order is kept for writing).
    Buffered { rows: Vec<Option<Row>>, index: HashMap<KeyBytes, usize>, view: ReadView, high: Position },
    /// Written: seen changes to these keys are dropped until the stream passes `high`.
    Emitted { keys: HashSet<KeyBytes>, view: ReadView, high: Position },
}

/// Why a chunk must be read again.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reread {
    /// The table's columns changed (DDL) between the read and the stream.
    SchemaChanged,
    /// The read did not see a transaction the stream delivered before the
    /// window opened (its commit was not yet visible when the read's
    /// snapshot was taken): its rows lack that change, and the window
    /// never recorded it.
    MissedDelivered,
}

/// What the stream does with a change a window observed, for the window's route.
#[derive(Debug)]
pub(crate) enum Observed {
    /// Apply it as it is.
    Apply,
    /// Drop it: the chunk's rows already hold its effect.
    Suppress,
    /// Apply this part of it instead (a key change half inside the chunk).
    Replace(Change),
}

/// One chunk's window. `columns` are the read's column names; `key` the
/// key column indices into them.
#[derive(Debug)]
pub(crate) struct Window {
    columns: Vec<String>,
    key: Vec<usize>,
    phase: Phase,
}

impl Window {
    /// Opens the window. `delivered`: what [`Unconfirmed::of`] lists for the
    /// table now, i.e. the transactions the stream delivered before this
    /// moment that the read might still not see.
    pub(crate) fn open(columns: Vec<String>, key: Vec<usize>, delivered: Vec<Arc<Transaction>>) -> Window {
        Window { columns, key, phase: Phase::Reading { recorded: Vec::new(), delivered } }
    }

    /// The read's rows arrived (with the columns and key they follow, which
    /// are newer than the window's if the table was altered): replays what
    /// was recorded meanwhile. A read that did not see a transaction the
    /// stream delivered before the window opened is refused
    /// ([`Reread::MissedDelivered`]); the window is then useless and the
    /// chunk must be read again in a new one.
    pub(crate) fn rows_arrived(
        &mut self,
        columns: Vec<String>,
        key: Vec<usize>,
        rows: Vec<Row>,
        view: ReadView,
        high: Position,
    ) -> Result<(), Reread> {
        let Phase::Reading { recorded, delivered } = &mut self.phase else {
            panic!("rows arrived twice for one window");
        };
        // The race this closes: the stream delivered transaction T (say, a
        // delete of row K) and the writer applied it; then this window
        // opened, so T is not among `recorded`; then the read took its
        // snapshot while T's commit was still invisible (flushed and sent,
        // not yet visible to other snapshots), so the rows still hold the
        // old K. Merging cannot repair that (T's changes are gone), and
        // writing the rows would resurrect K behind T. Only `Seen::No`
        // counts: `Maybe` (MySQL) is undecidable by any read, and a
        // delivered transaction is always `Yes` or `Maybe` there (see the
        // MySQL gap in ARCHITECTURE.md).
        if delivered.iter().any(|transaction| view.saw(transaction) == Seen::No) {
            return Err(Reread::MissedDelivered);
        }
        let recorded = std::mem::take(recorded);
        self.columns = columns;
        self.key = key;
        let index = rows.iter().enumerate().map(|(i, row)| (key_bytes(row, &self.key), i)).collect();
        self.phase = Phase::Buffered { rows: rows.into_iter().map(Some).collect(), index, view, high };
        for change in &recorded {
            self.merge(change)?;
        }
        Ok(())
    }

    pub(crate) fn is_buffered(&self) -> bool {
        matches!(self.phase, Phase::Buffered { .. })
    }

    /// A change to the window's table, in stream order: what the chunk's
    /// route must do with it (see [`Observed`]; only a change seen by the
    /// read that touches a key the chunk wrote is dropped or split).
    pub(crate) fn observe(&mut self, change: &Change) -> Result<Observed, Reread> {
        let same_columns = self.same_columns(change);
        match &mut self.phase {
            Phase::Reading { recorded, .. } => {
                recorded.push(change.clone());
                Ok(Observed::Apply)
            }
            Phase::Buffered { .. } => {
                self.merge(change)?;
                Ok(Observed::Apply)
            }
            Phase::Emitted { keys, view, .. } => {
                if view.saw(&change.transaction) != Seen::Yes || !same_columns {
                    // Unseen: newer than the chunk. Other columns (the table
                    // was altered after the read): the chunk did not write
                    // them, the change must.
                    return Ok(Observed::Apply);
                }
                let in_chunk =
                    |image: &Option<Row>| image.as_ref().map(|row| keys.contains(&key_bytes(row, &self.key)));
                // Per key: the chunk's row holds the seen changes of a key it
                // wrote, the stream must apply those of any other key. A key
                // change with one side in the chunk is split: dropping it
                // whole would leave the other key as an earlier seen change
                // (applied by the stream) made it — e.g. a row inserted and
                // then renamed into the chunk would stay under its old key.
                Ok(match (in_chunk(&change.before), in_chunk(&change.after)) {
                    (Some(false), Some(true)) => {
                        Observed::Replace(Change { operation: Operation::Delete, after: None, ..change.clone() })
                    }
                    (Some(true), Some(false))
                        if !change.after.iter().flatten().any(|v| matches!(v, Value::Unchanged)) =>
                    {
                        Observed::Replace(Change { operation: Operation::Insert, before: None, ..change.clone() })
                    }
                    (Some(true), _) | (_, Some(true)) => Observed::Suppress,
                    _ => Observed::Apply,
                })
            }
        }
    }

    fn same_columns(&self, change: &Change) -> bool {
        change.table.columns.len() == self.columns.len()
            && change.table.columns.iter().zip(&self.columns).all(|(c, name)| &c.name == name)
    }

    fn merge(&mut self, change: &Change) -> Result<(), Reread> {
        let same_columns = self.same_columns(change);
        let Phase::Buffered { rows, index, view, .. } = &mut self.phase else { return Ok(()) };
        if view.saw(&change.transaction) == Seen::Yes {
            return Ok(());
        }
        if change.operation == Operation::Truncate {
            rows.iter_mut().for_each(|row| *row = None);
            return Ok(());
        }
        if !same_columns {
            return Err(Reread::SchemaChanged);
        }
        let old_key = change.before.as_ref().map(|row| key_bytes(row, &self.key));
        let new_key = change.after.as_ref().map(|row| key_bytes(row, &self.key));
        match change.operation {
            Operation::Delete => {
                if let Some(slot) = old_key.and_then(|k| index.get(&k)) {
                    rows[*slot] = None;
                }
            }
            Operation::Insert | Operation::Update => {
                let after = change.after.as_ref().expect("inserts and updates carry a new image");
                let new_key = new_key.expect("new image present");
                if let Some(old_key) = old_key.filter(|k| *k != new_key)
                    && let Some(slot) = index.get(&old_key)
                {
                    // Key change: the stream deletes the old key.
                    rows[*slot] = None;
                }
                if let Some(&slot) = index.get(&new_key) {
                    let merged = match &rows[slot] {
                        Some(current) => after
                            .iter()
                            .zip(current)
                            .map(|(new, old)| if matches!(new, Value::Unchanged) { old.clone() } else { new.clone() })
                            .collect(),
                        None => after.clone(),
                    };
                    if merged.iter().any(|v| matches!(v, Value::Unchanged)) {
                        // Deleted and re-inserted with an unchanged cell cannot
                        // happen (inserts carry every value); keep the stream's word.
                        rows[slot] = None;
                    } else {
                        rows[slot] = Some(merged);
                    }
                }
            }
            Operation::Truncate => unreachable!("handled above"),
        }
        Ok(())
    }

    /// Takes the reconciled rows for writing and starts dropping seen
    /// changes to their keys. Only for a buffered window.
    pub(crate) fn emit(&mut self) -> Vec<Row> {
        let Phase::Buffered { rows, view, high, .. } =
            std::mem::replace(&mut self.phase, Phase::Reading { recorded: Vec::new(), delivered: Vec::new() })
        else {
            panic!("emit before the rows arrived");
        };
        let rows: Vec<Row> = rows.into_iter().flatten().collect();
        let keys = rows.iter().map(|row| key_bytes(row, &self.key)).collect();
        self.phase = Phase::Emitted { keys, view, high };
        rows
    }

    pub(crate) fn is_emitted(&self) -> bool {
        matches!(self.phase, Phase::Emitted { .. })
    }

    /// Whether the window can close: emitted, and the stream is past `high`.
    pub(crate) fn closes_at(&self, stream: &Position) -> bool {
        matches!(&self.phase, Phase::Emitted { high, .. } if stream >= high)
    }

    /// The position the stream must pass before an emitted window closes.
    pub(crate) fn waiting_for(&self) -> Option<&Position> {
        match &self.phase {
            Phase::Emitted { high, .. } => Some(high),
            Phase::Buffered { .. } | Phase::Reading { .. } => None,
        }
    }
}

/// The transactions the stream delivered, per table, that no read view has
/// shown visible yet: what a window opening now must find seen by its read
/// (see the module documentation).
///
/// An entry leaves when a view sees it. That is final: a committed
/// transaction visible to one snapshot is visible to every later one
/// (PostgreSQL), and a binlog position seen before is seen by every later
/// snapshot. Windows already open keep the copy they took, so a view that
/// arrives out of order prunes only what later windows are handed. Binlog
/// views split transactions by position, which grows in stream order, so
/// per table only the newest delivered transaction is kept: whenever an
/// older one is unseen, so is it. PostgreSQL visibility follows no such
/// order: every transaction is kept until a view sees it, and when many
/// pile up without chunk reads (no snapshot running) the router asks for a
/// view alone (`wants_view`).
#[derive(Debug, Default)]
pub(crate) struct Unconfirmed {
    tables: HashMap<TableName, Vec<Arc<Transaction>>>,
    /// Entries over all tables.
    len: usize,
    /// The last (transaction, table) noted: most changes repeat it.
    last: Option<(Arc<Transaction>, TableName)>,
}

impl Unconfirmed {
    /// Entries beyond which a view alone is asked for.
    pub(crate) const VIEW_WANTED_AT: usize = 4096;

    /// The stream delivered a change of `transaction` to `table`.
    pub(crate) fn delivered(&mut self, table: &TableName, transaction: &Arc<Transaction>) {
        // Noted already (and if a view has pruned it since, it is visible).
        if let Some((last, last_table)) = &self.last
            && Arc::ptr_eq(last, transaction)
            && last_table == table
        {
            return;
        }
        self.last = Some((Arc::clone(transaction), table.clone()));
        let list = match self.tables.get_mut(table) {
            Some(list) => list,
            None => self.tables.entry(table.clone()).or_default(),
        };
        if list.last().is_some_and(|last| Arc::ptr_eq(last, transaction) || **last == **transaction) {
            return;
        }
        if matches!(transaction.position, Position::Binlog(_)) {
            self.len -= list.len();
            list.clear();
        }
        list.push(Arc::clone(transaction));
        self.len += 1;
    }

    /// What a window of `table` opening now is handed.
    pub(crate) fn of(&self, table: &TableName) -> Vec<Arc<Transaction>> {
        self.tables.get(table).cloned().unwrap_or_default()
    }

    /// A read view arrived: what it saw is visible to every later read.
    pub(crate) fn confirmed(&mut self, view: &ReadView) {
        self.tables.retain(|_, list| {
            list.retain(|transaction| view.saw(transaction) != Seen::Yes);
            !list.is_empty()
        });
        self.len = self.tables.values().map(Vec::len).sum();
    }

    /// Whether so many entries wait that a view alone should be taken.
    pub(crate) fn wants_view(&self) -> bool {
        self.len >= Self::VIEW_WANTED_AT
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use sluice_api::{Column, ColumnType, Lsn, TableSchema};

    use super::*;

    /// `public.<table>`: `bigint` columns, the first the key. Shared with
    /// the router's chunk tests.
    pub(crate) fn bigint_schema(table: &str, columns: &[&str]) -> Arc<TableSchema> {
        let column = |(i, name): (usize, &&str)| Column {
            name: (*name).into(),
            column_type: ColumnType::Int { bytes: 8, unsigned: false },
            type_name: "bigint".into(),
            type_id: 20,
            type_modifier: -1,
            is_key: i == 0,
        };
        Arc::new(TableSchema {
            id: 1,
            name: TableName::new("public", table),
            columns: columns.iter().enumerate().map(column).collect(),
            full_before_image: false,
        })
    }

    fn schema() -> Arc<TableSchema> {
        bigint_schema("t", &["id", "v", "big"])
    }

    /// Snapshot: xids below 100 were seen, 100 and up were not.
    fn view() -> ReadView {
        ReadView::Postgres { xmin: 100, xmax: 100, in_progress: vec![] }
    }

    fn change(xid: u32, operation: Operation, before: Option<Row>, after: Option<Row>) -> Change {
        Change {
            transaction: Arc::new(Transaction {
                id: xid.to_string(),
                position: Position::Postgres(Lsn(u64::from(xid))),
                commit_time_micros: 0,
                origin: None,
            }),
            table: schema(),
            operation,
            before,
            after,
        }
    }

    fn row(id: i64, v: i64, big: i64) -> Row {
        vec![Value::Int(id), Value::Int(v), Value::Int(big)]
    }

    fn cols3() -> Vec<String> {
        vec!["id".into(), "v".into(), "big".into()]
    }

    fn window() -> Window {
        Window::open(vec!["id".into(), "v".into(), "big".into()], vec![0], Vec::new())
    }

    fn high() -> Position {
        Position::Postgres(Lsn(500))
    }

    #[test]
    fn unseen_changes_recorded_during_the_read_are_merged_into_its_rows() {
        let mut w = window();
        // Seen by the read: already in its rows, must not be re-applied.
        w.observe(&change(99, Operation::Update, None, Some(row(1, 0, 0)))).unwrap();
        // Unseen: newer than the read.
        w.observe(&change(101, Operation::Update, None, Some(row(1, 5, 5)))).unwrap();
        w.observe(&change(102, Operation::Delete, Some(row(2, 0, 0)), None)).unwrap();
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 1), row(2, 2, 2), row(3, 3, 3)], view(), high()).unwrap();
        assert_eq!(w.emit(), vec![row(1, 5, 5), row(3, 3, 3)]);
    }

    #[test]
    fn a_read_that_missed_a_transaction_delivered_before_the_window_opened_is_refused() {
        // The interleaving seen under load: transaction 100 deletes row 2 and
        // updates row 1; its commit record is flushed, the stream delivers
        // it and the target applies it; only then does the chunk's window
        // open (recording nothing of 100); and the read's snapshot is taken
        // before 100 is visible (xmax 100). Its rows still hold both old rows.
        let delete = change(100, Operation::Delete, Some(row(2, 2, 2)), None);
        let stale = || vec![row(1, 1, 1), row(2, 2, 2), row(3, 3, 3)];
        let mut w = Window::open(cols3(), vec![0], vec![Arc::clone(&delete.transaction)]);
        assert_eq!(
            w.rows_arrived(cols3(), vec![0], stale(), view(), high()),
            Err(Reread::MissedDelivered),
            "writing these rows would bring row 2 back and undo the update of row 1"
        );
        // Still in progress in the snapshot (in its xip list): the same.
        let mut w = Window::open(cols3(), vec![0], vec![Arc::clone(&delete.transaction)]);
        let running = ReadView::Postgres { xmin: 100, xmax: 105, in_progress: vec![100] };
        assert_eq!(w.rows_arrived(cols3(), vec![0], stale(), running, high()), Err(Reread::MissedDelivered));
        // The chunk read again once 100 is visible: its rows are taken as read.
        let mut again = Window::open(cols3(), vec![0], vec![delete.transaction]);
        let later = ReadView::Postgres { xmin: 101, xmax: 101, in_progress: vec![] };
        again.rows_arrived(cols3(), vec![0], vec![row(1, 6, 1), row(3, 3, 3)], later, high()).unwrap();
        assert_eq!(again.emit(), vec![row(1, 6, 1), row(3, 3, 3)]);
    }

    #[test]
    fn a_maybe_seen_delivered_transaction_does_not_refuse_the_read() {
        // MySQL: nothing is surely seen, so no read could ever do better.
        use sluice_api::BinlogPosition;
        let at = |offset| BinlogPosition { file: "b.000001".into(), offset, gtid: None };
        let delivered = Arc::new(Transaction {
            id: "0-1-1".into(),
            position: Position::Binlog(at(150)),
            commit_time_micros: 0,
            origin: None,
        });
        let view = ReadView::Binlog { seen_before: at(0), unseen_from: at(200) };
        let mut w = Window::open(cols3(), vec![0], vec![delivered]);
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 1)], view, Position::Binlog(at(300))).unwrap();
        assert_eq!(w.emit(), vec![row(1, 1, 1)]);
    }

    #[test]
    fn delivered_transactions_stay_unconfirmed_until_a_view_sees_them() {
        let t = TableName::new("public", "t");
        let u = TableName::new("public", "u");
        let mut unconfirmed = Unconfirmed::default();
        let (a, b, c) = (
            change(100, Operation::Insert, None, Some(row(1, 1, 1))),
            change(101, Operation::Insert, None, None),
            change(102, Operation::Insert, None, None),
        );
        unconfirmed.delivered(&t, &a.transaction);
        unconfirmed.delivered(&t, &a.transaction);
        unconfirmed.delivered(&t, &b.transaction);
        unconfirmed.delivered(&u, &b.transaction);
        unconfirmed.delivered(&u, &c.transaction);
        let ids = |list: Vec<Arc<Transaction>>| list.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(unconfirmed.of(&t)), ["100", "101"], "one entry per transaction and table");
        // 101 visible; 100 still in progress; 102 not yet visible.
        unconfirmed.confirmed(&ReadView::Postgres { xmin: 100, xmax: 102, in_progress: vec![100] });
        assert_eq!(ids(unconfirmed.of(&t)), ["100"]);
        assert_eq!(ids(unconfirmed.of(&u)), ["102"]);
        unconfirmed.confirmed(&ReadView::Postgres { xmin: 103, xmax: 103, in_progress: vec![] });
        assert!(unconfirmed.of(&t).is_empty() && unconfirmed.of(&u).is_empty());
        assert!(!unconfirmed.wants_view());
        for xid in 200..200 + Unconfirmed::VIEW_WANTED_AT as u32 {
            unconfirmed.delivered(&t, &change(xid, Operation::Insert, None, None).transaction);
        }
        assert!(unconfirmed.wants_view(), "many unconfirmed without reads: a view alone is wanted");
    }

    #[test]
    fn binlog_keeps_the_newest_delivered_transaction_per_table() {
        use sluice_api::BinlogPosition;
        let t = TableName::new("db", "t");
        let at = |offset| BinlogPosition { file: "b.000001".into(), offset, gtid: None };
        let tx = |offset| {
            Arc::new(Transaction {
                id: format!("0-1-{offset}"),
                position: Position::Binlog(at(offset)),
                commit_time_micros: 0,
                origin: None,
            })
        };
        let mut unconfirmed = Unconfirmed::default();
        for offset in [100, 200, 300] {
            unconfirmed.delivered(&t, &tx(offset));
        }
        let of = unconfirmed.of(&t);
        assert_eq!(of.len(), 1);
        assert_eq!(of[0].position, Position::Binlog(at(300)));
        unconfirmed.confirmed(&ReadView::Binlog { seen_before: at(301), unseen_from: at(301) });
        assert!(unconfirmed.of(&t).is_empty());
    }

    #[test]
    fn an_unchanged_toast_cell_keeps_the_value_the_read_saw() {
        let mut w = window();
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 77)], view(), high()).unwrap();
        let partial = vec![Value::Int(1), Value::Int(9), Value::Unchanged];
        w.observe(&change(101, Operation::Update, None, Some(partial))).unwrap();
        assert_eq!(w.emit(), vec![row(1, 9, 77)]);
    }

    #[test]
    fn a_key_change_removes_the_old_key_and_inserts_are_left_to_the_stream() {
        let mut w = window();
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 1), row(2, 2, 2)], view(), high()).unwrap();
        w.observe(&change(101, Operation::Update, Some(row(1, 1, 1)), Some(row(10, 1, 1)))).unwrap();
        w.observe(&change(102, Operation::Insert, None, Some(row(4, 4, 4)))).unwrap();
        assert_eq!(w.emit(), vec![row(2, 2, 2)]);
    }

    #[test]
    fn truncate_empties_the_chunk() {
        let mut w = window();
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 1)], view(), high()).unwrap();
        w.observe(&change(101, Operation::Truncate, None, None)).unwrap();
        assert!(w.emit().is_empty());
    }

    /// Whether the window drops the change for its route.
    fn dropped(observed: Result<Observed, Reread>) -> bool {
        matches!(observed.expect("no reread"), Observed::Suppress)
    }

    #[test]
    fn after_emission_seen_changes_to_written_keys_are_dropped_until_high() {
        let mut w = window();
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 1)], view(), high()).unwrap();
        w.emit();
        assert!(
            dropped(w.observe(&change(99, Operation::Update, None, Some(row(1, 0, 0))))),
            "seen: older than the written row"
        );
        assert!(!dropped(w.observe(&change(99, Operation::Update, None, Some(row(2, 0, 0))))), "not a written key");
        assert!(!dropped(w.observe(&change(101, Operation::Update, None, Some(row(1, 6, 6))))), "unseen: newer");
        assert!(!w.closes_at(&Position::Postgres(Lsn(499))));
        assert!(w.closes_at(&Position::Postgres(Lsn(500))));
    }

    #[test]
    fn maybe_seen_changes_are_merged_and_never_dropped() {
        use sluice_api::BinlogPosition;
        let at = |offset| BinlogPosition { file: "b.000001".into(), offset, gtid: None };
        let view = ReadView::Binlog { seen_before: at(100), unseen_from: at(200) };
        let binlog_change = |offset, after| Change {
            transaction: Arc::new(Transaction {
                id: "0-1-1".into(),
                position: Position::Binlog(at(offset)),
                commit_time_micros: 0,
                origin: None,
            }),
            table: schema(),
            operation: Operation::Update,
            before: None,
            after: Some(after),
        };
        let mut w = window();
        w.observe(&binlog_change(150, row(1, 7, 7))).unwrap();
        w.rows_arrived(cols3(), vec![0], vec![row(1, 1, 1)], view, Position::Binlog(at(300))).unwrap();
        assert_eq!(w.emit(), vec![row(1, 7, 7)]);
        assert!(!dropped(w.observe(&binlog_change(150, row(1, 8, 8)))));
        assert!(dropped(w.observe(&binlog_change(50, row(1, 8, 8)))));
    }

    #[test]
    fn a_seen_change_with_columns_the_chunk_lacks_is_not_dropped() {
        // The chunk was read with the table's old columns (id, v); the
        // change, seen by the read, also carries `big`, which only it writes.
        let mut w = Window::open(vec!["id".into(), "v".into()], vec![0], Vec::new());
        w.rows_arrived(
            vec!["id".into(), "v".into()],
            vec![0],
            vec![vec![Value::Int(1), Value::Int(1)]],
            view(),
            high(),
        )
        .unwrap();
        w.emit();
        assert!(!dropped(w.observe(&change(99, Operation::Update, None, Some(row(1, 1, 5))))));
    }

    #[test]
    fn a_schema_change_during_the_window_asks_for_a_reread() {
        let mut w = Window::open(vec!["id".into(), "v".into()], vec![0], Vec::new());
        w.rows_arrived(
            vec!["id".into(), "v".into()],
            vec![0],
            vec![vec![Value::Int(1), Value::Int(1)]],
            view(),
            high(),
        )
        .unwrap();
        assert!(matches!(
            w.observe(&change(101, Operation::Update, None, Some(row(1, 2, 2)))),
            Err(Reread::SchemaChanged)
        ));
    }

    #[test]
    fn after_emission_a_seen_key_change_into_a_written_key_still_deletes_the_old_key() {
        // One source transaction, seen by the read: insert 1, then rename
        // 1 -> 10. The chunk holds 10 only. The insert of 1 is not the
        // chunk's (the stream applies it), so the rename's removal of 1
        // must be applied too, while 10 stays as the chunk wrote it.
        let mut w = window();
        w.rows_arrived(cols3(), vec![0], vec![row(10, 1, 1)], view(), high()).unwrap();
        w.emit();
        assert!(!dropped(w.observe(&change(99, Operation::Insert, None, Some(row(1, 1, 1))))));
        match w.observe(&change(99, Operation::Update, Some(row(1, 1, 1)), Some(row(10, 1, 1)))).unwrap() {
            Observed::Replace(part) => {
                assert_eq!(part.operation, Operation::Delete);
                assert_eq!(part.before, Some(row(1, 1, 1)));
                assert_eq!(part.after, None);
            }
            other => panic!("expected the old key's delete alone, got {other:?}"),
        }
        // The other way round: renamed out of the chunk's key 10 into 2;
        // the chunk's 10 stays, the stream inserts 2.
        match w.observe(&change(99, Operation::Update, Some(row(10, 1, 1)), Some(row(2, 1, 1)))).unwrap() {
            Observed::Replace(part) => {
                assert_eq!(part.operation, Operation::Insert);
                assert_eq!(part.before, None);
                assert_eq!(part.after, Some(row(2, 1, 1)));
            }
            other => panic!("expected the new key's insert alone, got {other:?}"),
        }
    }
}
