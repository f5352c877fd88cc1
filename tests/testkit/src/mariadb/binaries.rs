//! Locating the installed MariaDB programs (`mariadbd`, `mariadb-install-db`).
//!
//! Debian installs the server as `/usr/sbin/mariadbd`, outside a normal
//! user's PATH, and the installer as `/usr/bin/mariadb-install-db`. The
//! search order is: `SLUICE_MARIADB_BINDIR` (one directory holding both),
//! the usual install directories, and finally PATH (bare names).

use std::path::{Path, PathBuf};

/// Environment variable naming a directory that holds `mariadbd` and `mariadb-install-db`.
pub(crate) const BINDIR_ENV: &str = "SLUICE_MARIADB_BINDIR";

const SEARCH_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin"];

/// Full path of `program`, or the bare name when it is not in a known place.
pub(crate) fn program(program: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|dir| !dir.is_empty()) {
        return Path::new(&dir).join(program);
    }
    SEARCH_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}
