//! The password account every private MariaDB server has besides `root`:
//! the user a Sluice pipeline would be configured with, holding every
//! privilege (which includes `REPLICATION SLAVE` and `BINLOG MONITOR`, the
//! MariaDB 10.5+ name of `REPLICATION CLIENT`). Tests of missing privileges
//! create their own, narrower accounts.

/// A password account on every private MariaDB server (from any host).
pub const MARIADB_USER: &str = "sluice";
/// The password of [`MARIADB_USER`].
pub const MARIADB_PASSWORD: &str = "sluice-test-password";

/// The statements that create the account.
pub(crate) fn create_accounts_sql() -> Vec<String> {
    vec![
        format!("CREATE USER '{MARIADB_USER}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'"),
        format!("GRANT ALL PRIVILEGES ON *.* TO '{MARIADB_USER}'@'%'"),
        format!("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{MARIADB_USER}'@'%'"),
    ]
}
