//! The MySQL connector's error type; every variant maps to an [`ErrorKind`].
//! Messages never contain row values or passwords.

use sluice_api::{ConnectorError, ErrorKind, HasErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum MySqlError {
    /// A query or connection failed; `context` says what Sluice was doing.
    #[error("MySQL {context} failed")]
    Driver {
        context: String,
        #[source]
        source: mysql_async::Error,
    },

    /// The binlog or the server sent something Sluice cannot decode.
    #[error("Malformed {what} from MySQL: {reason}")]
    Protocol { what: &'static str, reason: String },

    /// A value could not be decoded or encoded exactly.
    #[error("Table {table}, column {column} ({type_name}): {reason}")]
    Value { table: String, column: String, type_name: String, reason: String },

    /// A prerequisite or setting is wrong; `setting` names the config key or server variable.
    #[error("{setting}: {message}")]
    Config { setting: String, message: String },

    /// The binlog the position needs is gone: streaming cannot continue without loss.
    #[error("{message}; a new initial snapshot is needed (sluice checkpoints reset, then run)")]
    ResnapshotNeeded { message: String },

    /// A setting or prerequisite is wrong and a library or the server says
    /// why (the cause is attached, not formatted in).
    #[error("{setting}: {message}")]
    Setup {
        setting: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// The target row an update with unchanged columns needs is missing:
    /// the target has diverged from the source.
    #[error(
        "Target table {table}: {missing} row(s) to update with unchanged columns do not exist; \
         the target has diverged from the source — re-copy the table and restart"
    )]
    MissingTargetRows { table: String, missing: u64 },

    /// Writing a row would collide with a *different* target row on a unique
    /// key other than the route's key. `INSERT … ON DUPLICATE KEY UPDATE`
    /// would silently overwrite that other row, so the sink refuses.
    #[error(
        "Target table {table}: a row would take a value of unique key {key} that another row (with a \
         different route key) already holds; Sluice refuses to overwrite that row. The target has diverged \
         from the source or the key is not unique there — fix or delete the conflicting target row, or drop \
         the unique key, and restart"
    )]
    KeyConflict { table: String, key: String },

    /// The server refused to send the binlog from a position (error 1236:
    /// purged, reset, or a GTID it no longer has).
    #[error(
        "The server cannot send the binlog from {position}; a new initial snapshot is needed (sluice checkpoints \
         reset, then run)"
    )]
    BinlogUnavailable {
        position: String,
        #[source]
        source: mysql_async::Error,
    },

    /// The binlog holds a change Sluice cannot mirror exactly (an XA
    /// transaction, a rollback to a savepoint after logged changes).
    #[error("The binlog at {position} holds a change Sluice cannot replicate: {reason}")]
    Unreplicable { position: String, reason: String },
}

impl MySqlError {
    pub(crate) fn driver(context: impl Into<String>, source: mysql_async::Error) -> MySqlError {
        MySqlError::Driver { context: context.into(), source }
    }
}

impl HasErrorKind for MySqlError {
    fn kind(&self) -> ErrorKind {
        match self {
            MySqlError::Driver { source, .. } => match source {
                mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => ErrorKind::Connection,
                // Server errors: 1040 too many connections, 1053 shutdown, 1205 lock wait timeout,
                // 1213 deadlock, 2006/2013 gone away — transient; 1045/1698 access denied,
                // 1044/1142/1227 privileges, 1146 no table, 1054 no column — configuration.
                mysql_async::Error::Server(server) => match server.code {
                    1040 | 1053 | 1205 | 1213 | 2006 | 2013 | 1927 => ErrorKind::Connection,
                    1044 | 1045 | 1698 | 1142 | 1143 | 1227 | 1146 | 1054 | 1049 => ErrorKind::Config,
                    _ => ErrorKind::Data,
                },
                mysql_async::Error::Url(_) => ErrorKind::Config,
                _ => ErrorKind::Protocol,
            },
            MySqlError::Protocol { .. } => ErrorKind::Protocol,
            MySqlError::Value { .. } => ErrorKind::Data,
            MySqlError::Config { .. } => ErrorKind::Config,
            MySqlError::ResnapshotNeeded { .. } => ErrorKind::ResnapshotNeeded,
            MySqlError::Setup { .. } => ErrorKind::Config,
            MySqlError::MissingTargetRows { .. } | MySqlError::KeyConflict { .. } => ErrorKind::Data,
            MySqlError::BinlogUnavailable { .. } => ErrorKind::ResnapshotNeeded,
            MySqlError::Unreplicable { .. } => ErrorKind::Data,
        }
    }
}

impl From<MySqlError> for ConnectorError {
    fn from(error: MySqlError) -> ConnectorError {
        ConnectorError::new(error)
    }
}
