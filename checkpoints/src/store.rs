//! The sled-backed store: one tree for acknowledged source positions, one
//! for per-target applied positions. Values are JSON so `sluice checkpoints
//! show` can print them and older stores stay readable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sluice_api::Position;

use crate::error::CheckpointError;

const ACKNOWLEDGED_TREE: &str = "acknowledged";
const APPLIED_TREE: &str = "applied";
const SNAPSHOTS_TREE: &str = "snapshots";

/// Progress of one snapshot job: the copy of one route's source table
/// (initial snapshot or backfill), chunk by chunk in key order.
///
/// Written after the chunk's rows are committed in the target, so a crash
/// re-copies at most the chunks in flight (idempotently: rows are upserts),
/// never the ones recorded here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotProgress {
    /// `initial` or `backfill`.
    pub kind: String,
    pub route: String,
    /// Source table, `schema.table`.
    pub table: String,
    /// `backfill --where` predicate, if any.
    pub filter: Option<String>,
    /// Key of the last row of the last chunk done (JSON of the key values);
    /// `None` before the first chunk.
    pub cursor: Option<serde_json::Value>,
    pub rows_copied: u64,
    pub chunks_done: u64,
    /// Every chunk is done.
    pub done: bool,
    pub started_at_micros: i64,
    pub updated_at_micros: i64,
}

/// What was last acknowledged to a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheckpoint {
    /// `Position::encode` form.
    pub position: String,
    /// Commit time of the last transaction at or before `position`, µs since
    /// 1970-01-01 UTC (0 when the position came from an idle keepalive).
    pub commit_time_micros: i64,
    /// When Sluice recorded it, µs since 1970-01-01 UTC.
    pub recorded_at_micros: i64,
}

impl SourceCheckpoint {
    pub fn position(&self) -> Option<Position> {
        Position::decode(&self.position).ok()
    }
}

/// One target's applied position for one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedEntry {
    pub source: String,
    pub target: String,
    pub position: String,
    pub recorded_at_micros: i64,
}

/// The checkpoint store. Cheap to clone (sled handles are reference counted).
#[derive(Clone)]
pub struct CheckpointStore {
    path: PathBuf,
    db: sled::Db,
    acknowledged: sled::Tree,
    applied: sled::Tree,
    snapshots: sled::Tree,
}

impl CheckpointStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<CheckpointStore, CheckpointError> {
        let db = sled::Config::new().path(path).mode(sled::Mode::LowSpace).open().map_err(|source| {
            if is_lock_error(&source) {
                CheckpointError::Locked { path: path.to_owned() }
            } else {
                CheckpointError::Open { path: path.to_owned(), source }
            }
        })?;
        let io = |source| CheckpointError::Io { path: path.to_owned(), source };
        let acknowledged = db.open_tree(ACKNOWLEDGED_TREE).map_err(io)?;
        let applied = db.open_tree(APPLIED_TREE).map_err(io)?;
        let snapshots = db.open_tree(SNAPSHOTS_TREE).map_err(io)?;
        Ok(CheckpointStore { path: path.to_owned(), db, acknowledged, applied, snapshots })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: sled::Error) -> CheckpointError {
        CheckpointError::Io { path: self.path.clone(), source }
    }

    fn decode<T: for<'de> Deserialize<'de>>(&self, key: &[u8], bytes: &[u8]) -> Result<T, CheckpointError> {
        serde_json::from_slice(bytes).map_err(|source| CheckpointError::Decode {
            path: self.path.clone(),
            key: String::from_utf8_lossy(key).into_owned(),
            source,
        })
    }

    /// The position last acknowledged to `source`.
    pub fn acknowledged(&self, source: &str) -> Result<Option<SourceCheckpoint>, CheckpointError> {
        match self.acknowledged.get(source.as_bytes()).map_err(|e| self.io(e))? {
            Some(bytes) => self.decode(source.as_bytes(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every source's acknowledged checkpoint, by source name.
    pub fn all_acknowledged(&self) -> Result<Vec<(String, SourceCheckpoint)>, CheckpointError> {
        let mut out = Vec::new();
        for entry in self.acknowledged.iter() {
            let (key, value) = entry.map_err(|e| self.io(e))?;
            out.push((String::from_utf8_lossy(&key).into_owned(), self.decode(&key, &value)?));
        }
        Ok(out)
    }

    /// Records the acknowledged position of `source` together with the
    /// applied position of each of its targets, and flushes to disk. Only
    /// after this returns may the position be acknowledged to the source.
    pub async fn record(
        &self,
        source: &str,
        checkpoint: &SourceCheckpoint,
        applied: &[(String, String)],
    ) -> Result<(), CheckpointError> {
        let encoded = serde_json::to_vec(checkpoint).expect("checkpoint serialises");
        let mut batch = sled::Batch::default();
        for (target, position) in applied {
            let entry = AppliedEntry {
                source: source.to_owned(),
                target: target.clone(),
                position: position.clone(),
                recorded_at_micros: checkpoint.recorded_at_micros,
            };
            batch.insert(applied_key(source, target), serde_json::to_vec(&entry).expect("entry serialises"));
        }
        self.applied.apply_batch(batch).map_err(|e| self.io(e))?;
        self.acknowledged.insert(source.as_bytes(), encoded).map_err(|e| self.io(e))?;
        self.db.flush_async().await.map_err(|e| self.io(e))?;
        Ok(())
    }

    /// The applied positions recorded for `source`, by target.
    pub fn applied(&self, source: &str) -> Result<Vec<AppliedEntry>, CheckpointError> {
        let mut out = Vec::new();
        for entry in self.applied.scan_prefix(applied_prefix(source)) {
            let (key, value) = entry.map_err(|e| self.io(e))?;
            out.push(self.decode(&key, &value)?);
        }
        Ok(out)
    }

    /// Every snapshot job recorded for `source`.
    pub fn snapshots(&self, source: &str) -> Result<Vec<SnapshotProgress>, CheckpointError> {
        let mut out = Vec::new();
        for entry in self.snapshots.scan_prefix(applied_prefix(source)) {
            let (key, value) = entry.map_err(|e| self.io(e))?;
            out.push(self.decode(&key, &value)?);
        }
        Ok(out)
    }

    /// The snapshot job of `kind` for `route`, if recorded.
    pub fn snapshot(&self, source: &str, kind: &str, route: &str) -> Result<Option<SnapshotProgress>, CheckpointError> {
        let key = snapshot_key(source, kind, route);
        match self.snapshots.get(&key).map_err(|e| self.io(e))? {
            Some(bytes) => self.decode(&key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Records a snapshot job's progress and flushes it to disk.
    pub async fn save_snapshot(&self, source: &str, progress: &SnapshotProgress) -> Result<(), CheckpointError> {
        let key = snapshot_key(source, &progress.kind, &progress.route);
        let encoded = serde_json::to_vec(progress).expect("progress serialises");
        self.snapshots.insert(key, encoded).map_err(|e| self.io(e))?;
        self.db.flush_async().await.map_err(|e| self.io(e))?;
        Ok(())
    }

    /// Forgets one snapshot job; returns whether it was there.
    pub async fn remove_snapshot(&self, source: &str, kind: &str, route: &str) -> Result<bool, CheckpointError> {
        let removed = self.snapshots.remove(snapshot_key(source, kind, route)).map_err(|e| self.io(e))?.is_some();
        self.db.flush_async().await.map_err(|e| self.io(e))?;
        Ok(removed)
    }

    /// Forgets one target of `source`: its applied position and the
    /// snapshot jobs (initial and backfill) of `routes`, the routes into
    /// that target, so the next run copies them again. The source's
    /// acknowledged position and the other targets stay. Returns whether
    /// anything was there.
    pub async fn reset_target(&self, source: &str, target: &str, routes: &[String]) -> Result<bool, CheckpointError> {
        let mut removed = self.applied.remove(applied_key(source, target)).map_err(|e| self.io(e))?.is_some();
        for job in self.snapshots(source)? {
            if routes.contains(&job.route) {
                removed |= self
                    .snapshots
                    .remove(snapshot_key(source, &job.kind, &job.route))
                    .map_err(|e| self.io(e))?
                    .is_some();
            }
        }
        self.db.flush_async().await.map_err(|e| self.io(e))?;
        Ok(removed)
    }

    /// Forgets everything about `source` (positions and snapshot progress);
    /// returns whether anything was there.
    pub async fn reset(&self, source: &str) -> Result<bool, CheckpointError> {
        let mut removed = self.acknowledged.remove(source.as_bytes()).map_err(|e| self.io(e))?.is_some();
        let snapshot_keys: Vec<_> = self
            .snapshots
            .scan_prefix(applied_prefix(source))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| self.io(e))?;
        for key in snapshot_keys {
            removed |= self.snapshots.remove(key).map_err(|e| self.io(e))?.is_some();
        }
        let keys: Vec<_> = self
            .applied
            .scan_prefix(applied_prefix(source))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| self.io(e))?;
        for key in keys {
            removed |= self.applied.remove(key).map_err(|e| self.io(e))?.is_some();
        }
        self.db.flush_async().await.map_err(|e| self.io(e))?;
        Ok(removed)
    }
}

fn applied_prefix(source: &str) -> Vec<u8> {
    let mut key = source.as_bytes().to_vec();
    key.push(0);
    key
}

fn applied_key(source: &str, target: &str) -> Vec<u8> {
    let mut key = applied_prefix(source);
    key.extend_from_slice(target.as_bytes());
    key
}

fn snapshot_key(source: &str, kind: &str, route: &str) -> Vec<u8> {
    let mut key = applied_prefix(source);
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key.extend_from_slice(route.as_bytes());
    key
}

/// sled reports a held lock as an I/O error ("could not acquire lock" / WouldBlock).
fn is_lock_error(error: &sled::Error) -> bool {
    match error {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(position: &str) -> SourceCheckpoint {
        SourceCheckpoint { position: position.into(), commit_time_micros: 5, recorded_at_micros: 7 }
    }

    /// Opens the store again in this process. sled's background flusher
    /// keeps its own handle (and with it the file lock) of a dropped store
    /// for up to one flush period, so a lock conflict is retried briefly.
    fn reopen(path: &Path) -> CheckpointStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match CheckpointStore::open(path) {
                Err(CheckpointError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.unwrap(),
            }
        }
    }

    #[tokio::test]
    async fn recorded_positions_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            store.record("erp", &checkpoint("pg:0/10"), &[("report".into(), "pg:0/10".into())]).await.unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.acknowledged("erp").unwrap(), Some(checkpoint("pg:0/10")));
        let applied = store.applied("erp").unwrap();
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].target, "report");
        assert_eq!(applied[0].position, "pg:0/10");
        assert_eq!(store.acknowledged("crm").unwrap(), None);
    }

    #[tokio::test]
    async fn reset_forgets_only_that_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        store.record("erp", &checkpoint("pg:0/10"), &[("report".into(), "pg:0/10".into())]).await.unwrap();
        store.record("erp2", &checkpoint("pg:0/20"), &[("report".into(), "pg:0/20".into())]).await.unwrap();
        assert!(store.reset("erp").await.unwrap());
        assert!(!store.reset("erp").await.unwrap());
        assert_eq!(store.acknowledged("erp").unwrap(), None);
        assert!(store.applied("erp").unwrap().is_empty());
        assert_eq!(store.applied("erp2").unwrap().len(), 1, "a source named as a prefix must not be touched");
    }

    #[tokio::test]
    async fn reset_target_forgets_that_target_and_its_routes_snapshots_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let applied = [("erp".to_owned(), "pg:0/10".to_owned()), ("report".to_owned(), "pg:0/10".to_owned())];
        store.record("crm", &checkpoint("pg:0/10"), &applied).await.unwrap();
        store.record("crm2", &checkpoint("pg:0/20"), &[("report".into(), "pg:0/20".into())]).await.unwrap();
        let job = |kind: &str, route: &str| SnapshotProgress {
            kind: kind.into(),
            route: route.into(),
            table: "crm.orders".into(),
            filter: None,
            cursor: None,
            rows_copied: 1,
            chunks_done: 1,
            done: true,
            started_at_micros: 1,
            updated_at_micros: 2,
        };
        for progress in
            [job("initial", "orders_to_erp"), job("initial", "orders_to_report"), job("backfill", "orders_to_report")]
        {
            store.save_snapshot("crm", &progress).await.unwrap();
        }
        store.save_snapshot("crm2", &job("initial", "orders_to_report")).await.unwrap();

        assert!(store.reset_target("crm", "report", &["orders_to_report".into()]).await.unwrap());
        assert!(!store.reset_target("crm", "report", &["orders_to_report".into()]).await.unwrap());

        let targets: Vec<String> = store.applied("crm").unwrap().into_iter().map(|e| e.target).collect();
        assert_eq!(targets, ["erp"]);
        assert_eq!(store.acknowledged("crm").unwrap(), Some(checkpoint("pg:0/10")), "the source's position stays");
        let routes: Vec<String> = store.snapshots("crm").unwrap().into_iter().map(|j| j.route).collect();
        assert_eq!(routes, ["orders_to_erp"]);
        assert_eq!(store.applied("crm2").unwrap().len(), 1, "another source's entry for the same target stays");
        assert_eq!(store.snapshots("crm2").unwrap().len(), 1);
    }

    #[tokio::test]
    async fn snapshot_progress_survives_reopen_and_reset_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let progress = SnapshotProgress {
            kind: "initial".into(),
            route: "orders".into(),
            table: "crm.orders".into(),
            filter: None,
            cursor: Some(serde_json::json!([{"Int": 10000}])),
            rows_copied: 10_000,
            chunks_done: 1,
            done: false,
            started_at_micros: 1,
            updated_at_micros: 2,
        };
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            store.save_snapshot("crm", &progress).await.unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.snapshot("crm", "initial", "orders").unwrap(), Some(progress.clone()));
        assert_eq!(store.snapshots("crm").unwrap(), vec![progress]);
        assert!(store.snapshots("crm2").unwrap().is_empty());
        assert!(store.reset("crm").await.unwrap());
        assert!(store.snapshots("crm").unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_store_holds_an_exclusive_lock_on_its_files_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let _first = CheckpointStore::open(dir.path()).unwrap();
        // sled's lock is per process via flock; a second open in the same
        // process shares the lock, so check from a child process.
        let status = std::process::Command::new("flock")
            .args(["--nonblock", "--exclusive"])
            .arg(dir.path().join("db"))
            .arg("true")
            .status()
            .unwrap();
        assert!(!status.success(), "the store's lock file must be held while open");
    }
}
