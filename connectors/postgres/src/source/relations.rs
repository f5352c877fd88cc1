//! The relation cache: pgoutput Relation messages turned into table
//! schemas, and tuples turned into rows of values.
//!
//! The walsender sends a Relation (R) message before the first change of a
//! table in a session and again whenever the table's schema changed (ADD or
//! DROP COLUMN, type change). Each one replaces the cached schema, and every
//! change points at the `Arc<TableSchema>` that was current when its tuple
//! arrived, so a column added mid-stream never shifts a value.
//!
//! Key flags come from the Relation message (bit 1 of each column's flags),
//! except under REPLICA IDENTITY FULL, where PostgreSQL flags every column:
//! then the caller passes the primary key instead (none: no key column).
//!
//! Tuple values are text (Sluice never requests `binary`) and decode through
//! `types::decode_text`; an unchanged TOAST value (`u`) becomes
//! `Value::Unchanged`. A decode failure names table, column and type, never
//! the value.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::{Column, ColumnType, Row, TableName, TableSchema, Value};

use super::catalog::ResolvedType;
use super::pgoutput::{OldTuple, RelationMessage, Tuple, TupleColumn};
use crate::error::PostgresError;
use crate::types::decode_text;

/// Schemas by relation OID, as last announced on the stream.
#[derive(Default)]
pub(crate) struct RelationCache {
    relations: HashMap<u32, Arc<TableSchema>>,
}

/// REPLICA IDENTITY FULL in a Relation message.
pub(crate) const IDENTITY_FULL: u8 = b'f';

impl RelationCache {
    /// Builds the schema for a Relation message from its resolved column
    /// types (aligned with `relation.columns`) and replaces the cached one.
    /// `full_identity_key` names the key columns when the relation's replica
    /// identity is FULL (the message then flags every column).
    pub(crate) fn insert(
        &mut self,
        relation: &RelationMessage,
        types: Vec<ResolvedType>,
        full_identity_key: Option<&[String]>,
    ) -> Arc<TableSchema> {
        let columns = relation
            .columns
            .iter()
            .zip(types)
            .map(|(column, resolved)| Column {
                name: column.name.clone(),
                column_type: resolved.column_type,
                type_name: resolved.type_name,
                type_id: column.type_oid,
                type_modifier: column.type_modifier,
                is_key: match full_identity_key {
                    Some(key) if relation.replica_identity == IDENTITY_FULL => key.contains(&column.name),
                    _ => column.is_key,
                },
            })
            .collect();
        let schema = Arc::new(TableSchema {
            id: u64::from(relation.oid),
            name: TableName::new(relation.namespace.clone(), relation.name.clone()),
            columns,
            full_before_image: relation.replica_identity == IDENTITY_FULL,
        });
        self.relations.insert(relation.oid, Arc::clone(&schema));
        schema
    }

    /// The current schema of a relation; a change for a relation never
    /// announced is a protocol error.
    pub(crate) fn get(&self, oid: u32) -> Result<&Arc<TableSchema>, PostgresError> {
        self.relations.get(&oid).ok_or_else(|| PostgresError::Protocol {
            what: "pgoutput change",
            reason: format!("change for relation OID {oid}, which no Relation message announced"),
        })
    }
}

/// Decodes a tuple into a row of the table's columns.
pub(crate) fn decode_row(table: &TableSchema, tuple: &Tuple) -> Result<Row, PostgresError> {
    if tuple.len() != table.columns.len() {
        return Err(PostgresError::Protocol {
            what: "pgoutput tuple",
            reason: format!(
                "table {} has {} columns but a tuple carries {}",
                table.name,
                table.columns.len(),
                tuple.len()
            ),
        });
    }
    table.columns.iter().zip(tuple).map(|(column, value)| decode_column(table, column, value)).collect()
}

fn decode_column(table: &TableSchema, column: &Column, value: &TupleColumn) -> Result<Value, PostgresError> {
    match value {
        TupleColumn::Null => Ok(Value::Null),
        TupleColumn::Unchanged => Ok(Value::Unchanged),
        TupleColumn::Text(bytes) => decode_cell(table, column, bytes),
        TupleColumn::Binary(_) => Err(PostgresError::Protocol {
            what: "pgoutput tuple",
            reason: format!(
                "table {}, column {}: a binary value, which Sluice never requests",
                table.name, column.name
            ),
        }),
    }
}

/// Decodes one non-NULL value in the type's text output format, as the
/// stream does: UTF-8 (the session's `client_encoding`), `types::decode_text`,
/// and enum labels checked against the column's type. Shared with the
/// snapshot reader, so a row read by a chunk equals the same row streamed.
pub(crate) fn decode_cell(table: &TableSchema, column: &Column, bytes: &[u8]) -> Result<Value, PostgresError> {
    let value_error = |reason: String| PostgresError::Value {
        table: table.name.to_string(),
        column: column.name.clone(),
        type_name: column.type_name.clone(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| {
        value_error("the value is not valid UTF-8 although the session's client_encoding is UTF8".into())
    })?;
    let value = decode_text(&column.column_type, &column.type_name, text).map_err(|error| value_error(error.0))?;
    if !labels_known(&column.column_type, &value) {
        // The caller re-reads the type (ALTER TYPE … ADD VALUE sends no new Relation).
        return Err(value_error("an enum label the column's type did not have when it was read".into()));
    }
    Ok(value)
}

/// Whether every enum label in `value` is one of its type's labels.
fn labels_known(column_type: &ColumnType, value: &Value) -> bool {
    match (column_type, value) {
        (ColumnType::Enum { labels }, Value::Enum(label)) => labels.contains(label),
        (ColumnType::Array(element), Value::Array(items)) => items.iter().all(|item| labels_known(element, item)),
        _ => true,
    }
}

/// The before and after images of an update. Under REPLICA IDENTITY FULL
/// the old tuple holds every value, so unchanged TOAST columns of the new
/// image are filled from it; otherwise they stay `Value::Unchanged`.
pub(crate) fn decode_update(
    table: &TableSchema,
    old: Option<&OldTuple>,
    new: &Tuple,
) -> Result<(Option<Row>, Row), PostgresError> {
    let before = old.map(|old| decode_row(table, old.tuple())).transpose()?;
    let mut after = decode_row(table, new)?;
    if let (Some(OldTuple::Full(_)), Some(before)) = (old, &before) {
        for (value, old_value) in after.iter_mut().zip(before) {
            if *value == Value::Unchanged && *old_value != Value::Unchanged {
                *value = old_value.clone();
            }
        }
    }
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::source::pgoutput::RelationColumn;

    fn relation(identity: u8, columns: &[(&str, bool)]) -> RelationMessage {
        RelationMessage {
            oid: 77,
            namespace: "public".into(),
            name: "items".into(),
            replica_identity: identity,
            columns: columns
                .iter()
                .map(|(name, is_key)| RelationColumn {
                    is_key: *is_key,
                    name: (*name).into(),
                    type_oid: 25,
                    type_modifier: -1,
                })
                .collect(),
        }
    }

    fn text_types(n: usize) -> Vec<ResolvedType> {
        vec![ResolvedType { column_type: ColumnType::Text { max_chars: None }, type_name: "text".into() }; n]
    }

    fn text(s: &str) -> TupleColumn {
        TupleColumn::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn a_new_relation_message_replaces_the_schema_but_old_arcs_stay_intact() {
        let mut cache = RelationCache::default();
        let first = cache.insert(&relation(b'd', &[("id", true), ("a", false)]), text_types(2), None);
        let second = cache.insert(&relation(b'd', &[("id", true), ("a", false), ("b", false)]), text_types(3), None);
        assert_eq!(first.columns.len(), 2);
        assert_eq!(second.columns.len(), 3);
        assert!(Arc::ptr_eq(cache.get(77).unwrap(), &second));
        assert_eq!(second.name, TableName::new("public", "items"));
        assert_eq!(second.key_indices(), vec![0]);
    }

    #[test]
    fn full_identity_takes_the_key_from_the_primary_key() {
        let mut cache = RelationCache::default();
        let all_flagged = relation(IDENTITY_FULL, &[("id", true), ("a", true)]);
        let with_pk = cache.insert(&all_flagged, text_types(2), Some(&["id".to_owned()]));
        assert_eq!(with_pk.key_indices(), vec![0]);
        let without_pk = cache.insert(&all_flagged, text_types(2), Some(&[]));
        assert!(without_pk.key_indices().is_empty());
    }

    #[test]
    fn unknown_relation_is_a_protocol_error() {
        assert!(matches!(RelationCache::default().get(5), Err(PostgresError::Protocol { .. })));
    }

    #[test]
    fn tuple_with_the_wrong_column_count_names_the_table() {
        let mut cache = RelationCache::default();
        let table = cache.insert(&relation(b'd', &[("id", true), ("a", false)]), text_types(2), None);
        let error = decode_row(&table, &vec![text("1")]).unwrap_err();
        assert!(error.to_string().contains("public.items"), "{error}");
    }

    #[test]
    fn null_and_unchanged_toast_are_distinct_values() {
        let mut cache = RelationCache::default();
        let table = cache.insert(&relation(b'd', &[("id", true), ("a", false), ("b", false)]), text_types(3), None);
        let row = decode_row(&table, &vec![text("1"), TupleColumn::Null, TupleColumn::Unchanged]).unwrap();
        assert_eq!(row[1], Value::Null);
        assert_eq!(row[2], Value::Unchanged);
    }

    #[test]
    fn full_old_image_fills_unchanged_columns_of_the_new_image() {
        let mut cache = RelationCache::default();
        let table = cache.insert(&relation(IDENTITY_FULL, &[("id", true), ("big", true)]), text_types(2), None);
        let old = OldTuple::Full(vec![text("1"), text("long value")]);
        let (before, after) = decode_update(&table, Some(&old), &vec![text("1"), TupleColumn::Unchanged]).unwrap();
        assert_eq!(before.unwrap()[1], after[1]);
        assert_ne!(after[1], Value::Unchanged);

        let key_only = OldTuple::Key(vec![text("1"), TupleColumn::Null]);
        let (_, after) = decode_update(&table, Some(&key_only), &vec![text("2"), TupleColumn::Unchanged]).unwrap();
        assert_eq!(after[1], Value::Unchanged);
    }

    #[test]
    fn an_enum_label_unknown_to_the_schema_is_a_value_error() {
        let mut cache = RelationCache::default();
        let mood = ColumnType::Enum { labels: vec!["sad".into(), "ok".into()] };
        let types = vec![
            ResolvedType { column_type: mood.clone(), type_name: "mood".into() },
            ResolvedType { column_type: ColumnType::Array(Box::new(mood)), type_name: "mood[]".into() },
        ];
        let table = cache.insert(&relation(b'd', &[("m", false), ("ms", false)]), types, None);
        assert!(decode_row(&table, &vec![text("ok"), text("{sad}")]).is_ok());
        for tuple in [vec![text("glad"), text("{}")], vec![text("ok"), text("{ok,glad}")]] {
            assert!(matches!(decode_row(&table, &tuple), Err(PostgresError::Value { .. })));
        }
    }

    #[test]
    fn binary_values_and_invalid_utf8_are_errors_without_the_value() {
        let mut cache = RelationCache::default();
        let table = cache.insert(&relation(b'd', &[("secret", false)]), text_types(1), None);
        let error = decode_row(&table, &vec![TupleColumn::Text(Bytes::from_static(b"\xC3\x28pw"))]).unwrap_err();
        assert!(matches!(error, PostgresError::Value { .. }));
        assert!(!error.to_string().contains("pw"), "{error}");
        let error = decode_row(&table, &vec![TupleColumn::Binary(Bytes::from_static(b"x"))]).unwrap_err();
        assert!(matches!(error, PostgresError::Protocol { .. }));
    }
}
