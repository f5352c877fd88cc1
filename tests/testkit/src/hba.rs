//! The `pg_hba.conf` a private server authenticates with.
//!
//! PostgreSQL uses the first line that matches connection type, database,
//! user and address, so the password roles' lines come before the catch-all
//! `trust` lines. `all` in the database column does not match replication
//! connections: those need their own `replication` lines.

use crate::roles::{MD5_USER, SCRAM_USER};

const LOOPBACK: &str = "127.0.0.1/32";

/// The whole file. With TLS on, `hostssl` lines precede the `host` lines
/// (which match TLS and plain connections alike).
pub(crate) fn hba_conf(tls: bool) -> String {
    let mut rules: Vec<(&str, &str)> = vec![(SCRAM_USER, "scram-sha-256"), (MD5_USER, "md5")];
    rules.push(("postgres", "trust"));
    rules.push(("all", "trust"));

    let mut conf = String::from("# written by sluice-testkit\nlocal all all trust\nlocal replication all trust\n");
    let kinds: &[&str] = if tls { &["hostssl", "host"] } else { &["host"] };
    for kind in kinds {
        for (user, method) in &rules {
            for database in ["all", "replication"] {
                conf.push_str(&format!("{kind} {database} {user} {LOOPBACK} {method}\n"));
            }
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_roles_match_before_the_trust_catch_all() {
        let conf = hba_conf(false);
        let scram = conf.find("host replication sluice_scram 127.0.0.1/32 scram-sha-256").unwrap();
        let md5 = conf.find("host all sluice_md5 127.0.0.1/32 md5").unwrap();
        let catch_all = conf.find("host all all 127.0.0.1/32 trust").unwrap();
        assert!(scram < catch_all && md5 < catch_all);
        assert!(!conf.contains("hostssl"));
    }

    #[test]
    fn tls_adds_hostssl_lines() {
        assert!(hba_conf(true).contains("hostssl all sluice_scram 127.0.0.1/32 scram-sha-256"));
    }
}
