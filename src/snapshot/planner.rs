//! Planning chunks: the next boundary of a job, one index-ordered query at a
//! time, handed out while fewer than the allowed number are in flight.
//!
//! Chunk `n` covers keys `> after` and `<= through` where `through` is the
//! key of the `chunk_rows`-th row after `after`; the last chunk is unbounded
//! above, so rows inserted beyond the last boundary while the job runs are
//! copied too (or streamed: either way they arrive). Boundaries are computed
//! from the data as the job goes, not up front, so a resumed job continues
//! from its recorded cursor with fresh boundaries.

use std::sync::Arc;

use sluice_api::{ChunkRange, SnapshotReader, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::SnapshotError;
use super::job::Job;
use super::reader::AnyReader;

/// A chunk to read. The permit bounds chunks in flight; it is released when
/// every holder (window, writer) is done with the chunk.
#[derive(Debug, Clone)]
pub(crate) struct PlannedChunk {
    pub(crate) job: Arc<Job>,
    pub(crate) seq: u64,
    pub(crate) range: ChunkRange,
    pub(crate) permit: Arc<OwnedSemaphorePermit>,
}

/// Plans every chunk of `job` into `out`, in order; returns when the last
/// one is handed out (or `out` closed).
pub(crate) async fn plan(
    job: Arc<Job>,
    reader: &mut AnyReader,
    chunk_rows: usize,
    in_flight: Arc<Semaphore>,
    out: mpsc::Sender<PlannedChunk>,
) -> Result<(), SnapshotError> {
    let mut after: Option<Vec<Value>> = job.start_after.clone();
    let mut seq = job.progress.chunks_done;
    loop {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return Ok(()) };
        let through = reader
            .next_boundary(&job.schema, &job.key, after.as_deref(), chunk_rows, job.filter.as_deref())
            .await
            .map_err(|source| SnapshotError::Source { route: job.route.clone(), source })?;
        let last = through.is_none();
        let chunk = PlannedChunk {
            job: Arc::clone(&job),
            seq,
            range: ChunkRange { after: after.take(), through: through.clone() },
            permit: Arc::new(permit),
        };
        if out.send(chunk).await.is_err() || last {
            return Ok(());
        }
        after = through;
        seq += 1;
    }
}
