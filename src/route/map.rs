//! Mapping one change through a resolved route.
//!
//! Rules, per operation:
//! - **insert**: an upsert of the new row — if it passes `where`; for an
//!   action route (`when`), only if the trigger is true, and as an
//!   insert-if-absent (every non-key column is insert-only).
//! - **update**: an upsert of the new row; when the key changed, the old
//!   key's row is removed first (as `deletes` says). When the new row fails
//!   `where`, the row leaves the target (as `deletes` says) — skipped only
//!   when the old row is known (whole old images) to have failed it too.
//!   Action routes upsert (insert-if-absent) when the trigger is true and
//!   do nothing otherwise.
//! - **delete**: `deletes = "apply"` deletes by key, `"soft"` patches the
//!   `soft_delete` columns, `"ignore"` does nothing; a filtered route skips
//!   rows whose whole old image fails `where`. Actions never delete.
//! - **truncate**: truncates the target table — refused (a data error) when
//!   that would remove rows that are not this route's (a filter, other
//!   routes into the same table) or cannot be expressed (soft deletes, a
//!   crosswalk); ignored by actions and `deletes = "ignore"`.
//!
//! An update whose new image lacks a column (PostgreSQL's unchanged TOAST
//! value) gets it from the old image when the source logs whole old rows;
//! otherwise a plain column passes `Value::Unchanged` on (the sink keeps the
//! target's value) and an expression reading it fails with a message saying
//! to log whole old rows.

use std::sync::Arc;

use sluice_api::{Change, Operation, Row, RowWrite, TargetTable, Value};

use super::pending::{LookupCell, Pending};
use super::resolve::{Feed, ResolvedRoute};
use super::{Route, RouteError};
use crate::config::DeletesPolicy;
use crate::expr::{EvalContext, EvalError, text_of};

impl Route {
    /// Maps one change into writes for this route's target (appended to
    /// `out`). With `take` (the last route of this change) the new image's
    /// cells are moved out of `change` instead of cloned, on the fast path.
    pub(crate) fn map(&mut self, change: &mut Change, take: bool, out: &mut Vec<Pending>) -> Result<(), RouteError> {
        let resolved = self.resolve(&change.table)?;
        if let Some(sources) = resolved.plain_sources() {
            return self.map_plain(&resolved, sources, change, take && resolved.sources_unique, out);
        }
        fill_uncaptured_from_old_row(change);
        let change = &*change;
        let mapper = Mapper { route: self, resolved: &resolved, change };
        mapper.map(out)
    }

    /// Renames only: cells are projected (moved when `take`), nothing evaluated.
    fn map_plain(
        &self,
        resolved: &ResolvedRoute,
        sources: &[usize],
        change: &mut Change,
        take: bool,
        out: &mut Vec<Pending>,
    ) -> Result<(), RouteError> {
        let table = &resolved.target;
        let schema = &change.table;
        let data_error = |message: String| RouteError::Data {
            route: self.config.name.clone(),
            table: schema.name.to_string(),
            message,
        };
        // On the fast path the chunk key is the target key's source columns.
        let key_sources = &resolved.key_sources;
        match change.operation {
            Operation::Insert => {
                let after = change.after.as_mut().ok_or_else(|| data_error("insert without a new row".into()))?;
                let mut values = project_image(after, sources, take);
                self.apply_zero_dates(table, &mut values).map_err(&data_error)?;
                out.push(Pending::Write(RowWrite::Upsert { table: Arc::clone(table), values }));
            }
            Operation::Update => {
                let after = change.after.as_mut().ok_or_else(|| data_error("update without a new row".into()))?;
                let mut values = project_image(after, sources, take);
                if let Some(before) = &change.before {
                    let old_key = project(before, key_sources);
                    // A key cell the new image did not capture is the old one.
                    for (position, &column) in table.key.iter().enumerate() {
                        if values[column] == Value::Unchanged {
                            values[column] = old_key[position].clone();
                        }
                    }
                    if old_key.iter().any(|v| matches!(v, Value::Unchanged | Value::Null)) {
                        return Err(data_error("the old row image lacks key values".into()));
                    }
                    let new_key: Vec<&Value> = table.key.iter().map(|&c| &values[c]).collect();
                    if old_key.iter().zip(&new_key).any(|(old, new)| old != *new) {
                        out.push(Pending::Write(RowWrite::Delete { table: Arc::clone(table), key: old_key }));
                    }
                }
                if table.key.iter().any(|&c| matches!(values[c], Value::Unchanged)) {
                    return Err(data_error("the new row image lacks key values".into()));
                }
                self.apply_zero_dates(table, &mut values).map_err(&data_error)?;
                out.push(Pending::Write(RowWrite::Upsert { table: Arc::clone(table), values }));
            }
            Operation::Delete => {
                let before = change.before.as_ref().ok_or_else(|| data_error("delete without an old row".into()))?;
                let key = project(before, key_sources);
                if key.iter().any(|v| matches!(v, Value::Unchanged)) {
                    return Err(data_error("the deleted row's image lacks key values".into()));
                }
                match self.config.deletes {
                    DeletesPolicy::Apply => {
                        out.push(Pending::Write(RowWrite::Delete { table: Arc::clone(table), key }));
                    }
                    DeletesPolicy::Ignore => {}
                    DeletesPolicy::Soft => unreachable!("soft deletes are not on the fast path"),
                }
            }
            Operation::Truncate => {
                if let Some(write) = self.truncate(resolved, change)? {
                    out.push(Pending::Write(write));
                }
            }
        }
        Ok(())
    }

    /// The truncate this route applies, if any (see the module doc).
    fn truncate(&self, resolved: &ResolvedRoute, change: &Change) -> Result<Option<RowWrite>, RouteError> {
        if resolved.when.is_some() || self.config.deletes == DeletesPolicy::Ignore {
            return Ok(None);
        }
        let refuse = |why: &str| {
            Err(self.data_error(
                change,
                format!(
                    "TRUNCATE of the source table cannot be applied to target table {}: {why}. Delete the target \
                     rows yourself, then skip or retry the change",
                    self.config.into
                ),
            ))
        };
        if resolved.filter.is_some() {
            return refuse("the route has a `where` filter, and rows outside it are not the route's");
        }
        if self.shares_target_table {
            return refuse("other routes write into the same table, and their rows would go too");
        }
        if self.config.deletes == DeletesPolicy::Soft {
            return refuse("the route soft-deletes, and a truncate cannot be expressed as a soft delete");
        }
        if resolved.crosswalk.is_some() {
            return refuse("the route keeps a key crosswalk, which a truncate would leave behind");
        }
        Ok(Some(RowWrite::Truncate { table: Arc::clone(&resolved.target) }))
    }

    pub(super) fn data_error(&self, change: &Change, message: String) -> RouteError {
        RouteError::Data { route: self.config.name.clone(), table: change.table.name.to_string(), message }
    }
}

/// The general path: filters, actions, expressions, soft deletes, lookups,
/// crosswalks.
struct Mapper<'a> {
    route: &'a Route,
    resolved: &'a ResolvedRoute,
    change: &'a Change,
}

impl Mapper<'_> {
    fn map(&self, out: &mut Vec<Pending>) -> Result<(), RouteError> {
        let change = self.change;
        let resolved = self.resolved;
        let before = change.before.as_deref();
        let after = change.after.as_deref();
        match change.operation {
            Operation::Insert => {
                let after = after.ok_or_else(|| self.error("insert without a new row".into()))?;
                if !self.passes(after)? {
                    return Ok(());
                }
                self.upsert(after, out)
            }
            Operation::Update => {
                let after = after.ok_or_else(|| self.error("update without a new row".into()))?;
                if resolved.when.is_some() {
                    return if self.passes(after)? { self.upsert(after, out) } else { Ok(()) };
                }
                if let Some(filter) = &resolved.filter {
                    let in_now = filter.test(&self.context(Some(after))).map_err(|e| self.eval_error("where", e))?;
                    if !in_now {
                        let known = change.table.full_before_image || resolved.filter_on_key;
                        let was_in = match before {
                            Some(old) if known => {
                                filter.test(&self.context(Some(old))).map_err(|e| self.eval_error("where", e))?
                            }
                            // No old image: the identity columns did not change.
                            None if resolved.filter_on_key => false,
                            // Unknown: removing the row is harmless, as the
                            // route's key identifies one source row (checked
                            // when the route was resolved).
                            _ => true,
                        };
                        if was_in {
                            self.remove(before.unwrap_or(after), after, out)?;
                        }
                        return Ok(());
                    }
                }
                if let Some(old) = before
                    && self.row_key_changed(old, after)?
                {
                    self.remove(old, old, out)?;
                }
                self.upsert(after, out)
            }
            Operation::Delete => {
                let before = before.ok_or_else(|| self.error("delete without an old row".into()))?;
                if resolved.when.is_some() {
                    return Ok(());
                }
                if let Some(filter) = &resolved.filter
                    && (change.table.full_before_image || resolved.filter_on_key)
                    && !filter.test(&self.context(Some(before))).map_err(|e| self.eval_error("where", e))?
                {
                    return Ok(());
                }
                self.remove(before, before, out)
            }
            Operation::Truncate => {
                if let Some(write) = self.route.truncate(resolved, change)? {
                    out.push(Pending::Write(write));
                }
                Ok(())
            }
        }
    }

    /// Whether an inserted or updated row enters the route: `where` holds
    /// for it, and for an action, `when` too.
    fn passes(&self, row: &[Value]) -> Result<bool, RouteError> {
        let context = self.context(Some(row));
        if let Some(filter) = &self.resolved.filter
            && !filter.test(&context).map_err(|e| self.eval_error("where", e))?
        {
            return Ok(false);
        }
        match &self.resolved.when {
            Some(when) => when.test(&context).map_err(|e| self.eval_error("when", e)),
            None => Ok(true),
        }
    }

    /// Whether the target key (or, for a crosswalk, the source key) differs
    /// between the old and the new row. A key cell from a crosswalk lookup
    /// compares by the source key it looks up.
    fn row_key_changed(&self, old: &[Value], new: &[Value]) -> Result<bool, RouteError> {
        if self.resolved.crosswalk.is_some() {
            let old_key = self.source_key_of(old)?;
            return Ok(old_key != self.source_key_of(new)?);
        }
        let table = &self.resolved.target;
        for &k in &table.key {
            let column = &table.columns[k];
            let (old_value, new_value) = match &self.resolved.feeds[k] {
                Feed::Lookup { key, .. } => {
                    let old_key = key.eval(&self.context(Some(old))).map_err(|e| self.eval_error(column, e))?;
                    let new_key = key.eval(&self.context(Some(new))).map_err(|e| self.eval_error(column, e))?;
                    (old_key, new_key)
                }
                feed => {
                    let mut unused = Vec::new();
                    (self.feed_value(feed, column, old, &mut unused)?, self.feed_value(feed, column, new, &mut unused)?)
                }
            };
            if matches!(old_value, Value::Unchanged | Value::Null) {
                return Err(self.error("the old row image lacks key values".into()));
            }
            // A key cell the new image did not capture is the old one.
            if new_value != Value::Unchanged && old_value != new_value {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn upsert(&self, row: &[Value], out: &mut Vec<Pending>) -> Result<(), RouteError> {
        let resolved = self.resolved;
        let table = &resolved.target;
        let mut cells = Vec::new();
        let mut values = self.values(&resolved.feeds, table, row, &mut cells)?;
        // A key cell the new image did not capture is the old one.
        if let Some(old) = self.change.before.as_deref() {
            for &k in &table.key {
                if values[k] == Value::Unchanged
                    && let Feed::Column(index) = resolved.feeds[k]
                {
                    values[k] = old.get(index).cloned().unwrap_or(Value::Unchanged);
                }
            }
        }
        if table.key.iter().any(|&k| values[k] == Value::Unchanged) {
            return Err(self.error("the new row image lacks key values".into()));
        }
        self.route.apply_zero_dates(table, &mut values).map_err(|m| self.error(m))?;
        let write = match &resolved.crosswalk {
            Some(plan) => Pending::Assign {
                crosswalk: Arc::clone(&plan.name),
                source_key: self.source_key_of(row)?,
                table: Arc::clone(table),
                values,
                key_cell: plan.key_cell,
                insert_table: Arc::clone(&plan.insert_table),
                cells,
            },
            None if cells.is_empty() => Pending::Write(RowWrite::Upsert { table: Arc::clone(table), values }),
            None => Pending::Lookup { write: RowWrite::Upsert { table: Arc::clone(table), values }, cells },
        };
        out.push(write);
        Ok(())
    }

    /// The row leaves the target as `deletes` says: `key_row` identifies it
    /// (the old image), `row` is what soft-delete expressions read.
    fn remove(&self, key_row: &[Value], row: &[Value], out: &mut Vec<Pending>) -> Result<(), RouteError> {
        let resolved = self.resolved;
        let soft = match self.route.config.deletes {
            DeletesPolicy::Ignore => return Ok(()),
            DeletesPolicy::Apply => None,
            DeletesPolicy::Soft => resolved.soft.as_ref(),
        };
        let mut cells = Vec::new();
        let write = match soft {
            Some((patch, feeds)) => {
                let key_len = patch.key.len();
                let mut values = self.values(&feeds[..key_len], patch, key_row, &mut cells)?;
                let context = self.context(Some(row));
                for (offset, feed) in feeds[key_len..].iter().enumerate() {
                    let column = &patch.columns[key_len + offset];
                    values.push(match feed {
                        Feed::Expr(bound) => bound.eval(&context).map_err(|e| self.eval_error(column, e))?,
                        _ => Value::Null,
                    });
                }
                RowWrite::Patch { table: Arc::clone(patch), values }
            }
            None => {
                let (key_table, key_feeds) = &resolved.delete_key;
                let key = self.values(key_feeds, key_table, key_row, &mut cells)?;
                RowWrite::Delete { table: Arc::clone(&resolved.target), key }
            }
        };
        let key = match &write {
            RowWrite::Delete { key, .. } => key.as_slice(),
            RowWrite::Patch { table, values } => &values[..table.key.len()],
            _ => &[],
        };
        if key.iter().any(|v| matches!(v, Value::Unchanged)) {
            return Err(self.error("the deleted row's image lacks key values".into()));
        }
        out.push(match &resolved.crosswalk {
            Some(plan) => Pending::Unassign {
                crosswalk: Arc::clone(&plan.name),
                source_key: self.source_key_of(key_row)?,
                write,
                key_cell: 0,
            },
            None if cells.is_empty() => Pending::Write(write),
            None => Pending::Lookup { write, cells },
        });
        Ok(())
    }

    /// Evaluates `feeds` over `row`; lookup cells are recorded in `cells`
    /// (their value is a NULL placeholder until the writer fills it).
    fn values(
        &self,
        feeds: &[Feed],
        table: &TargetTable,
        row: &[Value],
        cells: &mut Vec<LookupCell>,
    ) -> Result<Row, RouteError> {
        let mut values = Vec::with_capacity(feeds.len());
        for (index, feed) in feeds.iter().enumerate() {
            let column = &table.columns[index];
            let value = self.feed_value(feed, column, row, cells)?;
            if let Some(cell) = cells.last_mut()
                && cell.cell == usize::MAX
            {
                cell.cell = index;
            }
            values.push(value);
        }
        Ok(values)
    }

    /// One feed's value over `row`. A lookup records its cell in `cells`
    /// (index unset: `values` sets it) and gives a NULL placeholder.
    fn feed_value(
        &self,
        feed: &Feed,
        column: &str,
        row: &[Value],
        cells: &mut Vec<LookupCell>,
    ) -> Result<Value, RouteError> {
        Ok(match feed {
            Feed::Column(source) => row.get(*source).cloned().unwrap_or(Value::Null),
            Feed::Expr(bound) => bound.eval(&self.context(Some(row))).map_err(|e| self.eval_error(column, e))?,
            Feed::Lookup { crosswalk, key } => {
                let key = key.eval(&self.context(Some(row))).map_err(|e| self.eval_error(column, e))?;
                if key == Value::Unchanged {
                    return Err(self.error(format!("{column}: the lookup key was not captured in this change")));
                }
                cells.push(LookupCell {
                    cell: usize::MAX,
                    crosswalk: Arc::clone(crosswalk),
                    key: text_of(&key),
                    column: Arc::from(column),
                });
                Value::Null
            }
            Feed::Null | Feed::Assigned => Value::Null,
        })
    }

    /// Canonical text of the source row key of `row`.
    fn source_key_of(&self, row: &[Value]) -> Result<String, RouteError> {
        key_text(self.resolved.row_key.iter().map(|&i| row.get(i).unwrap_or(&Value::Null)))
            .ok_or_else(|| self.error("the row image lacks its key values".into()))
    }

    fn context<'c>(&'c self, current: Option<&'c [Value]>) -> EvalContext<'c> {
        EvalContext {
            current,
            before: self.change.before.as_deref(),
            after: self.change.after.as_deref(),
            commit_time_micros: self.change.transaction.commit_time_micros,
            source: &self.route.config.source,
            table: &self.resolved.table_text,
        }
    }

    fn error(&self, message: String) -> RouteError {
        self.route.data_error(self.change, message)
    }

    fn eval_error(&self, setting: &str, error: EvalError) -> RouteError {
        let hint = match &error {
            EvalError::Uncaptured { .. } => {
                "; log whole old rows (ALTER TABLE … REPLICA IDENTITY FULL) so Sluice can take it from the old row"
            }
            _ => "",
        };
        self.error(format!("{setting}: {error}{hint}"))
    }
}

/// An update whose new image lacks cells (unchanged TOAST) takes them from
/// the old image when the source logged the whole old row.
fn fill_uncaptured_from_old_row(change: &mut Change) {
    if change.operation != Operation::Update || !change.table.full_before_image {
        return;
    }
    let (Some(before), Some(after)) = (&change.before, &mut change.after) else { return };
    for (new, old) in after.iter_mut().zip(before) {
        if *new == Value::Unchanged && *old != Value::Unchanged {
            *new = old.clone();
        }
    }
}

/// Canonical text of a key: one column's [`text_of`], or a JSON array of
/// them for composite keys (NULL as `null`). `None` when a cell was not
/// captured or every cell is NULL.
pub(crate) fn key_text<'v>(cells: impl ExactSizeIterator<Item = &'v Value>) -> Option<String> {
    let single = cells.len() == 1;
    let mut texts = Vec::with_capacity(cells.len());
    for cell in cells {
        if *cell == Value::Unchanged {
            return None;
        }
        texts.push(text_of(cell));
    }
    if texts.iter().all(Option::is_none) {
        return None;
    }
    if single {
        return texts.pop().flatten();
    }
    Some(serde_json::to_string(&texts).expect("strings serialize"))
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
