//! Per-row cost of mapping a change through a route (`src/route`), the
//! router's work for every change: the fast path of pure renames (cells
//! moved), and an ERP-style route with a filter, a value map, computed
//! columns, a constant and an insert-only default. Compare with the
//! pipeline's budget: ~50–100k rows/s per core is 10–20 µs per row, so
//! mapping should cost a few percent of it at most.
//!
//! `cargo bench --bench mapping` prints criterion's time per change
//! (building the change's row included, as the decoder hands it over).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sluice::bench_support::RouteMapper;
use sluice::config::Config;
use sluice_api::{
    CivilDate, Column, ColumnType, Decimal, Lsn, Operation, Position, TableName, TableSchema, TimeOfDay, Timestamp,
    Transaction, Value,
};

const CONFIG: &str = r#"
[checkpoints]
path = "/tmp/bench-state"
[sources.crm]
kind = "postgres"
url = "postgres://h/crm"
[targets.erp]
kind = "postgres"
url = "postgres://h/erp"

[maps.order_status]
[maps.order_status.values]
new = "PENDING"
paid = "CONFIRMED"
shipped = "SHIPPED"

[[routes]]
name = "renames"
source = "crm"
table = "public.orders"
target = "erp"
[routes.columns]
order_id = "id"

[[routes]]
name = "erp_style"
source = "crm"
table = "public.orders"
target = "erp"
into = "public.sales_orders"
other_columns = "ignore"
where = "status <> 'draft'"
[routes.columns]
order_id = "id"
state = "map(order_status, status)"
customer = "upper(trim(customer))"
amount_cents = "CAST(amount * 100 AS bigint)"
placed_on = "CAST(placed AS date)"
origin = "'crm'"
[routes.defaults]
workflow = "'NEW'"
"#;

fn schema() -> Arc<TableSchema> {
    let column = |name: &str, column_type: ColumnType, is_key: bool| Column {
        name: name.into(),
        column_type,
        type_name: String::new(),
        type_id: 0,
        type_modifier: -1,
        is_key,
    };
    Arc::new(TableSchema {
        id: 1,
        name: TableName::new("public", "orders"),
        columns: vec![
            column("id", ColumnType::Int { bytes: 8, unsigned: false }, true),
            column("status", ColumnType::Text { max_chars: None }, false),
            column("customer", ColumnType::Text { max_chars: None }, false),
            column("amount", ColumnType::Decimal { precision: Some(12), scale: Some(2) }, false),
            column("placed", ColumnType::Timestamp { fsp: Some(6) }, false),
            column("note", ColumnType::Text { max_chars: None }, false),
        ],
        full_before_image: false,
    })
}

fn row(id: i64) -> Vec<Value> {
    vec![
        Value::Int(id),
        Value::Text("paid".into()),
        Value::Text("  Acme Trading Co.  ".into()),
        Value::Decimal(Decimal::parse("1234.56").unwrap()),
        Value::Timestamp(Timestamp::Civil {
            date: CivilDate { year: 2024, month: 5, day: 19 },
            time: TimeOfDay(49_530_500_000),
        }),
        Value::Text("deliver to the back door".into()),
    ]
}

fn bench(c: &mut Criterion) {
    let config = Config::from_text(CONFIG, Path::new("/etc/sluice.toml"), |_| None).expect("config");
    let schema = schema();
    let transaction = Arc::new(Transaction {
        id: "1".into(),
        position: Position::Postgres(Lsn(1)),
        commit_time_micros: 1_704_153_600_000_000,
        origin: None,
    });
    let insert = |id: i64| sluice_api::Change {
        transaction: Arc::clone(&transaction),
        table: Arc::clone(&schema),
        operation: Operation::Insert,
        before: None,
        after: Some(row(id)),
    };
    let mut group = c.benchmark_group("route");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    group.bench_function("make_change_only", |b| b.iter(|| black_box(insert(black_box(7)))));
    let mut renames =
        RouteMapper::new(&config, 0, &["order_id", "status", "customer", "amount", "placed", "note"], &[]);
    assert_eq!(renames.map(&mut insert(1)), 1);
    group.bench_function("insert/renames", |b| b.iter(|| black_box(renames.map(&mut insert(black_box(7))))));
    let columns = ["order_id", "state", "customer", "amount_cents", "placed_on", "origin", "workflow"];
    let mut erp = RouteMapper::new(&config, 1, &columns, &["order_id"]);
    assert_eq!(erp.map(&mut insert(1)), 1);
    group.bench_function("insert/erp_style", |b| b.iter(|| black_box(erp.map(&mut insert(black_box(7))))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
