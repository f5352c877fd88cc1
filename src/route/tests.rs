//! Route resolution and mapping, without servers.

use super::*;
use crate::config::ZeroDates;
use sluice_api::{Column, ColumnType, Lsn, Operation, Position, RowWrite, TableName, Transaction};

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

/// A route built from a `[[routes]]` body (source `erp`, table
/// `public.inventory`, target `report`) through the real config loader.
fn configured(body: &str, target_columns: &[&str], target_key: &[&str]) -> Route {
    let text = format!(
        "[checkpoints]\npath = \"/tmp/x\"\n[sources.erp]\nkind = \"postgres\"\nurl = \"postgres://h/db\"\n\
         [targets.report]\nkind = \"postgres\"\nurl = \"postgres://h/r\"\n\
         [maps.status]\nunmapped = \"error\"\n[maps.status.values]\nnew = \"NEW\"\npaid = \"PAID\"\n\
         [[routes]]\nname = \"r\"\nsource = \"erp\"\ntable = \"public.inventory\"\ntarget = \"report\"\n\
         into = \"public.stock\"\n{body}\n"
    );
    let config = crate::config::Config::from_text(&text, std::path::Path::new("/etc/sluice.toml"), |_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    let shape = TargetShape {
        columns: target_columns.iter().map(|s| (*s).to_owned()).collect(),
        primary_key: target_key.iter().map(|s| (*s).to_owned()).collect(),
        unique_keys: vec![],
    };
    Route::new(config.routes[0].clone(), shape, vec![], config.maps.clone()).unwrap()
}

fn route(columns: &[(&str, &str)], key: Option<&[&str]>, target_columns: &[&str]) -> Route {
    let mut body = String::new();
    if let Some(key) = key {
        body.push_str(&format!("key = {key:?}\n"));
    }
    body.push_str("[routes.columns]\n");
    for (target, source) in columns {
        body.push_str(&format!("{target} = \"{source}\"\n"));
    }
    configured(&body, target_columns, &[])
}

/// The plain writes a mapping made (panics on guarded ones).
fn writes(out: Vec<Pending>) -> Vec<RowWrite> {
    out.into_iter()
        .map(|p| match p {
            Pending::Write(w) => w,
            other => panic!("expected a plain write, got {other:?}"),
        })
        .collect()
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
    let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(1), Value::Int(5), Value::Null]));
    route.map(&mut insert, true, &mut out).unwrap();
    let out = writes(out);
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
    let out = writes(out);
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
    let out = writes(out);
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
    let text = "[checkpoints]\npath = \"/tmp/x\"\n[sources.erp]\nkind = \"postgres\"\nurl = \"postgres://h/db\"\n\
                [targets.report]\nkind = \"postgres\"\nurl = \"postgres://h/r\"\n[[routes]]\nsource = \"erp\"\n\
                table = \"public.inventory\"\ntarget = \"report\"\n[routes.columns]\nnope = \"qty\"\n";
    let config = crate::config::Config::from_text(text, std::path::Path::new("/x.toml"), |_| None).unwrap();
    let shape = TargetShape { columns: vec!["sku".into()], primary_key: vec![], unique_keys: vec![] };
    let message = Route::new(config.routes[0].clone(), shape, vec![], config.maps.clone()).unwrap_err().to_string();
    assert!(message.contains("nope"), "{message}");
}

fn text(value: &str) -> Value {
    Value::Text(value.into())
}

fn full_schema(columns: Vec<Column>) -> Arc<TableSchema> {
    Arc::new(TableSchema { id: 1, name: TableName::new("public", "inventory"), columns, full_before_image: true })
}

fn text_column(name: &str, is_key: bool) -> Column {
    Column {
        column_type: ColumnType::Text { max_chars: None },
        type_name: "text".into(),
        type_id: 25,
        ..column(name, is_key)
    }
}

#[test]
fn expressions_and_value_maps_compute_target_cells() {
    let source = schema(vec![column("id", true), text_column("status", false), text_column("name", false)]);
    let mut route = configured(
        "[routes.columns]\nstate = \"map(status, status)\"\nlabel = \"upper(name) || '-' || id\"\norigin = \"'crm'\"\n",
        &["id", "state", "label", "origin"],
        &["id"],
    );
    let mut out = Vec::new();
    let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(7), text("paid"), text("ann")]));
    route.map(&mut insert, true, &mut out).unwrap();
    let out = writes(out);
    let RowWrite::Upsert { table, values } = &out[0] else { panic!("expected upsert") };
    assert_eq!(table.columns, ["id", "state", "label", "origin"]);
    assert_eq!(values, &[Value::Int(7), text("PAID"), text("ANN-7"), text("crm")]);

    let mut unmapped = change(&source, Operation::Insert, None, Some(vec![Value::Int(8), text("odd"), text("x")]));
    let error = route.map(&mut unmapped, true, &mut Vec::new()).unwrap_err();
    assert!(matches!(error, RouteError::Data { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("map status") && message.contains("state") && !message.contains("odd"), "{message}");
}

#[test]
fn a_filtered_update_leaving_the_filter_deletes_and_one_known_outside_is_skipped() {
    let route_body = "where = \"status = 'open'\"\n";
    let columns = ["id", "status"];
    let partial = schema(vec![column("id", true), text_column("status", false)]);
    let mut route = configured(route_body, &columns, &["id"]);
    let mut out = Vec::new();
    let mut leaving = change(&partial, Operation::Update, None, Some(vec![Value::Int(1), text("closed")]));
    route.map(&mut leaving, true, &mut out).unwrap();
    assert!(matches!(&writes(out)[..], [RowWrite::Delete { key, .. }] if key == &[Value::Int(1)]));

    // With whole old rows, an update that was outside and stays outside writes nothing.
    let full = full_schema(vec![column("id", true), text_column("status", false)]);
    let mut out = Vec::new();
    let mut outside = change(
        &full,
        Operation::Update,
        Some(vec![Value::Int(2), text("closed")]),
        Some(vec![Value::Int(2), text("archived")]),
    );
    route.map(&mut outside, true, &mut out).unwrap();
    assert!(out.is_empty(), "{out:?}");
    let mut insert_outside = change(&full, Operation::Insert, None, Some(vec![Value::Int(3), text("closed")]));
    route.map(&mut insert_outside, true, &mut out).unwrap();
    assert!(out.is_empty());
    let mut delete_outside = change(&full, Operation::Delete, Some(vec![Value::Int(3), text("closed")]), None);
    route.map(&mut delete_outside, true, &mut out).unwrap();
    assert!(out.is_empty(), "a delete of a row outside the filter touches nothing");
}

#[test]
fn soft_deletes_patch_their_columns_and_upserts_clear_them() {
    let source = schema(vec![column("id", true), text_column("name", false)]);
    let mut route = configured(
        "deletes = \"soft\"\n[routes.soft_delete]\ndeleted_at = \"commit_time()\"\n",
        &["id", "name", "deleted_at"],
        &["id"],
    );
    let mut out = Vec::new();
    let mut delete = change(&source, Operation::Delete, Some(vec![Value::Int(4), Value::Null]), None);
    delete.transaction = Arc::new(Transaction { commit_time_micros: 1_000_000, ..(*delete.transaction).clone() });
    route.map(&mut delete, true, &mut out).unwrap();
    let out_writes = writes(out);
    let RowWrite::Patch { table, values } = &out_writes[0] else { panic!("expected a patch: {out_writes:?}") };
    assert_eq!(table.columns, ["id", "deleted_at"]);
    assert_eq!(values, &[Value::Int(4), Value::TimestampTz(sluice_api::TimestampTz::Micros(1_000_000))]);

    let mut out = Vec::new();
    let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(4), text("back")]));
    route.map(&mut insert, true, &mut out).unwrap();
    let RowWrite::Upsert { table, values } = &writes(out)[0] else { panic!("expected upsert") };
    assert_eq!(table.columns, ["id", "name", "deleted_at"]);
    assert_eq!(values[2], Value::Null, "a live row's soft-delete column is cleared");
}

#[test]
fn an_action_fires_on_its_transition_only_and_writes_insert_only_rows() {
    let source = full_schema(vec![column("id", true), text_column("status", false)]);
    let mut route = configured(
        "key = [\"request\"]\nother_columns = \"ignore\"\n\
         when = \"before.status IS DISTINCT FROM 'approved' AND after.status = 'approved'\"\n\
         [routes.columns]\nrequest = \"'R-' || id\"\nstatus = \"status\"\n",
        &["request", "status"],
        &["request"],
    );
    let approve = |before: &str, after: &str| {
        change(
            &source,
            Operation::Update,
            Some(vec![Value::Int(1), text(before)]),
            Some(vec![Value::Int(1), text(after)]),
        )
    };
    let mut out = Vec::new();
    route.map(&mut approve("pending", "approved"), true, &mut out).unwrap();
    let RowWrite::Upsert { table, values } = &writes(std::mem::take(&mut out))[0] else { panic!("expected upsert") };
    assert_eq!(values, &[text("R-1"), text("approved")]);
    assert_eq!(table.insert_only, [1], "every non-key column of an action is insert-only");
    route.map(&mut approve("approved", "approved"), true, &mut out).unwrap();
    route.map(&mut approve("approved", "rejected"), true, &mut out).unwrap();
    let mut delete = change(&source, Operation::Delete, Some(vec![Value::Int(1), text("approved")]), None);
    route.map(&mut delete, true, &mut out).unwrap();
    assert!(out.is_empty(), "no transition, no write; actions never delete: {out:?}");
    let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(2), text("approved")]));
    route.map(&mut insert, true, &mut out).unwrap();
    assert_eq!(out.len(), 1, "an insert straight into approved fires");
}

#[test]
fn reading_old_values_without_whole_old_rows_is_refused_naming_the_fix() {
    let source = schema(vec![column("id", true), text_column("status", false)]);
    let mut route = configured(
        "key = [\"request\"]\nother_columns = \"ignore\"\nwhen = \"before.status <> after.status\"\n\
         [routes.columns]\nrequest = \"id\"\n",
        &["request"],
        &["request"],
    );
    let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(1), text("x")]));
    let message = route.map(&mut insert, true, &mut Vec::new()).unwrap_err().to_string();
    assert!(message.contains("REPLICA IDENTITY FULL") && message.contains("status"), "{message}");
}

#[test]
fn unchanged_cells_come_from_whole_old_rows_and_otherwise_fail_expressions_with_a_hint() {
    let body = "[routes.columns]\nlabel = \"upper(doc)\"\n";
    let columns = ["id", "doc", "label"];
    let full = full_schema(vec![column("id", true), text_column("doc", false)]);
    let mut route = configured(body, &columns, &["id"]);
    let mut out = Vec::new();
    let mut update = change(
        &full,
        Operation::Update,
        Some(vec![Value::Int(1), text("big")]),
        Some(vec![Value::Int(1), Value::Unchanged]),
    );
    route.map(&mut update, true, &mut out).unwrap();
    let RowWrite::Upsert { values, .. } = &writes(out)[0] else { panic!("expected upsert") };
    assert_eq!(values, &[Value::Int(1), text("big"), text("BIG")]);

    let partial = schema(vec![column("id", true), text_column("doc", false)]);
    let mut update = change(&partial, Operation::Update, None, Some(vec![Value::Int(1), Value::Unchanged]));
    let message = route.map(&mut update, true, &mut Vec::new()).unwrap_err().to_string();
    assert!(message.contains("label") && message.contains("REPLICA IDENTITY FULL"), "{message}");
}

#[test]
fn lookups_leave_cells_for_the_writer_in_upserts_and_delete_keys() {
    let source = schema(vec![column("order_id", true), column("line", true), column("qty", false)]);
    let text = "[checkpoints]\npath = \"/tmp/x\"\n[sources.erp]\nkind = \"postgres\"\nurl = \"postgres://h/db\"\n\
                [targets.report]\nkind = \"postgres\"\nurl = \"postgres://h/r\"\n\
                [[routes]]\nname = \"orders\"\nsource = \"erp\"\ntable = \"public.orders\"\ntarget = \"report\"\n\
                [routes.crosswalk]\ntarget_key = \"id\"\n\
                [[routes]]\nname = \"lines\"\nsource = \"erp\"\ntable = \"public.inventory\"\ntarget = \"report\"\n\
                into = \"public.lines\"\nkey = [\"so\", \"line\"]\n[routes.columns]\nso = \"lookup('orders', order_id)\"\n";
    let config = crate::config::Config::from_text(text, std::path::Path::new("/x.toml"), |_| None).unwrap();
    assert_eq!(config.routes[1].lookup_level, 1, "lines come after the orders they look up");
    let shape = TargetShape {
        columns: vec!["so".into(), "line".into(), "qty".into()],
        primary_key: vec![],
        unique_keys: vec![],
    };
    let mut route = Route::new(config.routes[1].clone(), shape, vec![], config.maps.clone()).unwrap();
    assert!(route.is_guarded(&source).unwrap());
    let mut out = Vec::new();
    let mut delete = change(&source, Operation::Delete, Some(vec![Value::Int(9), Value::Int(2), Value::Null]), None);
    route.map(&mut delete, true, &mut out).unwrap();
    let [Pending::Lookup { write: RowWrite::Delete { key, .. }, cells }] = &out[..] else { panic!("{out:?}") };
    assert_eq!(key, &[Value::Null, Value::Int(2)]);
    assert_eq!((cells[0].cell, &*cells[0].crosswalk, cells[0].key.as_deref()), (0, "orders", Some("9")));
}

#[test]
fn a_crosswalk_route_assigns_on_upsert_and_unassigns_on_delete() {
    let source = schema(vec![column("id", true), text_column("name", false)]);
    let mut route = configured("[routes.crosswalk]\ntarget_key = \"no\"\n", &["no", "id", "name"], &["no"]);
    let shape_error = configured("[routes.crosswalk]\ntarget_key = \"no\"\n", &["no", "name"], &["no"]);
    drop(shape_error);
    let mut out = Vec::new();
    let mut insert = change(&source, Operation::Insert, None, Some(vec![Value::Int(5), text("a")]));
    route.map(&mut insert, true, &mut out).unwrap();
    let [Pending::Assign { source_key, table, values, key_cell, insert_table, .. }] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(source_key, "5");
    assert_eq!(table.columns, ["no", "id", "name"]);
    assert_eq!((*key_cell, &values[1..]), (0, &[Value::Int(5), text("a")][..]));
    assert_eq!(insert_table.columns, ["id", "name"]);
    let mut out = Vec::new();
    let mut delete = change(&source, Operation::Delete, Some(vec![Value::Int(5), Value::Null]), None);
    route.map(&mut delete, true, &mut out).unwrap();
    assert!(
        matches!(&out[..], [Pending::Unassign { source_key, write: RowWrite::Delete { .. }, .. }] if source_key == "5")
    );
}

#[test]
fn a_truncate_is_refused_where_it_would_remove_rows_that_are_not_the_routes() {
    let source = schema(vec![column("id", true), text_column("status", false)]);
    let mut filtered = configured("where = \"status = 'x'\"\n", &["id", "status"], &["id"]);
    let mut truncate = change(&source, Operation::Truncate, None, None);
    let message = filtered.map(&mut truncate, true, &mut Vec::new()).unwrap_err().to_string();
    assert!(message.contains("TRUNCATE") && message.contains("where"), "{message}");
    let mut shared = configured("", &["id", "status"], &["id"]);
    shared.shares_target_table = true;
    let message = shared.map(&mut truncate, true, &mut Vec::new()).unwrap_err().to_string();
    assert!(message.contains("other routes"), "{message}");
    let mut ignoring = configured("deletes = \"ignore\"\n", &["id", "status"], &["id"]);
    let mut out = Vec::new();
    ignoring.map(&mut truncate, true, &mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn a_filter_on_identity_columns_knows_which_rows_were_in_even_without_old_images() {
    // inventory per (sku, warehouse) -> stock per sku, main warehouse only.
    let source = schema(vec![text_column("sku", true), text_column("warehouse", true), column("qty", false)]);
    let mut route = configured(
        "key = [\"sku\"]\nother_columns = \"ignore\"\nwhere = \"warehouse = 'MAIN'\"\n[routes.columns]\nsku = \"sku\"\nqty = \"qty\"\n",
        &["sku", "qty"],
        &["sku"],
    );
    let mut out = Vec::new();
    // An update of another warehouse's row: no old image (its key did not change).
    let mut east = change(&source, Operation::Update, None, Some(vec![text("A"), text("EAST"), Value::Int(20)]));
    route.map(&mut east, true, &mut out).unwrap();
    // A delete of another warehouse's row: the old image holds the key columns.
    let mut gone = change(&source, Operation::Delete, Some(vec![text("B"), text("EAST"), Value::Null]), None);
    route.map(&mut gone, true, &mut out).unwrap();
    assert!(out.is_empty(), "rows outside the filter never touch the main warehouse's stock: {out:?}");
    let mut main = change(&source, Operation::Delete, Some(vec![text("B"), text("MAIN"), Value::Null]), None);
    route.map(&mut main, true, &mut out).unwrap();
    assert!(matches!(&writes(out)[..], [RowWrite::Delete { key, .. }] if key == &[text("B")]));
}

#[test]
fn a_filter_on_other_columns_with_a_key_coarser_than_the_source_row_is_refused() {
    let source = schema(vec![text_column("sku", true), text_column("warehouse", true), text_column("state", false)]);
    let mut route = configured(
        "key = [\"sku\"]\nother_columns = \"ignore\"\nwhere = \"state = 'active'\"\n[routes.columns]\nsku = \"sku\"\n",
        &["sku"],
        &["sku"],
    );
    let mut insert = change(&source, Operation::Insert, None, Some(vec![text("A"), text("MAIN"), text("active")]));
    let message = route.map(&mut insert, true, &mut Vec::new()).unwrap_err().to_string();
    assert!(message.contains("REPLICA IDENTITY FULL") && message.contains("state"), "{message}");
}

#[test]
fn an_action_fires_only_for_rows_its_filter_admits() {
    let source = full_schema(vec![column("id", true), text_column("kind", false), text_column("status", false)]);
    let mut route = configured(
        "key = [\"request\"]\nother_columns = \"ignore\"\nwhere = \"kind = 'shipment'\"\n\
         when = \"before.status IS DISTINCT FROM 'approved' AND after.status = 'approved'\"\n\
         [routes.columns]\nrequest = \"'R-' || id\"\n",
        &["request"],
        &["request"],
    );
    let approve = |id: i64, kind: &str| {
        change(
            &source,
            Operation::Update,
            Some(vec![Value::Int(id), text(kind), text("pending")]),
            Some(vec![Value::Int(id), text(kind), text("approved")]),
        )
    };
    let mut out = Vec::new();
    route.map(&mut approve(1, "expense"), true, &mut out).unwrap();
    assert!(out.is_empty(), "an approved expense claim ships nothing");
    route.map(&mut approve(2, "shipment"), true, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    let mut insert =
        change(&source, Operation::Insert, None, Some(vec![Value::Int(3), text("expense"), text("approved")]));
    route.map(&mut insert, true, &mut out).unwrap();
    assert_eq!(out.len(), 1);
}

#[test]
fn a_chunk_row_orders_before_a_transaction_starting_where_the_chunk_was_written() {
    let at = Position::Postgres(Lsn(0x16B_3748));
    let chunk = chunk_seq(Some(&at), 3, 9);
    let same_start = stream_seq(&at, 0);
    let later = stream_seq(&Position::Postgres(Lsn(0x16B_3749)), 0);
    let earlier = stream_seq(&Position::Postgres(Lsn(0x16B_3747)), 99);
    assert!(earlier < chunk && chunk < same_start && same_start < later, "{earlier} {chunk} {same_start} {later}");
    assert!(stream_seq(&at, 2) < stream_seq(&at, 10), "changes of one transaction in order");
}
