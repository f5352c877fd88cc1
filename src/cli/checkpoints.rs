//! `sluice checkpoints show|reset`.
//!
//! `show` prints the checkpoint store's positions and each target's offsets
//! row side by side, so a disagreement is visible. `reset` forgets a
//! source's positions in both places (and with `--drop-slot` drops its
//! replication slot): the next run starts from the slot's position or, with
//! a new slot, from now. `reset --target` forgets one target of a source
//! (a target rebuilt or restored from a backup): its offsets row, its
//! checkpoint entry and the snapshot records of its routes, so the next run
//! streams to it from where the other targets stand and copies its routes
//! again alongside. Both refuse while an engine holds the store.

use std::io::{BufRead, Write};

use serde::Serialize;
use sluice_checkpoints::{CheckpointError, CheckpointStore};

use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, report};
use crate::config::{Config, SnapshotMode, SourceConfig};
use crate::connectors::AnySink;

#[derive(Debug, Serialize)]
struct Entry {
    source: String,
    checkpoint: Option<String>,
    targets: Vec<(String, Option<String>, Option<String>)>,
    /// Snapshot jobs (initial and backfill) with their progress.
    snapshots: Vec<sluice_checkpoints::SnapshotProgress>,
}

fn open_store(config: &Config) -> Result<CheckpointStore, u8> {
    CheckpointStore::open(&config.checkpoints_path).map_err(|error| {
        report(&error);
        if matches!(error, CheckpointError::Locked { .. }) { EXIT_LOCKED } else { EXIT_FAILED }
    })
}

pub(super) async fn show(config: Config, json: bool) -> u8 {
    let store = match open_store(&config) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let mut entries = Vec::new();
    for name in config.sources.keys() {
        let checkpoint = match store.acknowledged(name) {
            Ok(c) => c.map(|c| c.position),
            Err(error) => {
                report(&error);
                return EXIT_FAILED;
            }
        };
        let local = store.applied(name).unwrap_or_default();
        let targets = config.targets_of_source(name);
        let mut rows = Vec::new();
        for target in targets {
            let stored = local.iter().find(|e| &e.target == target).map(|e| e.position.clone());
            let in_target = crate::connectors::target_position(&config.targets[target], name)
                .await
                .ok()
                .flatten()
                .map(|p| p.encode());
            rows.push((target.clone(), stored, in_target));
        }
        let snapshots = match store.snapshots(name) {
            Ok(snapshots) => snapshots,
            Err(error) => {
                report(&error);
                return EXIT_FAILED;
            }
        };
        entries.push(Entry { source: name.clone(), checkpoint, targets: rows, snapshots });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&entries).unwrap_or_default());
        return EXIT_OK;
    }
    for entry in &entries {
        println!("source {}: acknowledged {}", entry.source, entry.checkpoint.as_deref().unwrap_or("-"));
        for (target, stored, in_target) in &entry.targets {
            let flag = if stored.is_some() && stored != in_target { "  <- differs" } else { "" };
            println!(
                "  target {target}: checkpoint store {}, offsets table {}{flag}",
                stored.as_deref().unwrap_or("-"),
                in_target.as_deref().unwrap_or("-")
            );
        }
        for job in &entry.snapshots {
            println!(
                "  {} snapshot of route {} ({}{}): {} rows in {} chunks, {}",
                job.kind,
                job.route,
                job.table,
                job.filter.as_deref().map(|f| format!(" where {f}")).unwrap_or_default(),
                job.rows_copied,
                job.chunks_done,
                if job.done { "done" } else { "unfinished" }
            );
        }
    }
    EXIT_OK
}

/// Removes `target`'s offsets row for `source`; reports a failure.
async fn forget_target_position(config: &Config, source: &str, target: &str) -> bool {
    let result = match AnySink::connect(&config.targets[target], &config.apply).await {
        Ok(mut sink) => sink.forget_position(source).await,
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        eprintln!("error: target {target}:");
        report(&error);
        return false;
    }
    println!("target {target}: offsets row for {source} removed");
    true
}

/// Reports a `--source` the config does not have.
fn unknown_source(config: &Config, source: &str) -> u8 {
    eprintln!(
        "error: no source {source:?} in {}; sources: {}",
        config.file.display(),
        config.sources.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    EXIT_CONFIG
}

/// Asks for `yes` on standard input unless `--yes` was given.
fn confirmed(question: &str, yes: bool) -> bool {
    if yes {
        return true;
    }
    eprint!("{question} Type yes: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() || answer.trim() != "yes" {
        eprintln!("not reset");
        return false;
    }
    true
}

pub(super) async fn reset_target(config: Config, source: String, target: String, yes: bool) -> u8 {
    if !config.sources.contains_key(&source) {
        return unknown_source(&config, &source);
    }
    let routes: Vec<&crate::config::RouteConfig> =
        config.routes_of_source(&source).filter(|route| route.target == target).collect();
    if routes.is_empty() {
        eprintln!(
            "error: no route of source {source:?} writes into target {target:?} in {}; its targets: {}",
            config.file.display(),
            config.targets_of_source(&source).iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
        );
        return EXIT_CONFIG;
    }
    let store = match open_store(&config) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let copied = routes.iter().filter(|route| route.snapshot != SnapshotMode::Never).count();
    let question = format!(
        "Reset target {target} of source {source}? Its offsets row and snapshot records are removed; the next run \
         copies {copied} of its {} route(s) again.",
        routes.len()
    );
    if !confirmed(&question, yes) {
        return EXIT_FAILED;
    }
    if !forget_target_position(&config, &source, &target).await {
        return EXIT_FAILED;
    }
    let names: Vec<String> = routes.iter().map(|route| route.name.clone()).collect();
    if let Err(error) = store.reset_target(&source, &target, &names).await {
        report(&error);
        return EXIT_FAILED;
    }
    println!("checkpoint store: target {target} of {source} and the snapshot records of its routes forgotten");
    for route in routes {
        if route.snapshot == SnapshotMode::Never {
            println!(
                "route {} has snapshot = \"never\": its rows are not copied again by itself; run \
                 sluice backfill --route {} after starting",
                route.name, route.name
            );
        } else {
            println!("route {}: copied again on the next run", route.name);
        }
    }
    EXIT_OK
}

pub(super) async fn reset(config: Config, source: String, drop_slot: bool, yes: bool) -> u8 {
    let Some(source_config) = config.sources.get(&source) else {
        return unknown_source(&config, &source);
    };
    let store = match open_store(&config) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let question = format!(
        "Reset all positions of source {source}{}? Changes not yet applied will not be replayed.",
        if drop_slot { " and drop its replication slot" } else { "" }
    );
    if !confirmed(&question, yes) {
        return EXIT_FAILED;
    }
    for target in config.targets_of_source(&source) {
        if !forget_target_position(&config, &source, target).await {
            return EXIT_FAILED;
        }
    }
    if let Err(error) = store.reset(&source).await {
        report(&error);
        return EXIT_FAILED;
    }
    println!("checkpoint store: {source} forgotten");
    if drop_slot {
        let SourceConfig::Postgres { url, slot, .. } = source_config else {
            println!("source {source} reads a binlog: there is no slot to drop");
            return EXIT_OK;
        };
        let result = async {
            let client = sluice_postgres::connect(url.expose()).await?;
            sluice_postgres::drop_slot(&client, slot).await
        }
        .await;
        match result {
            Ok(_) => println!("replication slot {slot} dropped"),
            Err(error) => {
                report(&error);
                return EXIT_FAILED;
            }
        }
    }
    EXIT_OK
}
