//! The pipeline's error: which source or target failed, the cause, and the
//! kind that decides between retrying and stopping.

use sluice_api::{ConnectorError, ErrorKind, HasErrorKind};
use sluice_checkpoints::CheckpointError;

use crate::route::RouteError;
use crate::snapshot::SnapshotError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("Source {name}")]
    Source {
        name: String,
        #[source]
        source: ConnectorError,
    },
    #[error("Target {name} (for source {pipeline})")]
    Target {
        name: String,
        pipeline: String,
        #[source]
        source: ConnectorError,
    },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("Checkpoint store")]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("Source {source_name}: {message}")]
    ResnapshotNeeded { source_name: String, message: String },
    #[error("Source {source_name}: {message}")]
    Setup { source_name: String, message: String },
}

impl HasErrorKind for PipelineError {
    fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Source { source, .. } | PipelineError::Target { source, .. } => source.kind,
            PipelineError::Route(RouteError::Config { .. } | RouteError::TargetColumnMissing { .. }) => {
                ErrorKind::Config
            }
            PipelineError::Route(RouteError::Data { .. } | RouteError::Incomplete { .. }) => ErrorKind::Data,
            PipelineError::Checkpoint(error) => error.kind(),
            PipelineError::Snapshot(error) => error.kind(),
            PipelineError::ResnapshotNeeded { .. } => ErrorKind::ResnapshotNeeded,
            PipelineError::Setup { .. } => ErrorKind::Config,
        }
    }
}
