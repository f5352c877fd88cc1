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
//!
//! # Names compare the way the server compares them
//!
//! `lower_case_table_names` decides how the server matches database and
//! table names: 0 (the Linux default) as written, case-sensitively; 1 it
//! stores them lowercase and lowercases every name in a statement; 2 it
//! stores them as created and compares lowercase. The binlog's table maps
//! carry the stored name (`orders` under 1, whatever a DDL said). Routes
//! follow the server: with 1 or 2 a route `crm.Orders` matches the binlog's
//! `crm.orders` (and a DDL's `CRM.ORDERS`), with 0 it matches only
//! `crm.Orders`. Changes are emitted under the route's own spelling, which
//! is what the engine looks routes up by. (MySQL folds with the file-system
//! character set's lowercase mapping; Sluice folds Unicode lowercase, which
//! agrees for every name a server stores.)

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::Conn;
use sluice_api::{TableName, TableSchema};

use super::catalog::{self, Collations, TableExtras};
use super::schema::{self, RoutedTable};
use super::table_map;
pub(crate) use crate::connect::NameCase;
use crate::error::MySqlError;

/// Schemas never routed when the configuration lists no tables.
const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// Which tables the source emits changes for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Routes {
    /// The server's comparison key of each routed table → the route's spelling.
    tables: HashMap<TableName, TableName>,
    case: NameCase,
}

impl Routes {
    /// Empty `tables`: every table outside the system schemas.
    pub(crate) fn new(tables: impl IntoIterator<Item = TableName>, case: NameCase) -> Routes {
        Routes { tables: tables.into_iter().map(|table| (case.key(&table), table)).collect(), case }
    }

    /// The route's spelling of `table` (as the binlog or a statement names
    /// it), if routed; with no routes configured, the name itself.
    pub(crate) fn resolve(&self, table: &TableName) -> Option<TableName> {
        if self.tables.is_empty() {
            let system = SYSTEM_SCHEMAS.contains(&table.schema.to_ascii_lowercase().as_str());
            return (!system).then(|| table.clone());
        }
        self.tables.get(&self.case.key(table)).cloned()
    }

    pub(crate) fn contains(&self, table: &TableName) -> bool {
        self.resolve(table).is_some()
    }

    /// The server's comparison key of a name.
    pub(crate) fn key(&self, table: &TableName) -> TableName {
        self.case.key(table)
    }

    /// Routed tables of a schema (for `DROP DATABASE`).
    pub(crate) fn in_schema(&self, schema: &str) -> Vec<TableName> {
        self.tables.values().filter(|t| self.case.same(&t.schema, schema)).cloned().collect()
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
    /// Connection for information_schema lookups while streaming (`None`
    /// only in unit tests that script the stream with known tables).
    catalog: Option<Conn>,
    ids: HashMap<u64, Entry>,
    /// By the server's comparison key (`Routes::key`).
    extras: HashMap<TableName, TableExtras>,
    /// The latest schema of each routed table (for TRUNCATE), by comparison key.
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
            catalog: Some(catalog),
            ids: HashMap::new(),
            extras: HashMap::new(),
            latest: HashMap::new(),
        }
    }

    /// Handles a TABLE_MAP body; routed tables are (re)built when their map changed.
    pub(crate) async fn table_map(&mut self, body: &[u8], id_size: usize) -> Result<(), MySqlError> {
        let (header, _) = table_map::parse_header(body, id_size)?;
        let name = TableName::new(header.schema, header.table);
        let Some(routed_as) = self.routes.resolve(&name) else {
            self.ids.insert(header.table_id, Entry::Unrouted);
            return Ok(());
        };
        if let Some(Entry::Routed { body: known, .. }) = self.ids.get(&header.table_id)
            && known.as_slice() == body
        {
            return Ok(());
        }
        let map = table_map::parse(body, id_size)?;
        let key = self.routes.key(&name);
        if !self.extras.contains_key(&key) {
            // information_schema is asked by the name the server stores.
            let mariadb = self.mariadb;
            let extras = catalog::table_extras(self.catalog()?, &name, mariadb).await?;
            self.extras.insert(key.clone(), extras);
        }
        let mut table = schema::build(&map, &self.collations, &self.extras[&key])?;
        if routed_as != name {
            Arc::make_mut(&mut table.schema).name = routed_as;
        }
        tracing::debug!(table = %name, table_id = header.table_id, columns = table.cells.len(), "table map of a routed table");
        self.latest.insert(key, Arc::clone(&table.schema));
        self.ids.insert(header.table_id, Entry::Routed { body: body.to_vec(), table: Arc::new(table) });
        Ok(())
    }

    fn catalog(&mut self) -> Result<&mut Conn, MySqlError> {
        self.catalog.as_mut().ok_or_else(|| MySqlError::Protocol {
            what: "table description",
            reason: "no catalog connection to describe a table with".into(),
        })
    }

    /// Tables without a catalog connection whose information_schema extras
    /// are given (unit tests scripting a stream).
    #[cfg(test)]
    pub(crate) fn scripted(
        routes: Routes,
        collations: Collations,
        extras: impl IntoIterator<Item = (TableName, TableExtras)>,
    ) -> Tables {
        let extras = extras.into_iter().map(|(name, extras)| (routes.key(&name), extras)).collect();
        Tables {
            routes,
            mariadb: false,
            collations,
            catalog: None,
            ids: HashMap::new(),
            extras,
            latest: HashMap::new(),
        }
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
        let key = self.routes.key(table);
        self.extras.remove(&key);
        let routes = &self.routes;
        self.ids
            .retain(|_, entry| !matches!(entry, Entry::Routed { table: t, .. } if routes.key(&t.schema.name) == key));
    }

    /// Forgets every table id (a new binlog file: ids are rebound before use).
    pub(crate) fn forget_ids(&mut self) {
        self.ids.clear();
    }

    /// The schema to attach to a TRUNCATE: the latest seen, else
    /// information_schema's, else a schema without columns (the table is gone).
    pub(crate) async fn schema_for_truncate(&mut self, table: &TableName) -> Result<Arc<TableSchema>, MySqlError> {
        let key = self.routes.key(table);
        if let Some(schema) = self.latest.get(&key) {
            return Ok(Arc::clone(schema));
        }
        let routed_as = self.routes.resolve(table).unwrap_or_else(|| table.clone());
        let described = catalog::describe_source_table(self.catalog()?, &routed_as).await?;
        let schema = Arc::new(described.unwrap_or_else(|| TableSchema {
            id: 0,
            name: routed_as,
            columns: Vec::new(),
            full_before_image: true,
        }));
        self.latest.insert(key, Arc::clone(&schema));
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exactly_and_empty_routes_skip_system_schemas() {
        let routes = Routes::new([TableName::new("shop", "orders")], NameCase::of(0));
        assert!(routes.contains(&TableName::new("shop", "orders")));
        assert!(!routes.contains(&TableName::new("shop", "Orders")));
        assert!(!routes.contains(&TableName::new("SHOP", "orders")));
        assert_eq!(routes.in_schema("shop"), vec![TableName::new("shop", "orders")]);
        assert!(routes.in_schema("Shop").is_empty());
        let all = Routes::new([], NameCase::of(0));
        assert!(all.contains(&TableName::new("shop", "orders")));
        assert!(!all.contains(&TableName::new("mysql", "gtid_slave_pos")));
        assert!(!all.contains(&TableName::new("MySQL", "user")));
    }

    #[test]
    fn case_insensitive_servers_match_routes_in_any_case_under_the_routes_spelling() {
        for lower_case_table_names in [1, 2] {
            let routes = Routes::new([TableName::new("Crm", "Orders")], NameCase::of(lower_case_table_names));
            let route = Some(TableName::new("Crm", "Orders"));
            assert_eq!(routes.resolve(&TableName::new("crm", "orders")), route, "the binlog's stored name");
            assert_eq!(routes.resolve(&TableName::new("CRM", "ORDERS")), route, "a DDL's spelling");
            assert_eq!(routes.resolve(&TableName::new("crm", "order")), None);
            assert_eq!(routes.key(&TableName::new("CRM", "Orders")), TableName::new("crm", "orders"));
            assert_eq!(routes.in_schema("crm"), vec![TableName::new("Crm", "Orders")]);
            // Non-ASCII names fold too.
            let routes = Routes::new([TableName::new("Ärger", "Übersicht")], NameCase::of(lower_case_table_names));
            assert!(routes.contains(&TableName::new("ärger", "übersicht")));
        }
    }
}
