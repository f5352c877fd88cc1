//! The engine's view of the connectors' chunk readers: one enum over the
//! configured source kinds (like `AnySink` for targets).

use std::sync::Arc;

use sluice_api::{ChunkRange, ChunkRead, ConnectorError, ReadView, SnapshotReader, TableName, TableSchema, Value};
use sluice_mysql::MySqlSnapshotReader;
use sluice_postgres::PostgresSnapshotReader;

use super::job::Job;
use crate::config::SourceConfig;

pub(crate) enum AnyReader {
    Postgres(PostgresSnapshotReader),
    Mysql(MySqlSnapshotReader),
}

impl AnyReader {
    pub(crate) async fn connect(config: &SourceConfig) -> Result<AnyReader, ConnectorError> {
        Ok(match config {
            SourceConfig::Postgres { url, .. } => {
                AnyReader::Postgres(PostgresSnapshotReader::connect(url.expose()).await?)
            }
            SourceConfig::Mysql { url, .. } => AnyReader::Mysql(MySqlSnapshotReader::connect(url.expose()).await?),
        })
    }
}

/// A chunk as read, with the schema its rows follow and the key indices in it.
#[derive(Debug)]
pub(crate) struct ReadChunk {
    pub(crate) read: ChunkRead,
    pub(crate) schema: Arc<TableSchema>,
    pub(crate) key: Vec<usize>,
}

/// Reads a chunk of `job`. When the table's columns changed since the job
/// described it (ALTER TABLE while copying) — the read fails, or `refresh`
/// says the stream already shows other columns — it reads with the
/// table's current columns.
pub(crate) async fn read_chunk(
    reader: &mut AnyReader,
    job: &Job,
    range: &ChunkRange,
    refresh: bool,
) -> Result<ReadChunk, ConnectorError> {
    let as_described = |read| ReadChunk { read, schema: Arc::clone(&job.schema), key: job.key.clone() };
    let failed = if refresh {
        None
    } else {
        match reader.read_chunk(&job.schema, &job.key, range, job.filter.as_deref()).await {
            Ok(read) => return Ok(as_described(read)),
            Err(error) => Some(error),
        }
    };
    let fresh = match (reader.describe(&job.table).await, failed) {
        (Ok(Some(fresh)), _) if *fresh != *job.schema => fresh,
        (_, Some(error)) => return Err(error),
        (Err(error), None) => return Err(error),
        (Ok(_), None) => {
            let read = reader.read_chunk(&job.schema, &job.key, range, job.filter.as_deref()).await?;
            return Ok(as_described(read));
        }
    };
    let key: Option<Vec<usize>> = job.key.iter().map(|&i| fresh.column_index(&job.schema.columns[i].name)).collect();
    let Some(key) = key else {
        return Err(ConnectorError::new(KeyColumnGone { table: job.table.to_string() }));
    };
    tracing::info!(table = %job.table, "the table's columns changed during the snapshot; reading with the new columns");
    let read = reader.read_chunk(&fresh, &key, range, job.filter.as_deref()).await?;
    Ok(ReadChunk { read, schema: fresh, key })
}

/// A key column of a table being copied was dropped.
#[derive(Debug, thiserror::Error)]
#[error("a key column of {table} was dropped while the table was being copied; set the route's key and copy again")]
struct KeyColumnGone {
    table: String,
}

impl sluice_api::HasErrorKind for KeyColumnGone {
    fn kind(&self) -> sluice_api::ErrorKind {
        sluice_api::ErrorKind::Config
    }
}

impl SnapshotReader for AnyReader {
    async fn describe(&mut self, table: &TableName) -> Result<Option<Arc<TableSchema>>, ConnectorError> {
        match self {
            AnyReader::Postgres(r) => SnapshotReader::describe(r, table).await,
            AnyReader::Mysql(r) => SnapshotReader::describe(r, table).await,
        }
    }

    async fn has_null_key(&mut self, schema: &TableSchema, key: &[usize]) -> Result<bool, ConnectorError> {
        match self {
            AnyReader::Postgres(r) => SnapshotReader::has_null_key(r, schema, key).await,
            AnyReader::Mysql(r) => SnapshotReader::has_null_key(r, schema, key).await,
        }
    }

    async fn estimate_rows(&mut self, schema: &TableSchema) -> Result<u64, ConnectorError> {
        match self {
            AnyReader::Postgres(r) => SnapshotReader::estimate_rows(r, schema).await,
            AnyReader::Mysql(r) => SnapshotReader::estimate_rows(r, schema).await,
        }
    }

    async fn next_boundary(
        &mut self,
        schema: &TableSchema,
        key: &[usize],
        after: Option<&[Value]>,
        chunk_rows: usize,
        filter: Option<&str>,
    ) -> Result<Option<Vec<Value>>, ConnectorError> {
        match self {
            AnyReader::Postgres(r) => SnapshotReader::next_boundary(r, schema, key, after, chunk_rows, filter).await,
            AnyReader::Mysql(r) => SnapshotReader::next_boundary(r, schema, key, after, chunk_rows, filter).await,
        }
    }

    async fn read_chunk(
        &mut self,
        schema: &Arc<TableSchema>,
        key: &[usize],
        range: &ChunkRange,
        filter: Option<&str>,
    ) -> Result<ChunkRead, ConnectorError> {
        match self {
            AnyReader::Postgres(r) => SnapshotReader::read_chunk(r, schema, key, range, filter).await,
            AnyReader::Mysql(r) => SnapshotReader::read_chunk(r, schema, key, range, filter).await,
        }
    }

    async fn read_view(&mut self) -> Result<ReadView, ConnectorError> {
        match self {
            AnyReader::Postgres(r) => SnapshotReader::read_view(r).await,
            AnyReader::Mysql(r) => SnapshotReader::read_view(r).await,
        }
    }
}
