//! The router's side of snapshots: the open chunk windows of one source.
//!
//! The router owns the windows because it alone sees every change in log
//! order: a window opens when its chunk is planned (before the read starts,
//! so no change slips between), observes each change to its table, receives
//! the read's rows, and is emitted to the target writer between source
//! transactions, in chunk order per job. See `snapshot/window.rs` for the
//! reconciliation rules.

use std::sync::Arc;

use sluice_api::{Change, ConnectorError, Position, Row, TableSchema};
use tokio::sync::mpsc;

use crate::snapshot::SnapshotError;
use crate::snapshot::planner::PlannedChunk;
use crate::snapshot::reader::ReadChunk;
use crate::snapshot::window::{Reread, Window};

/// What the snapshot tasks send the router.
#[derive(Debug)]
pub(crate) enum SnapshotMessage {
    /// A read finished.
    Read { id: u64, result: Result<ReadChunk, ConnectorError> },
    /// A job failed; the session stops with this error.
    Failed(SnapshotError),
}

/// A read for a worker; `id` matches the result to its window.
#[derive(Debug)]
pub(crate) struct ReadRequest {
    pub(crate) id: u64,
    pub(crate) chunk: PlannedChunk,
    /// Describe the table again first: its columns changed since the job
    /// described it.
    pub(crate) refresh: bool,
}

struct OpenChunk {
    id: u64,
    chunk: PlannedChunk,
    window: Window,
    /// The schema the read's rows follow (the job's, or newer after DDL).
    schema: Arc<TableSchema>,
}

fn column_names(schema: &TableSchema) -> Vec<String> {
    schema.columns.iter().map(|c| c.name.clone()).collect()
}

pub(super) struct ChunkWindows {
    open: Vec<OpenChunk>,
    next_id: u64,
    reads: mpsc::Sender<ReadRequest>,
}

impl ChunkWindows {
    pub(super) fn new(reads: mpsc::Sender<ReadRequest>) -> ChunkWindows {
        ChunkWindows { open: Vec::new(), next_id: 0, reads }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Opens the chunk's window and asks a worker to read it.
    pub(super) async fn planned(&mut self, chunk: PlannedChunk) {
        let window = Window::open(column_names(&chunk.job.schema), chunk.job.key.clone());
        let id = self.next_id;
        self.next_id += 1;
        let schema = Arc::clone(&chunk.job.schema);
        self.open.push(OpenChunk { id, chunk: chunk.clone(), window, schema });
        // Workers gone means the session is ending; the router notices elsewhere.
        let _ = self.reads.send(ReadRequest { id, chunk, refresh: false }).await;
    }

    /// Reads the chunk again from scratch (its window restarts now).
    async fn reread(&mut self, index: usize) {
        let open = &mut self.open[index];
        tracing::info!(route = %open.chunk.job.route, chunk = open.chunk.seq, "table changed shape during a chunk read; reading the chunk again");
        open.window = Window::open(column_names(&open.chunk.job.schema), open.chunk.job.key.clone());
        open.id = self.next_id;
        self.next_id += 1;
        let _ = self.reads.send(ReadRequest { id: open.id, chunk: open.chunk.clone(), refresh: true }).await;
    }

    /// A read's rows arrived.
    pub(super) async fn arrived(&mut self, id: u64, read: ReadChunk) {
        let Some(index) = self.open.iter().position(|o| o.id == id) else { return };
        let open = &mut self.open[index];
        let columns = column_names(&read.schema);
        open.schema = read.schema;
        let ReadChunk { read, key, .. } = read;
        if let Err(Reread::SchemaChanged) = open.window.rows_arrived(columns, key, read.rows, read.view, read.high) {
            self.reread(index).await;
        }
    }

    /// Passes a change through the windows of its table; returns the routes
    /// it must not be applied to (seen by a chunk already written).
    pub(super) async fn observe(&mut self, change: &Change) -> Vec<String> {
        let mut suppressed = Vec::new();
        let mut rereads = Vec::new();
        for (index, open) in self.open.iter_mut().enumerate() {
            if open.chunk.job.table != change.table.name {
                continue;
            }
            match open.window.observe(change) {
                Ok(true) => suppressed.push(open.chunk.job.route.clone()),
                Ok(false) => {}
                // Only a window still merging asks (an emitted one applies a new shape).
                Err(Reread::SchemaChanged) => rereads.push(index),
            }
        }
        for index in rereads {
            self.reread(index).await;
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
