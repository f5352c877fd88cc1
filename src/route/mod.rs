//! Routes: how a change in a source table becomes writes in a target table.
//!
//! A [`Route`] is resolved twice. At start, against the target table's
//! shape (its columns and keys), so a mapping that cannot work is a config
//! error before anything streams. Then for every source schema the stream
//! delivers (a new one after each ADD/DROP COLUMN), into a
//! [`ResolvedRoute`] (`resolve.rs`): for each target column how its value
//! is made — a source column, an expression, a crosswalk lookup — plus the
//! key, filter, action trigger, soft-delete columns and crosswalk, bound to
//! the schema's column indices. A source column added mid-stream that the
//! target lacks stops the route with an error naming the column — never a
//! silent drop.
//!
//! `map.rs` maps each change (the rules are written there); `pending.rs`
//! holds what a route hands the target writer when the writer must finish
//! the job (crosswalk keys, lookups, dead-letter isolation).
//! `Value::Unchanged` cells pass through untouched so the sink leaves those
//! target columns alone.

mod map;
mod pending;
mod resolve;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use sluice_api::{Change, TableSchema, TargetTable, Value};

pub(crate) use map::key_text;
pub(crate) use pending::{Guarded, LookupCell, Pending, RouteTag, chunk_seq, stream_seq};
pub use resolve::ResolvedRoute;

use crate::config::{OnError, RouteConfig, ZeroDates};
use crate::expr::MapSet;

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
    /// The target writer could not complete a change (a crosswalk lookup
    /// found no entry) of a route that stops on errors.
    #[error("Route {route}: {message}")]
    Incomplete { route: String, message: String },
}

/// The target table's shape as the sink describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetShape {
    pub columns: Vec<String>,
    pub primary_key: Vec<String>,
    pub unique_keys: Vec<Vec<String>>,
}

/// A route with its target shape, ready to resolve source schemas.
#[derive(Clone, Debug)]
pub struct Route {
    pub config: RouteConfig,
    target_shape: TargetShape,
    /// The source primary key from the catalog, when known; the default
    /// key when the stream's identity columns are the whole row (REPLICA IDENTITY FULL).
    source_primary_key: Vec<String>,
    maps: MapSet,
    /// Other routes write into the same target table (many-to-one): a
    /// truncate of this route's source must not empty it.
    pub(crate) shares_target_table: bool,
    tag: Arc<RouteTag>,
    resolved: Option<(Arc<TableSchema>, Arc<ResolvedRoute>)>,
}

impl Route {
    /// Checks the route's static mapping against the target's shape.
    pub fn new(
        config: RouteConfig,
        target_shape: TargetShape,
        source_primary_key: Vec<String>,
        maps: MapSet,
    ) -> Result<Route, RouteError> {
        let tag = Arc::new(RouteTag {
            name: Arc::from(config.name.as_str()),
            dead_letter: config.on_error == OnError::DeadLetter,
        });
        let route =
            Route { config, target_shape, source_primary_key, maps, shares_target_table: false, tag, resolved: None };
        let config = &route.config;
        let sections = [
            ("columns", config.columns.keys()),
            ("defaults", config.defaults.keys()),
            ("soft_delete", config.soft_delete.keys()),
        ];
        for (section, columns) in sections {
            for column in columns {
                if !route.target_shape.columns.contains(column) {
                    return Err(route.config_error(format!(
                        "[routes.{section}] writes column {column:?}, which target table {} does not have",
                        config.into
                    )));
                }
            }
        }
        if let Some(key) = &config.key {
            for column in key {
                if !route.target_shape.columns.contains(column) {
                    return Err(route.config_error(format!(
                        "key column {column:?} is not a column of target table {}",
                        config.into
                    )));
                }
            }
        }
        if let Some(crosswalk) = &config.crosswalk {
            let key = vec![crosswalk.target_key.clone()];
            if !route.target_shape.columns.contains(&crosswalk.target_key) {
                return Err(route.config_error(format!(
                    "crosswalk.target_key {:?} is not a column of target table {}",
                    crosswalk.target_key, config.into
                )));
            }
            if route.target_shape.primary_key != key && !route.target_shape.unique_keys.contains(&key) {
                return Err(route.config_error(format!(
                    "crosswalk.target_key {:?} is neither the primary key nor a unique key of target table {}; \
                     the crosswalk needs a key that identifies one row",
                    crosswalk.target_key, config.into
                )));
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
        if let Some((known, resolved)) = &mut self.resolved {
            if Arc::ptr_eq(known, schema) {
                return Ok(Arc::clone(resolved));
            }
            // The same schema from another source (the catalog at start, the
            // stream's Relation message later): keep the stream's Arc, so the
            // next changes match by pointer instead of column by column.
            if **known == **schema {
                *known = Arc::clone(schema);
                return Ok(Arc::clone(resolved));
            }
        }
        let resolved = Arc::new(self.resolve_uncached(schema)?);
        self.resolved = Some((Arc::clone(schema), Arc::clone(&resolved)));
        Ok(resolved)
    }

    /// Whether this route's changes go to the writer as [`Guarded`]: a
    /// dead-letter route, or one whose writes need crosswalks (after
    /// resolving `schema`).
    pub(crate) fn is_guarded(&mut self, schema: &Arc<TableSchema>) -> Result<bool, RouteError> {
        Ok(self.tag.dead_letter || self.resolve(schema)?.needs_writer)
    }

    pub(crate) fn tag(&self) -> &Arc<RouteTag> {
        &self.tag
    }

    /// Canonical text of the source row key of a change (old image first):
    /// the key dead letters of this route are grouped and blocked by.
    pub(crate) fn source_key_text(&mut self, change: &Change) -> Option<String> {
        let resolved = self.resolve(&change.table).ok()?;
        let image = change.before.as_deref().or(change.after.as_deref())?;
        key_text(resolved.row_key.iter().map(|&i| image.get(i).unwrap_or(&Value::Null)))
    }

    fn apply_zero_dates(&self, table: &TargetTable, values: &mut [Value]) -> Result<(), String> {
        for (column, value) in table.columns.iter().zip(values.iter_mut()) {
            zero_date_policy(value, self.config.zero_dates).map_err(|reason| format!("column {column} {reason}"))?;
        }
        Ok(())
    }
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

/// Internals the benches drive (`benches/mapping.rs`); not an API.
#[doc(hidden)]
pub mod bench_support {
    use sluice_api::Change;

    use super::{Pending, Route, TargetShape};
    use crate::config::Config;

    /// One configured route, mapping changes the way the router does.
    pub struct RouteMapper {
        route: Route,
        out: Vec<Pending>,
    }

    impl RouteMapper {
        /// Route `index` of `config` against a target table with these columns and primary key.
        pub fn new(config: &Config, index: usize, columns: &[&str], primary_key: &[&str]) -> RouteMapper {
            let shape = TargetShape {
                columns: columns.iter().map(|c| (*c).to_owned()).collect(),
                primary_key: primary_key.iter().map(|c| (*c).to_owned()).collect(),
                unique_keys: Vec::new(),
            };
            let route = Route::new(config.routes[index].clone(), shape, Vec::new(), config.maps.clone())
                .unwrap_or_else(|e| panic!("{e}"));
            RouteMapper { route, out: Vec::new() }
        }

        /// Maps one change (cells are moved out of it when the route allows);
        /// returns the number of writes.
        pub fn map(&mut self, change: &mut Change) -> usize {
            self.out.clear();
            self.route.map(change, true, &mut self.out).unwrap_or_else(|e| panic!("{e}"));
            self.out.len()
        }
    }
}
