//! `sluice run`: replicate until SIGINT/SIGTERM. On a signal every source
//! finishes the transaction in flight, targets commit, the position is
//! flushed and acknowledged, and the process exits 0.

use std::sync::Arc;

use sluice_checkpoints::CheckpointStore;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::{EXIT_FAILED, EXIT_LOCKED, EXIT_OK, pipeline_exit_code, report};
use crate::config::Config;
use crate::pipeline;

pub(super) async fn run(config: Config) -> u8 {
    let store = match CheckpointStore::open(&config.checkpoints_path) {
        Ok(store) => store,
        Err(error) => {
            report(&error);
            return match error {
                sluice_checkpoints::CheckpointError::Locked { .. } => EXIT_LOCKED,
                _ => EXIT_FAILED,
            };
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received; finishing the batch in flight"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; finishing the batch in flight"),
        }
        stop_tx.send_replace(true);
    });
    tracing::info!(
        config = %config.file.display(),
        sources = config.sources.len(),
        targets = config.targets.len(),
        routes = config.routes.len(),
        "sluice starting"
    );
    let config = Arc::new(config);
    let control = pipeline::EngineControl::new(&config);
    let admin = match crate::admin::serve(Arc::clone(&config), store.clone(), control.clone()) {
        Ok(task) => Some(task),
        Err(error) => {
            tracing::warn!(%error, "admin endpoint unavailable: `sluice backfill` cannot reach this engine");
            None
        }
    };
    let result = pipeline::run(Arc::clone(&config), store, control, stop_rx).await;
    signals.abort();
    if let Some(admin) = admin {
        admin.abort();
        let _ = std::fs::remove_file(crate::admin::socket_path(&config));
    }
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            EXIT_OK
        }
        Err(error) => {
            tracing::error!(error = %pipeline::error_chain(&error), "stopped on error");
            report(&error);
            pipeline_exit_code(&error)
        }
    }
}
