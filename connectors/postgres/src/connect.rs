//! Connection settings: one configured URL drives both the ordinary
//! connection (tokio-postgres: catalog, slot and publication management,
//! the sink) and the replication connection (Sluice's own wire code).
//!
//! The URL is libpq's: `postgres://user:password@host:port/db?sslmode=…`
//! (the password may be absent). tokio-postgres parses it, except for the
//! parameters it does not know, which are taken out first:
//! - `sslmode`: `disable`, `prefer` (default), `require`, `verify-ca`,
//!   `verify-full` (see `tls.rs` for what each checks);
//! - `sslrootcert`: the CA file for the verifying modes (or `system`);
//!   without it `PGSSLROOTCERT`, then `~/.postgresql/root.crt`.
//!
//! Every session runs with the settings the text decoding in `types.rs`
//! assumes (see [`SESSION_OPTIONS`]); a user-supplied `options` parameter is
//! appended after them. Endpoints in errors and logs are `host:port` only —
//! never the password.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustls::ClientConfig;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

use crate::error::PostgresError;
use crate::tls::{MakeRustlsConnect, RootCertSource, TlsMode};

/// Server settings of every Sluice session. The text output of values
/// depends on them and `types::decode_text` relies on exactly these:
/// ISO dates, `postgres` intervals, timestamps with time zone printed in UTC,
/// floats printed with full (round-trip) precision, bytea as `\x` hex.
pub(crate) const SESSION_OPTIONS: &str =
    "-c DateStyle=ISO -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex";

/// The application name shown in `pg_stat_activity` unless the URL sets one.
const APPLICATION_NAME: &str = "sluice";

/// Parsed connection settings.
#[derive(Clone)]
pub(crate) struct ConnectSettings {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls_mode: TlsMode,
    /// `None` when `tls_mode` is `disable`.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    /// `host:port` of the first host, for messages.
    pub(crate) endpoint: String,
}

impl ConnectSettings {
    pub(crate) fn parse(url: &str) -> Result<ConnectSettings, PostgresError> {
        let extracted = extract_tls_params(url);
        let mut config = tokio_postgres::Config::from_str(&extracted.rest).map_err(|source| PostgresError::Setup {
            setting: "url".into(),
            message: "Not a valid PostgreSQL connection URL; expected \
                      postgres://user:password@host:port/database?sslmode=require"
                .into(),
            source: Box::new(source),
        })?;
        let tls_mode = match extracted.sslmode.as_deref() {
            None => TlsMode::Prefer,
            Some(text) => TlsMode::parse(text).ok_or_else(|| PostgresError::Config {
                setting: "url sslmode".into(),
                message: format!("Unknown sslmode {text:?}; use disable, prefer, require, verify-ca or verify-full"),
            })?,
        };
        let root = match extracted.sslrootcert {
            Some(text) if text == "system" => Some(RootCertSource::System),
            Some(text) => Some(RootCertSource::File(PathBuf::from(text))),
            None => default_root_cert(),
        };
        let tls = crate::tls::client_config(tls_mode, root.as_ref())?;
        config.ssl_mode(match tls_mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let options = match config.get_options() {
            Some(user) if !user.is_empty() => format!("{SESSION_OPTIONS} {user}"),
            _ => SESSION_OPTIONS.to_owned(),
        };
        config.options(&options);
        if config.get_hosts().is_empty() {
            return Err(PostgresError::Config {
                setting: "url".into(),
                message: "The PostgreSQL URL names no host; write postgres://user@host:5432/database".into(),
            });
        }
        let endpoint = endpoint_of(&config);
        Ok(ConnectSettings { config, tls_mode, tls, endpoint })
    }

    /// Opens an ordinary connection and spawns its connection task.
    pub(crate) async fn connect(&self) -> Result<Client, PostgresError> {
        let context = || format!("connecting to {}", self.endpoint);
        let client = match &self.tls {
            None => {
                let (client, connection) =
                    self.config.connect(NoTls).await.map_err(|e| PostgresError::query(context(), e))?;
                tokio::spawn(drive_connection(connection, self.endpoint.clone()));
                client
            }
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(MakeRustlsConnect::new(Arc::clone(tls)))
                    .await
                    .map_err(|e| PostgresError::query(context(), e))?;
                tokio::spawn(drive_connection(connection, self.endpoint.clone()));
                client
            }
        };
        Ok(client)
    }

    /// The (host, port) pairs to try, in order, as libpq does with a host list.
    pub(crate) fn targets(&self) -> Vec<(Host, u16)> {
        let ports = self.config.get_ports();
        self.config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = match ports.len() {
                    0 => 5432,
                    1 => ports[0],
                    _ => ports.get(i).copied().unwrap_or(5432),
                };
                (host.clone(), port)
            })
            .collect()
    }
}

async fn drive_connection<S, T>(connection: tokio_postgres::Connection<S, T>, endpoint: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(error) = connection.await {
        tracing::debug!(%endpoint, %error, "postgres connection closed");
    }
}

/// Opens an ordinary connection to the database `url` names (see the module
/// documentation for the URL and its TLS parameters).
pub async fn connect(url: &str) -> Result<Client, PostgresError> {
    ConnectSettings::parse(url)?.connect().await
}

/// `host:port` (or the socket path) of the first host.
pub(crate) fn endpoint_of(config: &tokio_postgres::Config) -> String {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) if host.contains(':') => format!("[{host}]:{port}"),
        Some(Host::Tcp(host)) => format!("{host}:{port}"),
        #[cfg(unix)]
        Some(Host::Unix(path)) => format!("{}/.s.PGSQL.{port}", path.display()),
        None => format!("localhost:{port}"),
    }
}

fn default_root_cert() -> Option<RootCertSource> {
    if let Some(path) = std::env::var_os("PGSSLROOTCERT") {
        return Some(RootCertSource::File(PathBuf::from(path)));
    }
    let home = std::env::var_os("HOME")?;
    let path = PathBuf::from(home).join(".postgresql").join("root.crt");
    path.exists().then_some(RootCertSource::File(path))
}

struct TlsParams {
    /// The URL without `sslmode`/`sslrootcert`.
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query (or a `key=value`
/// connection string), since tokio-postgres refuses `verify-*` and does not
/// know `sslrootcert`.
fn extract_tls_params(url: &str) -> TlsParams {
    let mut sslmode = None;
    let mut sslrootcert = None;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return TlsParams { rest: url.to_owned(), sslmode, sslrootcert };
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sslmode", value)) => sslmode = Some(percent_decode(value)),
                Some(("sslrootcert", value)) => sslrootcert = Some(percent_decode(value)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        TlsParams { rest, sslmode, sslrootcert }
    } else {
        // key=value form; values of these two keys are taken unquoted.
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            match token.split_once('=') {
                Some(("sslmode", value)) => sslmode = Some(value.to_owned()),
                Some(("sslrootcert", value)) => sslrootcert = Some(value.to_owned()),
                _ => kept.push(token),
            }
        }
        TlsParams { rest: kept.join(" "), sslmode, sslrootcert }
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_verify_full_and_root_cert_parses() {
        let settings = ConnectSettings::parse(
            "postgres://app:s3cret@db.example.com:6543/shop?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&connect_timeout=5",
        );
        // The CA file does not exist: the error names the setting, never the password.
        let error = settings.err().expect("a missing CA file is an error");
        let text = error.to_string();
        assert!(text.contains("sslrootcert"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn url_without_password_parses_and_endpoint_hides_credentials() {
        let settings = ConnectSettings::parse("postgres://app@db.example.com:6543/shop?sslmode=disable").unwrap();
        assert_eq!(settings.endpoint, "db.example.com:6543");
        assert_eq!(settings.tls_mode, TlsMode::Disable);
        assert!(settings.tls.is_none());
        assert_eq!(settings.config.get_password(), None);
        assert_eq!(settings.config.get_dbname(), Some("shop"));
        assert_eq!(settings.config.get_options(), Some(SESSION_OPTIONS));
        assert_eq!(settings.config.get_application_name(), Some("sluice"));
    }

    #[test]
    fn endpoint_never_contains_the_password() {
        let settings = ConnectSettings::parse("postgres://app:hunter2@127.0.0.1:5432/db?sslmode=require").unwrap();
        assert_eq!(settings.endpoint, "127.0.0.1:5432");
        assert_eq!(settings.tls_mode, TlsMode::Require);
        assert!(settings.tls.is_some());
    }

    #[test]
    fn unknown_sslmode_is_a_config_error() {
        let error = ConnectSettings::parse("postgres://app@h/db?sslmode=sometimes").err().unwrap();
        assert!(error.to_string().contains("sslmode"));
    }

    #[test]
    fn user_options_follow_the_session_options() {
        let settings =
            ConnectSettings::parse("postgres://app@h/db?options=-c%20statement_timeout%3D0&sslmode=disable").unwrap();
        assert_eq!(settings.config.get_options(), Some(format!("{SESSION_OPTIONS} -c statement_timeout=0").as_str()));
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("%2Fa%20b%zz%"), "/a b%zz%");
    }
}
