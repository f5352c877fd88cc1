//! Sluice's checkpoint store, on sled.
//!
//! What it keeps, per source: the position acknowledged to the source (the
//! lowest position every target holds durably), and each target's applied
//! position as last seen. The targets' own offsets tables are authoritative —
//! they are written in the same transaction as the rows — and this store is
//! the engine's local copy: it is compared with the targets at start (a
//! disagreement is reported), it answers `sluice status` without touching the
//! targets, and it survives the loss of a target's offsets row.
//!
//! Durability: sled buffers writes and fsyncs in the background about every
//! 500 ms; a write followed by a crash before that is lost (checked on this
//! machine: 1,000 writes then `abort()` without `flush()` were all gone). So
//! every write that precedes an acknowledgement to a source is followed by
//! `flush_async()` before the caller may acknowledge.
//!
//! sled allows one process per database: a second `open` fails with
//! [`CheckpointError::Locked`], which the CLI reports as "another sluice is
//! running with this checkpoint path".

mod error;
mod store;

pub use error::CheckpointError;
pub use store::{AppliedEntry, CheckpointStore, SnapshotProgress, SourceCheckpoint};
