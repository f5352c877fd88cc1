//! `sluice plan`: a dry run of the mapping on real rows.
//!
//! For each route (or the one asked for) it reads the first `--sample` rows
//! of the source table by key, maps each as an insert through the route
//! exactly as the pipeline would, and prints what would be written — or
//! that the row is filtered out, or why it would be dead-lettered (or stop
//! the route). Crosswalk lookups are answered from the target's crosswalk
//! table, read-only.
//!
//! Then, unless `--no-trial`, it applies those writes to the target inside
//! a transaction that is always rolled back, one row per savepoint, to show
//! which rows the target itself would refuse (types, NOT NULL, foreign
//! keys, unique keys). Nothing stays in the target; the one trace a trial
//! can leave is sequence numbers a crosswalk insert draws (sequences are
//! not transactional) — use `--no-trial` where gaps matter.

use std::sync::Arc;

use serde::Serialize;
use sluice_api::{Change, ChunkRange, Operation, Position, RowWrite, Sink, SnapshotReader, Transaction, Value};

use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK};
use crate::config::{Config, RouteConfig};
use crate::connectors::{self, AnySink};
use crate::expr::text_of;
use crate::guard::{Guard, GuardError};
use crate::route::{Guarded, Pending, Route, RouteError, RouteTag};
use crate::snapshot::job::{self, JobKind, JobRequest};
use crate::snapshot::reader::AnyReader;

/// Options of `sluice plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Only this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Rows to read per route.
    #[arg(long, default_value_t = 10)]
    pub sample: usize,
    /// Do not try the writes in a rolled-back target transaction.
    #[arg(long)]
    pub no_trial: bool,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What happens to one sampled row.
#[derive(Debug, Serialize)]
struct Planned {
    route: String,
    row: usize,
    /// `write`, `filtered`, `dead_letter` or `stop`.
    outcome: &'static str,
    writes: Vec<String>,
    /// Why the row would not be written.
    reason: Option<String>,
    /// The target's answer in the trial: `None` accepted (or no trial).
    refused_by_target: Option<String>,
}

pub(super) async fn plan(config: Config, args: PlanArgs) -> u8 {
    let routes: Vec<&RouteConfig> = match &args.route {
        Some(name) => match config.routes.iter().find(|r| &r.name == name) {
            Some(route) => vec![route],
            None => {
                eprintln!("error: no route named {name:?} in {}", config.file.display());
                return EXIT_CONFIG;
            }
        },
        None => config.routes.iter().collect(),
    };
    let mut problems = 0;
    for route in routes {
        match plan_route(&config, route, &args).await {
            Ok(planned) => {
                problems += planned.iter().filter(|p| p.outcome != "write" && p.outcome != "filtered").count();
                problems += planned.iter().filter(|p| p.refused_by_target.is_some()).count();
                print(route, &planned, args.json);
            }
            Err(message) => {
                eprintln!("error: route {}: {message}", route.name);
                return EXIT_FAILED;
            }
        }
    }
    if problems > 0 { EXIT_FAILED } else { EXIT_OK }
}

async fn plan_route(config: &Config, route_config: &RouteConfig, args: &PlanArgs) -> Result<Vec<Planned>, String> {
    let source = &config.sources[&route_config.source];
    let describe = |e: &sluice_api::ConnectorError| crate::redact::chain(e);
    let mut reader = AnyReader::connect(source).await.map_err(|e| describe(&e))?;
    let request = JobRequest {
        kind: JobKind::Backfill,
        route: route_config.name.clone(),
        table: route_config.table.clone(),
        filter: None,
        resume: None,
    };
    let (job, mut route) = job::prepare(&route_config.source, request, &mut reader, || {
        crate::snapshot::once::build_route(config, route_config)
    })
    .await
    .map_err(|e| crate::redact::chain(&e))?;
    let sample = args.sample.max(1);
    let through = reader.next_boundary(&job.schema, &job.key, None, sample, None).await.map_err(|e| describe(&e))?;
    let read = reader
        .read_chunk(&job.schema, &job.key, &ChunkRange { after: None, through }, None)
        .await
        .map_err(|e| describe(&e))?;

    let transaction = Arc::new(Transaction {
        id: "plan".into(),
        position: Position::Postgres(sluice_api::Lsn(0)),
        commit_time_micros: crate::snapshot::job::now_micros(),
        origin: None,
    });
    let target = &config.targets[&route_config.target];
    let mut sink = AnySink::connect_without_setup(target, &config.apply).await.map_err(|e| describe(&e))?;
    let owned_exist = connectors::describe_target(target, &target.owned().crosswalk).await.ok().flatten().is_some()
        && connectors::describe_target(target, &target.owned().dead_letters).await.ok().flatten().is_some();
    let needs_owned = route.resolve(&job.schema).map_err(|e| e.to_string())?.needs_writer;
    let trial = !args.no_trial && (owned_exist || !needs_owned);
    if !args.no_trial && !trial {
        eprintln!(
            "note: route {}: the target's crosswalk/dead-letter tables do not exist yet (`sluice run` creates them); \
             the target trial is skipped",
            route_config.name
        );
    }
    let mut guard = if owned_exist {
        Some(Guard::load(&mut sink, target.owned(), &route_config.source, false).await.map_err(|e| describe(&e))?)
    } else {
        None
    };

    let mut planned = Vec::new();
    for (index, row) in read.rows.into_iter().take(sample).enumerate() {
        let mut change = Change {
            transaction: Arc::clone(&transaction),
            table: Arc::clone(&job.schema),
            operation: Operation::Insert,
            before: None,
            after: Some(row),
        };
        let mut pending = Vec::new();
        let mapped = route.map(&mut change, false, &mut pending);
        let mut entry = Planned {
            route: route_config.name.clone(),
            row: index + 1,
            outcome: "write",
            writes: Vec::new(),
            reason: None,
            refused_by_target: None,
        };
        match mapped {
            Err(error @ (RouteError::Data { .. } | RouteError::Incomplete { .. })) => {
                entry.outcome = if route.tag().dead_letter { "dead_letter" } else { "stop" };
                entry.reason = Some(error.to_string());
            }
            Err(error) => return Err(error.to_string()),
            Ok(()) if pending.is_empty() => entry.outcome = "filtered",
            Ok(()) => {
                entry.writes = pending.iter().map(describe_pending).collect();
                if let Some(guard) = guard.as_mut().filter(|_| trial) {
                    entry.refused_by_target = try_in_target(guard, &mut sink, &route, &change, pending).await?;
                } else if trial {
                    let writes: Vec<RowWrite> = pending
                        .into_iter()
                        .filter_map(|p| if let Pending::Write(w) = p { Some(w) } else { None })
                        .collect();
                    entry.refused_by_target = try_plain(&mut sink, writes).await?;
                }
            }
        }
        planned.push(entry);
    }
    // Never keep anything: the trial's transaction is always rolled back.
    sink.rollback().await.map_err(|e| describe(&e))?;
    Ok(planned)
}

/// One row's writes under a savepoint of the trial transaction, through the
/// guard (crosswalks, lookups); the target's refusal, if any.
async fn try_in_target(
    guard: &mut Guard,
    sink: &mut AnySink,
    route: &Route,
    change: &Change,
    pending: Vec<Pending>,
) -> Result<Option<String>, String> {
    let guarded = Guarded {
        route: Arc::new(RouteTag { name: Arc::clone(&route.tag().name), dead_letter: true }),
        source_key: String::new(),
        seq: String::new(),
        origin: Some(Arc::new(change.clone())),
        outcome: Ok(pending),
    };
    match guard.try_change(sink, &guarded).await {
        Ok(refusal) => Ok(refusal),
        Err(GuardError::Sink(error)) => Err(crate::redact::chain(&error)),
        Err(GuardError::Mapping { message, .. }) => Ok(Some(message)),
    }
}

/// Plain writes under a savepoint of the trial transaction.
async fn try_plain(sink: &mut AnySink, writes: Vec<RowWrite>) -> Result<Option<String>, String> {
    let failed = |e: sluice_api::ConnectorError| crate::redact::chain(&e);
    sink.savepoint("sluice_plan").await.map_err(failed)?;
    match sink.write(writes).await {
        Ok(()) => {
            sink.release_savepoint("sluice_plan").await.map_err(failed)?;
            Ok(None)
        }
        Err(error) if error.kind == sluice_api::ErrorKind::Data => {
            sink.rollback_to_savepoint("sluice_plan").await.map_err(failed)?;
            Ok(Some(crate::redact::chain(&error)))
        }
        Err(error) => Err(failed(error)),
    }
}

/// One write as text: `upsert schema.table (a = 1, b = 'x')`.
fn describe_pending(pending: &Pending) -> String {
    match pending {
        Pending::Write(write) => describe_write(write, &[]),
        Pending::Lookup { write, cells } => {
            let filled: Vec<(usize, String)> =
                cells.iter().map(|c| (c.cell, format!("lookup('{}', {})", c.crosswalk, show_key(&c.key)))).collect();
            describe_write(write, &filled)
        }
        Pending::Assign { crosswalk, source_key, table, values, key_cell, cells, .. } => {
            let mut filled: Vec<(usize, String)> =
                cells.iter().map(|c| (c.cell, format!("lookup('{}', {})", c.crosswalk, show_key(&c.key)))).collect();
            filled.push((
                *key_cell,
                format!("crosswalk('{crosswalk}', {source_key:?}): existing, or assigned by the target"),
            ));
            describe_write(&RowWrite::Upsert { table: Arc::clone(table), values: values.clone() }, &filled)
        }
        Pending::Unassign { crosswalk, source_key, write, .. } => {
            format!("{} (target key from crosswalk('{crosswalk}', {source_key:?}))", describe_write(write, &[]))
        }
    }
}

fn show_key(key: &Option<String>) -> String {
    key.as_ref().map_or("NULL".to_owned(), |k| format!("{k:?}"))
}

fn describe_write(write: &RowWrite, filled: &[(usize, String)]) -> String {
    let table = write.table();
    let cell = |index: usize, value: &Value| -> String {
        if let Some((_, text)) = filled.iter().find(|(i, _)| *i == index) {
            return text.clone();
        }
        match value {
            Value::Null => "NULL".into(),
            Value::Unchanged => "(unchanged)".into(),
            other => text_of(other).map_or("NULL".into(), |t| format!("{t:?}")),
        }
    };
    match write {
        RowWrite::Upsert { values, .. } | RowWrite::Patch { values, .. } => {
            let verb = if matches!(write, RowWrite::Upsert { .. }) { "upsert" } else { "update" };
            let pairs: Vec<String> = table
                .columns
                .iter()
                .zip(values)
                .enumerate()
                .map(|(i, (column, value))| {
                    let insert_only = if table.is_insert_only(i) { " (on insert)" } else { "" };
                    format!("{column} = {}{insert_only}", cell(i, value))
                })
                .collect();
            format!("{verb} {} ({})", table.qualified(), pairs.join(", "))
        }
        RowWrite::Delete { key, .. } => {
            let pairs: Vec<String> = table
                .key
                .iter()
                .zip(key)
                .enumerate()
                .map(|(i, (&k, v))| format!("{} = {}", table.columns[k], cell(i, v)))
                .collect();
            format!("delete from {} where {}", table.qualified(), pairs.join(" and "))
        }
        RowWrite::Truncate { .. } => format!("truncate {}", table.qualified()),
    }
}

fn print(route: &RouteConfig, planned: &[Planned], json: bool) {
    if json {
        for entry in planned {
            println!("{}", serde_json::to_string(entry).expect("plans serialise"));
        }
        return;
    }
    println!(
        "route {}: {} -> {}.{} ({} sample row(s))",
        route.name,
        route.table,
        route.target,
        route.into,
        planned.len()
    );
    for entry in planned {
        match entry.outcome {
            "write" => {
                for write in &entry.writes {
                    println!("  #{:<4} {write}", entry.row);
                }
                if let Some(refusal) = &entry.refused_by_target {
                    println!("         REFUSED by the target: {refusal}");
                }
            }
            "filtered" => println!("  #{:<4} filtered out (where/when is not true)", entry.row),
            outcome => {
                let what = if outcome == "dead_letter" { "DEAD LETTER" } else { "STOPS THE ROUTE" };
                println!("  #{:<4} {what}: {}", entry.row, entry.reason.as_deref().unwrap_or(""));
            }
        }
    }
}
