//! Throwaway TLS material for servers started with `PgOptions::tls(true)`,
//! made with the `openssl` CLI.
//!
//! A private CA signs the server certificate rather than the server
//! certificate signing itself: webpki (rustls) refuses a certificate with
//! `CA:TRUE` as an end-entity certificate, so a single self-signed cert could
//! be trusted by libpq but not by Sluice's rustls client. The server
//! certificate names `IP:127.0.0.1` and `DNS:localhost` so hostname
//! verification (`sslmode=verify-full`) passes. Keys are P-256: generated in
//! milliseconds. PostgreSQL refuses a key file readable by group or others,
//! so the key stays mode 0600 (the caller hands it to the server user).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files under the server's `tls/` directory.
#[derive(Debug)]
pub(crate) struct TlsFiles {
    pub(crate) ca_cert: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
}

const SERVER_EXTENSIONS: &str = "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
";

/// Creates `dir` and the CA and server certificates in it.
///
/// # Panics
/// When `openssl` is missing or fails.
pub(crate) fn generate(dir: &Path) -> TlsFiles {
    std::fs::create_dir_all(dir).unwrap_or_else(|err| panic!("Could not create {}: {err}", dir.display()));
    let files = TlsFiles {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    };
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    let extensions = dir.join("server.ext");
    std::fs::write(&extensions, SERVER_EXTENSIONS)
        .unwrap_or_else(|err| panic!("Could not write {}: {err}", extensions.display()));

    openssl(dir, |command| {
        command
            .args(["req", "-x509", "-nodes", "-days", "3650", "-subj", "/CN=sluice-testkit CA"])
            .args(P256)
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&files.ca_cert);
    });
    openssl(dir, |command| {
        command
            .args(["req", "-new", "-nodes", "-subj", "/CN=localhost"])
            .args(P256)
            .arg("-keyout")
            .arg(&files.server_key)
            .arg("-out")
            .arg(&csr);
    });
    openssl(dir, |command| {
        command
            .args(["x509", "-req", "-days", "3650", "-set_serial", "2"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&files.ca_cert)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&extensions)
            .arg("-out")
            .arg(&files.server_cert);
    });
    files
}

const P256: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

fn openssl(dir: &Path, arguments: impl FnOnce(&mut Command)) {
    let mut command = Command::new("openssl");
    command.current_dir(dir);
    arguments(&mut command);
    let output =
        command.output().unwrap_or_else(|err| panic!("Could not run `openssl` (install it: `make setup`): {err}"));
    assert!(
        output.status.success(),
        "`openssl` failed making test certificates ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
