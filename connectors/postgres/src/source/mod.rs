//! The PostgreSQL logical replication source.
//!
//! `start` prepares the server over an ordinary connection (publication,
//! slot, catalog), opens a `replication=database` connection, issues
//! `START_REPLICATION SLOT … LOGICAL … (proto_version '1',
//! publication_names …)` and spawns the stream task that turns pgoutput
//! into `SourceEvent`s. The pieces:
//! - `wire.rs` / `auth.rs`: framing, startup, authentication;
//! - `coalesce.rs`: batched reads of a busy replication socket;
//! - `pgoutput.rs`: decoding XLogData, keepalives and pgoutput messages;
//! - `catalog.rs`: type resolution and table descriptions from the catalog;
//! - `relations.rs`: the Relation cache and tuple decoding;
//! - `slot.rs`: publication and slot management, slot status;
//! - `resume.rs`: where a source with several targets resumes;
//! - `stream.rs` / `status.rs`: the running stream and its status updates.

mod auth;
pub(crate) mod catalog;
mod coalesce;
mod pgoutput;
pub(crate) mod relations;
mod resume;
pub(crate) mod slot;
mod status;
mod stream;
mod wire;

use std::collections::HashSet;
use std::time::Duration;

use sluice_api::{ConnectorError, Lsn, Position, Source, SourceStream, TableName};
use tokio::sync::{mpsc, watch};

use crate::connect::ConnectSettings;
use crate::error::PostgresError;
use slot::{quote_identifier, quote_literal};
use wire::ReplicationConnection;

pub use resume::resume_position;

/// Settings of one PostgreSQL source.
#[derive(Clone, Debug)]
pub struct PostgresSourceConfig {
    /// Connection URL (already `${ENV}`-interpolated), e.g.
    /// `postgres://sluice:secret@db:5432/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem`.
    /// The user needs the REPLICATION attribute (or to be superuser).
    pub url: String,
    /// Logical replication slot, created when missing (lower-case letters,
    /// digits, `_`). One slot per source; no other consumer may use it.
    pub slot: String,
    /// Publication, created `FOR TABLE <tables>` when missing; the routed
    /// tables are added when it lacks them.
    pub publication: String,
    /// The routed source tables. Changes of other tables in the publication
    /// are dropped; empty means every table of the publication.
    pub tables: Vec<TableName>,
    /// How often a standby status update is sent (default 10 s). Must stay
    /// well below the server's `wal_sender_timeout` (default 60 s).
    pub status_interval: Duration,
    /// Capacity of the events channel (default 4096 events).
    pub channel_capacity: usize,
}

impl PostgresSourceConfig {
    pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(10);
    pub const DEFAULT_CHANNEL_CAPACITY: usize = 4096;

    /// A configuration with the default status interval and channel capacity.
    pub fn new(
        url: impl Into<String>,
        slot: impl Into<String>,
        publication: impl Into<String>,
        tables: Vec<TableName>,
    ) -> PostgresSourceConfig {
        PostgresSourceConfig {
            url: url.into(),
            slot: slot.into(),
            publication: publication.into(),
            tables,
            status_interval: Self::DEFAULT_STATUS_INTERVAL,
            channel_capacity: Self::DEFAULT_CHANNEL_CAPACITY,
        }
    }
}

/// The PostgreSQL logical replication source.
pub struct PostgresSource {
    config: PostgresSourceConfig,
}

impl PostgresSource {
    pub fn new(config: PostgresSourceConfig) -> PostgresSource {
        PostgresSource { config }
    }

    async fn open(self, resume: Option<Position>) -> Result<SourceStream, PostgresError> {
        let config = self.config;
        slot::validate_slot_name(&config.slot)?;
        let settings = ConnectSettings::parse(&config.url)?;
        // The replication connection first: its own TLS negotiation and
        // authentication give precise errors (TLS refused, wrong password).
        let mut replication = ReplicationConnection::open(&settings).await?;
        identify_system(&mut replication).await?;
        let client = settings.connect().await?;
        slot::ensure_publication(&client, &config.publication, &config.tables).await?;
        let confirmed = slot::ensure_slot(&client, &mut replication, &config.slot).await?;
        let resume = match resume {
            None => None,
            Some(Position::Postgres(lsn)) => Some(lsn),
            Some(other) => {
                return Err(PostgresError::Config {
                    setting: "resume position".into(),
                    message: format!(
                        "Position {other} is not a PostgreSQL position; the checkpoints belong to another source \
                         (sluice checkpoints reset)"
                    ),
                });
            }
        };
        let start = start_lsn(&config.slot, confirmed, resume)?;
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {start} (proto_version '1', publication_names {})",
            quote_identifier(&config.slot),
            quote_literal(&quote_identifier(&config.publication)),
        );
        replication.start_copy_both(&sql, &format!("starting replication from slot {:?}", config.slot)).await?;
        if let Some(fd) = replication.tcp_fd {
            replication.reader.coalesce_reads(fd);
        }
        tracing::info!(
            slot = %config.slot,
            publication = %config.publication,
            %start,
            server_major = replication.server_major,
            "postgres replication started"
        );

        let (events, receiver) = mpsc::channel(config.channel_capacity.max(1));
        let (durable, durable_receiver) = watch::channel(None);
        let (progress_wanted, wanted) = watch::channel(None);
        let ReplicationConnection { reader, writer, endpoint, .. } = replication;
        let task = stream::StreamTask {
            reader,
            writer,
            endpoint,
            client,
            events,
            durable: durable_receiver,
            wanted,
            start,
            resume,
            tables: config.tables.into_iter().collect::<HashSet<_>>(),
            status_interval: config.status_interval,
        };
        let task = tokio::spawn(task.run());
        Ok(SourceStream { events: receiver, durable, progress_wanted, task })
    }
}

impl Source for PostgresSource {
    async fn start(self, resume: Option<Position>) -> Result<SourceStream, ConnectorError> {
        Box::pin(self.open(resume)).await.map_err(ConnectorError::from)
    }
}

/// Where streaming starts. Positions are the server's own exclusive bounds
/// (see `stream.rs`), so the resume position is the start point; the
/// server starts at the larger of it and the slot's confirmed position. If
/// the slot has confirmed more than the targets hold, the changes in
/// between were acknowledged but are not in every target (a restored
/// target, a recreated slot): continuing would lose them silently.
fn start_lsn(slot: &str, confirmed: Lsn, resume: Option<Lsn>) -> Result<Lsn, PostgresError> {
    let Some(resume) = resume else { return Ok(confirmed) };
    if confirmed > resume {
        return Err(PostgresError::ResnapshotNeeded {
            message: format!(
                "Replication slot {slot:?} has confirmed changes up to {confirmed} but the targets hold only \
                 pg:{resume}: the changes in between are no longer available from the slot"
            ),
        });
    }
    Ok(resume)
}

/// IDENTIFY_SYSTEM: checks the session is bound to a database (logical
/// replication needs `replication=database`).
async fn identify_system(replication: &mut ReplicationConnection) -> Result<(), PostgresError> {
    let rows = replication.simple_query("IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM").await?;
    // Columns: systemid, timeline, xlogpos, dbname.
    let row = rows
        .first()
        .ok_or_else(|| PostgresError::Protocol { what: "IDENTIFY_SYSTEM result", reason: "no row".into() })?;
    if row.get(3).cloned().flatten().is_none() {
        return Err(PostgresError::Protocol {
            what: "IDENTIFY_SYSTEM result",
            reason: "the replication session is not bound to a database".into(),
        });
    }
    tracing::debug!(xlogpos = ?row.get(2), "replication session identified");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_is_the_resume_position() {
        assert_eq!(start_lsn("s", Lsn(100), Some(Lsn(100))).unwrap(), Lsn(100));
        assert_eq!(start_lsn("s", Lsn(50), Some(Lsn(100))).unwrap(), Lsn(100));
        assert_eq!(start_lsn("s", Lsn(50), None).unwrap(), Lsn(50));
    }

    #[test]
    fn a_slot_ahead_of_the_targets_needs_a_resnapshot() {
        let error = start_lsn("s", Lsn(101), Some(Lsn(100))).unwrap_err();
        assert!(matches!(error, PostgresError::ResnapshotNeeded { .. }), "{error}");
    }
}
