//! `MariaDbServer`: one private MariaDB server in its own temp directory.
//!
//! Layout of the temp dir (owned by the `mysql` OS user when we are root):
//! `data/` (the data directory, binlogs included, and the pid file),
//! `tmp/` (the server's tmpdir), `mysqld.sock` (its Unix socket), `tls/`
//! (certificates, with `MariaDbOptions::tls`),
//! `server.log` (its error log, appended across restarts). A [`Watchdog`]
//! is started before anything else so the directory and the server go away
//! even if this process is SIGKILLed.

use std::ffi::OsString;
use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::accounts::create_accounts_sql;
use super::address::{HOST, MariaDbAddress};
use super::daemon::{self, Layout, NotReady};
use super::database::TestMariaDb;
use super::install::install;
use super::options::MariaDbOptions;
use crate::server_user::ServerUser;
use crate::watchdog::Watchdog;
use crate::{blocking, server_log, tls};

/// Start attempts with a fresh port when another process takes the one we picked.
const PORT_ATTEMPTS: usize = 5;

/// Longest database name prefix: MariaDB names stop at 64 characters, and
/// the suffix `_<pid>_<counter>` needs the rest.
const MAX_PREFIX_LEN: usize = 40;

/// A private MariaDB server for tests: binlog on with `binlog_format=ROW`,
/// `binlog_row_image=FULL`, `binlog_row_metadata=FULL`, `server_id=1`;
/// `root` without a password on 127.0.0.1, and a password account
/// ([`crate::MARIADB_USER`]) with every privilege.
///
/// Dropping it stops the server and deletes its directory.
pub struct MariaDbServer {
    shared: bool,
    address: MariaDbAddress,
    root: PathBuf,
    data_dir: PathBuf,
    options: MariaDbOptions,
    ca_cert: Option<PathBuf>,
    processes: Mutex<Processes>,
}

#[derive(Debug)]
struct Processes {
    /// `None` while stopped or killed.
    daemon: Option<Child>,
    watchdog: Option<Watchdog>,
}

impl MariaDbServer {
    /// Starts a dedicated server with default options. Use it for tests that
    /// stop, restart or kill the server, or need other settings; others use
    /// [`MariaDbServer::shared`].
    ///
    /// # Panics
    /// When the server cannot be set up or does not start; the message
    /// carries the end of the server log.
    pub fn start() -> MariaDbServer {
        MariaDbServer::start_with(MariaDbOptions::new())
    }

    /// Starts a dedicated server with `options`.
    ///
    /// # Panics
    /// As [`MariaDbServer::start`].
    pub fn start_with(options: MariaDbOptions) -> MariaDbServer {
        let user = ServerUser::mysql();
        let root = tempfile::Builder::new()
            .prefix("sluice-mariadb-")
            .tempdir_in(user.temp_base())
            .unwrap_or_else(|err| panic!("Could not create a temp dir for a test server: {err}"))
            .keep();
        let data_dir = root.join("data");
        let mut server = MariaDbServer {
            shared: false,
            address: MariaDbAddress { port: 0, log_path: root.join("server.log") },
            processes: Mutex::new(Processes { daemon: None, watchdog: Some(Watchdog::spawn(&root, &data_dir)) }),
            data_dir,
            options,
            ca_cert: None,
            root,
        };
        // From here on a panic drops `server`, and `Drop` cleans up.
        server.initialize();
        server.first_start();
        server.create_accounts();
        server
    }

    /// The server shared by all tests of this process: started on first use,
    /// stopped and deleted by its watchdog when the process exits. Give each
    /// test its own database ([`MariaDbServer::create_database`]).
    pub fn shared() -> &'static MariaDbServer {
        static SHARED: OnceLock<MariaDbServer> = OnceLock::new();
        SHARED.get_or_init(|| {
            let mut server = MariaDbServer::start();
            server.shared = true;
            server
        })
    }

    /// Always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port, fixed for the server's life (kept across `start_again`).
    pub fn port(&self) -> u16 {
        self.address.port
    }

    /// `mysql://root@127.0.0.1:PORT/DATABASE` (no password; `""` for no database).
    pub fn url(&self, database: &str) -> String {
        self.address.url(database)
    }

    /// A URL with a user and password, e.g. [`crate::MARIADB_USER`] and [`crate::MARIADB_PASSWORD`].
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        self.address.url_as(user, password, database)
    }

    /// A root connection over TCP with `database` as the current one (`""`: none).
    ///
    /// # Panics
    /// When the connection fails; the message carries the end of the server log.
    pub async fn connect(&self, database: &str) -> Conn {
        self.address.connect(database).await
    }

    /// Creates a database named `<prefix>_<pid>_<counter>` on this server;
    /// dropping the returned value drops it.
    ///
    /// # Panics
    /// When `prefix` is not lowercase letters, digits and `_` (at most 40), or
    /// the database cannot be created.
    pub async fn create_database(&self, prefix: &str) -> TestMariaDb {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        assert!(
            !prefix.is_empty()
                && prefix.len() <= MAX_PREFIX_LEN
                && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "Database prefix {prefix:?} must be 1 to {MAX_PREFIX_LEN} lowercase letters, digits or `_`"
        );
        let name = format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        TestMariaDb::create(self.address.clone(), name).await
    }

    /// Clean shutdown (SIGTERM); the data stays for [`MariaDbServer::start_again`].
    /// Does nothing when the server is not running.
    ///
    /// # Panics
    /// On the shared server, or when the server does not shut down.
    pub fn stop(&self) {
        self.assert_dedicated("stop");
        let mut processes = self.processes();
        if let Some(mut child) = processes.daemon.take()
            && let Err(err) = daemon::shut_down(&mut child)
        {
            panic!("Could not stop the test MariaDB server: {err}{}", self.log_appendix());
        }
    }

    /// Starts the stopped or killed server again: same port, same options,
    /// same data (after crash recovery if it was killed).
    ///
    /// # Panics
    /// On the shared server, when the server is running, or when it does not
    /// start (e.g. another process took its port meanwhile).
    pub fn start_again(&self) {
        self.assert_dedicated("start_again");
        let mut processes = self.processes();
        assert!(
            processes.daemon.is_none(),
            "The test MariaDB server is already running: call stop() or kill() before start_again()"
        );
        match daemon::start(&self.layout(), &self.address, &self.args()) {
            Ok(child) => processes.daemon = Some(child),
            Err(NotReady::PortTaken) => panic!(
                "Could not restart the test MariaDB server: another process took port {}{}",
                self.address.port,
                self.log_appendix()
            ),
            Err(NotReady::Failed(reason)) => {
                panic!("Could not restart the test MariaDB server: {reason}{}", self.log_appendix())
            }
        }
    }

    /// Crashes the server: SIGKILL, and waits until the process is gone.
    /// Data stays; [`MariaDbServer::start_again`] recovers.
    /// Does nothing when the server is not running.
    ///
    /// # Panics
    /// On the shared server, or when the process cannot be killed.
    pub fn kill(&self) {
        self.assert_dedicated("kill");
        let mut processes = self.processes();
        if let Some(mut child) = processes.daemon.take()
            && let Err(err) = daemon::crash(&mut child)
        {
            panic!("Could not kill the test MariaDB server: {err}{}", self.log_appendix());
        }
    }

    /// The last `lines` lines of the server's error log.
    pub fn log_tail(&self, lines: usize) -> String {
        server_log::tail(&self.address.log_path, lines)
    }

    /// The CA certificate that signed the server's certificate, for clients
    /// to trust; `None` without [`MariaDbOptions::tls`].
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    /// The server's data directory (binlogs live here too).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Directories, the log file, TLS material, then `mariadb-install-db`.
    fn initialize(&mut self) {
        let layout = self.layout();
        std::fs::create_dir(layout.tmp_dir())
            .unwrap_or_else(|err| panic!("Could not create {}: {err}", layout.tmp_dir().display()));
        let tls_files = self.options.tls.then(|| tls::generate(&layout.tls_dir()));
        self.ca_cert = tls_files.map(|files| files.ca_cert);
        std::fs::File::create(&self.address.log_path)
            .unwrap_or_else(|err| panic!("Could not create {}: {err}", self.address.log_path.display()));
        ServerUser::mysql()
            .give(&self.root)
            .unwrap_or_else(|err| panic!("Could not hand {} to the mysql user: {err}", self.root.display()));
        install(&self.layout());
    }

    /// The port is picked by binding 127.0.0.1:0 and letting go of it, so
    /// another process may take it before the server binds: then retry with
    /// a fresh one.
    fn first_start(&mut self) {
        for attempt in 1..=PORT_ATTEMPTS {
            self.address.port = free_port();
            match daemon::start(&self.layout(), &self.address, &self.args()) {
                Ok(child) => {
                    self.processes().daemon = Some(child);
                    return;
                }
                Err(NotReady::PortTaken) if attempt < PORT_ATTEMPTS => continue,
                Err(NotReady::PortTaken) => panic!(
                    "Could not start a test MariaDB server: its port was taken {PORT_ATTEMPTS} times in a row{}",
                    self.log_appendix()
                ),
                Err(NotReady::Failed(reason)) => {
                    panic!("Could not start a test MariaDB server: {reason}{}", self.log_appendix())
                }
            }
        }
    }

    fn create_accounts(&self) {
        let result = blocking::run(async {
            let mut conn = self.address.connect("").await;
            for statement in create_accounts_sql() {
                conn.query_drop(statement).await?;
            }
            conn.disconnect().await
        });
        if let Err(err) = result {
            panic!("Could not create the test accounts: {err}{}", self.log_appendix());
        }
    }

    fn args(&self) -> Vec<OsString> {
        daemon::server_args(&self.layout(), self.address.port, &self.options)
    }

    fn layout(&self) -> Layout<'_> {
        Layout { root: &self.root, data_dir: &self.data_dir }
    }

    fn processes(&self) -> MutexGuard<'_, Processes> {
        self.processes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn assert_dedicated(&self, operation: &str) {
        assert!(
            !self.shared,
            "MariaDbServer::{operation}() called on the shared server, which other tests are using: \
             start a dedicated server with MariaDbServer::start() for tests that stop, restart or kill it"
        );
    }

    fn log_appendix(&self) -> String {
        server_log::appendix(&self.address.log_path)
    }
}

fn free_port() -> u16 {
    TcpListener::bind((HOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|err| panic!("Could not find a free port on {HOST}: {err}"))
}

impl Drop for MariaDbServer {
    /// SIGKILL (the data is about to be deleted anyway), release the
    /// watchdog, delete the directory.
    fn drop(&mut self) {
        let processes = self.processes.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut child) = processes.daemon.take() {
            let _ = daemon::crash(&mut child);
        }
        if let Some(watchdog) = processes.watchdog.take() {
            watchdog.release();
        }
        if let Err(err) = std::fs::remove_dir_all(&self.root) {
            eprintln!("sluice-testkit: could not delete {}: {err}", self.root.display());
        }
    }
}

impl fmt::Debug for MariaDbServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDbServer")
            .field("port", &self.address.port)
            .field("data_dir", &self.data_dir)
            .field("shared", &self.shared)
            .field("tls", &self.ca_cert.is_some())
            .finish()
    }
}
