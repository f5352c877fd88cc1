//! What the system catalog says about source tables and column types, read
//! over an ordinary connection.
//!
//! Built-in types are resolved by `types::builtin_column_type` without a
//! query. Anything else is looked up in `pg_type`: enums (`typtype 'e'`,
//! labels in `enumsortorder`), domains (`'d'`, resolved to their base type
//! with the domain's type modifier), arrays (`typcategory 'A'`, element via
//! `typelem`), and everything else becomes `ColumnType::Other`, whose values
//! travel as `Value::Raw` text. Results are cached by OID and type modifier;
//! the replication stream drops a type's entries when the server announces
//! it again (a pgoutput Type message precedes the Relation that uses it).
//!
//! [`describe_source_table`] is the same view of a table that the stream
//! builds from Relation messages, for `sluice check` and the sink's planning.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use sluice_api::{Column, ColumnType, TableName, TableSchema};
use tokio_postgres::Client;

use crate::error::PostgresError;
use crate::types::builtin_column_type;

/// Nesting allowed for domains over domains over arrays …
const MAX_TYPE_DEPTH: u32 = 8;

/// A resolved column type: the engine-neutral type and the display name
/// with modifiers (`numeric(12,2)`, `mood`, `text[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedType {
    pub(crate) column_type: ColumnType,
    pub(crate) type_name: String,
}

/// Resolves type OIDs, caching catalog answers.
#[derive(Default)]
pub(crate) struct TypeResolver {
    cache: HashMap<(u32, i32), ResolvedType>,
}

impl TypeResolver {
    /// Forgets everything known about `oid` (its definition may have changed).
    pub(crate) fn forget(&mut self, oid: u32) {
        self.cache.retain(|(cached, _), _| *cached != oid);
    }

    pub(crate) async fn resolve(
        &mut self,
        client: &Client,
        oid: u32,
        type_modifier: i32,
    ) -> Result<ResolvedType, PostgresError> {
        self.resolve_at(client, oid, type_modifier, 0).await
    }

    fn resolve_at<'a>(
        &'a mut self,
        client: &'a Client,
        oid: u32,
        type_modifier: i32,
        depth: u32,
    ) -> Pin<Box<dyn Future<Output = Result<ResolvedType, PostgresError>> + Send + 'a>> {
        Box::pin(async move {
            if let Some((column_type, type_name)) = builtin_column_type(oid, type_modifier) {
                return Ok(ResolvedType { column_type, type_name });
            }
            if let Some(cached) = self.cache.get(&(oid, type_modifier)) {
                return Ok(cached.clone());
            }
            if depth > MAX_TYPE_DEPTH {
                return Err(PostgresError::Config {
                    setting: "column type".into(),
                    message: format!("Type OID {oid} nests domains/arrays deeper than {MAX_TYPE_DEPTH} levels"),
                });
            }
            let row = client
                .query_opt(
                    "SELECT t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype, t.typtypmod, \
                            format_type(t.oid, $2), format_type(t.oid, NULL), \
                            ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                                  WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) \
                     FROM pg_catalog.pg_type t WHERE t.oid = $1",
                    &[&oid, &type_modifier],
                )
                .await
                .map_err(|e| PostgresError::query(format!("looking up type OID {oid}"), e))?;
            let Some(row) = row else {
                // Dropped since the change was written: keep the text as is.
                return Ok(ResolvedType {
                    column_type: ColumnType::Other { name: format!("oid {oid}") },
                    type_name: format!("oid {oid}"),
                });
            };
            let typtype: String = row.get(0);
            let category: String = row.get(1);
            let element: u32 = row.get(2);
            let base: u32 = row.get(3);
            let base_modifier: i32 = row.get(4);
            let type_name: String = row.get(5);
            let plain_name: String = row.get(6);
            let labels: Vec<String> = row.get(7);
            let column_type = match typtype.as_str() {
                "e" => ColumnType::Enum { labels },
                "d" => self.resolve_at(client, base, base_modifier, depth + 1).await?.column_type,
                _ if category == "A" && element != 0 => {
                    // An array's typmod applies to its elements (varchar(10)[]).
                    let element = self.resolve_at(client, element, type_modifier, depth + 1).await?;
                    ColumnType::Array(Box::new(element.column_type))
                }
                _ => ColumnType::Other { name: plain_name },
            };
            let resolved = ResolvedType { column_type, type_name };
            self.cache.insert((oid, type_modifier), resolved.clone());
            Ok(resolved)
        })
    }
}

/// Names of the primary key columns of a relation, in key order.
pub(crate) async fn primary_key_columns(client: &Client, relation: u32) -> Result<Vec<String>, PostgresError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_catalog.pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord",
            &[&relation],
        )
        .await
        .map_err(|e| PostgresError::query(format!("reading the primary key of relation {relation}"), e))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// A table's replica identity: `'d'` default (primary key), `'f'` full,
/// `'i'` index, `'n'` nothing; `None` when the table does not exist.
pub async fn replica_identity(client: &Client, table: &TableName) -> Result<Option<char>, PostgresError> {
    Ok(table_identity(client, table).await?.map(|(_, identity)| identity))
}

async fn table_identity(client: &Client, table: &TableName) -> Result<Option<(u32, char)>, PostgresError> {
    let row = client
        .query_opt(
            "SELECT c.oid, c.relreplident::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
            &[&table.schema, &table.name],
        )
        .await
        .map_err(|e| PostgresError::query(format!("looking up table {table}"), e))?;
    Ok(row.map(|row| {
        let identity: String = row.get(1);
        (row.get(0), identity.chars().next().unwrap_or('d'))
    }))
}

/// Describes a source table as the replication stream will: columns in
/// `attnum` order without dropped and generated columns (pgoutput sends
/// neither), types resolved like the stream resolves them, and `is_key` from
/// the primary key — or from the replica identity index when the table uses
/// `REPLICA IDENTITY USING INDEX`. With `REPLICA IDENTITY FULL` and no
/// primary key, no column is key. `None` when the table does not exist.
pub async fn describe_source_table(client: &Client, table: &TableName) -> Result<Option<TableSchema>, PostgresError> {
    let Some((oid, identity)) = table_identity(client, table).await? else {
        return Ok(None);
    };
    let key_filter = if identity == 'i' { "i.indisreplident" } else { "i.indisprimary" };
    let full_before_image = identity == 'f';
    let rows = client
        .query(
            &format!(
                "SELECT a.attname::text, a.atttypid, a.atttypmod, \
                        EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
                                WHERE i.indrelid = a.attrelid AND {key_filter} AND a.attnum = ANY (i.indkey)) \
                 FROM pg_catalog.pg_attribute a \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \
                 ORDER BY a.attnum"
            ),
            &[&oid],
        )
        .await
        .map_err(|e| PostgresError::query(format!("reading the columns of {table}"), e))?;
    let mut resolver = TypeResolver::default();
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let type_id: u32 = row.get(1);
        let type_modifier: i32 = row.get(2);
        let resolved = resolver.resolve(client, type_id, type_modifier).await?;
        columns.push(Column {
            name: row.get(0),
            column_type: resolved.column_type,
            type_name: resolved.type_name,
            type_id,
            type_modifier,
            is_key: row.get(3),
        });
    }
    Ok(Some(TableSchema { id: u64::from(oid), name: table.clone(), columns, full_before_image }))
}
