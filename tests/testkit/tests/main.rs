//! Tests of the testkit itself: one binary, one module per concern. They
//! prove what other crates rely on: the servers serve logical replication,
//! authenticate as promised, serve TLS, survive crashes, and clean up after
//! themselves even when their owner is SIGKILLed.

mod auth;
mod database;
mod lifecycle;
mod mariadb;
mod processes;
mod psql;
mod server;
mod tls;
