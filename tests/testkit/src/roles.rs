//! Password roles for authentication tests.
//!
//! The catch-all `pg_hba.conf` lines are `trust`; these two roles are the
//! exception (see `hba.rs`), so a client logging in as them proves it really
//! speaks SCRAM-SHA-256 or MD5. Both may log in and open replication
//! connections; neither is a superuser.

/// A role authenticated with SCRAM-SHA-256 (`LOGIN REPLICATION`).
pub const SCRAM_USER: &str = "sluice_scram";
/// Password of [`SCRAM_USER`].
pub const SCRAM_PASSWORD: &str = "scram-secret-0f7c";
/// A role authenticated with MD5 (`LOGIN REPLICATION`).
pub const MD5_USER: &str = "sluice_md5";
/// Password of [`MD5_USER`].
pub const MD5_PASSWORD: &str = "md5-secret-9b2e";

/// Statements that create both roles. `password_encryption` decides how the
/// password is stored, and a role whose password is stored as a SCRAM verifier
/// cannot pass `md5` authentication, so the MD5 role is created after
/// switching it. `CREATE ROLE` takes no bind parameters; the passwords are the
/// constants above, quoted as literals.
pub(crate) fn create_roles_sql() -> String {
    format!(
        "SET password_encryption = 'scram-sha-256';
         CREATE ROLE \"{SCRAM_USER}\" LOGIN REPLICATION PASSWORD {scram};
         SET password_encryption = 'md5';
         CREATE ROLE \"{MD5_USER}\" LOGIN REPLICATION PASSWORD {md5};
         RESET password_encryption;",
        scram = literal(SCRAM_PASSWORD),
        md5 = literal(MD5_PASSWORD),
    )
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
