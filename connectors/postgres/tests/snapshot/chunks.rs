//! Boundaries and ranges: chunks cover every row exactly once, in key
//! order, with a composite key and with a filter; boundary keys decode like
//! the chunk's (and so the stream's) values; NULL keys and row estimates.

use sluice_api::Value;

use super::{read_all, reader_for};
use crate::source::harness::Fixture;

const COMPOSITE: &str = "CREATE TABLE public.t (a int, b text, v int NOT NULL, PRIMARY KEY (a, b)); \
     INSERT INTO public.t SELECT g % 37, \
         CASE WHEN g % 5 = 0 THEN 'it''s \\ ' || g WHEN g % 7 = 0 THEN E'tab\\there\\n' || g ELSE md5(g::text) END, g \
     FROM generate_series(1, 1000) g; \
     ANALYZE public.t";

fn keys_of(rows: &[Vec<Value>]) -> Vec<(Value, Value)> {
    rows.iter().map(|row| (row[0].clone(), row[1].clone())).collect()
}

#[tokio::test]
async fn chunks_cover_every_row_once_in_key_order_with_a_composite_key_and_a_filter() {
    let fixture = Fixture::shared("snap_chunks", COMPOSITE).await;
    let (mut reader, schema) = reader_for(&fixture.database.url(), "public.t").await;
    let key = schema.key_indices();
    assert_eq!(key, vec![0, 1]);
    assert_eq!(reader.estimate_rows(&schema).await.unwrap(), 1000);

    for filter in [None, Some("v % 3 <> 0")] {
        let sql = format!(
            "SELECT a, b FROM public.t {} ORDER BY a, b",
            filter.map(|f| format!("WHERE {f}")).unwrap_or_default()
        );
        let expected: Vec<(Value, Value)> = fixture
            .client
            .query(&sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|row| (Value::Int(i64::from(row.get::<_, i32>(0))), Value::Text(row.get(1))))
            .collect();
        assert_eq!(expected.len(), if filter.is_some() { 667 } else { 1000 });
        for chunk_rows in [1, 97, expected.len(), 5000] {
            let rows = read_all(&mut reader, &schema, &key, chunk_rows, filter).await;
            assert_eq!(keys_of(&rows), expected, "chunks of {chunk_rows} rows, filter {filter:?}");
            assert!(rows.iter().all(|row| matches!(row[2], Value::Int(v) if filter.is_none() || v % 3 != 0)));
        }
    }
}

#[tokio::test]
async fn boundary_keys_decode_as_the_type_output_even_where_a_text_cast_differs() {
    // `::text` would drop char(n) padding, print booleans as `true` and add
    // netmasks to inet values: boundaries must not.
    let setup = "CREATE TABLE public.k (c character(5), flag boolean, n inet, PRIMARY KEY (c, flag, n)); \
                 INSERT INTO public.k VALUES ('ab', true, '10.0.0.1'), ('ab', false, '10.0.0.1/8'), \
                 ('b', true, '::1'), ('it''s', false, '192.168.0.1')";
    let fixture = Fixture::shared("snap_key_types", setup).await;
    let (mut reader, schema) = reader_for(&fixture.database.url(), "public.k").await;
    let rows = read_all(&mut reader, &schema, &[0, 1, 2], 1, None).await;
    assert_eq!(rows.len(), 4);
    let raw = |text: &str| Value::Raw { type_name: "inet".into(), text: text.into() };
    assert_eq!(rows[0], vec![Value::Text("ab   ".into()), Value::Bool(false), raw("10.0.0.1/8")]);
    assert_eq!(rows[1], vec![Value::Text("ab   ".into()), Value::Bool(true), raw("10.0.0.1")]);
    let boundary = reader.next_boundary(&schema, &[0, 1, 2], None, 2, None).await.unwrap();
    assert_eq!(boundary.as_ref(), Some(&rows[1]));
}

#[tokio::test]
async fn null_keys_are_reported_and_unanalysed_tables_estimate_zero_rows() {
    let fixture =
        Fixture::shared("snap_null_key", "CREATE TABLE public.n (a int, b text); INSERT INTO public.n VALUES (1, 'x')")
            .await;
    let (mut reader, schema) = reader_for(&fixture.database.url(), "public.n").await;
    assert_eq!(reader.estimate_rows(&schema).await.unwrap(), 0);
    assert!(!reader.has_null_key(&schema, &[0, 1]).await.unwrap());
    fixture.client.batch_execute("INSERT INTO public.n VALUES (2, NULL)").await.unwrap();
    assert!(reader.has_null_key(&schema, &[0, 1]).await.unwrap());
    assert!(!reader.has_null_key(&schema, &[0]).await.unwrap());
}
