//! Copying existing rows: initial snapshots and backfills.
//!
//! A route that starts without a finished snapshot copies its source
//! table's existing rows while the log keeps streaming; `sluice backfill`
//! re-copies a table (or the rows matching a predicate) the same way. Both
//! run chunk by chunk in key order:
//!
//! - `planner.rs` finds the next chunk boundary (an index-only query per
//!   chunk) and hands chunks out, at most a bounded number in flight;
//! - workers, each with its own source connection, read chunks in parallel
//!   (`reader.rs` over the connectors' [`sluice_api::SnapshotReader`]s);
//! - while streaming, the router reconciles each chunk with the stream by
//!   the read's view (`window.rs`) and hands it to the target writer, in key
//!   order, between source transactions; for a one-shot copy without the
//!   stream (`backfill --once`, `once.rs`) the workers write chunks
//!   themselves, in parallel;
//! - `progress.rs` records each job's progress in the checkpoint store once
//!   a chunk is committed in its target, so a crash or Ctrl-C resumes after
//!   the last chunk done.

pub(crate) mod job;
pub(crate) mod live;
pub(crate) mod once;
pub(crate) mod planner;
pub(crate) mod progress;
pub(crate) mod reader;
pub(crate) mod window;

use sluice_api::{ConnectorError, ErrorKind, HasErrorKind};

use crate::route::RouteError;

/// Why a snapshot job failed; names the route.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("Route {route}: reading the source table")]
    Source {
        route: String,
        #[source]
        source: ConnectorError,
    },
    #[error("Route {route}: writing target {target}")]
    Target {
        route: String,
        target: String,
        #[source]
        source: ConnectorError,
    },
    #[error("Route {route}: {message}")]
    Refused { route: String, message: String },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("Checkpoint store")]
    Checkpoint(#[from] sluice_checkpoints::CheckpointError),
}

impl HasErrorKind for SnapshotError {
    fn kind(&self) -> ErrorKind {
        match self {
            SnapshotError::Source { source, .. } | SnapshotError::Target { source, .. } => source.kind,
            SnapshotError::Refused { .. } => ErrorKind::Config,
            SnapshotError::Route(RouteError::Data { .. }) => ErrorKind::Data,
            SnapshotError::Route(_) => ErrorKind::Config,
            SnapshotError::Checkpoint(error) => error.kind(),
        }
    }
}
