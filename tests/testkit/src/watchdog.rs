//! The watchdog: cleans up a server whose owning test process died.
//!
//! A test process killed with SIGKILL runs no destructors, and the shared
//! server (a `static`) never runs one at all. So every server gets a small
//! detached `sh` that outlives its owner. Its stdin is a pipe whose only
//! writer is the owning process (std opens pipes close-on-exec, so no other
//! child inherits the write end). When the owner cleans up itself it writes
//! `release` and the watchdog exits; when the owner dies, however it dies,
//! the kernel closes the pipe, `read` sees end-of-file, and the watchdog stops
//! the postmaster named in `postmaster.pid` (if that pid is still a postgres
//! of this data directory: pids get reused) with an immediate shutdown,
//! SIGKILL after 10 s, then deletes the server's temp directory.
//!
//! It runs in its own process group so a Ctrl-C aimed at the test run does
//! not kill it before it has cleaned up.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// `$1` = the server's temp dir, `$2` = its data dir.
const SCRIPT: &str = r#"
trap '' HUP INT
root=$1
data=$2
if read -r request && [ "$request" = release ]; then exit 0; fi
running() {
    state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
case $pid in ''|*[!0-9]*) pid= ;; esac
if [ -n "$pid" ] && running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$data"; then
    kill -QUIT "$pid" 2>/dev/null
    tries=0
    while running "$pid" && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
    kill -KILL "$pid" 2>/dev/null
fi
rm -rf -- "$root"
"#;

#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    owner_pipe: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts watching over `root` (deleted on cleanup) and the server of `data_dir`.
    ///
    /// # Panics
    /// When `sh` cannot be started.
    pub(crate) fn spawn(root: &Path, data_dir: &Path) -> Watchdog {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("sluice-testkit-watchdog")
            .arg(root)
            .arg(data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| panic!("Could not start the test server's watchdog (`sh`): {err}"));
        let owner_pipe = child.stdin.take();
        Watchdog { child, owner_pipe }
    }

    /// The owner cleans up itself: tell the watchdog to exit, and reap it.
    pub(crate) fn release(mut self) {
        if let Some(mut pipe) = self.owner_pipe.take() {
            // A watchdog that is already gone cannot be told; that is fine.
            let _ = pipe.write_all(b"release\n");
        }
        let _ = self.child.wait();
    }
}
