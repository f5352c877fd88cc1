//! The source contract.
//!
//! A started source runs its own task: it reads the log, decodes it and
//! sends [`SourceEvent`]s into a bounded channel (backpressure). Independently
//! of that channel it keeps the server session alive (PostgreSQL standby
//! status updates, MySQL heartbeats) and reports as durable only the position
//! the engine has published on the `durable` watch — which the engine sets to
//! the lowest position every target has committed, after the checkpoint
//! store has flushed it. Never anything the pipeline has merely accepted.

use std::future::Future;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::change::SourceEvent;
use crate::error::ConnectorError;
use crate::position::Position;

/// A running source.
pub struct SourceStream {
    /// Events in log order. An `Err` ends the stream; the engine restarts
    /// the source from the durable position when the error kind is retryable.
    pub events: mpsc::Receiver<Result<SourceEvent, ConnectorError>>,
    /// The engine publishes here the highest position durable in every target.
    pub durable: watch::Sender<Option<Position>>,
    /// The engine sets a position here while it waits for the stream to
    /// pass it (to close snapshot chunk windows). The source then reports
    /// `Progress` at or past it as soon as it has read that far, without its
    /// usual once-a-second throttling — on an idle source too (PostgreSQL
    /// asks the walsender for a keepalive with its sent position).
    pub progress_wanted: watch::Sender<Option<Position>>,
    /// The source's task; aborting it closes the connection.
    pub task: JoinHandle<()>,
}

/// A source that can be started.
pub trait Source: Send + 'static {
    /// Opens the log and starts streaming after `resume` (transactions at or
    /// before it are already in every target). `None`: start where the
    /// source's own bookmark is (the slot's confirmed position).
    fn start(self, resume: Option<Position>) -> impl Future<Output = Result<SourceStream, ConnectorError>> + Send;
}
