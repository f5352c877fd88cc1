//! The stream's view of tables: routing, the table-id cache and the
//! information_schema extras cache.
//!
//! Every transaction's rows events are preceded by TABLE_MAP events that
//! bind a table id to a table; a table keeps its id until it is altered,
//! flushed or the server restarts, and the same table map (byte for byte)
//! repeats in every transaction. So routed tables are built once per
//! distinct table map (`schema.rs`) and unrouted ones are only remembered
//! as such, which lets their rows events be skipped without decoding.
//!
//! information_schema is asked once per routed table, and again after a
//! DDL statement names the table (`ddl.rs`); the next table map then
//! rebuilds the schema with the new columns.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mysql_async::Conn;
use sluice_api::{TableName, TableSchema};

use super::catalog::{self, Collations, TableExtras};
use super::schema::{self, RoutedTable};
use super::table_map;
use crate::error::MySqlError;

/// Schemas never routed when the configuration lists no tables.
const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// Which tables the source emits changes for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Routes {
    tables: HashSet<TableName>,
}

impl Routes {
    /// Empty `tables`: every table outside the system schemas.
    pub(crate) fn new(tables: impl IntoIterator<Item = TableName>) -> Routes {
        Routes { tables: tables.into_iter().collect() }
    }

    pub(crate) fn contains(&self, table: &TableName) -> bool {
        if self.tables.is_empty() {
            return !SYSTEM_SCHEMAS.contains(&table.schema.to_ascii_lowercase().as_str());
        }
        self.tables.contains(table)
    }

    /// Routed tables of a schema (for `DROP DATABASE`).
    pub(crate) fn in_schema(&self, schema: &str) -> Vec<TableName> {
        self.tables.iter().filter(|t| t.schema == schema).cloned().collect()
    }
}

enum Entry {
    Unrouted,
    Routed { body: Vec<u8>, table: Arc<RoutedTable> },
}

/// Table ids and routed-table descriptions seen on the stream.
pub(crate) struct Tables {
    pub(crate) routes: Routes,
    mariadb: bool,
    collations: Collations,
    /// Connection for information_schema lookups while streaming.
    catalog: Conn,
    ids: HashMap<u64, Entry>,
    extras: HashMap<TableName, TableExtras>,
    /// The latest schema of each routed table (for TRUNCATE).
    latest: HashMap<TableName, Arc<TableSchema>>,
}

/// What a rows event's table id refers to.
pub(crate) enum Lookup {
    Unknown,
    Unrouted,
    Routed(Arc<RoutedTable>),
}

impl Tables {
    pub(crate) fn new(routes: Routes, mariadb: bool, collations: Collations, catalog: Conn) -> Tables {
        Tables {
            routes,
            mariadb,
            collations,
            catalog,
            ids: HashMap::new(),
            extras: HashMap::new(),
            latest: HashMap::new(),
        }
    }

    /// Handles a TABLE_MAP body; routed tables are (re)built when their map changed.
    pub(crate) async fn table_map(&mut self, body: &[u8], id_size: usize) -> Result<(), MySqlError> {
        let (header, _) = table_map::parse_header(body, id_size)?;
        let name = TableName::new(header.schema, header.table);
        if !self.routes.contains(&name) {
            self.ids.insert(header.table_id, Entry::Unrouted);
            return Ok(());
        }
        if let Some(Entry::Routed { body: known, .. }) = self.ids.get(&header.table_id)
            && known.as_slice() == body
        {
            return Ok(());
        }
        let map = table_map::parse(body, id_size)?;
        if !self.extras.contains_key(&name) {
            let extras = catalog::table_extras(&mut self.catalog, &name, self.mariadb).await?;
            self.extras.insert(name.clone(), extras);
        }
        let table = schema::build(&map, &self.collations, &self.extras[&name])?;
        tracing::debug!(table = %name, table_id = header.table_id, columns = table.cells.len(), "table map of a routed table");
        self.latest.insert(name, Arc::clone(&table.schema));
        self.ids.insert(header.table_id, Entry::Routed { body: body.to_vec(), table: Arc::new(table) });
        Ok(())
    }

    pub(crate) fn lookup(&self, table_id: u64) -> Lookup {
        match self.ids.get(&table_id) {
            None => Lookup::Unknown,
            Some(Entry::Unrouted) => Lookup::Unrouted,
            Some(Entry::Routed { table, .. }) => Lookup::Routed(Arc::clone(table)),
        }
    }

    /// Forgets what is known about tables a DDL statement changed.
    pub(crate) fn forget(&mut self, table: &TableName) {
        self.extras.remove(table);
        self.ids.retain(|_, entry| !matches!(entry, Entry::Routed { table: t, .. } if t.schema.name == *table));
    }

    /// Forgets every table id (a new binlog file: ids are rebound before use).
    pub(crate) fn forget_ids(&mut self) {
        self.ids.clear();
    }

    /// The schema to attach to a TRUNCATE: the latest seen, else
    /// information_schema's, else a schema without columns (the table is gone).
    pub(crate) async fn schema_for_truncate(&mut self, table: &TableName) -> Result<Arc<TableSchema>, MySqlError> {
        if let Some(schema) = self.latest.get(table) {
            return Ok(Arc::clone(schema));
        }
        let described = catalog::describe_source_table(&mut self.catalog, table).await?;
        let schema = Arc::new(described.unwrap_or_else(|| TableSchema {
            id: 0,
            name: table.clone(),
            columns: Vec::new(),
            full_before_image: true,
        }));
        self.latest.insert(table.clone(), Arc::clone(&schema));
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exactly_and_empty_routes_skip_system_schemas() {
        let routes = Routes::new([TableName::new("shop", "orders")]);
        assert!(routes.contains(&TableName::new("shop", "orders")));
        assert!(!routes.contains(&TableName::new("shop", "Orders")));
        assert_eq!(routes.in_schema("shop"), vec![TableName::new("shop", "orders")]);
        let all = Routes::new([]);
        assert!(all.contains(&TableName::new("shop", "orders")));
        assert!(!all.contains(&TableName::new("mysql", "gtid_slave_pos")));
    }
}
