//! `sluice backfill`: copy a table (or the rows matching `--where`) again
//! while streaming keeps running, or once without streaming (`--once`).
//!
//! Who does the work: the engine that holds the checkpoint store. When
//! `sluice run` is running for this config (the store is locked), the
//! request goes to its admin socket and this command shows the engine's
//! progress until done. Otherwise this process does it: with `--once` as a
//! batch copy; without, by running the affected sources' pipelines (stream
//! and reconciled chunks) until the backfill is done, then stopping them
//! cleanly.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_checkpoints::{CheckpointError, CheckpointStore};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::progress::ProgressDisplay;
use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, pipeline_exit_code, report};
use crate::admin::{self, BackfillRequest};
use crate::config::{Config, RouteConfig};
use crate::pipeline::{self, EngineControl};
use crate::snapshot::job::{JobKind, JobRequest};

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// Source table `schema.table` (MySQL: `database.table`): every route reading it.
    #[arg(long)]
    pub table: Option<String>,
    /// Every route of this source (or, with --table, only this source's).
    #[arg(long)]
    pub source: Option<String>,
    /// Exactly this route (by its `name`).
    #[arg(long)]
    pub route: Option<String>,
    /// Only rows matching this SQL predicate, in the source's dialect (e.g. "updated_at >= '2026-01-01'").
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Copy once without streaming (a batch load; not reconciled with concurrent changes).
    #[arg(long)]
    pub once: bool,
}

fn select_routes<'a>(config: &'a Config, args: &BackfillArgs) -> Result<Vec<&'a RouteConfig>, String> {
    if args.table.is_none() && args.source.is_none() && args.route.is_none() {
        return Err("say what to copy: --table SCHEMA.TABLE, --source NAME or --route NAME".into());
    }
    let routes: Vec<&RouteConfig> = config
        .routes
        .iter()
        .filter(|r| args.table.as_ref().is_none_or(|t| &r.table.to_string() == t))
        .filter(|r| args.source.as_ref().is_none_or(|s| &r.source == s))
        .filter(|r| args.route.as_ref().is_none_or(|n| &r.name == n))
        .collect();
    if routes.is_empty() {
        let names: Vec<String> =
            config.routes.iter().map(|r| format!("{} ({} -> {})", r.name, r.table, r.into)).collect();
        return Err(format!("no route matches; the config's routes are: {}", names.join(", ")));
    }
    Ok(routes)
}

pub(super) async fn backfill(config: Config, args: BackfillArgs) -> u8 {
    let routes = match select_routes(&config, &args) {
        Ok(routes) => routes,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let request =
        BackfillRequest { routes: routes.iter().map(|r| r.name.clone()).collect(), filter: args.filter.clone() };
    let mut display = ProgressDisplay::new();
    let store = match CheckpointStore::open(&config.checkpoints_path) {
        Ok(store) => store,
        Err(CheckpointError::Locked { .. }) => {
            // An engine runs: hand the request over and follow it.
            let socket = admin::socket_path(&config);
            if args.once {
                eprintln!(
                    "note: an engine is running for this config; it does the backfill, reconciled with its stream"
                );
            }
            let outcome = admin::request_backfill(&socket, &request, |status| display.update(status)).await;
            display.summary();
            return match outcome {
                Ok(true) => EXIT_OK,
                Ok(false) => {
                    eprintln!(
                        "error: the engine stopped before the backfill finished; it resumes when the engine runs again"
                    );
                    EXIT_FAILED
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    EXIT_FAILED
                }
            };
        }
        Err(error) => {
            report(&error);
            return EXIT_FAILED;
        }
    };
    if args.once {
        once(&config, &store, &request, &mut display).await
    } else {
        streaming(config, store, request, display).await
    }
}

async fn once(
    config: &Config,
    store: &CheckpointStore,
    request: &BackfillRequest,
    display: &mut ProgressDisplay,
) -> u8 {
    let mut by_source: BTreeMap<String, Vec<JobRequest>> = BTreeMap::new();
    for name in &request.routes {
        let route = config.routes.iter().find(|r| &r.name == name).expect("selected from the config");
        let resume = match store.snapshot(&route.source, JobKind::Backfill.as_str(), name) {
            Ok(recorded) => recorded.filter(|p| !p.done && p.filter == request.filter),
            Err(error) => {
                report(&error);
                return EXIT_FAILED;
            }
        };
        by_source.entry(route.source.clone()).or_default().push(JobRequest {
            kind: JobKind::Backfill,
            route: name.clone(),
            table: route.table.clone(),
            filter: request.filter.clone(),
            resume,
        });
    }
    let (status, mut updates) = tokio::sync::broadcast::channel(1024);
    for (source, requests) in by_source {
        let copy = crate::snapshot::once::copy_source(config, &source, requests, store, status.clone());
        tokio::pin!(copy);
        let result = loop {
            tokio::select! {
                result = &mut copy => break result,
                update = updates.recv() => if let Ok(update) = update { display.update(&update) },
            }
        };
        while let Ok(update) = updates.try_recv() {
            display.update(&update);
        }
        if let Err(error) = result {
            display.summary();
            report(&error);
            return super::snapshot_exit_code(&error);
        }
    }
    display.summary();
    EXIT_OK
}

async fn streaming(
    config: Config,
    store: CheckpointStore,
    request: BackfillRequest,
    mut display: ProgressDisplay,
) -> u8 {
    let sources = match admin::record_backfills(&config, &store, &request).await {
        Ok(sources) => sources,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_FAILED;
        }
    };
    // Run only the sources involved.
    let config = Arc::new(Config {
        file: config.file.clone(),
        checkpoints_path: config.checkpoints_path.clone(),
        apply: config.apply.clone(),
        snapshot: config.snapshot.clone(),
        sources: config
            .sources
            .iter()
            .filter(|(n, _)| sources.contains(n))
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect(),
        targets: config.targets.clone(),
        routes: config.routes.iter().filter(|r| sources.contains(&r.source)).cloned().collect(),
        maps: config.maps.clone(),
    });
    let control = EngineControl::new(&config);
    let mut updates = control.subscribe();
    let (stop_tx, stop_rx) = watch::channel(false);
    let admin = admin::serve(Arc::clone(&config), store.clone(), control.clone()).ok();
    let engine = tokio::spawn(pipeline::run(Arc::clone(&config), store.clone(), control, stop_rx));
    tokio::pin!(engine);
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        eprintln!("error: cannot install signal handlers");
        return EXIT_FAILED;
    };
    let mut pending: Vec<String> = request.routes.clone();
    let result = loop {
        tokio::select! {
            joined = &mut engine => break joined.unwrap_or_else(|join| Err(pipeline::PipelineError::Setup {
                source_name: "?".into(), message: format!("engine task failed: {join}") })),
            update = updates.recv() => {
                let Ok(update) = update else { continue };
                display.update(&update);
                if update.kind == JobKind::Backfill.as_str() && update.done {
                    pending.retain(|r| r != &update.route);
                    if pending.is_empty() {
                        stop_tx.send_replace(true);
                    }
                }
            }
            _ = interrupt.recv() => { stop_tx.send_replace(true); }
            _ = terminate.recv() => { stop_tx.send_replace(true); }
        }
    };
    if let Some(admin) = admin {
        admin.abort();
        let _ = std::fs::remove_file(admin::socket_path(&config));
    }
    display.summary();
    match result {
        Ok(()) if pending.is_empty() => EXIT_OK,
        Ok(()) => {
            eprintln!("stopped before the backfill finished; run the same command again to resume");
            EXIT_FAILED
        }
        Err(error) => {
            report(&error);
            pipeline_exit_code(&error)
        }
    }
}
