//! Private MariaDB servers, the MySQL-family counterpart of [`crate::PgServer`].
//!
//! Same design: each server runs from the installed binaries (`mariadbd`,
//! `mariadb-install-db`; see `binaries.rs`) in its own temp dir on a free
//! loopback port, as the `mysql` OS user when we are root, with
//! `--no-defaults` so neither the machine's `my.cnf` nor the system server
//! on port 3306 is touched. Readiness is polled with real connections; a
//! watchdog (shared with `PgServer`) removes the server and its directory
//! when the owning process dies, even by SIGKILL. Most tests share one
//! server per process ([`MariaDbServer::shared`]) and get their own database
//! on it ([`MariaDbServer::create_database`]).
//!
//! ```no_run
//! # async fn example() {
//! use mysql_async::prelude::Queryable;
//! use sluice_testkit::MariaDbServer;
//! let database = MariaDbServer::shared().create_database("sink").await;
//! let mut conn = database.connect().await;
//! conn.query_drop("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
//! # }
//! ```

mod accounts;
mod address;
mod binaries;
mod daemon;
mod database;
mod install;
mod options;
mod server;

pub use accounts::{MARIADB_PASSWORD, MARIADB_USER};
pub use database::TestMariaDb;
pub use options::MariaDbOptions;
pub use server::MariaDbServer;
