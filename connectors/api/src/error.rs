//! The error kind every connector error carries, which the engine's retry
//! policy reads: connection problems are retried with backoff; everything
//! else stops the pipeline with the message, because retrying cannot fix it.

use std::fmt;

/// Why an operation failed, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Network, server restart, lost connection, timeout: retry with backoff.
    Connection,
    /// The peer sent something that breaks the protocol: a bug or an
    /// incompatible server; restart may help, so it is retried a few times.
    Protocol,
    /// A row or value cannot be converted or is refused by the target.
    Data,
    /// Configuration or server prerequisites are wrong; fix them and restart.
    Config,
    /// The source no longer holds the changes needed to continue (slot
    /// dropped, binlog purged, CDC cleanup): a resnapshot is needed.
    ResnapshotNeeded,
}

impl ErrorKind {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ErrorKind::Connection | ErrorKind::Protocol)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Connection => "connection",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Data => "data",
            ErrorKind::Config => "config",
            ErrorKind::ResnapshotNeeded => "resnapshot-needed",
        })
    }
}

/// Implemented by every connector's error type.
pub trait HasErrorKind {
    fn kind(&self) -> ErrorKind;
}

/// A connector error as the engine sees it: a kind for the retry policy and
/// the connector's own typed error. Displays as that error and exposes its
/// causes, so an error chain prints each message once.
#[derive(Debug)]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub inner: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl ConnectorError {
    pub fn new<E>(error: E) -> ConnectorError
    where
        E: HasErrorKind + std::error::Error + Send + Sync + 'static,
    {
        ConnectorError { kind: error.kind(), inner: Box::new(error) }
    }

    /// The connector's own error, for downcasting.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for ConnectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}
