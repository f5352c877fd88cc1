//! One `mariadbd` process: its command line, spawning it, waiting until it
//! serves, stopping and crashing it.
//!
//! `mariadbd` is a single process (threads, no children), so SIGKILL is a
//! complete crash: once the kernel has reaped it, nothing of it is left but
//! files, and InnoDB and the binlog recover at the next start. SIGTERM (and
//! SIGQUIT, which the watchdog sends) is a clean shutdown.
//!
//! Durability settings are relaxed for speed: `innodb_flush_log_at_trx_commit=2`
//! writes the redo log to the OS at every commit without fsync and
//! `sync_binlog=0` leaves the binlog to the OS too. Killing the server
//! therefore loses nothing committed (the OS page cache keeps it); only an
//! OS crash would.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::address::MariaDbAddress;
use super::binaries;
use super::options::MariaDbOptions;
use crate::server_user::ServerUser;
use crate::{blocking, server_log};

const READY_DEADLINE: Duration = Duration::from_secs(60);
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Lines MariaDB logs when another process holds its TCP port.
const PORT_TAKEN_MARKERS: &[&str] = &["Bind on TCP/IP port", "Do you already have another server running on port"];

/// Name of the pid file inside the data directory. The watchdog shared with
/// `PgServer` reads the pid of the server to stop from `<data dir>/postmaster.pid`
/// (and checks that the process's command line names the data directory,
/// which `--datadir` does), so the MariaDB server writes its pid there.
pub(crate) const PID_FILE: &str = "postmaster.pid";

/// Paths a server is started with.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    pub(crate) root: &'a Path,
    pub(crate) data_dir: &'a Path,
}

impl Layout<'_> {
    pub(crate) fn socket(&self) -> std::path::PathBuf {
        self.root.join("mysqld.sock")
    }

    pub(crate) fn tmp_dir(&self) -> std::path::PathBuf {
        self.root.join("tmp")
    }

    /// Where `tls::generate` puts the certificates of a TLS server.
    pub(crate) fn tls_dir(&self) -> std::path::PathBuf {
        self.root.join("tls")
    }
}

/// Options shared by `mariadb-install-db` and `mariadbd`: InnoDB sizes must
/// be the same for both, or the first start resizes the redo log.
pub(crate) fn storage_args() -> Vec<OsString> {
    [
        "--innodb-buffer-pool-size=128M",
        "--innodb-log-file-size=64M",
        "--innodb-flush-log-at-trx-commit=2",
        "--sync-binlog=0",
        "--character-set-server=utf8mb4",
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

/// The full `mariadbd` command line after the program name. `--no-defaults`
/// first, so no `my.cnf` of the machine (or of the system server on 3306)
/// applies. Binlog settings are what Sluice's source needs: row events with
/// full images and full metadata (column names, signedness, enum labels).
pub(crate) fn server_args(layout: &Layout<'_>, port: u16, options: &MariaDbOptions) -> Vec<OsString> {
    let path_arg = |name: &str, path: &Path| {
        let mut arg = OsString::from(format!("--{name}="));
        arg.push(path);
        arg
    };
    let mut args = vec![
        OsString::from("--no-defaults"),
        path_arg("datadir", layout.data_dir),
        path_arg("socket", &layout.socket()),
        path_arg("pid-file", &layout.data_dir.join(PID_FILE)),
        path_arg("log-error", &layout.root.join("server.log")),
        path_arg("tmpdir", &layout.tmp_dir()),
        OsString::from(format!("--port={port}")),
    ];
    args.extend(
        [
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--log-bin=mysql-bin",
            "--server-id=1",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
            "--max-connections=500",
        ]
        .into_iter()
        .map(OsString::from),
    );
    args.extend(storage_args());
    let zone = options.time_zone.as_deref().unwrap_or("+00:00");
    args.push(OsString::from(format!("--default-time-zone={zone}")));
    if options.tls {
        let tls = layout.tls_dir();
        args.push(path_arg("ssl-ca", &tls.join("ca.crt")));
        args.push(path_arg("ssl-cert", &tls.join("server.crt")));
        args.push(path_arg("ssl-key", &tls.join("server.key")));
    }
    if options.gtid {
        args.push(OsString::from("--gtid-strict-mode=ON"));
    }
    for (name, value) in &options.settings {
        args.push(OsString::from(format!("--{name}={value}")));
    }
    args
}

/// Why a start attempt did not produce a serving server.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// Someone else bound the port between our pick and the server's bind.
    PortTaken,
    /// Anything else; the text says what.
    Failed(String),
}

/// Spawns `mariadbd` with `args`, waits until it serves this data directory
/// on `address.port`, and returns it.
pub(crate) fn start(layout: &Layout<'_>, address: &MariaDbAddress, args: &[OsString]) -> Result<Child, NotReady> {
    let log_offset = server_log::len(&address.log_path);
    let log = File::options()
        .create(true)
        .append(true)
        .open(&address.log_path)
        .map_err(|err| NotReady::Failed(format!("could not open {}: {err}", address.log_path.display())))?;
    let log_for_stdout =
        log.try_clone().map_err(|err| NotReady::Failed(format!("could not duplicate the log handle: {err}")))?;

    let mut command = Command::new(binaries::program("mariadbd"));
    command
        .args(args)
        .current_dir(layout.root)
        .stdin(Stdio::null())
        .stdout(log_for_stdout)
        .stderr(log)
        // Its own process group: a Ctrl-C meant for the test run does not
        // reach the server directly; the watchdog or `Drop` stops it.
        .process_group(0);
    ServerUser::mysql().apply(&mut command);
    let mut child = command.spawn().map_err(|err| {
        NotReady::Failed(format!(
            "could not run {:?} (install MariaDB with `make setup`, or set {}): {err}",
            command.get_program(),
            binaries::BINDIR_ENV
        ))
    })?;

    match wait_ready(&mut child, address, layout.data_dir) {
        Ok(()) => Ok(child),
        Err(Waited::Exited(status)) => {
            let output = server_log::since(&address.log_path, log_offset);
            if PORT_TAKEN_MARKERS.iter().any(|marker| output.contains(marker)) {
                Err(NotReady::PortTaken)
            } else {
                Err(NotReady::Failed(format!("the server exited during startup ({status})")))
            }
        }
        Err(Waited::TimedOut) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(NotReady::Failed(format!(
                "the server did not accept connections within {} s",
                READY_DEADLINE.as_secs()
            )))
        }
    }
}

enum Waited {
    Exited(std::process::ExitStatus),
    TimedOut,
}

/// Polls with a real connection until the server answers, and checks it is
/// *our* server (`@@datadir`): if another server won the port race, ours is
/// about to exit with a bind error while the port answers for someone else.
fn wait_ready(child: &mut Child, address: &MariaDbAddress, data_dir: &Path) -> Result<(), Waited> {
    let deadline = Instant::now() + READY_DEADLINE;
    let expected = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    blocking::run(async move {
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Waited::Exited(status));
            }
            if let Ok(mut conn) = address.try_connect("").await {
                let served: Option<Option<String>> = conn.query_first("SELECT @@datadir").await.ok();
                let _ = conn.disconnect().await;
                if let Some(Some(served)) = served {
                    let served = std::fs::canonicalize(&served).unwrap_or_else(|_| served.into());
                    if served == expected {
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(Waited::TimedOut);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    })
}

/// Clean shutdown (SIGTERM) and reap. Past the deadline the server is
/// killed and the error says so.
pub(crate) fn shut_down(child: &mut Child) -> Result<(), String> {
    let _ = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + SHUTDOWN_DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL_INTERVAL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the server did not shut down within {} s and was killed",
                    SHUTDOWN_DEADLINE.as_secs()
                ));
            }
            Err(err) => return Err(format!("could not wait for the server: {err}")),
        }
    }
}

/// SIGKILL and reap: the single server process is gone when this returns.
pub(crate) fn crash(child: &mut Child) -> Result<(), String> {
    child.kill().map_err(|err| format!("could not kill the server: {err}"))?;
    child.wait().map_err(|err| format!("could not wait for the server: {err}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_after_the_testkit_defaults_so_they_override_them() {
        let layout = Layout { root: Path::new("/r"), data_dir: Path::new("/r/data") };
        let options = MariaDbOptions::new().setting("binlog_format", "STATEMENT").time_zone("+08:00");
        let args: Vec<String> =
            server_args(&layout, 4000, &options).into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(args[0], "--no-defaults");
        assert!(args.contains(&"--pid-file=/r/data/postmaster.pid".to_owned()));
        let default = args.iter().position(|a| a == "--binlog-format=ROW").unwrap();
        let override_ = args.iter().position(|a| a == "--binlog_format=STATEMENT").unwrap();
        assert!(default < override_);
        assert!(args.contains(&"--default-time-zone=+08:00".to_owned()));
        assert!(args.contains(&"--port=4000".to_owned()));
    }
}
