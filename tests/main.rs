//! Sluice's end-to-end tests: the `sluice` binary against private PostgreSQL
//! servers (sluice-testkit). One test binary, so the shared server is
//! started once; each test gets its own source and target databases.

mod engine;
