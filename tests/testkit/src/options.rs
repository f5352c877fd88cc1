//! `PgOptions`: how a private server is configured before it starts.

/// Builder for [`crate::PgServer::start_with`].
///
/// ```no_run
/// use sluice_testkit::{PgOptions, PgServer};
/// let server = PgServer::start_with(PgOptions::new().tls(true).setting("wal_sender_timeout", "5s"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PgOptions {
    pub(crate) tls: bool,
    pub(crate) durable: bool,
    pub(crate) settings: Vec<(String, String)>,
}

impl PgOptions {
    /// Defaults: no TLS, not durable, the testkit's standard settings.
    pub fn new() -> PgOptions {
        PgOptions::default()
    }

    /// Serve TLS (`ssl=on`) with a certificate signed by a throwaway CA whose
    /// certificate is [`crate::PgServer::ca_cert_path`].
    pub fn tls(mut self, on: bool) -> PgOptions {
        self.tls = on;
        self
    }

    /// Keep PostgreSQL's durability settings (`fsync`, `full_page_writes`).
    /// Off by default: a test server only has to survive its own processes
    /// being killed (the OS page cache keeps committed WAL), not a power cut.
    pub fn durable(mut self, on: bool) -> PgOptions {
        self.durable = on;
        self
    }

    /// Any server setting, written to `postgresql.conf` after the testkit's
    /// own, so it overrides them (`ALTER SYSTEM` still overrides it in turn).
    ///
    /// # Panics
    /// When `name` is not a plain setting name (letters, digits, `_`, `.`).
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> PgOptions {
        let name = name.into();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'),
            "Setting name {name:?} is not a PostgreSQL setting name: use letters, digits, `_` and `.`"
        );
        self.settings.push((name, value.into()));
        self
    }
}
