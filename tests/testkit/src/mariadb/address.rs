//! How clients reach a private MariaDB server: URLs and `mysql_async`
//! connections.
//!
//! Clients always use TCP on 127.0.0.1; the Unix socket lives in the
//! server's temp dir and is only for the server itself. The testkit's own
//! connections turn off `mysql_async`'s `prefer_socket`, which would
//! otherwise switch a loopback connection over to the socket, where the
//! server sees the client as `…@localhost` instead of `…@127.0.0.1`.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::{Conn, Opts, OptsBuilder};

use crate::server_log;

/// The address every private server listens on.
pub(crate) const HOST: &str = "127.0.0.1";

/// `mariadb-install-db --auth-root-authentication-method=normal` creates
/// `root@127.0.0.1` with an empty password.
pub(crate) const ROOT: &str = "root";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub(crate) struct MariaDbAddress {
    pub(crate) port: u16,
    pub(crate) log_path: PathBuf,
}

impl MariaDbAddress {
    /// `mysql://root@127.0.0.1:PORT/DATABASE`
    pub(crate) fn url(&self, database: &str) -> String {
        format!("mysql://{ROOT}@{HOST}:{}/{}", self.port, encode(database))
    }

    /// Like [`Self::url`] with a user and password (percent-encoded).
    pub(crate) fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!("mysql://{}:{}@{HOST}:{}/{}", encode(user), encode(password), self.port, encode(database))
    }

    /// Connection options for `root` and `database` (none when empty), over TCP.
    pub(crate) fn opts(&self, database: &str) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(HOST)
            .tcp_port(self.port)
            .user(Some(ROOT))
            .db_name((!database.is_empty()).then_some(database))
            .prefer_socket(false)
            .into()
    }

    /// A root connection; `Err` with a text when it fails or times out.
    pub(crate) async fn try_connect(&self, database: &str) -> Result<Conn, String> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(self.opts(database))).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
        }
    }

    /// [`Self::try_connect`] that panics with the server log on failure.
    pub(crate) async fn connect(&self, database: &str) -> Conn {
        match self.try_connect(database).await {
            Ok(conn) => conn,
            Err(err) => panic!(
                "Could not connect to the test MariaDB server {HOST}:{} (database {database:?}): {err}{}",
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

/// `` `name` `` with inner backticks doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_percent_encode_user_password_and_database() {
        let address = MariaDbAddress { port: 3307, log_path: PathBuf::new() };
        assert_eq!(address.url("db_1"), "mysql://root@127.0.0.1:3307/db_1");
        assert_eq!(address.url(""), "mysql://root@127.0.0.1:3307/");
        assert_eq!(address.url_as("us er", "p@ss:w/rd", "d"), "mysql://us%20er:p%40ss%3Aw%2Frd@127.0.0.1:3307/d");
    }

    #[test]
    fn identifiers_double_backticks() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}
