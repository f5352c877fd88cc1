//! `PgServer`: one private PostgreSQL server in its own temp directory.
//!
//! Layout of the temp dir (owned by the `postgres` OS user when we are root):
//! `data/` (the cluster), `socket/` (the server's Unix socket), `tls/`
//! (certificates, with `PgOptions::tls`), `server.log` (the server's stderr,
//! appended across restarts). A [`Watchdog`] is started before anything else
//! so the directory and the server go away even if this process is SIGKILLed.

use std::fmt;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tokio_postgres::Client;

use crate::address::{HOST, SUPERUSER, ServerAddress};
use crate::binaries::Binaries;
use crate::database::TestDatabase;
use crate::hba::hba_conf;
use crate::options::PgOptions;
use crate::postmaster::{self, Layout, NotReady, Shutdown};
use crate::roles::create_roles_sql;
use crate::server_conf::server_conf;
use crate::server_user::ServerUser;
use crate::watchdog::Watchdog;
use crate::{blocking, server_log, tls};

/// Start attempts with a fresh port when another process takes the one we picked.
const PORT_ATTEMPTS: usize = 5;

/// Longest database name prefix: PostgreSQL names stop at 63 bytes, and the
/// suffix `_<pid>_<counter>` needs the rest.
const MAX_PREFIX_LEN: usize = 40;

/// A private PostgreSQL server for tests: `wal_level=logical`, trust
/// authentication for `postgres` on 127.0.0.1, two password roles
/// ([`crate::SCRAM_USER`], [`crate::MD5_USER`]), and optionally TLS.
///
/// Dropping it stops the server and deletes its directory.
pub struct PgServer {
    shared: bool,
    address: ServerAddress,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    ca_cert: Option<PathBuf>,
    processes: Mutex<Processes>,
}

#[derive(Debug)]
struct Processes {
    /// `None` while stopped or killed.
    postmaster: Option<Child>,
    watchdog: Option<Watchdog>,
}

impl PgServer {
    /// Starts a dedicated server with default options. Use it for tests that
    /// stop, restart or kill the server; others use [`PgServer::shared`].
    ///
    /// # Panics
    /// When the server cannot be set up or does not start; the message
    /// carries the end of the server log.
    pub fn start() -> PgServer {
        PgServer::start_with(PgOptions::new())
    }

    /// Starts a dedicated server with `options`.
    ///
    /// # Panics
    /// As [`PgServer::start`].
    pub fn start_with(options: PgOptions) -> PgServer {
        let user = ServerUser::postgres();
        let root = tempfile::Builder::new()
            .prefix("sluice-pg-")
            .tempdir_in(user.temp_base())
            .unwrap_or_else(|err| panic!("Could not create a temp dir for a test server: {err}"))
            .keep();
        let mut server = PgServer {
            shared: false,
            address: ServerAddress { port: 0, log_path: root.join("server.log") },
            data_dir: root.join("data"),
            socket_dir: root.join("socket"),
            ca_cert: None,
            processes: Mutex::new(Processes {
                postmaster: None,
                watchdog: Some(Watchdog::spawn(&root, &root.join("data"))),
            }),
            root,
        };
        // From here on a panic drops `server`, and `Drop` cleans up.
        server.initialize(&options);
        server.first_start();
        server.create_roles();
        server
    }

    /// The server shared by all tests of this process: started on first use,
    /// stopped and deleted by its watchdog when the process exits. Give each
    /// test its own database ([`PgServer::create_database`]).
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(|| {
            let mut server = PgServer::start();
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

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable` (superuser, trust).
    pub fn url(&self, database: &str) -> String {
        self.address.url(database)
    }

    /// A URL with a user and password, e.g. [`crate::SCRAM_USER`] and [`crate::SCRAM_PASSWORD`].
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        self.address.url_as(user, password, database)
    }

    /// A superuser connection to `database`, its connection task spawned on
    /// the current tokio runtime.
    ///
    /// # Panics
    /// When the connection fails; the message carries the end of the server log.
    pub async fn connect(&self, database: &str) -> Client {
        self.address.connect(database).await
    }

    /// Creates a database named `<prefix>_<pid>_<counter>` on this server;
    /// dropping the returned value drops it (and its replication slots).
    ///
    /// # Panics
    /// When `prefix` is not lowercase letters, digits and `_` (at most 40), or
    /// the database cannot be created.
    pub async fn create_database(&self, prefix: &str) -> TestDatabase {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        assert!(
            !prefix.is_empty()
                && prefix.len() <= MAX_PREFIX_LEN
                && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "Database prefix {prefix:?} must be 1 to {MAX_PREFIX_LEN} lowercase letters, digits or `_`"
        );
        let name = format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        TestDatabase::create(self.address.clone(), name).await
    }

    /// Fast shutdown (SIGINT); the data directory stays for [`PgServer::start_again`].
    /// Does nothing when the server is not running.
    ///
    /// # Panics
    /// On the shared server, or when the server does not shut down.
    pub fn stop(&self) {
        self.assert_dedicated("stop");
        let mut processes = self.processes();
        if let Some(mut child) = processes.postmaster.take()
            && let Err(err) = postmaster::shut_down(&mut child, Shutdown::Fast)
        {
            panic!("Could not stop the test server: {err}{}", self.log_appendix());
        }
    }

    /// Starts the stopped or killed server again: same port, same data (after
    /// crash recovery if it was killed).
    ///
    /// # Panics
    /// On the shared server, when the server is running, or when it does not
    /// start (e.g. another process took its port meanwhile).
    pub fn start_again(&self) {
        self.assert_dedicated("start_again");
        let mut processes = self.processes();
        assert!(
            processes.postmaster.is_none(),
            "The test server is already running: call stop() or kill() before start_again()"
        );
        match postmaster::start(&self.layout(), &self.address) {
            Ok(child) => processes.postmaster = Some(child),
            Err(NotReady::PortTaken) => panic!(
                "Could not restart the test server: another process took port {}{}",
                self.address.port,
                self.log_appendix()
            ),
            Err(NotReady::Failed(reason)) => {
                panic!("Could not restart the test server: {reason}{}", self.log_appendix())
            }
        }
    }

    /// Crashes the server: SIGKILL to the postmaster, then waits until all
    /// its processes are gone. Data stays; [`PgServer::start_again`] recovers.
    /// Does nothing when the server is not running.
    ///
    /// # Panics
    /// On the shared server, or when its processes do not go away.
    pub fn kill(&self) {
        self.assert_dedicated("kill");
        let mut processes = self.processes();
        if let Some(mut child) = processes.postmaster.take()
            && let Err(err) = postmaster::crash(&mut child, &self.data_dir)
        {
            panic!("Could not kill the test server: {err}{}", self.log_appendix());
        }
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        server_log::tail(&self.address.log_path, lines)
    }

    /// The CA certificate that signed the server's certificate, for clients
    /// to trust; `None` without [`PgOptions::tls`].
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Directories, TLS material, `initdb`, then our settings and `pg_hba.conf`.
    fn initialize(&mut self, options: &PgOptions) {
        std::fs::create_dir(&self.socket_dir)
            .unwrap_or_else(|err| panic!("Could not create {}: {err}", self.socket_dir.display()));
        std::fs::File::create(&self.address.log_path)
            .unwrap_or_else(|err| panic!("Could not create {}: {err}", self.address.log_path.display()));
        let tls_files = options.tls.then(|| tls::generate(&self.root.join("tls")));
        self.ca_cert = tls_files.as_ref().map(|files| files.ca_cert.clone());
        ServerUser::postgres()
            .give(&self.root)
            .unwrap_or_else(|err| panic!("Could not hand {} to the postgres user: {err}", self.root.display()));

        self.initdb();

        let conf_path = self.data_dir.join("postgresql.conf");
        std::fs::File::options()
            .append(true)
            .open(&conf_path)
            .and_then(|mut conf| conf.write_all(server_conf(options, tls_files.as_ref()).as_bytes()))
            .unwrap_or_else(|err| panic!("Could not write {}: {err}", conf_path.display()));
        // Overwriting keeps the file's owner (the server user).
        let hba_path = self.data_dir.join("pg_hba.conf");
        std::fs::write(&hba_path, hba_conf(options.tls))
            .unwrap_or_else(|err| panic!("Could not write {}: {err}", hba_path.display()));
    }

    /// `--no-sync`: nothing initdb writes needs to survive an OS crash.
    fn initdb(&self) {
        let mut command = Command::new(Binaries::get().program("initdb"));
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .current_dir(&self.root);
        ServerUser::postgres().apply(&mut command);
        let output = command.output().unwrap_or_else(|err| {
            panic!(
                "Could not run {:?} (install PostgreSQL with `make setup`, or set {}): {err}",
                command.get_program(),
                crate::binaries::BINDIR_ENV
            )
        });
        assert!(
            output.status.success(),
            "initdb failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The port is picked by binding 127.0.0.1:0 and letting go of it, so
    /// another process may take it before the server binds: then retry with
    /// a fresh one.
    fn first_start(&mut self) {
        for attempt in 1..=PORT_ATTEMPTS {
            self.address.port = free_port();
            match postmaster::start(&self.layout(), &self.address) {
                Ok(child) => {
                    self.processes().postmaster = Some(child);
                    return;
                }
                Err(NotReady::PortTaken) if attempt < PORT_ATTEMPTS => continue,
                Err(NotReady::PortTaken) => panic!(
                    "Could not start a test server: its port was taken {PORT_ATTEMPTS} times in a row{}",
                    self.log_appendix()
                ),
                Err(NotReady::Failed(reason)) => {
                    panic!("Could not start a test server: {reason}{}", self.log_appendix())
                }
            }
        }
    }

    fn create_roles(&self) {
        let result = blocking::run(async {
            let client = self.address.connect("postgres").await;
            client.batch_execute(&create_roles_sql()).await
        });
        if let Err(err) = result {
            panic!("Could not create the test roles: {err}{}", self.log_appendix());
        }
    }

    fn layout(&self) -> Layout<'_> {
        Layout { root: &self.root, data_dir: &self.data_dir, socket_dir: &self.socket_dir }
    }

    fn processes(&self) -> MutexGuard<'_, Processes> {
        self.processes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn assert_dedicated(&self, operation: &str) {
        assert!(
            !self.shared,
            "PgServer::{operation}() called on the shared server, which other tests are using: \
             start a dedicated server with PgServer::start() for tests that stop, restart or kill it"
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

impl Drop for PgServer {
    /// Immediate shutdown (the data is about to be deleted anyway), release
    /// the watchdog, delete the directory.
    fn drop(&mut self) {
        let processes = self.processes.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut child) = processes.postmaster.take() {
            let _ = postmaster::shut_down(&mut child, Shutdown::Immediate);
        }
        if let Some(watchdog) = processes.watchdog.take() {
            watchdog.release();
        }
        if let Err(err) = std::fs::remove_dir_all(&self.root) {
            eprintln!("sluice-testkit: could not delete {}: {err}", self.root.display());
        }
    }
}

impl fmt::Debug for PgServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgServer")
            .field("port", &self.address.port)
            .field("data_dir", &self.data_dir)
            .field("shared", &self.shared)
            .field("tls", &self.ca_cert.is_some())
            .finish()
    }
}
