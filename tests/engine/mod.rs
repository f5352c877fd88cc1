//! End-to-end tests of `sluice run`, `check`, `status` and `checkpoints`.

mod cli;
mod crash;
mod replication;
mod support;
