//! `MariaDbOptions`: how a private MariaDB server is configured before it starts.

/// Builder for [`crate::MariaDbServer::start_with`].
///
/// ```no_run
/// use sluice_testkit::{MariaDbOptions, MariaDbServer};
/// let server = MariaDbServer::start_with(
///     MariaDbOptions::new().time_zone("+08:00").setting("binlog_format", "STATEMENT"),
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct MariaDbOptions {
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) time_zone: Option<String>,
    pub(crate) gtid: bool,
    pub(crate) tls: bool,
}

impl MariaDbOptions {
    /// Defaults: the testkit's standard settings, server time zone `+00:00`.
    pub fn new() -> MariaDbOptions {
        MariaDbOptions::default()
    }

    /// Any server option, passed as `--name=value` after the testkit's own
    /// options, so it overrides them (`binlog_format`, `binlog_row_metadata`,
    /// `log_bin_compress`, `binlog_expire_logs_seconds`, …).
    ///
    /// # Panics
    /// When `name` is not a plain option name (letters, digits, `_`, `-`).
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> MariaDbOptions {
        let name = name.into();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "Option name {name:?} is not a MariaDB option name: use letters, digits, `_` and `-`"
        );
        self.settings.push((name, value.into()));
        self
    }

    /// The server's `--default-time-zone`, an offset such as `+08:00` (the
    /// test servers have no time zone tables loaded, so named zones fail).
    pub fn time_zone(mut self, zone: impl Into<String>) -> MariaDbOptions {
        self.time_zone = Some(zone.into());
        self
    }

    /// Serve TLS with a certificate (for `127.0.0.1` and `localhost`)
    /// signed by a throwaway CA whose certificate is
    /// [`crate::MariaDbServer::ca_cert_path`]. Plain connections are still accepted.
    pub fn tls(mut self, on: bool) -> MariaDbOptions {
        self.tls = on;
        self
    }

    /// MariaDB always writes GTIDs into its binlog; `true` also turns on
    /// `gtid_strict_mode`, so the server refuses out-of-order GTIDs, as a
    /// GTID-based replication setup would run it.
    pub fn gtid(mut self, on: bool) -> MariaDbOptions {
        self.gtid = on;
        self
    }
}
