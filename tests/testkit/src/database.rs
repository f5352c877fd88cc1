//! `TestDatabase`: a uniquely named database on a private server, dropped
//! when the value is dropped.
//!
//! A database cannot be dropped while a logical replication slot lives in
//! it, and an active slot (one a walsender is streaming from) cannot be
//! dropped either. So `Drop` terminates the database's sessions — walsenders
//! included — drops its inactive slots, retries briefly while a terminated
//! walsender is still letting go of its slot, then `DROP DATABASE … WITH
//! (FORCE)`.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::address::ServerAddress;
use crate::{blocking, server_log};

const DROP_DEADLINE: Duration = Duration::from_secs(10);
const RETRY_INTERVAL: Duration = Duration::from_millis(50);

/// A database created by [`crate::PgServer::create_database`].
#[derive(Debug)]
pub struct TestDatabase {
    /// `<prefix>_<pid>_<counter>`.
    pub name: String,
    address: ServerAddress,
}

impl TestDatabase {
    pub(crate) async fn create(address: ServerAddress, name: String) -> TestDatabase {
        let client = address.connect("postgres").await;
        if let Err(err) = client.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name))).await {
            panic!("Could not create test database {name:?}: {err}{}", server_log::appendix(&address.log_path));
        }
        TestDatabase { name, address }
    }

    /// Superuser URL of this database (see [`crate::PgServer::url`]).
    pub fn url(&self) -> String {
        self.address.url(&self.name)
    }

    /// URL of this database with a user and password.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        self.address.url_as(user, password, &self.name)
    }

    /// A superuser connection to this database.
    ///
    /// # Panics
    /// When the connection fails.
    pub async fn connect(&self) -> Client {
        self.address.connect(&self.name).await
    }
}

impl Drop for TestDatabase {
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

async fn drop_database(address: &ServerAddress, name: &str) -> Result<(), tokio_postgres::Error> {
    let client = address.try_connect("postgres").await?;
    let deadline = Instant::now() + DROP_DEADLINE;
    loop {
        match release_slots(&client, name).await {
            Ok(0) => break,
            Ok(_) if Instant::now() < deadline => {}
            Err(_) if Instant::now() < deadline => {}
            Ok(_) => break, // DROP DATABASE below reports what is left.
            Err(err) => return Err(err),
        }
        tokio::time::sleep(RETRY_INTERVAL).await;
    }
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))).await
}

/// Terminates the database's sessions, drops its inactive slots, and returns
/// how many slots remain. Dropping a slot that became active meanwhile fails;
/// the caller retries.
async fn release_slots(client: &Client, name: &str) -> Result<i64, tokio_postgres::Error> {
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await?;
    client
        .execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active",
            &[&name],
        )
        .await?;
    let row = client.query_one("SELECT count(*) FROM pg_replication_slots WHERE database = $1", &[&name]).await?;
    Ok(row.get(0))
}

/// `"name"` with inner `"` doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
