//! The engine's view of the connector crates: one enum per role over the
//! configured kinds, so the pipeline is written once for every engine.
//! Adding a connector means adding a variant here and a config section.

use std::sync::Arc;

use sluice_api::owned::OwnedTables;
use sluice_api::{
    ConnectorError, Position, Row, RowWrite, Sink, Source, SourceStream, TableName, TableSchema, TargetTable,
};
use sluice_mysql::{MySqlSink, MySqlSinkConfig, MySqlSource, MySqlSourceConfig};
use sluice_postgres::{PostgresSink, PostgresSinkConfig, PostgresSource, PostgresSourceConfig};

use crate::config::{ApplySection, SourceConfig, TargetConfig};
use crate::route::TargetShape;

/// A connected target.
pub(crate) enum AnySink {
    Postgres(PostgresSink),
    Mysql(MySqlSink),
}

impl AnySink {
    pub(crate) async fn connect(config: &TargetConfig, apply: &ApplySection) -> Result<AnySink, ConnectorError> {
        AnySink::open(config, apply, true).await
    }

    /// Connects without creating anything in the target (not even the
    /// offsets table), for commands that must leave it as it is.
    pub(crate) async fn connect_without_setup(
        config: &TargetConfig,
        apply: &ApplySection,
    ) -> Result<AnySink, ConnectorError> {
        AnySink::open(config, apply, false).await
    }

    async fn open(config: &TargetConfig, apply: &ApplySection, setup: bool) -> Result<AnySink, ConnectorError> {
        match config {
            TargetConfig::Postgres { url, offsets_table, .. } => {
                let config = PostgresSinkConfig {
                    url: url.expose().to_owned(),
                    offsets_table: offsets_table.clone(),
                    max_rows_per_statement: apply.max_rows_per_statement,
                };
                let sink = if setup {
                    PostgresSink::connect(config).await?
                } else {
                    PostgresSink::connect_without_setup(config).await?
                };
                Ok(AnySink::Postgres(sink))
            }
            TargetConfig::Mysql { url, offsets_table, .. } => {
                let config = MySqlSinkConfig {
                    url: url.expose().to_owned(),
                    offsets_table: offsets_table.clone(),
                    max_rows_per_statement: apply.max_rows_per_statement,
                };
                let sink = if setup {
                    MySqlSink::connect(config).await?
                } else {
                    MySqlSink::connect_without_setup(config).await?
                };
                Ok(AnySink::Mysql(sink))
            }
        }
    }

    /// The target table's columns and keys, or `None` if it does not exist.
    pub(crate) async fn describe(&mut self, table: &TableName) -> Result<Option<TargetShape>, ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Ok(sink.describe_table(table).await?.map(|info| TargetShape {
                columns: info.columns.iter().filter(|c| !c.generated).map(|c| c.name.clone()).collect(),
                primary_key: info.primary_key,
                unique_keys: info.unique_keys,
            })),
            AnySink::Mysql(sink) => Ok(sink.describe_table(table).await?.map(|info| TargetShape {
                columns: info.columns.iter().filter(|c| !c.generated).map(|c| c.name.clone()).collect(),
                primary_key: info.primary_key,
                unique_keys: info.unique_keys,
            })),
        }
    }

    /// Creates the target's crosswalk and dead-letter tables when missing.
    pub(crate) async fn ensure_owned_tables(&mut self, tables: &OwnedTables) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Ok(sink.ensure_owned_tables(tables).await?),
            AnySink::Mysql(sink) => Ok(sink.ensure_owned_tables(tables).await?),
        }
    }

    /// Deletes the target's offsets row for `pipeline` (`checkpoints reset`).
    pub(crate) async fn forget_position(&mut self, pipeline: &str) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => sink.forget_position(pipeline).await.map(|_| ()).map_err(Into::into),
            AnySink::Mysql(sink) => sink.forget_position(pipeline).await.map_err(Into::into),
        }
    }
}

impl Sink for AnySink {
    async fn applied_position(&mut self, pipeline: &str) -> Result<Option<Position>, ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::applied_position(sink, pipeline).await,
            AnySink::Mysql(sink) => Sink::applied_position(sink, pipeline).await,
        }
    }

    async fn write(&mut self, writes: Vec<RowWrite>) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::write(sink, writes).await,
            AnySink::Mysql(sink) => Sink::write(sink, writes).await,
        }
    }

    async fn commit(&mut self, pipeline: &str, position: &Position) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::commit(sink, pipeline, position).await,
            AnySink::Mysql(sink) => Sink::commit(sink, pipeline, position).await,
        }
    }

    async fn commit_ahead(&mut self, pipeline: &str, position: &Position) -> Result<bool, ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::commit_ahead(sink, pipeline, position).await,
            AnySink::Mysql(sink) => Sink::commit_ahead(sink, pipeline, position).await,
        }
    }

    fn confirmed_commits(&mut self) -> usize {
        match self {
            AnySink::Postgres(sink) => Sink::confirmed_commits(sink),
            AnySink::Mysql(sink) => Sink::confirmed_commits(sink),
        }
    }

    async fn settle(&mut self) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::settle(sink).await,
            AnySink::Mysql(sink) => Sink::settle(sink).await,
        }
    }

    async fn load(&mut self, writes: Vec<RowWrite>) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::load(sink, writes).await,
            AnySink::Mysql(sink) => Sink::load(sink, writes).await,
        }
    }

    fn set_copying(&mut self, table: &TableName, copying: bool) {
        match self {
            AnySink::Postgres(sink) => Sink::set_copying(sink, table, copying),
            AnySink::Mysql(sink) => Sink::set_copying(sink, table, copying),
        }
    }

    async fn commit_rows(&mut self) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::commit_rows(sink).await,
            AnySink::Mysql(sink) => Sink::commit_rows(sink).await,
        }
    }

    async fn rollback(&mut self) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::rollback(sink).await,
            AnySink::Mysql(sink) => Sink::rollback(sink).await,
        }
    }

    async fn insert_returning(
        &mut self,
        table: Arc<TargetTable>,
        values: Row,
        returning: &str,
    ) -> Result<String, ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::insert_returning(sink, table, values, returning).await,
            AnySink::Mysql(sink) => Sink::insert_returning(sink, table, values, returning).await,
        }
    }

    async fn savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::savepoint(sink, name).await,
            AnySink::Mysql(sink) => Sink::savepoint(sink, name).await,
        }
    }

    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::rollback_to_savepoint(sink, name).await,
            AnySink::Mysql(sink) => Sink::rollback_to_savepoint(sink, name).await,
        }
    }

    async fn release_savepoint(&mut self, name: &str) -> Result<(), ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::release_savepoint(sink, name).await,
            AnySink::Mysql(sink) => Sink::release_savepoint(sink, name).await,
        }
    }

    async fn select_text(
        &mut self,
        table: &TableName,
        columns: &[&str],
        filter: &[(&str, &str)],
        order_by: &[&str],
        limit: Option<usize>,
    ) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
        match self {
            AnySink::Postgres(sink) => Sink::select_text(sink, table, columns, filter, order_by, limit).await,
            AnySink::Mysql(sink) => Sink::select_text(sink, table, columns, filter, order_by, limit).await,
        }
    }
}

/// A target table's shape, read without creating or changing anything.
pub(crate) async fn describe_target(
    config: &TargetConfig,
    table: &TableName,
) -> Result<Option<TargetShape>, ConnectorError> {
    Ok(match config {
        TargetConfig::Postgres { url, .. } => {
            sluice_postgres::describe_target_table(url.expose(), table).await?.map(|info| TargetShape {
                columns: info.columns.iter().filter(|c| !c.generated).map(|c| c.name.clone()).collect(),
                primary_key: info.primary_key,
                unique_keys: info.unique_keys,
            })
        }
        TargetConfig::Mysql { url, .. } => {
            sluice_mysql::describe_target_table(url.expose(), table).await?.map(|info| TargetShape {
                columns: info.columns.iter().filter(|c| !c.generated).map(|c| c.name.clone()).collect(),
                primary_key: info.primary_key,
                unique_keys: info.unique_keys,
            })
        }
    })
}

/// The position a target holds for `pipeline`, read without creating or
/// changing anything (for `status`, `checkpoints show` and `check`).
pub(crate) async fn target_position(config: &TargetConfig, pipeline: &str) -> Result<Option<Position>, ConnectorError> {
    match config {
        TargetConfig::Postgres { url, offsets_table, .. } => {
            Ok(sluice_postgres::read_position(url.expose(), offsets_table, pipeline).await?)
        }
        TargetConfig::Mysql { url, offsets_table, .. } => {
            Ok(sluice_mysql::read_position(url.expose(), offsets_table, pipeline).await?)
        }
    }
}

/// Where a source resumes, given the position each of its targets holds
/// (`(target, position)`, targets without one left out): the connector's
/// choice, because only it knows how its positions compare — PostgreSQL
/// the lowest LSN; a binlog source by GTIDs when the targets hold
/// positions of different servers (`sluice_mysql::resume_position`),
/// refusing when nothing tells what each target lacks. `None` when no
/// target holds a position.
pub(crate) fn resume_position(
    config: &SourceConfig,
    source: &str,
    held: &[(String, Position)],
) -> Result<Option<Position>, ConnectorError> {
    match config {
        SourceConfig::Postgres { .. } => Ok(sluice_postgres::resume_position(source, held)?),
        SourceConfig::Mysql { .. } => Ok(sluice_mysql::resume_position(source, held)?),
    }
}

/// Where a source's own bookmark stands (PostgreSQL: the slot), for the
/// resume sanity check.
pub(crate) struct SourceBookmark {
    pub(crate) exists: bool,
    pub(crate) confirmed: Option<Position>,
}

/// A source table's schema from its catalog (the stream's view of keys).
pub(crate) async fn describe_source_table(
    config: &SourceConfig,
    table: &TableName,
) -> Result<Option<TableSchema>, ConnectorError> {
    match config {
        SourceConfig::Postgres { url, .. } => {
            let client = sluice_postgres::connect(url.expose()).await?;
            Ok(sluice_postgres::describe_source_table(&client, table).await?)
        }
        SourceConfig::Mysql { url, .. } => {
            let mut conn = sluice_mysql::connect(url.expose()).await?;
            let schema = sluice_mysql::describe_source_table(&mut conn, table).await?;
            let _ = conn.disconnect().await;
            Ok(schema)
        }
    }
}

/// The source table's primary key columns; `None` if the table does not exist.
pub(crate) async fn source_primary_key(
    config: &SourceConfig,
    table: &TableName,
) -> Result<Option<Vec<String>>, ConnectorError> {
    Ok(describe_source_table(config, table)
        .await?
        .map(|schema| schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect()))
}

/// The slot of a PostgreSQL source. Binlog sources have no server-side
/// bookmark: the source itself refuses to start when the binlog file the
/// position needs has been purged.
pub(crate) async fn source_bookmark(config: &SourceConfig) -> Result<Option<SourceBookmark>, ConnectorError> {
    match config {
        SourceConfig::Postgres { url, slot, .. } => {
            let client = sluice_postgres::connect(url.expose()).await?;
            let status = sluice_postgres::slot_status(&client, slot).await?;
            Ok(Some(SourceBookmark {
                exists: status.is_some(),
                confirmed: status.map(|s| Position::Postgres(s.confirmed_flush)),
            }))
        }
        SourceConfig::Mysql { .. } => Ok(None),
    }
}

/// Starts streaming a source after `resume`.
pub(crate) async fn start_source(
    config: &SourceConfig,
    tables: Vec<TableName>,
    queue_capacity: usize,
    resume: Option<Position>,
) -> Result<SourceStream, ConnectorError> {
    match config {
        SourceConfig::Postgres { url, slot, publication, status_interval } => {
            let source = PostgresSource::new(PostgresSourceConfig {
                url: url.expose().to_owned(),
                slot: slot.clone(),
                publication: publication.clone(),
                tables,
                status_interval: *status_interval,
                channel_capacity: queue_capacity,
            });
            source.start(resume).await
        }
        SourceConfig::Mysql { url, server_id, heartbeat } => {
            let source = MySqlSource::new(MySqlSourceConfig {
                url: url.expose().to_owned(),
                server_id: *server_id,
                tables,
                channel_capacity: queue_capacity,
                heartbeat: *heartbeat,
            });
            source.start(resume).await
        }
    }
}
