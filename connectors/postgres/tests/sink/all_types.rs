//! Every supported type through the sink: upserted as `encode_text` text
//! cast to the target column's type, read back as the server prints it, and
//! decoded to the original value.

use std::sync::Arc;

use sluice_api::{Lsn, Position, RowWrite, TargetTable, Value};
use sluice_postgres::decode_text;

use super::Target;
use crate::types::samples::{SESSION_SQL, SETUP_SQL, column_type, output_of, same, samples};

#[tokio::test]
async fn every_type_round_trips_through_the_sink() {
    let samples = samples();
    let columns: Vec<String> = samples.iter().enumerate().map(|(i, s)| format!("c{i} {}", s.sql_type)).collect();
    let ddl = format!("{SETUP_SQL}; CREATE TABLE every_type (id int PRIMARY KEY, {})", columns.join(", "));
    let mut target = Target::new("sink_all_types", &ddl).await;
    target.client.batch_execute(SESSION_SQL).await.unwrap();

    let mut names = vec!["id".to_owned()];
    names.extend((0..samples.len()).map(|i| format!("c{i}")));
    let table = Arc::new(TargetTable {
        schema: "public".into(),
        name: "every_type".into(),
        columns: names,
        key: vec![0],
        insert_only: vec![],
    });
    let rows = samples.iter().map(|s| s.values.len()).max().unwrap();
    let writes: Vec<RowWrite> = (0..rows)
        .map(|row| {
            let mut values = vec![Value::Int(row as i64)];
            values.extend(samples.iter().map(|s| s.values.get(row).cloned().unwrap_or(Value::Null)));
            RowWrite::Upsert { table: Arc::clone(&table), values }
        })
        .collect();
    // Twice: the second pass updates every row in place (ON CONFLICT DO UPDATE).
    for _ in 0..2 {
        target.sink.write(writes.clone()).await.unwrap();
        target.sink.commit("all_types", &Position::Postgres(Lsn(1))).await.unwrap();
    }

    let attributes = target
        .client
        .query(
            "SELECT atttypid, atttypmod, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'every_type'::regclass AND attnum > 1 ORDER BY attnum",
            &[],
        )
        .await
        .unwrap();
    let selects: Vec<String> = (0..samples.len()).map(|i| output_of(&format!("c{i}"))).collect();
    let read =
        target.client.query(&format!("SELECT {} FROM every_type ORDER BY id", selects.join(", ")), &[]).await.unwrap();
    assert_eq!(read.len(), rows);
    let mut checked = 0;
    for (row, record) in read.iter().enumerate() {
        for (i, sample) in samples.iter().enumerate() {
            let text: Option<String> = record.get(i);
            let Some(expected) = sample.values.get(row) else {
                assert_eq!(text, None);
                continue;
            };
            let attribute = &attributes[i];
            let (oid, typmod, type_name): (u32, i32, String) = (attribute.get(0), attribute.get(1), attribute.get(2));
            let text = text.unwrap_or_else(|| panic!("{} row {row} read back NULL", sample.sql_type));
            let decoded = decode_text(&column_type(oid, typmod, &type_name), &type_name, &text).unwrap();
            assert!(same(&decoded, expected), "{} row {row}: wrote {expected:?}, read {text:?}", sample.sql_type);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} values checked");
}
