//! The router's side of snapshots: the open chunk windows of one source.
//!
//! The router owns the windows because it alone sees every change in log
//! order: a window opens when its chunk is planned (before the read starts,
//! so no change slips between), observes each change to its table, receives
//! the read's rows, and is emitted to the target writer between source
//! transactions, in chunk order per job. See `snapshot/window.rs` for the
//! reconciliation rules.
//!
//! Every change the stream delivers is also noted, by transaction and
//! table, until a read view shows the transaction visible
//! ([`Unconfirmed`]): a window opening later hands that list to its read,
//! which must have seen all of it, or the chunk is read again. When no
//! chunk reads come to prune the list, a view alone is asked for.

use std::sync::Arc;
use std::time::Duration;

use sluice_api::{Change, ConnectorError, Position, ReadView, Row, TableSchema};
use tokio::sync::mpsc;

use crate::snapshot::SnapshotError;
use crate::snapshot::planner::PlannedChunk;
use crate::snapshot::reader::ReadChunk;
use crate::snapshot::window::{Observed, Reread, Unconfirmed, Window};

/// The wait before reading a chunk again whose read missed a delivered
/// transaction, doubled on each further miss up to [`MISSED_DELAY_MAX`]:
/// the commit is usually visible microseconds later, but a synchronous
/// standby that does not answer holds commits invisible for as long as
/// it is away, and the chunk must not be read in a busy loop meanwhile.
const MISSED_DELAY: Duration = Duration::from_millis(10);
const MISSED_DELAY_MAX: Duration = Duration::from_secs(1);

/// What the snapshot tasks send the router.
#[derive(Debug)]
pub(crate) enum SnapshotMessage {
    /// A read finished.
    Read { id: u64, result: Result<ReadChunk, ConnectorError> },
    /// A view alone ([`ReadRequest::View`]) was taken.
    View(Result<ReadView, ConnectorError>),
    /// A job failed; the session stops with this error.
    Failed(SnapshotError),
}

/// Work for a read worker.
#[derive(Debug)]
pub(crate) enum ReadRequest {
    /// Read a chunk; `id` matches the result to its window.
    Chunk {
        id: u64,
        chunk: PlannedChunk,
        /// Describe the table again first: its columns changed since the
        /// job described it.
        refresh: bool,
        /// Wait this long before reading.
        delay: Duration,
    },
    /// Take a read view alone, to learn which delivered transactions are
    /// visible now.
    View,
}

struct OpenChunk {
    id: u64,
    chunk: PlannedChunk,
    window: Window,
    /// The schema the read's rows follow (the job's, or newer after DDL).
    schema: Arc<TableSchema>,
    /// Reads of this chunk that missed a delivered transaction.
    missed: u32,
}

fn column_names(schema: &TableSchema) -> Vec<String> {
    schema.columns.iter().map(|c| c.name.clone()).collect()
}

pub(super) struct ChunkWindows {
    open: Vec<OpenChunk>,
    next_id: u64,
    reads: mpsc::Sender<ReadRequest>,
    /// Delivered transactions no read has shown visible yet.
    unconfirmed: Unconfirmed,
    /// A view alone was asked for and has not arrived.
    view_asked: bool,
}

impl ChunkWindows {
    pub(super) fn new(reads: mpsc::Sender<ReadRequest>) -> ChunkWindows {
        ChunkWindows { open: Vec::new(), next_id: 0, reads, unconfirmed: Unconfirmed::default(), view_asked: false }
    }

    /// The stream delivered `change` (every change, windows open or not: a
    /// window opening later must know what came before it).
    pub(super) fn delivered(&mut self, change: &Change) {
        self.unconfirmed.delivered(&change.table.name, &change.transaction);
        if self.unconfirmed.wants_view() && !self.view_asked {
            // A full queue holds chunk reads, whose views prune the list too.
            self.view_asked = self.reads.try_send(ReadRequest::View).is_ok();
        }
    }

    /// A view alone arrived.
    pub(super) fn view_arrived(&mut self, view: &ReadView) {
        self.view_asked = false;
        self.unconfirmed.confirmed(view);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Opens the chunk's window and asks a worker to read it.
    pub(super) async fn planned(&mut self, chunk: PlannedChunk) {
        let delivered = self.unconfirmed.of(&chunk.job.table);
        let window = Window::open(column_names(&chunk.job.schema), chunk.job.key.clone(), delivered);
        let id = self.next_id;
        self.next_id += 1;
        let schema = Arc::clone(&chunk.job.schema);
        self.open.push(OpenChunk { id, chunk: chunk.clone(), window, schema, missed: 0 });
        // Workers gone means the session is ending; the router notices elsewhere.
        let _ = self.reads.send(ReadRequest::Chunk { id, chunk, refresh: false, delay: Duration::ZERO }).await;
    }

    /// Reads the chunk again from scratch (its window restarts now).
    async fn reread(&mut self, index: usize, reason: Reread) {
        let open = &mut self.open[index];
        let (refresh, delay) = match reason {
            Reread::SchemaChanged => {
                tracing::info!(route = %open.chunk.job.route, chunk = open.chunk.seq, "table changed shape during a chunk read; reading the chunk again");
                (true, Duration::ZERO)
            }
            Reread::MissedDelivered => {
                open.missed += 1;
                tracing::debug!(route = %open.chunk.job.route, chunk = open.chunk.seq, misses = open.missed,
                    "the chunk's read did not see a transaction the stream had already delivered; reading the chunk again");
                let doublings = (open.missed - 1).min(8);
                // Read with the newer columns again if the last read had to.
                let refresh = !Arc::ptr_eq(&open.schema, &open.chunk.job.schema);
                (refresh, (MISSED_DELAY * (1 << doublings)).min(MISSED_DELAY_MAX))
            }
        };
        let delivered = self.unconfirmed.of(&open.chunk.job.table);
        open.window = Window::open(column_names(&open.chunk.job.schema), open.chunk.job.key.clone(), delivered);
        open.id = self.next_id;
        self.next_id += 1;
        let _ = self.reads.send(ReadRequest::Chunk { id: open.id, chunk: open.chunk.clone(), refresh, delay }).await;
    }

    /// A read's rows arrived.
    pub(super) async fn arrived(&mut self, id: u64, read: ReadChunk) {
        // Whatever becomes of the read, what it saw every later read sees.
        self.unconfirmed.confirmed(&read.read.view);
        let Some(index) = self.open.iter().position(|o| o.id == id) else { return };
        let open = &mut self.open[index];
        let columns = column_names(&read.schema);
        open.schema = read.schema;
        let ReadChunk { read, key, .. } = read;
        if let Err(reason) = open.window.rows_arrived(columns, key, read.rows, read.view, read.high) {
            self.reread(index, reason).await;
        }
    }

    /// Passes a change through the windows of its table; returns the routes
    /// it must not be applied to (seen by a chunk already written), each
    /// with the part of it that route must apply instead, if any (a key
    /// change half inside the chunk: see `Window::observe`).
    pub(super) async fn observe(&mut self, change: &Change) -> Vec<(String, Option<Change>)> {
        let mut suppressed = Vec::new();
        let mut rereads = Vec::new();
        for (index, open) in self.open.iter_mut().enumerate() {
            if open.chunk.job.table != change.table.name {
                continue;
            }
            match open.window.observe(change) {
                Ok(Observed::Suppress) => suppressed.push((open.chunk.job.route.clone(), None)),
                Ok(Observed::Replace(part)) => suppressed.push((open.chunk.job.route.clone(), Some(part))),
                Ok(Observed::Apply) => {}
                // Only a window still merging asks (an emitted one applies a new shape).
                Err(reason) => rereads.push((index, reason)),
            }
        }
        for (index, reason) in rereads {
            self.reread(index, reason).await;
        }
        suppressed
    }

    /// The stream is past `position`: windows beyond their read's reach close.
    pub(super) fn passed(&mut self, position: &Position) {
        self.open.retain(|open| !open.window.closes_at(position));
    }

    /// Chunks ready to write, in order per job: buffered, with every earlier
    /// chunk of the same job already emitted.
    pub(super) fn take_ready(&mut self) -> Vec<(PlannedChunk, Arc<TableSchema>, Vec<Row>)> {
        let mut ready = Vec::new();
        let mut blocked: Vec<String> = Vec::new();
        for open in &mut self.open {
            let label = open.chunk.job.key_label();
            if open.window.is_emitted() || blocked.contains(&label) {
                continue;
            }
            if !open.window.is_buffered() {
                blocked.push(label);
                continue;
            }
            let rows = open.window.emit();
            ready.push((open.chunk.clone(), Arc::clone(&open.schema), rows));
        }
        ready
    }

    /// The highest read `high` among emitted windows still open: the stream
    /// position the router waits for to close them.
    pub(super) fn waiting_for(&self) -> Option<Position> {
        self.open.iter().filter_map(|o| o.window.waiting_for().cloned()).max()
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{ChunkRange, ChunkRead, Lsn, Operation, TableName, Transaction, Value};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::snapshot::job::{Job, JobKind, fresh_progress};

    fn schema() -> Arc<TableSchema> {
        crate::snapshot::window::tests::bigint_schema("items", &["id", "qty"])
    }

    fn chunk() -> PlannedChunk {
        let table = TableName::new("public", "items");
        let job = Job {
            kind: JobKind::Initial,
            source: "src".into(),
            route: "items".into(),
            table: table.clone(),
            filter: None,
            schema: schema(),
            key: vec![0],
            estimate: 0,
            start_after: None,
            progress: fresh_progress(JobKind::Initial, "items", &table, None),
        };
        let permit = Arc::new(Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap());
        PlannedChunk { job: Arc::new(job), seq: 0, range: ChunkRange::default(), permit }
    }

    fn read(rows: Vec<Row>, xmax: u32) -> ReadChunk {
        let view = ReadView::Postgres { xmin: xmax, xmax, in_progress: vec![] };
        ReadChunk { read: ChunkRead { rows, view, high: Position::Postgres(Lsn(1)) }, schema: schema(), key: vec![0] }
    }

    fn row(id: i64, qty: i64) -> Row {
        vec![Value::Int(id), Value::Int(qty)]
    }

    /// The race found under load, through the router's windows: the
    /// stream delivers transaction 943 (deleting row 2) before the chunk is
    /// planned; the chunk's read is taken before 943 is visible. Its rows
    /// must not be written; the chunk is read again (after a pause), and
    /// the second read, which sees 943, is what gets written.
    #[tokio::test]
    async fn a_chunk_read_that_missed_a_delivered_transaction_is_read_again() {
        let (reads, mut requests) = mpsc::channel(8);
        let mut windows = ChunkWindows::new(reads);
        let delete = Change {
            transaction: Arc::new(Transaction {
                id: "943".into(),
                position: Position::Postgres(Lsn(1)),
                commit_time_micros: 0,
                origin: None,
            }),
            table: schema(),
            operation: Operation::Delete,
            before: Some(row(2, 2)),
            after: None,
        };
        windows.delivered(&delete);
        windows.planned(chunk()).await;
        let Some(ReadRequest::Chunk { id, delay, .. }) = requests.try_recv().ok() else { panic!("a chunk read") };
        assert!(delay.is_zero());

        windows.arrived(id, read(vec![row(1, 1), row(2, 2)], 943)).await;
        assert!(windows.take_ready().is_empty(), "rows that lack a delivered delete must not be written");
        let Some(ReadRequest::Chunk { id: again, delay, .. }) = requests.try_recv().ok() else {
            panic!("the chunk is read again")
        };
        assert!(again != id && !delay.is_zero());

        windows.arrived(again, read(vec![row(1, 1)], 944)).await;
        let ready = windows.take_ready();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].2, vec![row(1, 1)]);
        assert!(requests.try_recv().is_err());
    }

    #[tokio::test]
    async fn many_unconfirmed_deliveries_without_reads_ask_for_a_view_alone() {
        let (reads, mut requests) = mpsc::channel(8);
        let mut windows = ChunkWindows::new(reads);
        for xid in 1000..1000 + Unconfirmed::VIEW_WANTED_AT as u32 + 10 {
            let change = Change {
                transaction: Arc::new(Transaction {
                    id: xid.to_string(),
                    position: Position::Postgres(Lsn(u64::from(xid))),
                    commit_time_micros: 0,
                    origin: None,
                }),
                table: schema(),
                operation: Operation::Insert,
                before: None,
                after: Some(row(i64::from(xid), 0)),
            };
            windows.delivered(&change);
        }
        assert!(matches!(requests.try_recv(), Ok(ReadRequest::View)));
        assert!(requests.try_recv().is_err(), "one view at a time");
        windows.view_arrived(&ReadView::Postgres { xmin: 9000, xmax: 9000, in_progress: vec![] });
        assert!(windows.unconfirmed.of(&TableName::new("public", "items")).is_empty());
    }
}
