//! The `postgresql.conf` lines a private server runs with.
//!
//! Port and socket directory go on the command line (`-p`, `-k`) because the
//! port may change between start attempts; everything else is appended to
//! `postgresql.conf`, so a test can still `ALTER SYSTEM` over it and restart.

use std::path::Path;

use crate::options::PgOptions;
use crate::tls::TlsFiles;

/// Settings every private server gets: logical decoding with room for many
/// slots and senders (tests run in parallel against one shared server), and
/// logging to stderr, which the testkit redirects into `server.log`.
const BASE_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "127.0.0.1"),
    ("wal_level", "logical"),
    ("max_replication_slots", "64"),
    ("max_wal_senders", "64"),
    ("max_connections", "300"),
    ("wal_sender_timeout", "60s"),
    ("shared_buffers", "128MB"),
    ("logging_collector", "off"),
    ("log_destination", "stderr"),
];

/// Without `durable`: no fsync and no full-page images. Commits still write
/// their WAL before returning (`synchronous_commit=on`), so killing the
/// postmaster loses nothing that was committed; only an OS crash would.
const FAST_SETTINGS: &[(&str, &str)] = &[("fsync", "off"), ("full_page_writes", "off"), ("synchronous_commit", "on")];

/// The block appended to `postgresql.conf`.
pub(crate) fn server_conf(options: &PgOptions, tls: Option<&TlsFiles>) -> String {
    let mut conf = String::from("\n# written by sluice-testkit\n");
    let mut push = |name: &str, value: &str| {
        conf.push_str(&format!("{name} = {}\n", quote(value)));
    };
    for (name, value) in BASE_SETTINGS {
        push(name, value);
    }
    if !options.durable {
        for (name, value) in FAST_SETTINGS {
            push(name, value);
        }
    }
    if let Some(files) = tls {
        push("ssl", "on");
        push("ssl_cert_file", &path_text(&files.server_cert));
        push("ssl_key_file", &path_text(&files.server_key));
    }
    for (name, value) in &options.settings {
        push(name, value);
    }
    conf
}

/// Every setting type accepts a single-quoted value in `postgresql.conf`;
/// quotes and backslashes inside are escaped.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_settings_come_after_the_defaults_so_they_win() {
        let conf = server_conf(&PgOptions::new().setting("wal_level", "replica"), None);
        let logical = conf.find("wal_level = 'logical'").unwrap();
        let replica = conf.find("wal_level = 'replica'").unwrap();
        assert!(replica > logical);
    }

    #[test]
    fn durable_servers_keep_fsync() {
        assert!(server_conf(&PgOptions::new(), None).contains("fsync = 'off'"));
        assert!(!server_conf(&PgOptions::new().durable(true), None).contains("fsync"));
    }

    #[test]
    fn values_with_quotes_are_escaped() {
        assert_eq!(quote(r"it's a\b"), r"'it''s a\\b'");
    }
}
