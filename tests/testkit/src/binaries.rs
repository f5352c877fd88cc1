//! Locating the installed PostgreSQL server programs (`initdb`, `postgres`, `psql`).
//!
//! Debian installs them under `/usr/lib/postgresql/<major>/bin`, outside PATH, so
//! the search order is: `SLUICE_PG_BINDIR`, the highest major version under
//! `/usr/lib/postgresql`, `pg_config --bindir`, and finally PATH (bare names).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Environment variable that names the directory holding `initdb` and `postgres`.
pub(crate) const BINDIR_ENV: &str = "SLUICE_PG_BINDIR";

/// Path of an installed PostgreSQL program (`psql`, `pgbench`,
/// `pg_recvlogical`, …), from the same directory as the test servers' `postgres`.
pub fn pg_program(name: &str) -> PathBuf {
    Binaries::get().program(name)
}

const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Where the server programs live; `None` means "look them up in PATH".
#[derive(Debug)]
pub(crate) struct Binaries {
    bindir: Option<PathBuf>,
}

impl Binaries {
    /// The binaries of this process, located once.
    pub(crate) fn get() -> &'static Binaries {
        static BINARIES: OnceLock<Binaries> = OnceLock::new();
        BINARIES.get_or_init(|| Binaries { bindir: locate() })
    }

    /// Full path of `program` (or the bare name when falling back to PATH).
    pub(crate) fn program(&self, program: &str) -> PathBuf {
        match &self.bindir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        }
    }
}

fn locate() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    highest_debian_bindir().or_else(pg_config_bindir)
}

/// The `bin` directory of the highest major version under `/usr/lib/postgresql`.
fn highest_debian_bindir() -> Option<PathBuf> {
    let entries = std::fs::read_dir(DEBIAN_ROOT).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_key(entry.file_name().to_str()?)?;
            let bindir = entry.path().join("bin");
            bindir.join("postgres").is_file().then_some((version, bindir))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bindir)| bindir)
}

/// "15" -> [15], "9.6" -> [9, 6]; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    has_server(&dir).then_some(dir)
}

fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

#[cfg(test)]
mod tests {
    use super::version_key;

    #[test]
    fn version_directories_order_numerically() {
        assert!(version_key("16").unwrap() > version_key("15").unwrap());
        assert!(version_key("10").unwrap() > version_key("9.6").unwrap());
        assert_eq!(version_key("common"), None);
    }
}
