//! The router: reads the source's events and sends each target writer its
//! share, in log order. Transaction boundaries go to every writer (so each
//! can commit and advance its position even when a transaction touches only
//! other targets); each change goes through every route of its table.
//!
//! On a graceful stop the router finishes the source transaction in flight
//! (so writers can commit what they hold) and then closes the writers' inputs.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{ConnectorError, ErrorKind, SourceEvent, TableName};
use tokio::sync::{mpsc, watch};

use super::error::PipelineError;
use super::writer::WriterInput;
use crate::config::TargetConfig;
use crate::route::{Route, RouteError};

/// How the router ended without error.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RouterEnd {
    /// Stopped on request, at a transaction boundary.
    Stopped,
    /// A writer's input closed: the writer failed; its error tells why.
    WriterGone(usize),
}

pub(super) struct Router {
    pub(super) source: String,
    /// Routes by source table, each with the index of its writer.
    pub(super) routes: HashMap<TableName, Vec<(Route, usize)>>,
    pub(super) writers: Vec<mpsc::Sender<WriterInput>>,
    /// Per writer: its target's name and config, to describe a target
    /// table again after a schema change.
    pub(super) targets: Vec<(String, TargetConfig)>,
}

#[derive(Debug, thiserror::Error)]
#[error("The source stream ended without an error; the connection was closed")]
struct StreamClosed;

impl sluice_api::HasErrorKind for StreamClosed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Connection
    }
}

impl Router {
    pub(super) async fn run(
        mut self,
        events: &mut mpsc::Receiver<Result<SourceEvent, ConnectorError>>,
        mut stop: watch::Receiver<bool>,
        mut writer_failed: watch::Receiver<bool>,
    ) -> Result<RouterEnd, PipelineError> {
        let mut in_transaction = false;
        let mut stopping = false;
        let mut writes = Vec::new();
        loop {
            if stopping && !in_transaction {
                return Ok(RouterEnd::Stopped);
            }
            let event = tokio::select! {
                biased;
                // A writer that failed must stop the session now, not when
                // the next event happens to be routed to it (an idle binlog
                // may send nothing for a long time).
                _ = writer_failed.wait_for(|f| *f) => return Ok(RouterEnd::WriterGone(usize::MAX)),
                _ = stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    continue;
                }
                event = events.recv() => event,
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(source)) => return Err(PipelineError::Source { name: self.source.clone(), source }),
                None => {
                    return Err(PipelineError::Source {
                        name: self.source.clone(),
                        source: ConnectorError::new(StreamClosed),
                    });
                }
            };
            match event {
                SourceEvent::Begin(transaction) => {
                    in_transaction = true;
                    if let Some(gone) = self.broadcast(|| WriterInput::Begin(Arc::clone(&transaction))).await {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                }
                SourceEvent::Change(mut change) => {
                    let Some(routes) = self.routes.get_mut(&change.table.name) else { continue };
                    let last = routes.len() - 1;
                    for (index, (route, writer)) in routes.iter_mut().enumerate() {
                        match route.map(&mut change, index == last, &mut writes) {
                            Ok(()) => {}
                            Err(RouteError::TargetColumnMissing { .. }) => {
                                // The target may have gained the column since it
                                // was described: look again, once.
                                writes.clear();
                                let (name, target) = &self.targets[*writer];
                                let described = crate::connectors::describe_target(target, &route.config.into)
                                    .await
                                    .map_err(|source| PipelineError::Target {
                                        name: name.clone(),
                                        pipeline: self.source.clone(),
                                        source,
                                    })?;
                                if let Some(shape) = described {
                                    tracing::info!(route = %route.config.name, "target table described again after a source schema change");
                                    route.set_target_shape(shape);
                                }
                                route.map(&mut change, index == last, &mut writes)?;
                            }
                            Err(other) => return Err(other.into()),
                        }
                        if writes.is_empty() {
                            continue;
                        }
                        let batch = std::mem::take(&mut writes);
                        if self.writers[*writer].send(WriterInput::Writes(batch)).await.is_err() {
                            return Ok(RouterEnd::WriterGone(*writer));
                        }
                    }
                }
                SourceEvent::Commit { transaction, position } => {
                    in_transaction = false;
                    if let Some(gone) =
                        self.broadcast(|| WriterInput::Commit(Arc::clone(&transaction), position.clone())).await
                    {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                }
                SourceEvent::Progress(position) => {
                    if !in_transaction
                        && let Some(gone) = self.broadcast(|| WriterInput::Progress(position.clone())).await
                    {
                        return Ok(RouterEnd::WriterGone(gone));
                    }
                }
            }
        }
    }

    async fn broadcast(&self, input: impl Fn() -> WriterInput) -> Option<usize> {
        for (index, writer) in self.writers.iter().enumerate() {
            if writer.send(input()).await.is_err() {
                return Some(index);
            }
        }
        None
    }
}
