//! The command line: `sluice run | backfill | check | status | checkpoints |
//! plan | dlq | crosswalk`.
//!
//! Exit codes (documented in README and docs/OPERATIONS.md):
//! 0 success; 1 the pipeline stopped on an error (data or unexpected);
//! 2 usage or config file error; 3 prerequisites not met or a database
//! unreachable at start; 4 a resnapshot is needed (the source no longer has
//! the changes the targets need); 5 the checkpoint store is in use by
//! another sluice process.

mod backfill;
mod check;
mod checkpoints;
mod crosswalk;
mod dlq;
mod plan;
mod progress;
mod run;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sluice_api::{ErrorKind, HasErrorKind};

use crate::config::{Config, ConfigError};
use crate::pipeline::PipelineError;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_PREREQUISITES: u8 = 3;
pub const EXIT_RESNAPSHOT: u8 = 4;
pub const EXIT_LOCKED: u8 = 5;

#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "Change-data-capture replication between databases", long_about = None)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SLUICE_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The TOML config file.
    #[arg(short, long, env = "SLUICE_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replicate continuously until SIGINT/SIGTERM.
    Run(ConfigArg),
    /// Copy existing rows again (a table, a source, a route; optionally only
    /// rows matching --where) while streaming continues, or once with --once.
    Backfill {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        args: backfill::BackfillArgs,
    },
    /// Connect to every source and target and check prerequisites.
    Check(ConfigArg),
    /// Show each source's checkpoint, the server's position, lag and retained WAL.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Inspect or reset stored positions.
    #[command(subcommand)]
    Checkpoints(CheckpointsCommand),
    /// Dry run: map sample rows of each route and show what would be
    /// written, filtered or dead-lettered; writes nothing.
    Plan {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        args: plan::PlanArgs,
    },
    /// Dead letters of `on_error = "dead_letter"` routes: list, retry, drop.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Key crosswalks of `[routes.crosswalk]` routes.
    #[command(subcommand)]
    Crosswalk(CrosswalkCommand),
}

#[derive(Debug, Subcommand)]
pub enum CrosswalkCommand {
    /// Print a crosswalk route's source key -> target key pairs.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The crosswalk route.
        #[arg(long)]
        route: String,
        /// Only this source key.
        #[arg(long)]
        source_key: Option<String>,
        /// Output format (csv and json for export).
        #[arg(long, value_enum, default_value_t = crosswalk::Format::Table)]
        format: crosswalk::Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum CheckpointsCommand {
    /// Print the positions in the checkpoint store and in each target's offsets table.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
    },
    /// Forget a source's positions (checkpoint store and targets' offsets rows).
    /// The next run starts from the slot's position, or from a new slot with --drop-slot.
    /// With --target, forget only that target: the next run copies its tables again.
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        /// The source to reset.
        #[arg(long)]
        source: String,
        /// Reset only this target of the source (a target rebuilt or restored from a backup):
        /// its offsets row, its checkpoint entry and its routes' snapshot records. The other
        /// targets keep their positions; the next run copies this target's routes again.
        #[arg(long, conflicts_with = "drop_slot")]
        target: Option<String>,
        /// Also drop the source's replication slot (its retained WAL is released).
        #[arg(long)]
        drop_slot: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs the parsed command; returns the process exit code.
pub async fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Run(args) => with_config(&args, run::run).await,
        Command::Backfill { config, args } => with_config(&config, |c| backfill::backfill(c, args)).await,
        Command::Check(args) => with_config(&args, check::check).await,
        Command::Status { config, json } => with_config(&config, |c| status::status(c, json)).await,
        Command::Checkpoints(CheckpointsCommand::Show { config, json }) => {
            with_config(&config, |c| checkpoints::show(c, json)).await
        }
        Command::Checkpoints(CheckpointsCommand::Reset { config, source, target: Some(target), yes, .. }) => {
            with_config(&config, |c| checkpoints::reset_target(c, source, target, yes)).await
        }
        Command::Checkpoints(CheckpointsCommand::Reset { config, source, target: None, drop_slot, yes }) => {
            with_config(&config, |c| checkpoints::reset(c, source, drop_slot, yes)).await
        }
        Command::Plan { config, args } => with_config(&config, |c| plan::plan(c, args)).await,
        Command::Dlq(command) => {
            let config = command.config().clone();
            with_config(&config, |c| dlq::dlq(c, command)).await
        }
        Command::Crosswalk(CrosswalkCommand::Show { config, route, source_key, format }) => {
            with_config(&config, |c| crosswalk::show(c, route, source_key, format)).await
        }
    };
    ExitCode::from(code)
}

async fn with_config<F, Fut>(args: &ConfigArg, command: F) -> u8
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = u8>,
{
    match Config::load(&args.config) {
        Ok(config) => command(config).await,
        Err(error) => {
            report(&error);
            config_exit_code(&error)
        }
    }
}

fn config_exit_code(_: &ConfigError) -> u8 {
    EXIT_CONFIG
}

/// Prints an error and its causes to stderr, one per line, without row
/// values (database errors are redacted, see `redact.rs`).
pub(crate) fn report(error: &(dyn std::error::Error + 'static)) {
    eprintln!("error: {}", crate::redact::describe(error));
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {}", crate::redact::describe(cause));
        source = cause.source();
    }
}

/// The exit code for a snapshot error outside a pipeline (`backfill --once`).
pub(crate) fn snapshot_exit_code(error: &crate::snapshot::SnapshotError) -> u8 {
    match error.kind() {
        ErrorKind::ResnapshotNeeded => EXIT_RESNAPSHOT,
        ErrorKind::Config => EXIT_PREREQUISITES,
        ErrorKind::Connection | ErrorKind::Protocol | ErrorKind::Data => EXIT_FAILED,
    }
}

/// The exit code for a pipeline error.
pub(crate) fn pipeline_exit_code(error: &PipelineError) -> u8 {
    if let PipelineError::Checkpoint(sluice_checkpoints::CheckpointError::Locked { .. }) = error {
        return EXIT_LOCKED;
    }
    match error.kind() {
        ErrorKind::ResnapshotNeeded => EXIT_RESNAPSHOT,
        ErrorKind::Config => EXIT_PREREQUISITES,
        ErrorKind::Connection | ErrorKind::Protocol | ErrorKind::Data => EXIT_FAILED,
    }
}
