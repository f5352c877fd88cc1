//! Creating a fresh data directory with `mariadb-install-db`.
//!
//! `--no-defaults` keeps the machine's `my.cnf` out; `--auth-root-authentication-method=normal`
//! gives `root` (on `localhost`, `127.0.0.1` and `::1`) an empty password
//! instead of unix-socket authentication, so tests connect over TCP without
//! one; `--skip-test-db` leaves out the `test` database and anonymous users.
//! The InnoDB sizes are the server's, so the first start does not resize the
//! redo log. `--tmpdir` is the server's own: the bootstrap creates temporary
//! tables in the tmpdir under names that can collide between installs running
//! at the same time in a shared `/tmp` (one then fails with "Unknown table
//! 'mysql.tmp_user_sys'").

use std::ffi::OsString;
use std::process::Command;

use super::binaries;
use super::daemon::{Layout, storage_args};
use crate::server_user::ServerUser;

/// Runs `mariadb-install-db` into the layout's data directory as the server user.
///
/// # Panics
/// When the program cannot run or fails; the message carries its output.
pub(crate) fn install(layout: &Layout<'_>) {
    let mut datadir_arg = OsString::from("--datadir=");
    datadir_arg.push(layout.data_dir);
    let mut tmpdir_arg = OsString::from("--tmpdir=");
    tmpdir_arg.push(layout.tmp_dir());
    let mut command = Command::new(binaries::program("mariadb-install-db"));
    command
        .arg("--no-defaults")
        .arg(datadir_arg)
        .arg(tmpdir_arg)
        .args(["--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"])
        .args(storage_args())
        .current_dir(layout.root);
    ServerUser::mysql().apply(&mut command);
    let output = command.output().unwrap_or_else(|err| {
        panic!(
            "Could not run {:?} (install MariaDB with `make setup`, or set {}): {err}",
            command.get_program(),
            binaries::BINDIR_ENV
        )
    });
    assert!(
        output.status.success(),
        "mariadb-install-db failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
