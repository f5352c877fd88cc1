//! Integration tests of sluice-postgres against private PostgreSQL servers
//! (sluice-testkit): one binary, one module per part of the connector.

mod check;
mod sink;
mod snapshot;
mod source;
mod types;
