//! Splitting a sink's writes into runs: maximal stretches of consecutive
//! writes of one kind to one table, each of which a sink can execute as one
//! multi-row statement. Order between runs is the source's order, which
//! keeps per-key order and foreign-key order across tables.

use std::ops::Range;
use std::sync::Arc;

use crate::change::{RowWrite, TargetTable};
use crate::value::Value;

/// What a run does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// Upserts whose images have `Value::Unchanged` at these column indices
    /// (empty: whole rows).
    Upsert {
        unchanged: Vec<usize>,
    },
    Delete,
    Truncate,
    /// Updates of existing rows by key (soft deletes) whose images have
    /// `Value::Unchanged` at these column indices; missing rows are skipped.
    Patch {
        unchanged: Vec<usize>,
    },
}

impl RunKind {
    pub fn of(write: &RowWrite) -> RunKind {
        match write {
            RowWrite::Upsert { values, .. } => RunKind::Upsert { unchanged: unchanged_cells(values) },
            RowWrite::Delete { .. } => RunKind::Delete,
            RowWrite::Truncate { .. } => RunKind::Truncate,
            RowWrite::Patch { values, .. } => RunKind::Patch { unchanged: unchanged_cells(values) },
        }
    }
}

fn unchanged_cells(values: &[Value]) -> Vec<usize> {
    values.iter().enumerate().filter(|(_, v)| matches!(v, Value::Unchanged)).map(|(i, _)| i).collect()
}

/// One run: `writes[range]` all have `kind`; all target one table, except
/// truncates when [`runs`] was asked to merge them across tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub kind: RunKind,
    pub range: Range<usize>,
}

/// Splits `writes` into runs. With `truncates_across_tables`, consecutive
/// truncates of different tables form one run (PostgreSQL can only truncate
/// a table referenced by a foreign key together with the referencing tables).
pub fn runs(writes: &[RowWrite], truncates_across_tables: bool) -> Vec<Run> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < writes.len() {
        let kind = RunKind::of(&writes[start]);
        let table = writes[start].table();
        let mut end = start + 1;
        while end < writes.len() {
            let next = &writes[end];
            let joins = if kind == RunKind::Truncate && truncates_across_tables {
                matches!(next, RowWrite::Truncate { .. })
            } else {
                same_table(next.table(), table) && RunKind::of(next) == kind
            };
            if !joins {
                break;
            }
            end += 1;
        }
        out.push(Run { kind, range: start..end });
        start = end;
    }
    out
}

fn same_table(a: &Arc<TargetTable>, b: &Arc<TargetTable>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Arc<TargetTable> {
        Arc::new(TargetTable::new("s", name, vec!["k".into(), "v".into()], vec![0]))
    }

    fn upsert(t: &Arc<TargetTable>, v: Value) -> RowWrite {
        RowWrite::Upsert { table: Arc::clone(t), values: vec![Value::Int(1), v] }
    }

    #[test]
    fn consecutive_writes_of_one_kind_and_table_form_a_run() {
        let (a, b) = (table("a"), table("b"));
        let writes = vec![
            upsert(&a, Value::Int(1)),
            upsert(&a, Value::Int(2)),
            upsert(&a, Value::Unchanged),
            RowWrite::Delete { table: Arc::clone(&a), key: vec![Value::Int(1)] },
            upsert(&b, Value::Int(3)),
            upsert(&a, Value::Int(4)),
        ];
        let kinds: Vec<(RunKind, Range<usize>)> = runs(&writes, false).into_iter().map(|r| (r.kind, r.range)).collect();
        assert_eq!(
            kinds,
            vec![
                (RunKind::Upsert { unchanged: vec![] }, 0..2),
                (RunKind::Upsert { unchanged: vec![1] }, 2..3),
                (RunKind::Delete, 3..4),
                (RunKind::Upsert { unchanged: vec![] }, 4..5),
                (RunKind::Upsert { unchanged: vec![] }, 5..6),
            ]
        );
    }

    #[test]
    fn truncates_merge_across_tables_only_when_asked() {
        let (a, b) = (table("a"), table("b"));
        let writes = vec![RowWrite::Truncate { table: Arc::clone(&a) }, RowWrite::Truncate { table: Arc::clone(&b) }];
        assert_eq!(runs(&writes, true), vec![Run { kind: RunKind::Truncate, range: 0..2 }]);
        assert_eq!(
            runs(&writes, false),
            vec![Run { kind: RunKind::Truncate, range: 0..1 }, Run { kind: RunKind::Truncate, range: 1..2 }]
        );
    }
}
