//! The snapshot reader against real MariaDB servers: chunk values equal the
//! stream's values for every type, boundaries and ranges cover every row
//! exactly once (composite keys, filters, keys of many types), and each
//! read's view tells the transactions it saw from those it did not.

mod ranges;
mod speed;
mod values;
mod view;

use std::sync::Arc;

use sluice_api::{ChunkRange, Row, TableName, TableSchema, Value};
use sluice_mysql::MySqlSnapshotReader;
use sluice_testkit::TestMariaDb;

pub use crate::source::{config, execute, next_transaction, start};

pub async fn reader(database: &TestMariaDb) -> MySqlSnapshotReader {
    MySqlSnapshotReader::connect(&database.url()).await.expect("the snapshot reader connects")
}

/// The described schema of `table` in the test database.
pub async fn describe(reader: &mut MySqlSnapshotReader, database: &TestMariaDb, table: &str) -> Arc<TableSchema> {
    reader.describe(&TableName::new(database.name.clone(), table)).await.unwrap().expect("the table exists")
}

/// Every row of the table in one chunk, by its described key.
pub async fn read_all(reader: &mut MySqlSnapshotReader, schema: &Arc<TableSchema>) -> Vec<Row> {
    reader.read_chunk(schema, &schema.key_indices(), &ChunkRange::default(), None).await.unwrap().rows
}

/// Reads the whole table chunk by chunk, as the engine walks it: each
/// chunk ends at the boundary found after the previous one.
pub async fn walk(
    reader: &mut MySqlSnapshotReader,
    schema: &Arc<TableSchema>,
    key: &[usize],
    chunk_rows: usize,
    filter: Option<&str>,
) -> Vec<Vec<Row>> {
    let mut chunks = Vec::new();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let through = reader.next_boundary(schema, key, after.as_deref(), chunk_rows, filter).await.unwrap();
        let range = ChunkRange { after: after.clone(), through: through.clone() };
        let chunk = reader.read_chunk(schema, key, &range, filter).await.unwrap();
        if let Some(through) = &through {
            assert_eq!(chunk.rows.len(), chunk_rows, "a bounded chunk holds chunk_rows rows");
            let last: Vec<Value> = key.iter().map(|&k| chunk.rows.last().unwrap()[k].clone()).collect();
            assert_eq!(&last, through, "a bounded chunk ends at its boundary");
        } else {
            assert!(chunk.rows.len() <= chunk_rows);
        }
        chunks.push(chunk.rows);
        match through {
            Some(through) => after = Some(through),
            None => return chunks,
        }
        assert!(chunks.len() < 10_000, "the walk does not end");
    }
}
