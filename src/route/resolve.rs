//! Resolving a route against one source schema: for every target column,
//! how its value is made ([`Feed`]); the key; the filter, the action
//! trigger, the soft-delete columns and the crosswalk — all bound to the
//! schema's column indices, so mapping a row evaluates without looking
//! anything up by name.
//!
//! Everything that can be checked without a row is checked here, and fails
//! as a config error naming the route and column: a column an expression
//! reads that the source does not have, a key the old row image cannot
//! supply (a delete carries only the replica identity unless the source
//! logs whole old rows), a transition (`before.*`) the source does not log.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_api::{TableSchema, TargetTable};

use super::{Route, RouteError};
use crate::config::{DeletesPolicy, OtherColumns};
use crate::expr::{Bound, ColumnRef, Expression, Image};

/// How one target column's value is made.
#[derive(Clone, Debug)]
pub(crate) enum Feed {
    /// A source column, as it is (index into the row images).
    Column(usize),
    /// A computed value.
    Expr(Bound),
    /// Filled by the target writer from a crosswalk (`lookup(name, key)`).
    Lookup { crosswalk: Arc<str>, key: Bound },
    /// NULL: a soft-delete column on upserts, when nothing else feeds it
    /// (a re-inserted row is live again).
    Null,
    /// Assigned by the target (a crosswalk route's key); filled by the writer.
    Assigned,
}

/// A route resolved against one source schema.
#[derive(Clone, Debug)]
pub struct ResolvedRoute {
    /// The target table as upserts write it: the fed columns in the
    /// target's order, the key, the insert-only columns.
    pub target: Arc<TargetTable>,
    /// Aligned with `target.columns`.
    pub(crate) feeds: Vec<Feed>,
    /// For each target column, the source column feeding it, when every
    /// column is a plain source column and the route has nothing but
    /// renames (no filter, action, soft delete, lookup or crosswalk): the
    /// fast path, which moves cells instead of evaluating.
    pub(crate) plain: Option<Vec<usize>>,
    /// No source column feeds two target columns (cells may be moved).
    pub(crate) sources_unique: bool,
    /// Source column indices a snapshot chunks the table by: the key's
    /// source columns when the key is made of plain columns, else the
    /// source row key.
    pub key_sources: Vec<usize>,
    /// Source columns identifying a source row (its primary key or replica
    /// identity; a crosswalk's `source_key`).
    pub(crate) row_key: Vec<usize>,
    pub(crate) filter: Option<Bound>,
    /// The filter reads only the source's identity columns, which every
    /// old row image carries (and an update without an old image did not
    /// change): whether a row *was* in the filter is always known.
    pub(crate) filter_on_key: bool,
    pub(crate) when: Option<Bound>,
    /// The key columns alone and their feeds: what a delete evaluates over
    /// the old row.
    pub(crate) delete_key: (TargetTable, Vec<Feed>),
    /// Soft deletes: the patch table (key columns first) and its feeds.
    pub(crate) soft: Option<(Arc<TargetTable>, Vec<Feed>)>,
    pub(crate) crosswalk: Option<CrosswalkPlan>,
    /// `schema.table` of the source, for `source_table()`.
    pub(crate) table_text: Arc<str>,
    /// Any feed needs the writer (lookups, assigned keys).
    pub(crate) needs_writer: bool,
}

impl ResolvedRoute {
    /// The source column feeding each target column, on the fast path.
    pub fn plain_sources(&self) -> Option<&[usize]> {
        self.plain.as_deref()
    }

    /// What `sluice check` verifies in the target: the columns this route
    /// writes (with the source type where a column is copied as it is; the
    /// key a crosswalk's target assigns is not written) and the key.
    pub(crate) fn expectation(&self, schema: &TableSchema) -> sluice_api::TargetExpectation {
        let target = &self.target;
        let mut columns: Vec<(String, Option<sluice_api::ColumnType>)> = target
            .columns
            .iter()
            .zip(&self.feeds)
            .filter(|(_, feed)| !matches!(feed, Feed::Assigned))
            .map(|(name, feed)| {
                let source_type = match feed {
                    Feed::Column(index) => schema.columns.get(*index).map(|c| c.column_type.clone()),
                    _ => None,
                };
                (name.clone(), source_type)
            })
            .collect();
        if let Some((patch, _)) = &self.soft {
            for column in &patch.columns {
                if !columns.iter().any(|(c, _)| c == column) {
                    columns.push((column.clone(), None));
                }
            }
        }
        let key = target.key.iter().map(|&k| target.columns[k].clone()).collect();
        sluice_api::TargetExpectation {
            table: sluice_api::TableName::new(target.schema.clone(), target.name.clone()),
            columns,
            key,
        }
    }
}

/// A crosswalk route's shape in the target.
#[derive(Clone, Debug)]
pub(crate) struct CrosswalkPlan {
    pub(crate) name: Arc<str>,
    /// Index of the target key in `ResolvedRoute::target.columns` (and
    /// of the soft-delete patch table's key).
    pub(crate) key_cell: usize,
    /// The table without the target key: what an insert writes.
    pub(crate) insert_table: Arc<TargetTable>,
}

impl Route {
    pub(super) fn resolve_uncached(&self, schema: &TableSchema) -> Result<ResolvedRoute, RouteError> {
        let config = &self.config;
        let shape = &self.target_shape;
        let index_of = |reference: &ColumnRef| schema.column_index(&reference.name);
        let bind = |setting: &str, expression: &Expression| -> Result<Bound, RouteError> {
            for reference in expression.columns() {
                if schema.column_index(&reference.name).is_none() {
                    return Err(self.config_error(format!(
                        "{setting} = {:?}: source table {} has no column {:?}",
                        expression.text(),
                        schema.name,
                        reference.name
                    )));
                }
            }
            expression
                .bind(&index_of, &self.maps)
                .map_err(|error| self.config_error(format!("{setting} = {:?}: {error}", expression.text())))
        };
        let feed_of = |setting: &str, expression: &Expression| -> Result<Feed, RouteError> {
            if let Some(column) = expression.as_column()
                && column.image == Image::Current
            {
                return schema.column_index(&column.name).map(Feed::Column).ok_or_else(|| {
                    self.config_error(format!(
                        "{setting} = {:?}: source table {} has no column {:?}",
                        expression.text(),
                        schema.name,
                        column.name
                    ))
                });
            }
            if let Some((name, key)) = expression.as_lookup()
                && !self.maps.contains_key(&name)
            {
                return Ok(Feed::Lookup { crosswalk: Arc::from(name.as_str()), key: bind(setting, &key)? });
            }
            Ok(Feed::Expr(bind(setting, expression)?))
        };

        // Target column -> (feed, insert-only).
        let mut feeds: BTreeMap<String, (Feed, bool)> = BTreeMap::new();
        for (column, expression) in &config.columns {
            feeds.insert(column.clone(), (feed_of(&format!("[routes.columns] {column}"), expression)?, false));
        }
        for (column, expression) in &config.defaults {
            feeds.insert(column.clone(), (feed_of(&format!("[routes.defaults] {column}"), expression)?, true));
        }
        let crosswalk_key = config.crosswalk.as_ref().map(|c| c.target_key.as_str());
        if config.other_columns == OtherColumns::ByName {
            for (index, column) in schema.columns.iter().enumerate() {
                if config.exclude.contains(&column.name)
                    || !config.renames_of(&column.name).is_empty()
                    || feeds.contains_key(&column.name)
                    || crosswalk_key == Some(column.name.as_str())
                {
                    continue;
                }
                if !shape.columns.contains(&column.name) {
                    // Read by an expression: used, not dropped.
                    if config.reads(&column.name) {
                        continue;
                    }
                    return Err(RouteError::TargetColumnMissing {
                        route: config.name.clone(),
                        message: format!(
                            "source column {}.{} has no column of the same name in target table {}; add it to the \
                             target, map it in [routes.columns], list it in `exclude`, or set other_columns = \
                             \"ignore\"",
                            schema.name, column.name, config.into
                        ),
                    });
                }
                feeds.insert(column.name.clone(), (Feed::Column(index), false));
            }
        }
        let soft_columns: Vec<&String> = match config.deletes {
            DeletesPolicy::Soft => config.soft_delete.keys().collect(),
            _ => Vec::new(),
        };
        for column in &soft_columns {
            feeds.entry((*column).clone()).or_insert((Feed::Null, false));
        }
        if let Some(key) = crosswalk_key {
            feeds.insert(key.to_owned(), (Feed::Assigned, false));
        }

        // The key, in target column names.
        let key_targets: Vec<String> = match (&config.crosswalk, &config.key) {
            (Some(crosswalk), _) => vec![crosswalk.target_key.clone()],
            (None, Some(key)) => key.clone(),
            (None, None) => {
                // The target columns the source key columns feed as they are.
                let source_key = self.source_row_key_names(schema)?;
                source_key
                    .iter()
                    .map(|name| {
                        let index = schema.column_index(name);
                        let fed = |(target, (feed, _)): (&String, &(Feed, bool))| match feed {
                            Feed::Column(i) if Some(*i) == index => Some(target.clone()),
                            _ => None,
                        };
                        let renamed = config.renames_of(name).first().map(|t| (*t).to_owned());
                        renamed.or_else(|| feeds.iter().find_map(fed)).ok_or_else(|| {
                            self.config_error(format!(
                                "source key column {name:?} does not feed a target column of its own; set `key` on \
                                 the route (the target columns that identify a row)"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        for column in &key_targets {
            let Some((feed, insert_only)) = feeds.get_mut(column) else {
                return Err(self.config_error(format!("key column {column:?} is not fed by any source column")));
            };
            if *insert_only {
                return Err(self.config_error(format!(
                    "key column {column:?} is in [routes.defaults]; a key is written on every change, map it in \
                     [routes.columns]"
                )));
            }
            let reads: Vec<usize> = match feed {
                Feed::Column(index) => vec![*index],
                Feed::Expr(_) | Feed::Lookup { .. } => {
                    let expression = config.columns.get(column).expect("fed by an expression of columns");
                    let expression = expression.as_lookup().map(|(_, key)| key).unwrap_or_else(|| expression.clone());
                    expression.columns().iter().filter_map(|c| schema.column_index(&c.name)).collect()
                }
                Feed::Null | Feed::Assigned => Vec::new(),
            };
            // Deletes and key changes carry only the identity columns in the
            // old image (unless the source logs whole old rows): a key made
            // of other columns could not find the target row.
            if let Some(&outside) = reads.iter().find(|&&i| !schema.full_before_image && !schema.columns[i].is_key) {
                return Err(self.config_error(format!(
                    "key column {column:?} comes from source column {:?}, which is not part of the replica identity \
                     of {}; deletes could not find the row. Use the primary key, or run ALTER TABLE {} REPLICA \
                     IDENTITY FULL",
                    schema.columns[outside].name, schema.name, schema.name
                )));
            }
        }

        // Transitions and computed columns reading before.* need the whole old row.
        if !schema.full_before_image {
            for (setting, expression) in config.expressions() {
                for reference in expression.columns() {
                    let needs_old_row = reference.image == Image::Before
                        || (setting.starts_with("soft_delete.") && reference.image != Image::After);
                    if needs_old_row && schema.column_index(&reference.name).is_some_and(|i| !schema.columns[i].is_key)
                    {
                        return Err(self.config_error(format!(
                            "{setting} = {:?} reads the old value of column {:?}, but source table {} logs only its \
                             key columns in old row images; run ALTER TABLE {} REPLICA IDENTITY FULL (MySQL: \
                             binlog_row_image=FULL)",
                            expression.text(),
                            reference.name,
                            schema.name,
                            schema.name
                        )));
                    }
                }
            }
        }

        // Target columns in the target's own order (stable statements).
        let mut columns = Vec::new();
        let mut ordered_feeds = Vec::new();
        let mut insert_only = Vec::new();
        for name in &shape.columns {
            if let Some((feed, only_on_insert)) = feeds.remove(name) {
                if only_on_insert || (config.is_action() && !key_targets.contains(name)) {
                    insert_only.push(columns.len());
                }
                columns.push(name.clone());
                ordered_feeds.push(feed);
            }
        }
        if let Some(column) = feeds.keys().next() {
            return Err(self.config_error(format!("target table {} has no column {column:?}", config.into)));
        }
        let key: Vec<usize> = key_targets
            .iter()
            .map(|k| columns.iter().position(|c| c == k).expect("key columns are fed columns"))
            .collect();
        let target = Arc::new(TargetTable {
            schema: config.into.schema.clone(),
            name: config.into.name.clone(),
            columns: columns.clone(),
            key: key.clone(),
            insert_only,
        });

        let filter = config.filter.as_ref().map(|f| bind("where", f)).transpose()?;
        let filter_reads: Vec<usize> =
            config.filter.iter().flat_map(|f| f.columns()).filter_map(|c| schema.column_index(&c.name)).collect();
        let filter_on_key = filter_reads.iter().all(|&i| schema.columns[i].is_key);
        let when = config.when.as_ref().map(|w| bind("when", w)).transpose()?;
        let soft = if soft_columns.is_empty() {
            None
        } else {
            let mut patch_columns: Vec<String> = key.iter().map(|&k| columns[k].clone()).collect();
            let mut patch_feeds: Vec<Feed> = key.iter().map(|&k| ordered_feeds[k].clone()).collect();
            for (column, expression) in &config.soft_delete {
                patch_columns.push(column.clone());
                patch_feeds.push(Feed::Expr(bind(&format!("[routes.soft_delete] {column}"), expression)?));
            }
            let patch_key = (0..key.len()).collect();
            let table =
                TargetTable::new(config.into.schema.clone(), config.into.name.clone(), patch_columns, patch_key);
            Some((Arc::new(table), patch_feeds))
        };
        let crosswalk = match &config.crosswalk {
            Some(_) => {
                let key_cell = key[0];
                let mut insert_columns = columns.clone();
                insert_columns.remove(key_cell);
                let insert_table =
                    TargetTable::new(config.into.schema.clone(), config.into.name.clone(), insert_columns, Vec::new());
                Some(CrosswalkPlan {
                    name: Arc::from(config.name.as_str()),
                    key_cell,
                    insert_table: Arc::new(insert_table),
                })
            }
            None => None,
        };

        let row_key_names = match &config.crosswalk {
            Some(crosswalk) => match &crosswalk.source_key {
                Some(names) => names.clone(),
                None => self.source_row_key_names(schema)?,
            },
            None => self.source_row_key_names(schema).unwrap_or_default(),
        };
        let mut row_key = Vec::with_capacity(row_key_names.len());
        for name in &row_key_names {
            let index = schema.column_index(name).ok_or_else(|| {
                self.config_error(format!("crosswalk.source_key: source table {} has no column {name:?}", schema.name))
            })?;
            if config.crosswalk.is_some() && !schema.full_before_image && !schema.columns[index].is_key {
                return Err(self.config_error(format!(
                    "crosswalk.source_key column {name:?} is not part of the replica identity of {}; deletes could \
                     not find the row. Use the primary key, or run ALTER TABLE {} REPLICA IDENTITY FULL",
                    schema.name, schema.name
                )));
            }
            row_key.push(index);
        }

        // When it cannot be known whether an updated or deleted row was in
        // the filter, its removal is applied anyway — harmless only if the
        // route's key identifies one source row. With a coarser key (many
        // source rows, one target row: inventory per warehouse -> stock per
        // SKU, filtered to one warehouse) it would remove another source
        // row's target row.
        if filter.is_some() && !filter_on_key && !schema.full_before_image && config.when.is_none() {
            let key_reads: Vec<usize> = key
                .iter()
                .flat_map(|&k| match &ordered_feeds[k] {
                    Feed::Column(index) => vec![*index],
                    _ => {
                        let expression = config.columns.get(&columns[k]);
                        let expression =
                            expression.map(|e| e.as_lookup().map(|(_, key)| key).unwrap_or_else(|| e.clone()));
                        expression
                            .map(|e| e.columns().iter().filter_map(|c| schema.column_index(&c.name)).collect())
                            .unwrap_or_default()
                    }
                })
                .collect();
            let source_key: Vec<usize> = schema.key_indices();
            if source_key.is_empty() || source_key.iter().any(|i| !key_reads.contains(i)) {
                let outside: Vec<&str> = filter_reads
                    .iter()
                    .filter(|&&i| !schema.columns[i].is_key)
                    .map(|&i| schema.columns[i].name.as_str())
                    .collect();
                return Err(self.config_error(format!(
                    "`where` reads {} of {}, which old row images lack, and the route's key does not identify one \
                     source row: an update or delete outside the filter could remove another source row's target \
                     row. Run ALTER TABLE {} REPLICA IDENTITY FULL (MySQL: binlog_row_image=FULL), or make the \
                     key the source key",
                    outside.join(", "),
                    schema.name,
                    schema.name
                )));
            }
        }

        let plain_key: Option<Vec<usize>> =
            key.iter().map(|&k| if let Feed::Column(i) = ordered_feeds[k] { Some(i) } else { None }).collect();
        let key_sources = match plain_key {
            Some(sources) if config.crosswalk.is_none() => sources,
            _ if !row_key.is_empty() => row_key.clone(),
            _ => {
                return Err(self.config_error(format!(
                    "source table {} has no primary key and the route's key is computed; a snapshot cannot chunk \
                     it. Give the source table a primary key",
                    schema.name
                )));
            }
        };
        let plain: Option<Vec<usize>> = if filter.is_none() && when.is_none() && soft.is_none() && crosswalk.is_none() {
            ordered_feeds.iter().map(|f| if let Feed::Column(i) = f { Some(*i) } else { None }).collect()
        } else {
            None
        };
        let sources_unique = plain.as_ref().is_some_and(|sources| {
            let mut seen = sources.clone();
            seen.sort_unstable();
            seen.dedup();
            seen.len() == sources.len()
        });
        let needs_writer = crosswalk.is_some() || ordered_feeds.iter().any(|f| matches!(f, Feed::Lookup { .. }));
        let delete_key = (
            TargetTable::new(
                config.into.schema.clone(),
                config.into.name.clone(),
                key.iter().map(|&k| columns[k].clone()).collect(),
                (0..key.len()).collect(),
            ),
            key.iter().map(|&k| ordered_feeds[k].clone()).collect(),
        );
        Ok(ResolvedRoute {
            target,
            delete_key,
            feeds: ordered_feeds,
            plain,
            sources_unique,
            key_sources,
            row_key,
            filter,
            filter_on_key,
            when,
            soft,
            crosswalk,
            table_text: Arc::from(schema.name.to_string().as_str()),
            needs_writer,
        })
    }

    /// The source's own key of `schema`: its primary key from the catalog,
    /// else the columns the stream flags as identity.
    pub(super) fn source_row_key_names(&self, schema: &TableSchema) -> Result<Vec<String>, RouteError> {
        if !self.source_primary_key.is_empty() {
            return Ok(self.source_primary_key.clone());
        }
        let identity: Vec<String> = schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect();
        if identity.is_empty() {
            return Err(self.config_error(format!(
                "source table {} has no primary key; set `key = [..]` on the route (target columns that identify a \
                 row)",
                schema.name
            )));
        }
        Ok(identity)
    }
}
