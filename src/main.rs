//! The `sluice` binary: parses the command line, sets up logging on stderr
//! (`SLUICE_LOG` / `RUST_LOG` filter, default `info`), and hands over to
//! [`sluice::cli`].
//!
//! The global allocator is mimalloc: moving rows allocates a small buffer
//! per cell, and glibc's malloc/free took about 30% of the CPU of a
//! PostgreSQL → PostgreSQL copy in a profile (perf, 500k rows).

use std::process::ExitCode;

use clap::Parser;
use sluice::cli::{Cli, LogFormat};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("SLUICE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("sluice").build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(sluice::cli::EXIT_FAILED);
        }
    };
    runtime.block_on(sluice::cli::main(cli))
}
