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

#[cfg(test)]
mod tests {
    use sluice_api::{Column, ColumnType, TableName, TableSchema};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::snapshot::job::JobKind;

    fn job() -> Arc<Job> {
        let schema = TableSchema {
            id: 1,
            name: TableName::new("public", "t"),
            columns: vec![Column {
                name: "id".into(),
                column_type: ColumnType::Int { bytes: 8, unsigned: false },
                type_name: "bigint".into(),
                type_id: 20,
                type_modifier: -1,
                is_key: true,
            }],
            full_before_image: false,
        };
        Arc::new(Job {
            kind: JobKind::Backfill,
            source: "src".into(),
            route: "r".into(),
            table: TableName::new("public", "t"),
            filter: None,
            schema: Arc::new(schema),
            key: vec![0],
            estimate: 0,
            start_after: None,
            progress: SnapshotProgress {
                kind: "backfill".into(),
                route: "r".into(),
                table: "public.t".into(),
                filter: None,
                cursor: None,
                rows_copied: 0,
                chunks_done: 0,
                done: false,
                started_at_micros: 0,
                updated_at_micros: 0,
            },
        })
    }

    #[tokio::test]
    async fn the_cursor_moves_only_over_contiguous_chunks_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let (done, rx) = mpsc::unbounded_channel();
        let (status, _) = broadcast::channel(16);
        let permits = Arc::new(Semaphore::new(8));
        let job = job();
        let chunk = |seq: u64, through: Option<i64>| ChunkDone {
            job: Arc::clone(&job),
            seq,
            rows: 10,
            through: through.map(|t| vec![Value::Int(t)]),
            _permit: Arc::new(Arc::clone(&permits).try_acquire_owned().unwrap()),
        };
        // Chunk 1 finishes before chunk 0 (parallel one-shot copy).
        done.send(chunk(1, Some(20))).unwrap();
        let tracker = tokio::spawn(track(store.clone(), rx, status));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(store.snapshot("src", "backfill", "r").unwrap(), None, "chunk 0 is not done: nothing recorded");
        done.send(chunk(0, Some(10))).unwrap();
        done.send(chunk(2, None)).unwrap();
        drop(done);
        tracker.await.unwrap().unwrap();
        let recorded = store.snapshot("src", "backfill", "r").unwrap().unwrap();
        assert_eq!(recorded.chunks_done, 3);
        assert_eq!(recorded.rows_copied, 30);
        assert!(recorded.done);
        assert_eq!(recorded.cursor, Some(serde_json::json!([{"Int": 20}])));
    }
}
