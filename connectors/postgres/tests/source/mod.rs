//! The replication source against private PostgreSQL servers: authentication
//! and TLS, slot and publication setup, the events each kind of change
//! produces, schema changes, status updates and connection loss.

mod auth;
mod busy;
mod changes;
pub mod harness;
mod images;
mod restart;
mod setup;
mod status;
mod tls;
