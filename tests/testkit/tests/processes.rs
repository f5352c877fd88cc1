//! Looking at server processes from the outside, through `/proc`.

use std::path::Path;

/// First line of `postmaster.pid`: the running postmaster's pid.
pub fn postmaster_pid(data_dir: &Path) -> u32 {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).expect("postmaster.pid is readable");
    text.lines().next().and_then(|line| line.parse().ok()).expect("postmaster.pid starts with a pid")
}

/// Alive and not a zombie (PID 1 here reaps orphans only every few seconds).
pub fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat.rfind(')').and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}
