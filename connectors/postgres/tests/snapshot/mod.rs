//! The snapshot reader against private PostgreSQL servers: chunk values
//! equal what the replication stream decodes for the same rows, boundaries
//! and ranges cover every row exactly once, the read view tells which
//! transactions a chunk saw, and the decode rate.

mod chunks;
mod rate;
mod values;
mod view;

use sluice_api::{ChunkRange, TableName, TableSchema, Value};
use sluice_postgres::PostgresSnapshotReader;
use std::sync::Arc;

/// A reader on `url` and the described schema of `table` (`schema.name`).
pub async fn reader_for(url: &str, table: &str) -> (PostgresSnapshotReader, Arc<TableSchema>) {
    let mut reader = PostgresSnapshotReader::connect(url).await.expect("the reader connects");
    let name = TableName::parse(table).expect("schema.table");
    let schema = reader.describe(&name).await.expect("describe works").expect("the table exists");
    (reader, schema)
}

/// Reads the whole table chunk by chunk (`chunk_rows` per chunk), checking
/// that every bounded chunk holds exactly `chunk_rows` rows and ends at its
/// boundary; returns the rows in the order read.
pub async fn read_all(
    reader: &mut PostgresSnapshotReader,
    schema: &Arc<TableSchema>,
    key: &[usize],
    chunk_rows: usize,
    filter: Option<&str>,
) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let through = reader.next_boundary(schema, key, after.as_deref(), chunk_rows, filter).await.unwrap();
        let range = ChunkRange { after: after.clone(), through: through.clone() };
        let chunk = reader.read_chunk(schema, key, &range, filter).await.unwrap();
        if let Some(through) = &through {
            assert_eq!(chunk.rows.len(), chunk_rows, "a bounded chunk holds chunk_rows rows");
            let last: Vec<Value> = key.iter().map(|&k| chunk.rows.last().unwrap()[k].clone()).collect();
            assert_eq!(&last, through, "a chunk ends at its boundary");
        } else {
            assert!(chunk.rows.len() <= chunk_rows, "the last chunk holds what is left");
        }
        rows.extend(chunk.rows);
        match through {
            Some(through) => after = Some(through),
            None => return rows,
        }
    }
}
