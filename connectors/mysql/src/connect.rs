//! Connection settings: one configured URL drives every connection to a
//! MySQL/MariaDB server (the sink's, the checks', the source's catalog
//! queries), plus detection of the server's flavour and version.
//!
//! The URL is `mysql://user:password@host:port/database?…` (`mariadb://` is
//! accepted as a synonym). mysql_async parses it, except for the TLS
//! parameters, which Sluice names like the MySQL command-line client and
//! takes out first:
//! - `ssl-mode`: `disabled`, `preferred` (default), `required`, `verify_ca`,
//!   `verify_identity`. `preferred` tries TLS without verifying the
//!   certificate and falls back to plain TCP when the server offers no TLS
//!   (what the `mysql` client does); `required` insists on TLS but does not
//!   verify; `verify_ca` checks the chain; `verify_identity` also checks the
//!   host name.
//! - `ssl-ca`: a PEM file with the CA certificate(s) for the verifying modes
//!   (without it, the built-in Mozilla roots are used).
//!
//! mysql_async's own `require_ssl`/`verify_ca`/`verify_identity` parameters
//! are refused, so there is one way to say it. Unless the URL says
//! otherwise, `prefer_socket=false`: mysql_async would switch a loopback TCP
//! connection to the server's Unix socket, where the account is
//! `user@localhost` rather than `user@127.0.0.1` — possibly another account
//! with other privileges. Endpoints in errors and logs are `host:port`
//! only — never the password.

use std::borrow::Cow;
use std::path::PathBuf;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, Opts, OptsBuilder, SslOpts};

use sluice_api::TableName;

use crate::error::MySqlError;

/// How the connection uses TLS (`ssl-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl TlsMode {
    fn parse(text: &str) -> Option<TlsMode> {
        Some(match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "disabled" | "disable" => TlsMode::Disabled,
            "preferred" | "prefer" => TlsMode::Preferred,
            "required" | "require" => TlsMode::Required,
            "verify_ca" => TlsMode::VerifyCa,
            "verify_identity" => TlsMode::VerifyIdentity,
            _ => return None,
        })
    }
}

/// Parsed connection settings.
#[derive(Clone, Debug)]
pub(crate) struct ConnectSettings {
    /// Everything but TLS.
    opts: Opts,
    tls_mode: TlsMode,
    ca_file: Option<PathBuf>,
    /// `host:port`, for messages.
    pub(crate) endpoint: String,
}

/// Query parameters Sluice handles itself, and mysql_async's TLS parameters it refuses.
const SSL_MODE: &str = "ssl-mode";
const SSL_CA: &str = "ssl-ca";
const REFUSED_PARAMS: &[&str] = &["require_ssl", "verify_ca", "verify_identity", "built_in_roots"];

impl ConnectSettings {
    pub(crate) fn parse(url: &str) -> Result<ConnectSettings, MySqlError> {
        let config = |message: String| MySqlError::Config { setting: "url".into(), message };
        let url = match url.strip_prefix("mariadb://") {
            Some(rest) => Cow::Owned(format!("mysql://{rest}")),
            None => Cow::Borrowed(url),
        };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url.as_ref(), ""),
        };
        let mut tls_mode = TlsMode::Preferred;
        let mut ca_file = None;
        let mut prefer_socket_given = false;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                SSL_MODE => {
                    tls_mode = TlsMode::parse(&percent_decode(value)).ok_or_else(|| {
                        config(format!(
                            "Unknown ssl-mode {value:?}; use disabled, preferred, required, verify_ca or verify_identity"
                        ))
                    })?;
                }
                SSL_CA => ca_file = Some(PathBuf::from(percent_decode(value))),
                _ if REFUSED_PARAMS.contains(&key) => {
                    return Err(config(format!(
                        "URL parameter {key} is not supported; use ssl-mode=required|verify_ca|verify_identity \
                         and ssl-ca=/path/to/ca.pem"
                    )));
                }
                _ => {
                    prefer_socket_given |= key == "prefer_socket";
                    kept.push(pair);
                }
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        let opts = Opts::from_url(&rest).map_err(|source| MySqlError::Setup {
            setting: "url".into(),
            message: "Not a valid MySQL connection URL; expected mysql://user:password@host:3306/database".into(),
            source: Box::new(source),
        })?;
        let mut builder = OptsBuilder::from_opts(opts);
        if !prefer_socket_given {
            builder = builder.prefer_socket(false);
        }
        let opts = Opts::from(builder);
        if ca_file.is_some() && matches!(tls_mode, TlsMode::Disabled) {
            return Err(config("ssl-ca is set but ssl-mode=disabled; remove one of them".into()));
        }
        let endpoint = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        Ok(ConnectSettings { opts, tls_mode, ca_file, endpoint })
    }

    /// The options with TLS set up for `mode`, adjusted by `adjust`.
    fn opts_for(&self, mode: TlsMode, adjust: &(dyn Fn(OptsBuilder) -> OptsBuilder + Sync)) -> Opts {
        let ssl = match mode {
            TlsMode::Disabled => None,
            TlsMode::Preferred | TlsMode::Required => Some(
                // Encryption without verification, as the MySQL client's
                // PREFERRED and REQUIRED modes.
                SslOpts::default().with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true),
            ),
            TlsMode::VerifyCa | TlsMode::VerifyIdentity => {
                let mut ssl = SslOpts::default();
                if let Some(ca) = &self.ca_file {
                    ssl = ssl.with_root_certs(vec![ca.clone().into()]).with_disable_built_in_roots(true);
                }
                Some(ssl.with_danger_skip_domain_validation(mode == TlsMode::VerifyCa))
            }
        };
        let builder = OptsBuilder::from_opts(self.opts.clone()).ssl_opts(ssl);
        Opts::from(adjust(builder))
    }

    /// Opens a connection; `adjust` may change options (the sink turns on
    /// `CLIENT_FOUND_ROWS`).
    pub(crate) async fn connect_with(
        &self,
        adjust: &(dyn Fn(OptsBuilder) -> OptsBuilder + Sync),
    ) -> Result<Conn, MySqlError> {
        let context = || format!("connecting to {}", self.endpoint);
        match Conn::new(self.opts_for(self.tls_mode, adjust)).await {
            Ok(conn) => Ok(conn),
            Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => match self.tls_mode {
                TlsMode::Preferred => {
                    tracing::debug!(endpoint = %self.endpoint, "server offers no TLS; connecting without it");
                    Conn::new(self.opts_for(TlsMode::Disabled, adjust))
                        .await
                        .map_err(|e| MySqlError::driver(context(), e))
                }
                _ => Err(MySqlError::Config {
                    setting: "url ssl-mode".into(),
                    message: format!(
                        "The server at {} offers no TLS but ssl-mode requires it; configure TLS on the server \
                         (ssl_cert, ssl_key) or lower ssl-mode",
                        self.endpoint
                    ),
                }),
            },
            Err(error) => Err(MySqlError::driver(context(), error)),
        }
    }
}

/// Opens a connection to the server the URL names (see the module
/// documentation for the URL and its TLS parameters).
pub async fn connect(url: &str) -> Result<Conn, MySqlError> {
    ConnectSettings::parse(url)?.connect_with(&|builder| builder).await
}

/// Which server family and version a connection talks to; SQL differs in
/// places (`INSERT … ON DUPLICATE KEY UPDATE` row aliases, catalog tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServerFlavor {
    pub(crate) mariadb: bool,
    pub(crate) version: (u32, u32, u32),
    /// How the server compares database and table names.
    pub(crate) names: NameCase,
}

/// How the server compares database and table names (`lower_case_table_names`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum NameCase {
    /// 0: as written.
    #[default]
    Sensitive,
    /// 1 or 2: lowercase.
    Insensitive,
}

impl NameCase {
    pub(crate) fn of(lower_case_table_names: u8) -> NameCase {
        if lower_case_table_names == 0 { NameCase::Sensitive } else { NameCase::Insensitive }
    }

    /// The name as the server compares it.
    pub(crate) fn key(self, table: &TableName) -> TableName {
        match self {
            NameCase::Sensitive => table.clone(),
            NameCase::Insensitive => TableName::new(table.schema.to_lowercase(), table.name.to_lowercase()),
        }
    }

    pub(crate) fn same(self, a: &str, b: &str) -> bool {
        match self {
            NameCase::Sensitive => a == b,
            NameCase::Insensitive => a.to_lowercase() == b.to_lowercase(),
        }
    }
}

impl ServerFlavor {
    /// From `SELECT VERSION()`: `10.11.6-MariaDB-0+deb12u1-log`, `8.0.36`.
    pub(crate) fn parse(version: &str) -> ServerFlavor {
        let mut numbers =
            version.split(|c: char| !c.is_ascii_digit()).take(3).map(|part| part.parse::<u32>().unwrap_or(0));
        let mut next = || numbers.next().unwrap_or(0);
        let version_tuple = (next(), next(), next());
        ServerFlavor { mariadb: version.contains("MariaDB"), version: version_tuple, names: NameCase::Sensitive }
    }

    /// The flavor, version and `lower_case_table_names` of the server.
    pub(crate) async fn detect(conn: &mut Conn) -> Result<ServerFlavor, MySqlError> {
        let row: Option<(Option<String>, Option<u8>)> = conn
            .query_first("SELECT VERSION(), @@lower_case_table_names")
            .await
            .map_err(|e| MySqlError::driver("reading the server version", e))?;
        let (version, lower_case_table_names) = row.unwrap_or_default();
        let mut flavor = ServerFlavor::parse(&version.unwrap_or_default());
        flavor.names = NameCase::of(lower_case_table_names.unwrap_or(0));
        Ok(flavor)
    }

    /// MySQL 8.0.19+ takes `INSERT … VALUES … AS new ON DUPLICATE KEY UPDATE
    /// c = new.c` and deprecates `VALUES(c)` there (8.0.20); MariaDB only
    /// knows `VALUES(c)` (`VALUE(c)` in 10.3.3+, both accepted).
    pub(crate) fn has_row_alias(&self) -> bool {
        !self.mariadb && self.version >= (8, 0, 19)
    }

    pub(crate) fn name(&self) -> &'static str {
        if self.mariadb { "MariaDB" } else { "MySQL" }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _, _) => {
                out.push(byte);
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
    fn tls_parameters_are_taken_out_and_the_rest_goes_to_mysql_async() {
        let settings = ConnectSettings::parse(
            "mysql://u:p%40w@db.example:3307/app?ssl-mode=VERIFY_CA&ssl-ca=%2Fetc%2Fca.pem&stmt_cache_size=7",
        )
        .unwrap();
        assert_eq!(settings.tls_mode, TlsMode::VerifyCa);
        assert_eq!(settings.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(settings.endpoint, "db.example:3307");
        assert_eq!(settings.opts.pass(), Some("p@w"));
        assert_eq!(settings.opts.db_name(), Some("app"));
        assert_eq!(settings.opts.stmt_cache_size(), 7);
        assert!(!settings.opts.prefer_socket(), "loopback connections stay on TCP unless asked");
    }

    #[test]
    fn preferred_is_the_default_and_mariadb_scheme_is_accepted() {
        let settings = ConnectSettings::parse("mariadb://root@127.0.0.1/").unwrap();
        assert_eq!(settings.tls_mode, TlsMode::Preferred);
        assert_eq!(settings.endpoint, "127.0.0.1:3306");
        assert!(ConnectSettings::parse("mysql://root@h/?prefer_socket=true").unwrap().opts.prefer_socket());
    }

    #[test]
    fn unknown_modes_and_mysql_async_tls_parameters_are_refused_without_echoing_the_password() {
        for url in
            ["mysql://u:secret@h/?ssl-mode=maybe", "mysql://u:secret@h/?require_ssl=true", "postgres://u:secret@h/"]
        {
            let error = ConnectSettings::parse(url).unwrap_err();
            assert!(!format!("{error:?}").contains("secret"), "{error:?}");
        }
    }

    #[test]
    fn flavour_and_version_come_from_the_version_string() {
        let maria = ServerFlavor::parse("10.11.19-MariaDB-0+deb12u1-log");
        assert_eq!(maria, ServerFlavor { mariadb: true, version: (10, 11, 19), names: NameCase::Sensitive });
        assert!(!maria.has_row_alias());
        assert!(ServerFlavor::parse("8.0.36").has_row_alias());
        assert!(!ServerFlavor::parse("8.0.18-log").has_row_alias());
        assert!(!ServerFlavor::parse("5.7.44").has_row_alias());
    }
}
