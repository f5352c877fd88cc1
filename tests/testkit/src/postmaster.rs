//! One postmaster process: spawning it, waiting until it serves, stopping it.
//!
//! PostgreSQL's shutdown modes are signals to the postmaster: SIGINT is a
//! fast shutdown (roll back sessions, checkpoint, exit), SIGQUIT an immediate
//! one (exit without a checkpoint; recovery runs at the next start). SIGKILL
//! is a crash: the postmaster dies at once and its children notice and exit
//! on their own, each in its own time. Until they all have, the old SysV
//! shared memory segment (its id is on line 7 of `postmaster.pid`) is still
//! attached, and a new postmaster on the same data directory refuses to start
//! ("pre-existing shared memory block is still in use"), so a crash waits
//! until nothing is attached to it any more.
//!
//! On this kind of machine PID 1 reaps orphans only every few seconds, so
//! the killed postmaster's children linger as zombies for a while. A zombie
//! holds no shared memory: "gone" below means "gone or a zombie".

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::address::ServerAddress;
use crate::binaries::Binaries;
use crate::server_user::ServerUser;
use crate::{blocking, server_log};

const READY_DEADLINE: Duration = Duration::from_secs(30);
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Lines PostgreSQL logs when another process holds its TCP port.
const PORT_TAKEN_MARKERS: &[&str] = &["could not bind IPv4 address", "could not create any TCP/IP sockets"];

/// Paths a postmaster is started with.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    pub(crate) root: &'a Path,
    pub(crate) data_dir: &'a Path,
    pub(crate) socket_dir: &'a Path,
}

/// Why a start attempt did not produce a serving postmaster.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// Someone else bound the port between our pick and the server's bind.
    PortTaken,
    /// Anything else; the text says what.
    Failed(String),
}

/// Spawns `postgres` on `address.port` with its stderr appended to the log,
/// waits until it serves this data directory, and returns it.
pub(crate) fn start(layout: &Layout<'_>, address: &ServerAddress) -> Result<Child, NotReady> {
    let log_offset = server_log::len(&address.log_path);
    let log = File::options()
        .create(true)
        .append(true)
        .open(&address.log_path)
        .map_err(|err| NotReady::Failed(format!("could not open {}: {err}", address.log_path.display())))?;
    let log_for_stdout =
        log.try_clone().map_err(|err| NotReady::Failed(format!("could not duplicate the log handle: {err}")))?;

    let mut command = Command::new(Binaries::get().program("postgres"));
    command
        .arg("-D")
        .arg(layout.data_dir)
        .arg("-p")
        .arg(address.port.to_string())
        .arg("-k")
        .arg(layout.socket_dir)
        .current_dir(layout.root)
        .stdin(Stdio::null())
        .stdout(log_for_stdout)
        .stderr(log)
        // Its own process group: a Ctrl-C meant for the test run does not
        // reach the server directly; the watchdog or `Drop` stops it.
        .process_group(0);
    ServerUser::postgres().apply(&mut command);
    let mut child =
        command.spawn().map_err(|err| NotReady::Failed(format!("could not run {:?}: {err}", command.get_program())))?;

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
/// *our* server: if another test's server won the port race, our postmaster
/// is about to exit with a bind error while the port answers for someone else.
fn wait_ready(child: &mut Child, address: &ServerAddress, data_dir: &Path) -> Result<(), Waited> {
    let deadline = Instant::now() + READY_DEADLINE;
    let expected = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    blocking::run(async move {
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Waited::Exited(status));
            }
            if let Ok(client) = address.try_connect("postgres").await
                && let Ok(row) = client.query_one("SHOW data_directory", &[]).await
            {
                let served: String = row.get(0);
                let served = std::fs::canonicalize(&served).unwrap_or_else(|_| served.into());
                if served == expected {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(Waited::TimedOut);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    })
}

/// How to ask the postmaster to go.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shutdown {
    /// SIGINT: sessions rolled back, checkpoint, clean exit.
    Fast,
    /// SIGQUIT: exit at once, recovery at the next start.
    Immediate,
}

/// Shuts the postmaster down and reaps it. Past the deadline it is killed and
/// the error says so.
pub(crate) fn shut_down(child: &mut Child, mode: Shutdown) -> Result<(), String> {
    let signal = match mode {
        Shutdown::Fast => "INT",
        Shutdown::Immediate => "QUIT",
    };
    send_signal(child.id(), signal);
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

/// SIGKILLs the postmaster and waits until its children are gone and its
/// shared memory segment is detached, so the data directory can start again.
pub(crate) fn crash(child: &mut Child, data_dir: &Path) -> Result<(), String> {
    let children = children_of(child.id());
    let segment = shared_memory_id(data_dir);
    child.kill().map_err(|err| format!("could not kill the server: {err}"))?;
    child.wait().map_err(|err| format!("could not wait for the server: {err}"))?;
    let deadline = Instant::now() + SHUTDOWN_DEADLINE;
    while children.iter().any(|pid| is_running(*pid)) || segment.is_some_and(|id| attachments(id) > 0) {
        if Instant::now() >= deadline {
            return Err(format!(
                "server processes (children {children:?}) were still running {} s after the postmaster was killed",
                SHUTDOWN_DEADLINE.as_secs()
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

/// The shmid on line 7 of `postmaster.pid` ("<key> <shmid>").
fn shared_memory_id(data_dir: &Path) -> Option<u64> {
    let pid_file = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    pid_file.lines().nth(6)?.split_whitespace().nth(1)?.parse().ok()
}

/// Processes attached to SysV segment `shmid` (`nattch`, the 7th column of
/// `/proc/sysvipc/shm`); 0 when the segment is gone.
fn attachments(shmid: u64) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/sysvipc/shm") else {
        return 0;
    };
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|columns| columns.get(1).and_then(|id| id.parse().ok()) == Some(shmid))
        .and_then(|columns| columns.get(6)?.parse().ok())
        .unwrap_or(0)
}

/// Sends a signal through `kill(1)`, which keeps this crate free of `unsafe`.
/// A process that is already gone is not an error.
fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Pids whose parent is `parent`, from `/proc/<pid>/stat`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat_fields(*pid).is_some_and(|(_, ppid)| ppid == parent))
        .collect()
}

/// Alive and not a zombie.
fn is_running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// (state, parent pid) from `/proc/<pid>/stat`: `pid (comm) state ppid …`,
/// where `comm` may itself contain spaces and parentheses, so the fields are
/// read after the last `)`.
fn stat_fields(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}
