//! `TestMariaDb`: a uniquely named database on a private MariaDB server,
//! dropped when the value is dropped.
//!
//! `DROP DATABASE` waits for metadata locks, and a test that failed may have
//! left a session with an open transaction on one of its tables. So `Drop`
//! first kills the sessions whose current database it is, and drops with a
//! short `lock_wait_timeout` rather than hang the test run.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::address::{MariaDbAddress, quote_ident};
use crate::{blocking, server_log};

/// A database created by [`crate::MariaDbServer::create_database`].
#[derive(Debug)]
pub struct TestMariaDb {
    /// `<prefix>_<pid>_<counter>`.
    pub name: String,
    address: MariaDbAddress,
}

impl TestMariaDb {
    pub(crate) async fn create(address: MariaDbAddress, name: String) -> TestMariaDb {
        let mut conn = address.connect("").await;
        if let Err(err) = conn.query_drop(format!("CREATE DATABASE {}", quote_ident(&name))).await {
            panic!("Could not create test database {name:?}: {err}{}", server_log::appendix(&address.log_path));
        }
        let _ = conn.disconnect().await;
        TestMariaDb { name, address }
    }

    /// Root URL of this database (see [`crate::MariaDbServer::url`]).
    pub fn url(&self) -> String {
        self.address.url(&self.name)
    }

    /// URL of this database with a user and password.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        self.address.url_as(user, password, &self.name)
    }

    /// A root connection with this database as the current one.
    ///
    /// # Panics
    /// When the connection fails.
    pub async fn connect(&self) -> Conn {
        self.address.connect(&self.name).await
    }
}

impl Drop for TestMariaDb {
    /// Best effort: a server that is already gone leaves nothing to drop.
    fn drop(&mut self) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            blocking::run(drop_database(&self.address, &self.name))
        }));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("sluice-testkit: could not drop test database {}: {err}", self.name),
            Err(_) => eprintln!("sluice-testkit: dropping test database {} panicked", self.name),
        }
    }
}

async fn drop_database(address: &MariaDbAddress, name: &str) -> Result<(), String> {
    let mut conn = address.try_connect("").await?;
    let sessions: Vec<u64> = conn
        .exec("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", (name,))
        .await
        .map_err(|err| err.to_string())?;
    for id in sessions {
        // The session may have ended meanwhile (error 1094, unknown thread).
        let _ = conn.query_drop(format!("KILL {id}")).await;
    }
    conn.query_drop("SET SESSION lock_wait_timeout = 10").await.map_err(|err| err.to_string())?;
    conn.query_drop(format!("DROP DATABASE IF EXISTS {}", quote_ident(name))).await.map_err(|err| err.to_string())?;
    let _ = conn.disconnect().await;
    Ok(())
}
