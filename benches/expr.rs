//! Per-row cost of the mapping expression language (`src/expr`): typical
//! route column expressions and filters, parsed and bound once, evaluated
//! against one realistic row image, the way the router evaluates them for
//! every change. The pipeline moves ~50–100k rows/s per core, so a column
//! expression should stay well under 1 µs.
//!
//! `cargo bench --bench expr` prints criterion's time per evaluation (one
//! row, one expression); `-- --quick` for a fast look.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sluice::expr::{ColumnRef, EvalContext, Expression, MapSet, Unmapped, ValueMap};
use sluice_api::{CivilDate, Decimal, TimeOfDay, Timestamp, Value};

const COLUMNS: &[&str] = &["id", "name", "status", "state", "amount", "email", "nickname", "created_at"];

fn row() -> Vec<Value> {
    vec![
        Value::Int(123_456),
        Value::Text("  Alice Example  ".into()),
        Value::Int(2),
        Value::Text("paid".into()),
        Value::Decimal(Decimal::parse("1234.56").unwrap()),
        Value::Text("Alice@Example.COM".into()),
        Value::Null,
        Value::Timestamp(Timestamp::Civil {
            date: CivilDate { year: 2024, month: 5, day: 19 },
            time: TimeOfDay(49_530_500_000),
        }),
    ]
}

fn maps() -> MapSet {
    let entries = vec![
        ("1".to_owned(), Value::Text("NEW".into())),
        ("2".to_owned(), Value::Text("PAID".into())),
        ("3".to_owned(), Value::Text("SHIPPED".into())),
    ];
    let map = ValueMap::new("order_status", entries, Unmapped::Default(Value::Text("OTHER".into())));
    HashMap::from([("order_status".to_owned(), Arc::new(map))])
}

const COLUMN_EXPRESSIONS: &[(&str, &str)] = &[
    ("column", "name"),
    ("upper_trim", "upper(trim(name))"),
    ("case_simple", "CASE status WHEN 1 THEN 'NEW' WHEN 2 THEN 'PAID' WHEN 3 THEN 'SHIPPED' ELSE 'OTHER' END"),
    ("map", "map(order_status, status)"),
    ("decimal_mul", "amount * 100"),
    ("decimal_div", "amount / 3"),
    ("concat", "coalesce(nickname, trim(name)) || ' <' || lower(email) || '>'"),
    ("cast_numeric", "CAST(amount AS numeric(12,1))"),
    ("date_trunc", "date_trunc('month', created_at)"),
];

const FILTERS: &[(&str, &str)] = &[
    ("in_and_compare", "state IN ('paid', 'shipped') AND amount > 0"),
    ("transition", "before.state IS DISTINCT FROM 'approved' AND after.state = 'approved'"),
    ("like", "email LIKE '%@example.com' OR email ILIKE '%@example.com'"),
];

fn bench(c: &mut Criterion) {
    let maps = maps();
    let resolve = |column: &ColumnRef| COLUMNS.iter().position(|name| *name == column.name);
    let row = row();
    let context = EvalContext {
        current: Some(&row),
        before: Some(&row),
        after: Some(&row),
        commit_time_micros: 1_704_153_600_000_000,
        source: "shop",
        table: "public.orders",
    };
    let mut group = c.benchmark_group("expr");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    for (name, text) in COLUMN_EXPRESSIONS {
        let bound = Expression::parse(text).and_then(|e| e.bind(&resolve, &maps)).expect(text);
        bound.eval(&context).expect(text);
        group.bench_function(format!("eval/{name}"), |b| b.iter(|| black_box(bound.eval(black_box(&context)))));
    }
    for (name, text) in FILTERS {
        let bound = Expression::parse(text).and_then(|e| e.bind(&resolve, &maps)).expect(text);
        bound.test(&context).expect(text);
        group.bench_function(format!("test/{name}"), |b| b.iter(|| black_box(bound.test(black_box(&context)))));
    }
    let text = COLUMN_EXPRESSIONS[2].1;
    group.bench_function("parse_and_bind/case_simple", |b| {
        b.iter(|| black_box(Expression::parse(black_box(text)).and_then(|e| e.bind(&resolve, &maps))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
