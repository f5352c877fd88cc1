//! The acknowledger: turns the targets' durable positions into the source's
//! acknowledged position.
//!
//! Why the minimum, and why only after flushing: a position may be reported
//! to the source (PostgreSQL: the slot's `confirmed_flush_lsn`, after which
//! the server may recycle the WAL) only when no target can ever need a change
//! before it again. Each writer publishes what its target has committed; the
//! lowest of those is durable everywhere. It is written to the checkpoint
//! store and sled is flushed (sled otherwise keeps writes in memory for up to
//! ~500 ms) — and only then published to the source. Records are coalesced
//! to at most one flush per `min_interval`.

use std::sync::Arc;
use std::time::Duration;

use sluice_api::Position;
use sluice_checkpoints::{CheckpointStore, SourceCheckpoint};
use tokio::sync::{Notify, watch};

use super::error::PipelineError;
use super::writer::Durable;

pub(super) struct Acknowledger {
    pub(super) source: String,
    pub(super) store: CheckpointStore,
    pub(super) targets: Vec<(String, watch::Receiver<Durable>)>,
    pub(super) to_source: watch::Sender<Option<Position>>,
    pub(super) notify: Arc<Notify>,
    pub(super) min_interval: Duration,
    pub(super) last: Option<Position>,
}

impl Acknowledger {
    /// Runs until `stop` turns true, then records once more and returns.
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), PipelineError> {
        loop {
            let stopping = tokio::select! {
                _ = self.notify.notified() => false,
                changed = stop.changed() => changed.is_err() || *stop.borrow_and_update(),
            };
            self.record().await?;
            if stopping {
                return Ok(());
            }
            tokio::time::sleep(self.min_interval).await;
        }
    }

    /// Records and publishes the lowest durable position if it advanced.
    pub(super) async fn record(&mut self) -> Result<(), PipelineError> {
        let mut lowest: Option<Durable> = None;
        let mut applied = Vec::with_capacity(self.targets.len());
        for (target, durable) in &self.targets {
            let durable = durable.borrow().clone();
            let Some(position) = durable.position.clone() else {
                return Ok(()); // a target has nothing durable yet
            };
            applied.push((target.clone(), position.encode()));
            if lowest.as_ref().is_none_or(|low| position < *low.position.as_ref().expect("set")) {
                lowest = Some(durable);
            }
        }
        let Some(lowest) = lowest else { return Ok(()) };
        let position = lowest.position.expect("lowest has a position");
        if self.last.as_ref().is_some_and(|last| position <= *last) {
            return Ok(());
        }
        let checkpoint = SourceCheckpoint {
            position: position.encode(),
            commit_time_micros: lowest.commit_time_micros,
            recorded_at_micros: now_micros(),
        };
        self.store.record(&self.source, &checkpoint, &applied).await?;
        tracing::debug!(source = %self.source, %position, "acknowledging");
        self.to_source.send_replace(Some(position.clone()));
        self.last = Some(position);
        Ok(())
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or_default()
}
