//! Recording job progress: a chunk counts as done once its rows are
//! committed in the target; the job's cursor then moves to the chunk's last
//! key and is flushed to the checkpoint store. Chunks may be committed out
//! of order (parallel one-shot copies): the cursor only moves over a
//! contiguous run of done chunks, so a resumed job never skips one. Each
//! update is also published for progress displays (`sluice backfill`,
//! `sluice status`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sluice_api::Value;
use sluice_checkpoints::{CheckpointStore, SnapshotProgress};
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};

use super::SnapshotError;
use super::job::{Job, now_micros};

/// A chunk committed in its target.
#[derive(Debug)]
pub(crate) struct ChunkDone {
    pub(crate) job: Arc<Job>,
    pub(crate) seq: u64,
    pub(crate) rows: u64,
    /// The chunk's upper bound; `None` for the last chunk.
    pub(crate) through: Option<Vec<Value>>,
    /// Held until the chunk is recorded: bounds chunks in flight.
    pub(crate) _permit: Arc<OwnedSemaphorePermit>,
}

/// A job's progress as displays see it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct JobStatus {
    pub source: String,
    pub route: String,
    pub table: String,
    pub kind: String,
    pub rows_copied: u64,
    pub chunks_done: u64,
    /// The catalog's estimate of the table's rows (0 when unknown).
    pub estimate: u64,
    pub done: bool,
    pub started_at_micros: i64,
    pub updated_at_micros: i64,
    /// Set when the job failed; the message names the route and the cause.
    pub error: Option<String>,
}

impl JobStatus {
    pub(crate) fn of(job: &Job, progress: &SnapshotProgress) -> JobStatus {
        JobStatus {
            source: job.source.clone(),
            route: job.route.clone(),
            table: job.table.to_string(),
            kind: job.kind.as_str().into(),
            rows_copied: progress.rows_copied,
            chunks_done: progress.chunks_done,
            estimate: job.estimate,
            done: progress.done,
            started_at_micros: progress.started_at_micros,
            updated_at_micros: progress.updated_at_micros,
            error: None,
        }
    }
}

struct Tracked {
    progress: SnapshotProgress,
    next_seq: u64,
    waiting: BTreeMap<u64, ChunkDone>,
}

/// Consumes chunk completions until every sender is gone.
pub(crate) async fn track(
    store: CheckpointStore,
    mut done: mpsc::UnboundedReceiver<ChunkDone>,
    status: broadcast::Sender<JobStatus>,
) -> Result<(), SnapshotError> {
    let mut jobs: HashMap<String, Tracked> = HashMap::new();
    while let Some(chunk) = done.recv().await {
        let label = chunk.job.key_label();
        let tracked = jobs.entry(label).or_insert_with(|| Tracked {
            progress: chunk.job.progress.clone(),
            next_seq: chunk.job.progress.chunks_done,
            waiting: BTreeMap::new(),
        });
        tracked.waiting.insert(chunk.seq, chunk);
        let mut moved = None;
        while let Some(next) = tracked.waiting.remove(&tracked.next_seq) {
            let progress = &mut tracked.progress;
            progress.rows_copied += next.rows;
            progress.chunks_done += 1;
            progress.updated_at_micros = now_micros();
            match &next.through {
                Some(through) => {
                    progress.cursor = Some(serde_json::to_value(through).expect("values serialise"));
                }
                None => progress.done = true,
            }
            tracked.next_seq += 1;
            moved = Some(next);
        }
        if let Some(last) = moved {
            store.save_snapshot(&last.job.source, &tracked.progress).await?;
            if tracked.progress.done {
                tracing::info!(route = %last.job.route, table = %last.job.table, kind = last.job.kind.as_str(),
                    rows = tracked.progress.rows_copied, chunks = tracked.progress.chunks_done, "snapshot job done");
            }
            let _ = status.send(JobStatus::of(&last.job, &tracked.progress));
        }
    }
    Ok(())
}
