//! The PostgreSQL sink against a real server: batching, idempotence under
//! replay, unchanged TOAST columns, transactions and the offsets table,
//! target validation, every type end to end, snapshot chunks loaded by
//! `COPY` with the fallback to upserts, insert-only columns and patches,
//! inserts returning the target's value, savepoints, reads of Sluice's own
//! tables and their creation.

mod all_types;
mod apply;
mod errors;
mod insert_only;
mod load;
mod owned;
mod returning;
mod savepoints;
mod transactions;

use std::sync::Arc;

use sluice_api::{RowWrite, TargetTable, Value};
use sluice_postgres::{PostgresSink, PostgresSinkConfig};
use sluice_testkit::{PgServer, TestDatabase};
use tokio_postgres::Client;

/// A fresh database with a sink on it and a superuser client to inspect it.
pub struct Target {
    pub database: TestDatabase,
    pub client: Client,
    pub sink: PostgresSink,
}

impl Target {
    /// Creates the database, runs `ddl`, then connects the sink.
    pub async fn new(prefix: &str, ddl: &str) -> Target {
        Target::with_config(prefix, ddl, |_| {}).await
    }

    pub async fn with_config(prefix: &str, ddl: &str, adjust: impl FnOnce(&mut PostgresSinkConfig)) -> Target {
        let database = PgServer::shared().create_database(prefix).await;
        let client = database.connect().await;
        client.batch_execute(ddl).await.unwrap();
        let mut config = PostgresSinkConfig::new(database.url());
        adjust(&mut config);
        let sink = PostgresSink::connect(config).await.unwrap();
        Target { database, client, sink }
    }

    /// The position text the offsets table holds for `pipeline`.
    pub async fn stored_position(&self, pipeline: &str) -> String {
        self.client
            .query_one("SELECT position FROM sluice.offsets WHERE pipeline = $1", &[&pipeline])
            .await
            .unwrap()
            .get(0)
    }

    /// Every row of `table` with each cell as text, ordered by the first column.
    pub async fn rows(&self, table: &str) -> Vec<Vec<Option<String>>> {
        let casts: String = self
            .client
            .query_one(
                "SELECT string_agg(quote_ident(attname) || '::text', ', ' ORDER BY attnum) FROM pg_attribute \
                 WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        let rows = self.client.query(&format!("SELECT {casts} FROM {table} ORDER BY 1"), &[]).await.unwrap();
        rows.iter().map(|row| (0..row.len()).map(|i| row.get::<_, Option<String>>(i)).collect()).collect()
    }
}

/// A route target `public.<name>` with these columns; the key is the first `key_len`.
pub fn table(name: &str, columns: &[&str], key_len: usize) -> Arc<TargetTable> {
    Arc::new(TargetTable {
        schema: "public".into(),
        name: name.into(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        key: (0..key_len).collect(),
        insert_only: vec![],
    })
}

pub fn upsert(table: &Arc<TargetTable>, values: Vec<Value>) -> RowWrite {
    RowWrite::Upsert { table: Arc::clone(table), values }
}

/// The same table with these columns (indices) insert-only.
pub fn insert_only(table: &Arc<TargetTable>, columns: &[usize]) -> Arc<TargetTable> {
    Arc::new(TargetTable { insert_only: columns.to_vec(), ..table.as_ref().clone() })
}

pub fn patch(table: &Arc<TargetTable>, values: Vec<Value>) -> RowWrite {
    RowWrite::Patch { table: Arc::clone(table), values }
}

pub fn delete(table: &Arc<TargetTable>, key: Vec<Value>) -> RowWrite {
    RowWrite::Delete { table: Arc::clone(table), key }
}

pub fn truncate(table: &Arc<TargetTable>) -> RowWrite {
    RowWrite::Truncate { table: Arc::clone(table) }
}

pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Expected rows written as text cells.
pub fn expect(rows: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    rows.iter().map(|row| row.iter().map(|c| c.map(str::to_owned)).collect()).collect()
}
