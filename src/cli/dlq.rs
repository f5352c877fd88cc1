//! `sluice dlq list|retry|drop`: the dead letters of `on_error =
//! "dead_letter"` routes.
//!
//! `list` reads each target's dead-letter table (read-only; a target whose
//! table does not exist has none). `retry` and `drop` change the table and
//! unblock source rows, so they must not race the engine: when an engine
//! holds the checkpoint store they are handed to it over its admin socket
//! (its target writer does the work between source transactions); otherwise
//! this process takes the store's lock, so no engine starts meanwhile, and
//! does the work itself in one target transaction.

use std::io::{BufRead, Write};

use serde::Serialize;
use sluice_api::Sink;
use sluice_checkpoints::{CheckpointError, CheckpointStore};

use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, report};
use crate::admin::{self, DeadLetterRequest};
use crate::config::{Config, OnError, TargetConfig};
use crate::connectors::{self, AnySink};
use crate::guard::retry::{self, Action, Outcome};
use crate::guard::{Guard, GuardError};

/// `sluice dlq` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// List dead letters (all, or one route's).
    List {
        #[command(flatten)]
        config: super::ConfigArg,
        /// Only this route's.
        #[arg(long)]
        route: Option<String>,
        /// Print JSON lines, each with the recorded change (its row values).
        #[arg(long)]
        json: bool,
    },
    /// Apply a route's dead letters again, in order, through the route as
    /// configured now; those that fail again stay.
    Retry {
        #[command(flatten)]
        config: super::ConfigArg,
        #[arg(long)]
        route: String,
        /// Only this source row's (its key as `dlq list` shows it).
        #[arg(long)]
        source_key: Option<String>,
    },
    /// Discard a route's dead letters: their changes are lost for the target
    /// (re-copy the rows with `sluice backfill` if needed).
    Drop {
        #[command(flatten)]
        config: super::ConfigArg,
        #[arg(long)]
        route: String,
        /// Only this source row's.
        #[arg(long)]
        source_key: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

impl DlqCommand {
    pub(super) fn config(&self) -> &super::ConfigArg {
        match self {
            DlqCommand::List { config, .. } | DlqCommand::Retry { config, .. } | DlqCommand::Drop { config, .. } => {
                config
            }
        }
    }
}

pub(super) async fn dlq(config: Config, command: DlqCommand) -> u8 {
    match command {
        DlqCommand::List { route, json, .. } => list(&config, route.as_deref(), json).await,
        DlqCommand::Retry { route, source_key, .. } => work_off(&config, route, source_key, Action::Retry).await,
        DlqCommand::Drop { route, source_key, yes, .. } => {
            if !yes && !confirm(&route, source_key.as_deref()) {
                eprintln!("nothing dropped");
                return EXIT_FAILED;
            }
            work_off(&config, route, source_key, Action::Drop).await
        }
    }
}

#[derive(Debug, Serialize)]
struct Listed {
    target: String,
    pipeline: Option<String>,
    route: Option<String>,
    source_key: Option<String>,
    seq: Option<String>,
    source_table: Option<String>,
    operation: Option<String>,
    position: Option<String>,
    error: Option<String>,
    recorded_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<serde_json::Value>,
}

async fn list(config: &Config, route: Option<&str>, json: bool) -> u8 {
    if let Some(route) = route
        && !config.routes.iter().any(|r| r.name == route)
    {
        eprintln!("error: no route named {route:?} in {}", config.file.display());
        return EXIT_CONFIG;
    }
    let mut targets: Vec<&String> =
        config.routes.iter().filter(|r| r.on_error == OnError::DeadLetter).map(|r| &r.target).collect();
    targets.sort();
    targets.dedup();
    let mut listed = Vec::new();
    for name in targets {
        let target = &config.targets[name];
        match read_target(config, name, target, route, json).await {
            Ok(rows) => listed.extend(rows),
            Err(error) => {
                eprintln!("error: target {name}:");
                report(&error);
                return EXIT_FAILED;
            }
        }
    }
    if json {
        for entry in &listed {
            println!("{}", serde_json::to_string(entry).expect("entries serialise"));
        }
        return EXIT_OK;
    }
    if listed.is_empty() {
        println!("no dead letters");
        return EXIT_OK;
    }
    println!("{:<12} {:<24} {:<20} {:<9} {:<27} error", "target", "route", "source key", "operation", "recorded at");
    for entry in &listed {
        let cell = |value: &Option<String>| value.clone().unwrap_or_default();
        println!(
            "{:<12} {:<24} {:<20} {:<9} {:<27} {}",
            entry.target,
            cell(&entry.route),
            cell(&entry.source_key),
            cell(&entry.operation),
            cell(&entry.recorded_at),
            cell(&entry.error)
        );
    }
    println!(
        "{} dead letter(s); `sluice dlq retry --route R` applies them again once the cause is fixed",
        listed.len()
    );
    EXIT_OK
}

async fn read_target(
    config: &Config,
    name: &str,
    target: &TargetConfig,
    route: Option<&str>,
    with_change: bool,
) -> Result<Vec<Listed>, sluice_api::ConnectorError> {
    let table = &target.owned().dead_letters;
    // Read-only: a target whose table does not exist has no dead letters.
    if connectors::describe_target(target, table).await?.is_none() {
        return Ok(Vec::new());
    }
    let mut sink = AnySink::connect_without_setup(target, &config.apply).await?;
    let columns = [
        "pipeline",
        "route",
        "source_key",
        "seq",
        "source_table",
        "operation",
        "position",
        "error",
        "recorded_at",
        "change",
    ];
    let filter: Vec<(&str, &str)> = route.map(|r| vec![("route", r)]).unwrap_or_default();
    let rows = sink.select_text(table, &columns, &filter, &["route", "source_key", "seq"], None).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter();
            let mut next = || cells.next().flatten();
            Listed {
                target: name.to_owned(),
                pipeline: next(),
                route: next(),
                source_key: next(),
                seq: next(),
                source_table: next(),
                operation: next(),
                position: next(),
                error: next(),
                recorded_at: next(),
                change: next().filter(|_| with_change).and_then(|text| serde_json::from_str(&text).ok()),
            }
        })
        .collect())
}

async fn work_off(config: &Config, route: String, source_key: Option<String>, action: Action) -> u8 {
    let Some(route_config) = config.routes.iter().find(|r| r.name == route) else {
        eprintln!("error: no route named {route:?} in {}", config.file.display());
        return EXIT_CONFIG;
    };
    let outcome = match CheckpointStore::open(&config.checkpoints_path) {
        Err(CheckpointError::Locked { .. }) => {
            let request = DeadLetterRequest { route: route.clone(), source_key, action };
            admin::request_dead_letters(&admin::socket_path(config), &request).await
        }
        Err(error) => {
            report(&error);
            return EXIT_FAILED;
        }
        // Holding the store keeps an engine from starting meanwhile.
        Ok(_store) => offline(config, route_config, source_key.as_deref(), action).await,
    };
    match outcome {
        Ok(outcome) => {
            let verb = if action == Action::Retry { "applied" } else { "dropped" };
            println!(
                "route {route}: {} dead letter(s) {verb}, {} remaining; {} source row(s) no longer wait",
                outcome.done, outcome.remaining, outcome.released_rows
            );
            if outcome.remaining > 0 { EXIT_FAILED } else { EXIT_OK }
        }
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_FAILED
        }
    }
}

/// Retry or drop without an engine: this process's own target transaction.
async fn offline(
    config: &Config,
    route: &crate::config::RouteConfig,
    source_key: Option<&str>,
    action: Action,
) -> Result<Outcome, String> {
    let mut built = crate::snapshot::once::build_route(config, route).await.map_err(|e| crate::redact::chain(&e))?;
    let target = &config.targets[&route.target];
    let failed =
        |error: sluice_api::ConnectorError| format!("target {}: {}", route.target, crate::redact::chain(&error));
    let mut sink = AnySink::connect(target, &config.apply).await.map_err(failed)?;
    sink.ensure_owned_tables(target.owned()).await.map_err(failed)?;
    let mut guard = Guard::load(&mut sink, target.owned(), &route.source, true).await.map_err(failed)?;
    let outcome = match retry::work_off(&mut guard, &mut sink, &mut built, source_key, action).await {
        Ok(outcome) => outcome,
        Err(error) => {
            let _ = sink.rollback().await;
            return Err(match error {
                GuardError::Sink(error) => failed(error),
                GuardError::Mapping { route, message } => format!("route {route}: {message}"),
            });
        }
    };
    sink.commit_rows().await.map_err(failed)?;
    Ok(outcome)
}

fn confirm(route: &str, source_key: Option<&str>) -> bool {
    let what = match source_key {
        Some(key) => format!("the dead letters of source row {key:?} of route {route}"),
        None => format!("every dead letter of route {route}"),
    };
    eprint!("Drop {what}? Their changes will never reach the target. Type 'yes': ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}
