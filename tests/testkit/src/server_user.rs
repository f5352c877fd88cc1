//! The OS user a private server runs as.
//!
//! `initdb` and `postgres` refuse to run as root, and `mariadbd` only runs as
//! root when told to switch users itself. When this process is root (CI and
//! the dev machines), the server programs are started as the `postgres` or
//! `mysql` OS user — through `CommandExt::uid/gid`, so the child we hold is
//! the server itself and not a `runuser` wrapper that forks it — and the
//! server's temp directory is handed to that user. Otherwise they run as us.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `Some((uid, gid))` of the server's OS user when we must switch to it.
#[derive(Debug)]
pub(crate) struct ServerUser {
    switch_to: Option<(u32, u32)>,
}

impl ServerUser {
    /// The user PostgreSQL runs as; determined once per process.
    pub(crate) fn postgres() -> &'static ServerUser {
        static USER: OnceLock<ServerUser> = OnceLock::new();
        USER.get_or_init(|| ServerUser::resolve("postgres", "PostgreSQL"))
    }

    /// The user MariaDB runs as; determined once per process.
    pub(crate) fn mysql() -> &'static ServerUser {
        static USER: OnceLock<ServerUser> = OnceLock::new();
        USER.get_or_init(|| ServerUser::resolve("mysql", "MariaDB"))
    }

    fn resolve(user: &str, product: &str) -> ServerUser {
        let switch_to = running_as_root().then(|| {
            let (Some(uid), Some(gid)) = (id_of(user, "-u"), id_of(user, "-g")) else {
                panic!(
                    "Running as root, but there is no `{user}` OS user to run {product} as: \
                     install the server package (`make setup`) or run the tests as a non-root user"
                );
            };
            (uid, gid)
        });
        ServerUser { switch_to }
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

/// The owner of `/proc/self` is the effective uid of this process (no unsafe
/// `geteuid()` needed); `id -u` is the fallback without procfs.
fn running_as_root() -> bool {
    match std::fs::metadata("/proc/self") {
        Ok(metadata) => metadata.uid() == 0,
        Err(_) => Command::new("id").arg("-u").output().is_ok_and(|output| output.stdout.trim_ascii() == b"0"),
    }
}

fn id_of(user: &str, flag: &str) -> Option<u32> {
    let output = Command::new("id").arg(flag).arg(user).output().ok()?;
    if !output.status.success() {
        return None;
    }
    std::str::from_utf8(&output.stdout).ok()?.trim().parse().ok()
}

fn traversable_by_others(dir: &Path) -> bool {
    dir.ancestors()
        .all(|ancestor| std::fs::metadata(ancestor).is_ok_and(|metadata| metadata.permissions().mode() & 0o001 != 0))
}
