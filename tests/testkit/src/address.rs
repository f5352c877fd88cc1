//! How clients reach a private server: URLs and `tokio-postgres` connections.
//!
//! Clients always use TCP on 127.0.0.1 (the Unix socket lives in the
//! server's temp dir and is only for the server itself). URLs say
//! `sslmode=disable`: the `host` lines of `pg_hba.conf` accept plain
//! connections even when the server also serves TLS.

use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use crate::server_log;

/// The address every private server listens on.
pub(crate) const HOST: &str = "127.0.0.1";

/// The superuser `initdb` creates (`-U postgres`), trusted on loopback.
pub(crate) const SUPERUSER: &str = "postgres";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub(crate) struct ServerAddress {
    pub(crate) port: u16,
    pub(crate) log_path: PathBuf,
}

impl ServerAddress {
    /// `postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable`
    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://{}@{HOST}:{}/{}?sslmode=disable", encode(SUPERUSER), self.port, encode(database))
    }

    /// Like [`Self::url`] with a user and password (percent-encoded).
    pub(crate) fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{}:{}@{HOST}:{}/{}?sslmode=disable",
            encode(user),
            encode(password),
            self.port,
            encode(database)
        )
    }

    /// A superuser connection, its connection task spawned on the current runtime.
    pub(crate) async fn try_connect(&self, database: &str) -> Result<Client, tokio_postgres::Error> {
        let mut config = Config::new();
        config.host(HOST).port(self.port).user(SUPERUSER).dbname(database).connect_timeout(CONNECT_TIMEOUT);
        let (client, connection) = config.connect(NoTls).await?;
        // The connection's error, if any, surfaces on the client's next call.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// [`Self::try_connect`] that panics with the server log on failure.
    pub(crate) async fn connect(&self, database: &str) -> Client {
        match self.try_connect(database).await {
            Ok(client) => client,
            Err(err) => panic!(
                "Could not connect to the test server {HOST}:{} (database {database:?}): {err}{}",
                self.port,
                server_log::appendix(&self.log_path)
            ),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_percent_encode_user_password_and_database() {
        let address = ServerAddress { port: 5433, log_path: PathBuf::new() };
        assert_eq!(address.url("db_1"), "postgres://postgres@127.0.0.1:5433/db_1?sslmode=disable");
        assert_eq!(
            address.url_as("us er", "p@ss:w/rd", "d"),
            "postgres://us%20er:p%40ss%3Aw%2Frd@127.0.0.1:5433/d?sslmode=disable"
        );
    }
}
