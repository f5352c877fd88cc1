//! The OS user a private MariaDB server runs as.
//!
//! `mariadbd` refuses to run as root unless told `--user`, and then it
//! switches users itself after we have started it. Instead, as `PgServer`
//! does for PostgreSQL, the server programs are started as the `mysql` OS
//! user through `CommandExt::uid/gid` when this process is root (CI and the
//! dev machines), so the child we hold is `mariadbd` itself and its files
//! belong to the user it runs as. The server's temp directory is handed to
//! that user. Otherwise the programs run as us.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SERVER_USER: &str = "mysql";

/// `Some((uid, gid))` of the `mysql` user when we must switch to it.
#[derive(Debug)]
pub(crate) struct OsUser {
    switch_to: Option<(u32, u32)>,
}

impl OsUser {
    /// Determined once per process.
    pub(crate) fn get() -> &'static OsUser {
        static USER: OnceLock<OsUser> = OnceLock::new();
        USER.get_or_init(|| {
            let switch_to = running_as_root().then(|| {
                let (Some(uid), Some(gid)) = (id_of("-u"), id_of("-g")) else {
                    panic!(
                        "Running as root, but there is no `{SERVER_USER}` OS user to run MariaDB as: \
                         install the server package (`make setup`) or run the tests as a non-root user"
                    );
                };
                (uid, gid)
            });
            OsUser { switch_to }
        })
    }

    /// Makes `command` run as the server user.
    pub(crate) fn apply(&self, command: &mut Command) {
        if let Some((uid, gid)) = self.switch_to {
            command.uid(uid).gid(gid);
        }
    }

    /// Gives `path` and everything below it to the server user.
    pub(crate) fn give(&self, path: &Path) -> io::Result<()> {
        let Some((uid, gid)) = self.switch_to else {
            return Ok(());
        };
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        if std::fs::symlink_metadata(path)?.is_dir() {
            for entry in std::fs::read_dir(path)? {
                self.give(&entry?.path())?;
            }
        }
        Ok(())
    }

    /// The directory to create server temp dirs in. As root it must be
    /// traversable by the server user all the way down, so a `TMPDIR` under
    /// `/root` (mode 0700) falls back to `/tmp`.
    pub(crate) fn temp_base(&self) -> PathBuf {
        let base = std::env::temp_dir();
        if self.switch_to.is_none() || traversable_by_others(&base) { base } else { PathBuf::from("/tmp") }
    }
}

/// The owner of `/proc/self` is the effective uid of this process; `id -u`
/// is the fallback without procfs.
fn running_as_root() -> bool {
    match std::fs::metadata("/proc/self") {
        Ok(metadata) => metadata.uid() == 0,
        Err(_) => Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0"),
    }
}

fn id_of(flag: &str) -> Option<u32> {
    let output = Command::new("id").arg(flag).arg(SERVER_USER).output().ok()?;
    if !output.status.success() {
        return None;
    }
    std::str::from_utf8(&output.stdout).ok()?.trim().parse().ok()
}

fn traversable_by_others(dir: &Path) -> bool {
    dir.ancestors()
        .all(|ancestor| std::fs::metadata(ancestor).is_ok_and(|metadata| metadata.permissions().mode() & 0o001 != 0))
}
