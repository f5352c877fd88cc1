//! The PostgreSQL connector's error type. Every variant maps to an
//! [`ErrorKind`] so the engine knows whether retrying can help; causes are
//! attached as `source`, never formatted into the message. Messages never
//! contain row values or passwords.

use sluice_api::{ConnectorError, ErrorKind, HasErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// TCP/TLS/socket failure or the server went away.
    #[error("Lost or could not open the connection to PostgreSQL at {endpoint}")]
    Io {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },

    /// An ordinary (tokio-postgres) query failed; `context` says what Sluice was doing.
    #[error("PostgreSQL {context} failed")]
    Query {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server answered with an ErrorResponse on the replication connection.
    #[error("PostgreSQL refused {context}: {severity} {code}: {message}")]
    Server { context: String, severity: String, code: String, message: String },

    /// Authentication could not be completed (wrong password, unsupported method).
    #[error("Authentication to PostgreSQL at {endpoint} failed: {reason}")]
    Auth { endpoint: String, reason: String },

    /// TLS was required but could not be set up.
    #[error("TLS to PostgreSQL at {endpoint} failed: {reason}")]
    Tls { endpoint: String, reason: String },

    /// The server sent bytes that break the replication protocol or pgoutput.
    #[error("Malformed {what} from PostgreSQL: {reason}")]
    Protocol { what: &'static str, reason: String },

    /// A value could not be decoded or encoded exactly.
    #[error("Table {table}, column {column} ({type_name}): {reason}")]
    Value { table: String, column: String, type_name: String, reason: String },

    /// A prerequisite or setting is wrong; `setting` names the config key or server setting.
    #[error("{setting}: {message}")]
    Config { setting: String, message: String },

    /// The target row an update with unchanged (TOAST) columns needs is missing:
    /// the target has diverged from the source.
    #[error(
        "Target table {table}: {missing} row(s) to update with unchanged TOAST columns do not exist; \
         the target has diverged from the source — re-copy the table (sluice backfill) and restart"
    )]
    MissingTargetRows { table: String, missing: u64 },

    /// The slot or the WAL it needs is gone: streaming cannot continue without loss.
    #[error("{message}; a new initial snapshot is needed (sluice checkpoints reset, then run)")]
    ResnapshotNeeded { message: String },

    /// A setting or prerequisite is wrong and a library or the server says
    /// why (the cause is attached, not formatted in); `setting` names the
    /// config key or server object.
    #[error("{setting}: {message}")]
    Setup {
        setting: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// The TLS handshake failed; certificate problems are configuration,
    /// anything else is the connection.
    #[error("TLS handshake with PostgreSQL at {endpoint} failed; check sslmode and sslrootcert")]
    TlsHandshake {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },

    /// The replication slot is streaming to another process. Retried: after
    /// a lost connection the server keeps the old session until it notices.
    #[error(
        "Replication slot {slot:?} is in use by server process {pid}; if that is another Sluice \
         instance or a subscriber, stop it (or SELECT pg_terminate_backend({pid})) — Sluice keeps retrying"
    )]
    SlotInUse { slot: String, pid: i32 },
}

impl PostgresError {
    pub(crate) fn query(context: impl Into<String>, source: tokio_postgres::Error) -> PostgresError {
        PostgresError::Query { context: context.into(), source }
    }
}

/// SQLSTATE classes that mean the connection, not the statement, failed:
/// 08 connection exception, 57P01-57P03 admin/crash shutdown, cannot connect now,
/// 53 insufficient resources (too many connections), 40001/40P01 retryable conflicts.
fn sqlstate_is_transient(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

impl HasErrorKind for PostgresError {
    fn kind(&self) -> ErrorKind {
        match self {
            PostgresError::Io { .. } => ErrorKind::Connection,
            PostgresError::Query { source, .. } => match source.code() {
                Some(code) if sqlstate_is_transient(code.code()) => ErrorKind::Connection,
                // 42xxx: undefined table/column, privileges — configuration.
                Some(code) if code.code().starts_with("42") => ErrorKind::Config,
                // 28xxx: authentication refused; 3D000: no such database.
                Some(code) if code.code().starts_with("28") || code.code() == "3D000" => ErrorKind::Config,
                Some(_) => ErrorKind::Data,
                // No SQLSTATE: the connection closed or the socket failed.
                None => ErrorKind::Connection,
            },
            PostgresError::Server { code, .. } if sqlstate_is_transient(code) => ErrorKind::Connection,
            PostgresError::Server { code, .. }
                if code.starts_with("42") || code.starts_with("28") || code == "55000" || code == "3D000" =>
            {
                ErrorKind::Config
            }
            PostgresError::Server { .. } => ErrorKind::Protocol,
            PostgresError::Auth { .. } | PostgresError::Tls { .. } | PostgresError::Config { .. } => ErrorKind::Config,
            PostgresError::Protocol { .. } => ErrorKind::Protocol,
            PostgresError::Value { .. } | PostgresError::MissingTargetRows { .. } => ErrorKind::Data,
            PostgresError::ResnapshotNeeded { .. } => ErrorKind::ResnapshotNeeded,
            PostgresError::Setup { .. } => ErrorKind::Config,
            PostgresError::TlsHandshake { source, .. } => {
                let certificate_problem =
                    source.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
                if certificate_problem { ErrorKind::Config } else { ErrorKind::Connection }
            }
            PostgresError::SlotInUse { .. } => ErrorKind::Connection,
        }
    }
}

impl From<PostgresError> for ConnectorError {
    fn from(error: PostgresError) -> ConnectorError {
        ConnectorError::new(error)
    }
}
