//! Errors of the checkpoint store.

use std::path::PathBuf;

use sluice_api::{ErrorKind, HasErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Another process holds the store (sled takes an exclusive file lock).
    #[error(
        "The checkpoint store {path} is in use by another process; is another `sluice run` using this config? \
         Stop it, or give this one its own [checkpoints] path"
    )]
    Locked { path: PathBuf },

    /// The store could not be opened: corrupt or unreadable.
    #[error(
        "Cannot open the checkpoint store {path}; if it is corrupt, move it aside: positions are restored \
         from the targets' offsets tables on the next run"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },

    #[error("Checkpoint store I/O failed at {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },

    /// An entry could not be decoded: written by an incompatible version or damaged.
    #[error("Checkpoint entry {key:?} in {path} is unreadable; reset it with `sluice checkpoints reset`")]
    Decode {
        path: PathBuf,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

impl HasErrorKind for CheckpointError {
    fn kind(&self) -> ErrorKind {
        match self {
            CheckpointError::Locked { .. } | CheckpointError::Open { .. } | CheckpointError::Decode { .. } => {
                ErrorKind::Config
            }
            CheckpointError::Io { .. } => ErrorKind::Connection,
        }
    }
}
