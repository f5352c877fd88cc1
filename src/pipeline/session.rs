//! One run of one source's pipeline, from connecting to stopping or failing.
//!
//! Start-up order matters for correctness:
//! 1. connect every target of the source and read its offsets row — the
//!    position it holds durably (authoritative: written with the rows);
//! 2. compare with the checkpoint store's copy and report disagreements;
//! 3. resume from the earliest target position — the connector's choice
//!    (`connectors::resume_position`: the lowest LSN; for a binlog source
//!    by GTIDs when the targets' positions come from different servers,
//!    refusing when nothing tells what each target lacks); refuse to start
//!    if the source can no longer supply changes from there (slot missing
//!    or already past it: changes in between are gone — a resnapshot is
//!    needed, never a skip);
//! 4. start the source, the writers, the acknowledger and the router.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::{Position, Sink};
use sluice_checkpoints::CheckpointStore;
use tokio::sync::{Notify, mpsc, watch};

use super::acknowledger::Acknowledger;
use super::chunks::ChunkWindows;
use super::error::PipelineError;
use super::router::{Router, RouterEnd, RouterSnapshots};
use super::writer::{Durable, Writer, WriterSettings};
use crate::config::{Config, SourceConfig};
use crate::connectors::{self, AnySink};
use crate::route::Route;

/// How long a stopping source may take to send its final status update.
const SOURCE_STOP_GRACE: Duration = Duration::from_secs(5);

pub(super) async fn run_session(
    config: &Arc<Config>,
    source_name: &str,
    store: &CheckpointStore,
    control: &super::EngineControl,
    stop: watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    let source_config = &config.sources[source_name];
    let source_error = |source| PipelineError::Source { name: source_name.to_owned(), source };

    // Targets of this source, in a stable order, each with its own connection.
    let mut target_names: Vec<String> = config.routes_of_source(source_name).map(|r| r.target.clone()).collect();
    target_names.sort();
    target_names.dedup();
    let mut sinks = Vec::with_capacity(target_names.len());
    for name in &target_names {
        let target_error =
            |source| PipelineError::Target { name: name.clone(), pipeline: source_name.to_owned(), source };
        let sink = AnySink::connect(&config.targets[name], &config.apply).await.map_err(target_error)?;
        sinks.push(sink);
    }

    // Routes, checked against the target tables and the source keys.
    let mut routes: HashMap<sluice_api::TableName, Vec<(Route, usize)>> = HashMap::new();
    let mut tables = Vec::new();
    for route_config in config.routes_of_source(source_name) {
        let writer = target_names.iter().position(|t| t == &route_config.target).expect("target listed");
        // The source table first, then the target: a column is added to the
        // target before the source, so a target described after the source
        // has every column that description shows (`snapshot::job::prepare`
        // says why the other order fails on a column added in between).
        let schema = connectors::describe_source_table(source_config, &route_config.table)
            .await
            .map_err(source_error)?
            .ok_or_else(|| PipelineError::Setup {
                source_name: source_name.to_owned(),
                message: format!("route {}: source table {} does not exist", route_config.name, route_config.table),
            })?;
        let shape = sinks[writer]
            .describe(&route_config.into)
            .await
            .map_err(|source| PipelineError::Target {
                name: route_config.target.clone(),
                pipeline: source_name.to_owned(),
                source,
            })?
            .ok_or_else(|| PipelineError::Setup {
                source_name: source_name.to_owned(),
                message: format!(
                    "route {}: target table {} does not exist in target {}; create it, then start again",
                    route_config.name, route_config.into, route_config.target
                ),
            })?;
        let primary_key = schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect();
        let mut route = Route::new(route_config.clone(), shape, primary_key, config.maps.clone())?;
        // Resolved against the catalog now, so a mapping that cannot work
        // (an expression naming a column the table lacks) stops the start
        // instead of waiting for the table's first change.
        route.resolve(&Arc::new(schema))?;
        if !tables.contains(&route_config.table) {
            tables.push(route_config.table.clone());
        }
        routes.entry(route_config.table.clone()).or_default().push((route, writer));
    }

    // Many-to-one: a truncate of one source table must not empty a table
    // other routes fill too.
    for (route, _) in routes.values_mut().flatten() {
        route.shares_target_table = config.routes.iter().any(|other| {
            other.name != route.config.name && other.target == route.config.target && other.into == route.config.into
        });
    }

    // Crosswalks and dead letters: their tables, and the rows waiting.
    let mut guards = Vec::with_capacity(sinks.len());
    for (name, sink) in target_names.iter().zip(sinks.iter_mut()) {
        let routes_here: Vec<&crate::config::RouteConfig> =
            config.routes_of_source(source_name).filter(|r| &r.target == name).collect();
        let dead_letters = routes_here.iter().any(|r| r.on_error == crate::config::OnError::DeadLetter);
        let crosswalks = config.routes.iter().any(|r| &r.target == name && r.crosswalk.is_some());
        let guard = if dead_letters || crosswalks {
            let owned = config.targets[name].owned();
            let target_error =
                |source| PipelineError::Target { name: name.clone(), pipeline: source_name.to_owned(), source };
            sink.ensure_owned_tables(owned).await.map_err(target_error)?;
            Some(crate::guard::Guard::load(sink, owned, source_name, dead_letters).await.map_err(target_error)?)
        } else {
            None
        };
        guards.push(guard);
    }

    // Where each target stands.
    let mut applied: Vec<Option<Position>> = Vec::with_capacity(sinks.len());
    let remembered = store.applied(source_name)?;
    for (name, sink) in target_names.iter().zip(sinks.iter_mut()) {
        let position = sink.applied_position(source_name).await.map_err(|source| PipelineError::Target {
            name: name.clone(),
            pipeline: source_name.to_owned(),
            source,
        })?;
        let local = remembered.iter().find(|e| &e.target == name).map(|e| e.position.clone());
        let in_target = position.as_ref().map(Position::encode);
        if local.is_some() && local != in_target {
            tracing::warn!(
                source = source_name,
                target_name = %name,
                target_position = in_target.as_deref().unwrap_or("none"),
                checkpoint_position = local.as_deref().unwrap_or("none"),
                "the target's offsets table and the checkpoint store disagree; resuming from the target's position"
            );
        }
        applied.push(position);
    }
    // The connector chooses: after a failover the targets may hold
    // positions of different servers, which order only by GTIDs.
    let held: Vec<(String, Position)> = target_names
        .iter()
        .zip(&applied)
        .filter_map(|(name, position)| Some((name.clone(), position.clone()?)))
        .collect();
    let resume = connectors::resume_position(source_config, source_name, &held).map_err(source_error)?;

    check_resumable(source_config, source_name, resume.as_ref()).await?;

    let stream = connectors::start_source(source_config, tables, config.apply.queue_capacity, resume.clone())
        .await
        .map_err(source_error)?;
    tracing::info!(source = source_name, resume = %resume.as_ref().map(Position::encode).unwrap_or_else(|| "slot position".into()), targets = target_names.len(), "streaming");

    // Snapshots: coordinator, readers and progress tracker for this source.
    let pending_jobs = crate::snapshot::live::pending_requests(config, source_name, store)?;
    let not_started: Vec<String> = pending_jobs
        .iter()
        .filter(|request| request.resume.as_ref().is_none_or(|progress| progress.chunks_done == 0))
        .map(|request| request.route.clone())
        .collect();
    let copying_routes: Vec<String> = pending_jobs.into_iter().map(|request| request.route).collect();
    for (name, position) in target_names.iter().zip(&applied) {
        if position.is_some() || resume.is_none() {
            continue;
        }
        let uncopied: Vec<&str> = config
            .routes_of_source(source_name)
            .filter(|route| &route.target == name && !copying_routes.contains(&route.name))
            .map(|route| route.name.as_str())
            .collect();
        if uncopied.is_empty() {
            tracing::info!(source = source_name, target_name = %name,
                "target has no position yet: it receives changes from the current stream position on while its routes are copied");
        } else {
            tracing::warn!(source = source_name, target_name = %name, routes = ?uncopied,
                "target has no position yet: it receives changes from the current stream position on; the rows of these routes are not copied (sluice backfill --route R copies them)");
        }
    }
    let snapshots = crate::snapshot::live::start(
        Arc::clone(config),
        source_name.to_owned(),
        store.clone(),
        Arc::clone(&control.wakes[source_name]),
        control.status.clone(),
        &control.copies,
    );

    // Writers.
    let notify = Arc::new(Notify::new());
    let (writer_failed_tx, writer_failed_rx) = watch::channel(false);
    let mut writer_inputs = Vec::new();
    let mut writer_tasks = Vec::new();
    let mut durable_receivers = Vec::new();
    for (((name, sink), position), guard) in target_names.iter().zip(sinks).zip(applied).zip(guards) {
        let (input_tx, input_rx) = mpsc::channel(config.apply.queue_capacity);
        let (durable_tx, durable_rx) = watch::channel(Durable { position: position.clone(), commit_time_micros: 0 });
        let writer = Writer {
            target: name.clone(),
            pipeline: source_name.to_owned(),
            sink,
            applied: position,
            settings: WriterSettings {
                max_batch_rows: config.apply.max_batch_rows,
                max_batch_delay: Duration::from_millis(config.apply.max_batch_delay_ms),
                commit_coalesce: Duration::from_millis(config.apply.commit_coalesce_ms),
                max_rows_per_statement: config.apply.max_rows_per_statement,
            },
            input: input_rx,
            durable: durable_tx,
            notify: Arc::clone(&notify),
            chunks_done: snapshots.done.clone(),
            guard,
            ahead: std::collections::VecDeque::new(),
        };
        writer_inputs.push(input_tx);
        durable_receivers.push((name.clone(), durable_rx));
        let failed = writer_failed_tx.clone();
        writer_tasks.push(tokio::spawn(async move {
            let result = writer.run().await;
            if result.is_err() {
                failed.send_replace(true);
            }
            result
        }));
    }

    let (ack_stop_tx, ack_stop_rx) = watch::channel(false);
    let acknowledger = Acknowledger {
        source: source_name.to_owned(),
        store: store.clone(),
        targets: durable_receivers,
        to_source: stream.durable.clone(),
        notify,
        min_interval: Duration::from_millis(100),
        last: None,
    };
    let ack_task = tokio::spawn(acknowledger.run(ack_stop_rx));

    let crate::snapshot::live::LiveSnapshots { planned, messages, reads, done, tasks: snapshot_tasks } = snapshots;
    drop(done);
    let router = Router {
        source: source_name.to_owned(),
        routes,
        writers: writer_inputs,
        targets: target_names.iter().map(|name| (name.clone(), config.targets[name].clone())).collect(),
        snapshots: RouterSnapshots {
            windows: ChunkWindows::new(reads),
            planned,
            messages,
            progress_wanted: stream.progress_wanted.clone(),
            copying: copying_routes,
            not_started,
            stream_at: None,
        },
        pending: Vec::new(),
        commands: Arc::clone(&control.commands[source_name].receiver).lock_owned().await,
    };
    let mut events = stream.events;
    let router_result = router.run(&mut events, stop, writer_failed_rx).await;
    // Chunks not yet written are read again on the next run.
    drop(snapshot_tasks);

    // The router has dropped the writers' inputs: writers commit what they
    // hold (at a boundary) or roll back, then end.
    let mut writer_error = None;
    for task in writer_tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                writer_error.get_or_insert(error);
            }
            Err(join) => {
                writer_error.get_or_insert(PipelineError::Setup {
                    source_name: source_name.to_owned(),
                    message: format!("a target writer task failed: {join}"),
                });
            }
        }
    }
    ack_stop_tx.send_replace(true);
    let ack_result = ack_task.await.unwrap_or(Ok(()));

    // Only now, with the final position published, close the event channel:
    // the source sends its last status update (with that position) and ends.
    drop(events);
    let mut source_task = stream.task;
    if tokio::time::timeout(SOURCE_STOP_GRACE, &mut source_task).await.is_err() {
        source_task.abort();
    }

    match router_result {
        Err(error) => Err(error),
        Ok(RouterEnd::WriterGone(_)) => Err(writer_error.unwrap_or_else(|| PipelineError::Setup {
            source_name: source_name.to_owned(),
            message: "a target writer stopped without an error".into(),
        })),
        Ok(RouterEnd::Stopped) => {
            if let Some(error) = writer_error {
                return Err(error);
            }
            ack_result
        }
    }
}

/// Refuses to resume where the source can no longer supply every change.
async fn check_resumable(
    source_config: &SourceConfig,
    source_name: &str,
    resume: Option<&Position>,
) -> Result<(), PipelineError> {
    let Some(resume) = resume else { return Ok(()) };
    let Some(bookmark) = connectors::source_bookmark(source_config)
        .await
        .map_err(|source| PipelineError::Source { name: source_name.to_owned(), source })?
    else {
        return Ok(());
    };
    let slot = match source_config {
        SourceConfig::Postgres { slot, .. } => slot.as_str(),
        SourceConfig::Mysql { .. } => "",
    };
    if !bookmark.exists {
        return Err(PipelineError::ResnapshotNeeded {
            source_name: source_name.to_owned(),
            message: format!(
                "replication slot {slot} does not exist, but the targets hold position {resume}: the changes since \
                 then are gone. Reset with `sluice checkpoints reset --source {source_name}` and re-copy the tables"
            ),
        });
    }
    if let Some(confirmed) = bookmark.confirmed
        && confirmed > *resume
    {
        return Err(PipelineError::ResnapshotNeeded {
            source_name: source_name.to_owned(),
            message: format!(
                "replication slot {slot} has already confirmed {confirmed}, beyond the targets' position {resume}: \
                 another consumer advanced it or it was recreated, and the changes in between are gone. Reset with \
                 `sluice checkpoints reset --source {source_name}` and re-copy the tables"
            ),
        });
    }
    Ok(())
}
