//! End-to-end tests of `sluice run`, `check`, `status` and `checkpoints`.

mod cli;
mod crash;
mod mysql;
mod replication;
mod support;
