//! End-to-end tests of `sluice run`, `check`, `status` and `checkpoints`.

mod cli;
mod crash;
mod example;
mod mapping;
mod mapping_mysql;
mod mysql;
mod mysql_snapshot;
mod mysql_support;
mod mysql_workload;
mod replication;
mod snapshot;
mod support;
mod types_mysql;
