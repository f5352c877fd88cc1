//! Running `psql` for what tokio-postgres cannot do here: TLS with
//! certificate verification and replication connections.

use std::process::Command;

use sluice_testkit::pg_program;

/// Runs `sql` through `psql -X -At` with `conninfo`; returns stdout, or the
/// error output when psql fails. The environment is cleared so no `PG*`
/// variable of the caller changes the connection.
pub fn psql(conninfo: &str, password: Option<&str>, sql: &str) -> Result<String, String> {
    let mut command = Command::new(pg_program("psql"));
    command.env_clear().env("PGCONNECT_TIMEOUT", "10").args([
        "-X",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        conninfo,
        "-c",
        sql,
    ]);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().expect("psql runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
