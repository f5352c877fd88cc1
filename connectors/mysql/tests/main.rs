//! Integration tests of sluice-mysql against private MariaDB servers
//! (sluice-testkit): one binary, one module per part of the connector.

mod check;
mod sink;
mod snapshot;
mod source;
mod types;
