//! TLS for both PostgreSQL connections, with rustls (ring provider).
//!
//! PostgreSQL negotiates TLS inside its own protocol: the client sends an
//! SSLRequest (Int32 length 8, Int32 code 80877103) and the server answers a
//! single byte, `S` (go ahead with the TLS handshake) or `N` (no TLS). The
//! ordinary connection gets this from tokio-postgres through
//! [`MakeRustlsConnect`]; the replication connection, which Sluice drives
//! itself, calls [`upgrade`].
//!
//! `sslmode` keeps libpq's meaning:
//! - `disable`: plain TCP.
//! - `prefer`: TLS if the server offers it, plain otherwise; the certificate
//!   is not verified (libpq does not verify it either in this mode).
//! - `require`: TLS or fail; "encrypt, don't verify": any certificate is
//!   accepted, but the handshake signatures are still checked, so the
//!   session is bound to the certificate the server presented.
//! - `verify-ca`: the chain must lead to the root given by `sslrootcert`.
//! - `verify-full`: as `verify-ca`, and the certificate must name the host.
//!
//! The root for the verifying modes comes from the `sslrootcert` URL
//! parameter, else `PGSSLROOTCERT`, else `~/.postgresql/root.crt` (as libpq);
//! `sslrootcert=system` uses the operating system's trust store.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::error::PostgresError;

/// libpq's `sslmode`, as far as Sluice supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    pub(crate) fn parse(text: &str) -> Option<TlsMode> {
        Some(match text {
            "disable" => TlsMode::Disable,
            "prefer" | "allow" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

/// Where the trusted root certificates for `verify-ca`/`verify-full` come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootCertSource {
    /// A PEM file with one or more CA certificates.
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`).
    System,
}

/// Builds the rustls client configuration for a mode; `None` for `disable`.
pub(crate) fn client_config(
    mode: TlsMode,
    root: Option<&RootCertSource>,
) -> Result<Option<Arc<ClientConfig>>, PostgresError> {
    if mode == TlsMode::Disable {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = if mode.verifies() {
        let roots = load_roots(root)?;
        Arc::new(PostgresCertVerifier {
            roots: Some(Arc::new(roots)),
            check_name: mode == TlsMode::VerifyFull,
            algorithms,
        })
    } else {
        Arc::new(PostgresCertVerifier { roots: None, check_name: false, algorithms })
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| PostgresError::Setup {
            setting: "sslmode".into(),
            message: "The TLS library refused its default protocol versions".into(),
            source: Box::new(source),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

fn load_roots(root: Option<&RootCertSource>) -> Result<RootCertStore, PostgresError> {
    let mut roots = RootCertStore::empty();
    match root {
        None => {
            return Err(PostgresError::Config {
                setting: "sslrootcert".into(),
                message: "sslmode verify-ca/verify-full needs a root certificate: add sslrootcert=/path/to/root.crt \
                          to the URL, set PGSSLROOTCERT, or use sslmode=require"
                    .into(),
            });
        }
        Some(RootCertSource::System) => {
            let loaded = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(loaded.certs);
        }
        Some(RootCertSource::File(path)) => {
            let certs = read_pem_certificates(path)?;
            roots.add_parsable_certificates(certs);
        }
    }
    if roots.is_empty() {
        return Err(PostgresError::Config {
            setting: "sslrootcert".into(),
            message: "No usable CA certificate found in sslrootcert; point it at a PEM file with the server's CA"
                .into(),
        });
    }
    Ok(roots)
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PostgresError> {
    let setup_error = |source: rustls::pki_types::pem::Error| PostgresError::Setup {
        setting: "sslrootcert".into(),
        message: format!("Cannot read the CA certificates in {}; check the path and that it is PEM", path.display()),
        source: Box::new(source),
    };
    CertificateDer::pem_file_iter(path).map_err(setup_error)?.collect::<Result<Vec<_>, _>>().map_err(setup_error)
}

/// Verifies server certificates by `sslmode`: with `roots`, the chain must
/// lead to them (and name the host when `check_name`); without, any
/// certificate is accepted. Handshake signatures are always verified.
struct PostgresCertVerifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for PostgresCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresCertVerifier")
            .field("verifies_chain", &self.roots.is_some())
            .field("check_name", &self.check_name)
            .finish()
    }
}

impl ServerCertVerifier for PostgresCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        if self.check_name {
            rustls::client::verify_server_name(&parsed, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn server_name(host: &str) -> Result<ServerName<'static>, PostgresError> {
    ServerName::try_from(host.to_owned()).map_err(|source| PostgresError::Setup {
        setting: "host".into(),
        message: format!("{host:?} is not a valid TLS server name"),
        source: Box::new(source),
    })
}

/// The PostgreSQL SSLRequest: Int32 length (8), Int32 code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Negotiates TLS on a freshly opened replication socket: sends the
/// SSLRequest, reads the one-byte answer and performs the handshake when the
/// server agrees. Returns the plain stream when TLS is not wanted, or the
/// server declines and the mode is `prefer`.
pub(crate) async fn upgrade<S>(
    mut stream: S,
    config: Option<&Arc<ClientConfig>>,
    mode: TlsMode,
    host: &str,
    endpoint: &str,
) -> Result<MaybeTls<S>, PostgresError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Some(config) = config else {
        return Ok(MaybeTls::Plain(stream));
    };
    let io_error = |source| PostgresError::Io { endpoint: endpoint.to_owned(), source };
    stream.write_all(&SSL_REQUEST).await.map_err(io_error)?;
    stream.flush().await.map_err(io_error)?;
    let answer = stream.read_u8().await.map_err(io_error)?;
    match answer {
        b'S' => {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
            let tls = connector
                .connect(server_name(host)?, stream)
                .await
                .map_err(|source| PostgresError::TlsHandshake { endpoint: endpoint.to_owned(), source })?;
            Ok(MaybeTls::Tls(Box::new(tls)))
        }
        b'N' if mode == TlsMode::Prefer => Ok(MaybeTls::Plain(stream)),
        b'N' => Err(PostgresError::Tls {
            endpoint: endpoint.to_owned(),
            reason: "the server does not accept TLS connections (ssl = off); enable ssl on the server or use \
                     sslmode=prefer/disable"
                .into(),
        }),
        other => Err(PostgresError::Protocol {
            what: "SSLRequest answer",
            reason: format!("expected 'S' or 'N', got byte 0x{other:02x}"),
        }),
    }
}

/// A socket that may have been upgraded to TLS.
pub(crate) enum MaybeTls<S> {
    Plain(S),
    Tls(Box<tokio_rustls::client::TlsStream<S>>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// tokio-postgres' hook for TLS on the ordinary connection (tokio-postgres
/// sends the SSLRequest itself and calls this on `S`).
#[derive(Clone)]
pub(crate) struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
}

impl MakeRustlsConnect {
    pub(crate) fn new(config: Arc<ClientConfig>) -> MakeRustlsConnect {
        MakeRustlsConnect { config }
    }
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = PostgresError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, PostgresError> {
        Ok(RustlsConnect { config: Arc::clone(&self.config), server_name: server_name(domain)? })
    }
}

pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        let server_name = self.server_name;
        Box::pin(async move { connector.connect(server_name, stream).await.map(|s| RustlsStream(Box::new(s))) })
    }
}

/// A TLS stream for tokio-postgres. No channel binding is offered
/// (SCRAM then runs as plain `SCRAM-SHA-256`, which servers accept).
pub(crate) struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().0.as_mut()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_request_carries_the_magic_code() {
        assert_eq!(u32::from_be_bytes([SSL_REQUEST[4], SSL_REQUEST[5], SSL_REQUEST[6], SSL_REQUEST[7]]), 80_877_103);
        assert_eq!(u32::from_be_bytes([SSL_REQUEST[0], SSL_REQUEST[1], SSL_REQUEST[2], SSL_REQUEST[3]]), 8);
    }

    #[test]
    fn sslmode_names_follow_libpq() {
        assert_eq!(TlsMode::parse("verify-full"), Some(TlsMode::VerifyFull));
        assert_eq!(TlsMode::parse("require"), Some(TlsMode::Require));
        assert_eq!(TlsMode::parse("bogus"), None);
    }

    #[test]
    fn verifying_modes_without_a_root_are_refused() {
        let error = client_config(TlsMode::VerifyFull, None).unwrap_err();
        assert!(error.to_string().contains("sslrootcert"), "{error}");
    }

    #[test]
    fn require_builds_without_a_root() {
        assert!(client_config(TlsMode::Require, None).unwrap().is_some());
        assert!(client_config(TlsMode::Disable, None).unwrap().is_none());
    }
}
