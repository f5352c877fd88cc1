//! Routes: how a change in a source table becomes writes in a target table.
//!
//! A [`Route`] is resolved twice. At start, against the target table's
//! shape (its columns and keys), so a mapping that cannot work is a config
//! error before anything streams. Then for every source schema the stream
//! delivers (a new one after each ADD/DROP COLUMN), into a [`ResolvedRoute`]:
//! for each target column, the index of the source column feeding it, and
//! the key. A source column added mid-stream that the target lacks stops the
//! route with an error naming the column — never a silent drop.
//!
//! Mapping rules: a source insert is an upsert; an update is an upsert of
//! the new image, preceded by a delete of the old key when the key changed;
//! a delete deletes by key; a truncate truncates. `Value::Unchanged` cells
//! pass through untouched so the sink leaves those target columns alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_api::{Change, Operation, RowWrite, TableSchema, TargetTable, Value};

use crate::config::{RouteConfig, ZeroDates};

/// Why a route cannot map a change; always names the route.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("Route {route}: {message}")]
    Config { route: String, message: String },
    #[error("Route {route}: source table {table}: {message}")]
    Data { route: String, table: String, message: String },
    /// A source column has no target column of its name: the target may
    /// have been altered since it was described, so the caller describes it
    /// again once before giving up.
    #[error("Route {route}: {message}")]
    TargetColumnMissing { route: String, message: String },
}

/// The target table's shape as the sink describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetShape {
    pub columns: Vec<String>,
    pub primary_key: Vec<String>,
    pub unique_keys: Vec<Vec<String>>,
}

/// A route with its target shape, ready to resolve source schemas.
#[derive(Debug)]
pub struct Route {
    pub config: RouteConfig,
    target_shape: TargetShape,
    /// The source primary key from the catalog, when known; the default
    /// key when the stream's identity columns are the whole row (REPLICA IDENTITY FULL).
    source_primary_key: Vec<String>,
    resolved: Option<(Arc<TableSchema>, Arc<ResolvedRoute>)>,
}

/// A route resolved against one source schema.
#[derive(Debug)]
pub struct ResolvedRoute {
    pub target: Arc<TargetTable>,
    /// For each target column, the source column index feeding it.
    pub sources: Vec<usize>,
    /// Source column indices of the key, aligned with `target.key`.
    pub key_sources: Vec<usize>,
    /// No source column feeds two target columns (cells may be moved).
    pub sources_unique: bool,
}

impl Route {
    /// Checks the route's static mapping against the target's shape.
    pub fn new(
        config: RouteConfig,
        target_shape: TargetShape,
        source_primary_key: Vec<String>,
    ) -> Result<Route, RouteError> {
        let route = Route { config, target_shape, source_primary_key, resolved: None };
        for target_column in route.config.columns.keys() {
            if !route.target_shape.columns.contains(target_column) {
                return Err(route.config_error(format!(
                    "[routes.columns] maps into column {target_column:?}, which target table {} does not have",
                    route.config.into
                )));
            }
        }
        if let Some(key) = &route.config.key {
            for column in key {
                if !route.target_shape.columns.contains(column) {
                    return Err(route.config_error(format!(
                        "key column {column:?} is not a column of target table {}",
                        route.config.into
                    )));
                }
            }
        }
        Ok(route)
    }

    /// Replaces the target table's shape (after the DBA altered it) and
    /// forgets the cached resolution.
    pub fn set_target_shape(&mut self, shape: TargetShape) {
        self.target_shape = shape;
        self.resolved = None;
    }

    fn config_error(&self, message: String) -> RouteError {
        RouteError::Config { route: self.config.name.clone(), message }
    }

    /// The resolution for `schema`, computed once per schema version.
    pub fn resolve(&mut self, schema: &Arc<TableSchema>) -> Result<Arc<ResolvedRoute>, RouteError> {
        if let Some((known, resolved)) = &self.resolved
            && (Arc::ptr_eq(known, schema) || **known == **schema)
        {
            return Ok(Arc::clone(resolved));
        }
        let resolved = Arc::new(self.resolve_uncached(schema)?);
        self.resolved = Some((Arc::clone(schema), Arc::clone(&resolved)));
        Ok(resolved)
    }

    fn resolve_uncached(&self, schema: &TableSchema) -> Result<ResolvedRoute, RouteError> {
        let config = &self.config;
        let mut pairs: BTreeMap<String, usize> = BTreeMap::new();
        for (target_column, source_column) in &config.columns {
            let index = schema.column_index(source_column).ok_or_else(|| {
                self.config_error(format!(
                    "[routes.columns] {target_column} = {source_column:?}: source table {} has no column {source_column:?}",
                    schema.name
                ))
            })?;
            pairs.insert(target_column.clone(), index);
        }
        let explicitly_mapped: Vec<&String> = config.columns.values().collect();
        for (index, column) in schema.columns.iter().enumerate() {
            if explicitly_mapped.contains(&&column.name) || config.exclude.contains(&column.name) {
                continue;
            }
            if !self.target_shape.columns.contains(&column.name) {
                return Err(RouteError::TargetColumnMissing {
                    route: self.config.name.clone(),
                    message: format!(
                        "source column {}.{} has no column of the same name in target table {}; add it to the target, \
                     map it in [routes.columns], or list it in `exclude`",
                        schema.name, column.name, config.into
                    ),
                });
            }
            pairs.entry(column.name.clone()).or_insert(index);
        }

        // The key, in target column names.
        let source_to_target = |source_name: &str| config.targets_of(source_name).first().map(|t| (*t).to_owned());
        let identity: Vec<&str> = schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.as_str()).collect();
        let key_targets: Vec<String> = match &config.key {
            Some(key) => key.clone(),
            None => {
                let source_key: Vec<String> = if !self.source_primary_key.is_empty() {
                    self.source_primary_key.clone()
                } else if !identity.is_empty() {
                    identity.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    return Err(self.config_error(format!(
                        "source table {} has no primary key; set `key = [..]` on the route (target columns that \
                         identify a row)",
                        schema.name
                    )));
                };
                source_key
                    .iter()
                    .map(|s| {
                        source_to_target(s).ok_or_else(|| {
                            self.config_error(format!("source key column {s:?} is excluded; set `key` on the route"))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let mut key_sources = Vec::with_capacity(key_targets.len());
        for target_column in &key_targets {
            let index = *pairs.get(target_column).ok_or_else(|| {
                self.config_error(format!("key column {target_column:?} is not fed by any source column"))
            })?;
            // Deletes and key changes carry only the identity columns in the
            // old image (unless REPLICA IDENTITY FULL): a key outside them
            // could not find the target row.
            if !schema.full_before_image && !schema.columns[index].is_key {
                return Err(self.config_error(format!(
                    "key column {target_column:?} comes from source column {:?}, which is not part of the replica \
                     identity of {}; deletes could not find the row. Use the primary key, or run \
                     ALTER TABLE {} REPLICA IDENTITY FULL",
                    schema.columns[index].name, schema.name, schema.name
                )));
            }
            key_sources.push(index);
        }

        // Target columns in the target's own order (stable statements).
        let mut columns = Vec::new();
        let mut sources = Vec::new();
        for name in &self.target_shape.columns {
            if let Some(&index) = pairs.get(name) {
                columns.push(name.clone());
                sources.push(index);
            }
        }
        let key = key_targets
            .iter()
            .map(|k| columns.iter().position(|c| c == k).expect("key columns are mapped columns"))
            .collect();
        let target = Arc::new(TargetTable::new(config.into.schema.clone(), config.into.name.clone(), columns, key));
        let mut seen = sources.clone();
        seen.sort_unstable();
        seen.dedup();
        let sources_unique = seen.len() == sources.len();
        Ok(ResolvedRoute { target, sources, key_sources, sources_unique })
    }

    fn apply_zero_dates(
        &self,
        table: &TargetTable,
        values: &mut [Value],
        data_error: &dyn Fn(String) -> RouteError,
    ) -> Result<(), RouteError> {
        for (column, value) in table.columns.iter().zip(values.iter_mut()) {
            zero_date_policy(value, self.config.zero_dates)
                .map_err(|reason| data_error(format!("column {column} {reason}")))?;
        }
        Ok(())
    }

    /// Maps one change into target writes (appended to `out`). With `take`
    /// (the last route of this change) the new image's cells are moved out
    /// of `change` instead of cloned, when no source column feeds two target
    /// columns.
    pub fn map(&mut self, change: &mut Change, take: bool, out: &mut Vec<RowWrite>) -> Result<(), RouteError> {
        let resolved = self.resolve(&change.table)?;
        let take = take && resolved.sources_unique;
        let table = &resolved.target;
        let data_error = |message: String| RouteError::Data {
            route: self.config.name.clone(),
            table: change.table.name.to_string(),
            message,
        };
        match change.operation {
            Operation::Insert => {
                let after = change.after.as_mut().ok_or_else(|| data_error("insert without a new row".into()))?;
                let mut values = project_image(after, &resolved.sources, take);
                self.apply_zero_dates(table, &mut values, &data_error)?;
                out.push(RowWrite::Upsert { table: Arc::clone(table), values });
            }
            Operation::Update => {
                let after = change.after.as_mut().ok_or_else(|| data_error("update without a new row".into()))?;
                let mut values = project_image(after, &resolved.sources, take);
                if let Some(before) = &change.before {
                    let old_key = project(before, &resolved.key_sources);
                    // A key cell the new image did not capture is the old one.
                    for (position, &column) in table.key.iter().enumerate() {
                        if values[column] == Value::Unchanged {
                            values[column] = old_key[position].clone();
                        }
                    }
                    let new_key: Vec<&Value> = table.key.iter().map(|&c| &values[c]).collect();
                    if old_key.iter().any(|v| matches!(v, Value::Unchanged | Value::Null)) {
                        return Err(data_error("the old row image lacks key values".into()));
                    }
                    if old_key.iter().zip(&new_key).any(|(old, new)| old != *new) {
                        out.push(RowWrite::Delete { table: Arc::clone(table), key: old_key });
                    }
                }
                if table.key.iter().any(|&c| matches!(values[c], Value::Unchanged)) {
                    return Err(data_error("the new row image lacks key values".into()));
                }
                self.apply_zero_dates(table, &mut values, &data_error)?;
                out.push(RowWrite::Upsert { table: Arc::clone(table), values });
            }
            Operation::Delete => {
                let before = change.before.as_ref().ok_or_else(|| data_error("delete without an old row".into()))?;
                let key = project(before, &resolved.key_sources);
                if key.iter().any(|v| matches!(v, Value::Unchanged)) {
                    return Err(data_error("the deleted row's image lacks key values".into()));
                }
                out.push(RowWrite::Delete { table: Arc::clone(table), key });
            }
            Operation::Truncate => out.push(RowWrite::Truncate { table: Arc::clone(table) }),
        }
        Ok(())
    }
}

fn project(row: &[Value], indices: &[usize]) -> Vec<Value> {
    indices.iter().map(|&i| row.get(i).cloned().unwrap_or(Value::Null)).collect()
}

/// Like `project`, moving the cells out of `row` when `take` (each index
/// appears once, so nothing moved is needed again).
fn project_image(row: &mut [Value], indices: &[usize], take: bool) -> Vec<Value> {
    if !take {
        return project(row, indices);
    }
    indices.iter().map(|&i| row.get_mut(i).map(std::mem::take).unwrap_or(Value::Null)).collect()
}

/// Applies the route's zero-date policy to one cell. A zero date is a
/// MySQL date whose month or day is 0 (`0000-00-00`, `2024-00-10`).
fn zero_date_policy(value: &mut Value, policy: ZeroDates) -> Result<(), String> {
    let text = match value {
        Value::Date(sluice_api::Date::Civil(date)) if date.is_zero_date() => date.to_string(),
        Value::Timestamp(sluice_api::Timestamp::Civil { date, time }) if date.is_zero_date() => {
            format!("{date} {}", time.to_text())
        }
        _ => return Ok(()),
    };
    match policy {
        ZeroDates::Keep => {}
        ZeroDates::Error => {
            return Err("holds a MySQL zero date; set `zero_dates` on the route to null, text or keep".into());
        }
        ZeroDates::Null => *value = Value::Null,
        ZeroDates::Text => *value = Value::Text(text),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{Column, ColumnType, Lsn, Position, TableName, Transaction};

    fn column(name: &str, is_key: bool) -> Column {
        Column {
            name: name.into(),
            column_type: ColumnType::Int { bytes: 8, unsigned: false },
            type_name: "bigint".into(),
            type_id: 20,
            type_modifier: -1,
            is_key,
        }
    }

    fn schema(columns: Vec<Column>) -> Arc<TableSchema> {
        Arc::new(TableSchema { id: 1, name: TableName::new("public", "inventory"), columns, full_before_image: false })
    }

    fn route(columns: &[(&str, &str)], key: Option<&[&str]>, target_columns: &[&str]) -> Route {
        let config = RouteConfig {
            name: "r".into(),
            source: "erp".into(),
            table: TableName::new("public", "inventory"),
            target: "report".into(),
            into: TableName::new("public", "stock"),
            key: key.map(|k| k.iter().map(|s| (*s).to_owned()).collect()),
            columns: columns.iter().map(|(t, s)| ((*t).to_owned(), (*s).to_owned())).collect(),
            exclude: vec![],
            zero_dates: ZeroDates::Keep,
            snapshot: crate::config::SnapshotMode::Initial,
        };
        let shape = TargetShape {
            columns: target_columns.iter().map(|s| (*s).to_owned()).collect(),
            primary_key: vec![],
            unique_keys: vec![],
        };
        Route::new(config, shape, vec![]).unwrap()
    }

    fn change(
        table: &Arc<TableSchema>,
        operation: Operation,
        before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
    ) -> Change {
        Change {
            transaction: Arc::new(Transaction {
                id: "1".into(),
                position: Position::Postgres(Lsn(1)),
                commit_time_micros: 0,
                origin: None,
            }),
            table: Arc::clone(table),
            operation,
            before,
            after,
        }
    }

    #[test]
    fn renamed_columns_and_default_key_map_into_target_order() {
        let source = schema(vec![column("sku", true), column("qty", false), column("note", false)]);
        let mut route = route(&[("qty_on_hand", "qty")], None, &["note", "sku", "qty_on_hand", "extra"]);
        let mut out = Vec::new();
        let mut insert =
            change(&source, Operation::Insert, None, Some(vec![Value::Int(1), Value::Int(5), Value::Null]));
        route.map(&mut insert, true, &mut out).unwrap();
        let RowWrite::Upsert { table, values } = &out[0] else { panic!("expected upsert") };
        assert_eq!(table.columns, ["note", "sku", "qty_on_hand"]);
        assert_eq!(table.key, [1]);
        assert_eq!(values, &[Value::Null, Value::Int(1), Value::Int(5)]);
    }

    #[test]
    fn key_change_becomes_delete_then_upsert() {
        let source = schema(vec![column("sku", true), column("qty", false)]);
        let mut route = route(&[], None, &["sku", "qty"]);
        let mut out = Vec::new();
        let mut update = change(
            &source,
            Operation::Update,
            Some(vec![Value::Int(1), Value::Null]),
            Some(vec![Value::Int(2), Value::Int(9)]),
        );
        route.map(&mut update, true, &mut out).unwrap();
        assert!(matches!(&out[0], RowWrite::Delete { key, .. } if key == &[Value::Int(1)]));
        assert!(matches!(&out[1], RowWrite::Upsert { values, .. } if values == &[Value::Int(2), Value::Int(9)]));
    }

    #[test]
    fn unchanged_cells_pass_through() {
        let source = schema(vec![column("sku", true), column("doc", false)]);
        let mut route = route(&[], None, &["sku", "doc"]);
        let mut out = Vec::new();
        let mut update = change(&source, Operation::Update, None, Some(vec![Value::Int(1), Value::Unchanged]));
        route.map(&mut update, true, &mut out).unwrap();
        assert!(matches!(&out[0], RowWrite::Upsert { values, .. } if values[1] == Value::Unchanged));
    }

    #[test]
    fn source_column_missing_in_target_is_an_error_naming_it() {
        let source = schema(vec![column("sku", true), column("added_later", false)]);
        let mut route = route(&[], None, &["sku"]);
        let mut out = Vec::new();
        let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(1), Value::Int(2)]));
        let message = route.map(&mut insert, true, &mut out).unwrap_err().to_string();
        assert!(message.contains("added_later") && message.contains("exclude"), "{message}");
    }

    #[test]
    fn key_outside_replica_identity_is_refused() {
        let source = schema(vec![column("id", true), column("sku", false)]);
        let mut route = route(&[], Some(&["sku"]), &["id", "sku"]);
        let mut out = Vec::new();
        let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(1), Value::Int(2)]));
        let message = route.map(&mut insert, true, &mut out).unwrap_err().to_string();
        assert!(message.contains("REPLICA IDENTITY FULL"), "{message}");
    }

    #[test]
    fn table_without_key_needs_a_configured_key() {
        let source = schema(vec![column("a", false), column("b", false)]);
        let mut route = route(&[], None, &["a", "b"]);
        let mut out = Vec::new();
        let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(1), Value::Int(2)]));
        let message = route.map(&mut insert, true, &mut out).unwrap_err().to_string();
        assert!(message.contains("no primary key") && message.contains("key = ["), "{message}");
    }

    #[test]
    fn zero_dates_follow_the_route_policy() {
        use sluice_api::{CivilDate, Date};
        let zero = Value::Date(Date::Civil(CivilDate { year: 0, month: 0, day: 0 }));
        let partial = Value::Date(Date::Civil(CivilDate { year: 2024, month: 0, day: 10 }));
        let normal = Value::Date(Date::Civil(CivilDate { year: 2024, month: 1, day: 10 }));
        for (policy, expected) in [
            (ZeroDates::Keep, Ok(zero.clone())),
            (ZeroDates::Null, Ok(Value::Null)),
            (ZeroDates::Text, Ok(Value::Text("0000-00-00".into()))),
        ] {
            let mut value = zero.clone();
            assert_eq!(zero_date_policy(&mut value, policy).map(|_| value), expected, "{policy:?}");
        }
        let mut value = partial.clone();
        assert!(zero_date_policy(&mut value, ZeroDates::Error).unwrap_err().contains("zero_dates"));
        let mut value = partial;
        zero_date_policy(&mut value, ZeroDates::Text).unwrap();
        assert_eq!(value, Value::Text("2024-00-10".into()));
        let mut value = normal.clone();
        zero_date_policy(&mut value, ZeroDates::Error).unwrap();
        assert_eq!(value, normal, "ordinary dates are untouched");
    }

    #[test]
    fn mapping_into_unknown_target_column_fails_at_start() {
        let config = RouteConfig {
            name: "r".into(),
            source: "erp".into(),
            table: TableName::new("public", "inventory"),
            target: "report".into(),
            into: TableName::new("public", "stock"),
            key: None,
            columns: [("nope".to_owned(), "qty".to_owned())].into(),
            exclude: vec![],
            zero_dates: ZeroDates::Keep,
            snapshot: crate::config::SnapshotMode::Initial,
        };
        let shape = TargetShape { columns: vec!["sku".into()], primary_key: vec![], unique_keys: vec![] };
        let message = Route::new(config, shape, vec![]).unwrap_err().to_string();
        assert!(message.contains("nope"), "{message}");
    }
}
