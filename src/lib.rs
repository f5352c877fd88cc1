//! Sluice's engine: configuration, routes, the replication pipeline and the
//! CLI commands built on them. The binary (`src/main.rs`) is a thin shell
//! around [`cli`].
//!
//! A change flows source task → router (routes map it into target writes) →
//! one writer per target (batched, idempotent, position committed with the
//! rows) → acknowledger (lowest durable position, flushed to the checkpoint
//! store, then acknowledged to the source). See docs/ARCHITECTURE.md.

mod admin;
pub mod cli;
pub mod config;
mod connectors;
#[doc(hidden)]
pub mod expr;
mod guard;
mod pipeline;
mod redact;
mod route;
mod snapshot;

/// Internals the benches drive; not an API.
#[doc(hidden)]
pub use route::bench_support;
