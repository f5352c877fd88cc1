//! Private PostgreSQL servers for Sluice's tests, benchmarks and demo.
//!
//! Every test binary starts its own servers from the installed PostgreSQL
//! binaries (see `binaries.rs` for how they are found), each in a temp dir on
//! a free loopback port, so test runs are hermetic and can run in parallel
//! with each other and with the machine's own PostgreSQL. Most tests share
//! one server per process ([`PgServer::shared`]) and get their own database
//! on it ([`PgServer::create_database`]); tests that stop, restart or crash
//! the server start a dedicated one ([`PgServer::start`]).
//!
//! Servers run with `wal_level=logical`, trust authentication for the
//! `postgres` superuser on 127.0.0.1, and two password roles for
//! authentication tests ([`SCRAM_USER`], [`MD5_USER`]). They go away when
//! dropped, and — through a watchdog process — when the test process dies,
//! even by SIGKILL.
//!
//! ```no_run
//! # async fn example() {
//! use sluice_testkit::PgServer;
//! let database = PgServer::shared().create_database("decoder").await;
//! let client = database.connect().await;
//! client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
//! # }
//! ```

mod address;
mod binaries;
mod blocking;
mod database;
mod hba;
mod mariadb;
mod options;
mod postmaster;
mod roles;
mod server;
mod server_conf;
mod server_log;
mod server_user;
mod tls;
mod watchdog;

pub use binaries::pg_program;
pub use database::TestDatabase;
pub use mariadb::{MARIADB_PASSWORD, MARIADB_USER, MariaDbOptions, MariaDbServer, TestMariaDb};
pub use options::PgOptions;
pub use roles::{MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER};
pub use server::PgServer;
