//! A chunk decodes every type exactly as the replication stream decodes the
//! same rows: same schema from `describe`, same `Value`s from `read_chunk`.

use sluice_api::{ChunkRange, Operation, Value};
use tokio_postgres::types::{ToSql, Type};

use super::reader_for;
use crate::source::harness::{Fixture, start};
use crate::types::samples::{SETUP_SQL, same, samples};

/// Extra columns beyond the samples: domains, a `"char"` byte that prints
/// as an octal escape, and a value large enough to be TOASTed.
const EXTRA_TYPES: &str = "CREATE DOMAIN posint AS integer CHECK (VALUE > 0); \
     CREATE DOMAIN tags AS text[]; CREATE DOMAIN price AS numeric(8,3)";

#[tokio::test]
async fn chunk_values_equal_the_values_the_stream_decodes_for_every_type() {
    let samples = samples();
    let mut columns: Vec<String> = samples.iter().enumerate().map(|(i, s)| format!("c{i} {}", s.sql_type)).collect();
    columns.extend(["d1 posint", "d2 tags", "d3 price", "ch \"char\"", "big text"].map(String::from));
    let setup = format!(
        "{SETUP_SQL}; {EXTRA_TYPES}; CREATE TABLE public.every_type (id int PRIMARY KEY, {})",
        columns.join(", ")
    );
    let fixture = Fixture::shared("snap_values", &setup).await;
    let url = fixture.database.url();
    let mut source = start(fixture.config(url.clone(), &["public.every_type"]), None).await;

    let rows = samples.iter().map(|s| s.values.len()).max().unwrap();
    let mut casts: Vec<String> =
        samples.iter().enumerate().map(|(i, s)| format!("${}::text::{}", i + 2, s.sql_type)).collect();
    let extra = samples.len() + 2;
    casts.extend([
        format!("${extra}::text::posint"),
        format!("${}::text::tags", extra + 1),
        format!("${}::text::price", extra + 2),
        // Bytes above 127 of "char" print as \ooo; the even rows hold one.
        "CASE WHEN $1::text::int % 2 = 0 THEN '\\351'::\"char\" ELSE 'q'::\"char\" END".to_owned(),
        // Incompressible and far beyond the 2 kB TOAST threshold.
        "(SELECT string_agg(md5(g::text || $1::text), E'\\t\\\\') FROM generate_series(1, 3000) g)".to_owned(),
    ]);
    let insert = format!("INSERT INTO public.every_type VALUES ($1::text::int, {})", casts.join(", "));
    fixture.client.batch_execute("BEGIN").await.unwrap();
    for row in 0..rows {
        let mut texts: Vec<Option<String>> = vec![Some(row.to_string())];
        texts.extend(samples.iter().map(|s| s.values.get(row).and_then(|v| sluice_postgres::encode_text(v).unwrap())));
        texts.push(Some((row + 1).to_string()));
        texts.push(Some(format!("{{a,\"b c\",NULL,\"{row}\\\\\"}}")));
        texts.push(if row % 3 == 0 { None } else { Some(format!("-{row}.125")) });
        let params: Vec<(&(dyn ToSql + Sync), Type)> =
            texts.iter().map(|t| (t as &(dyn ToSql + Sync), Type::TEXT)).collect();
        if let Err(error) = fixture.client.query_typed(&insert, &params).await {
            panic!("row {row} was refused: {error:?}");
        }
    }
    fixture.client.batch_execute("COMMIT").await.unwrap();

    let streamed = source.next_transaction().await;
    assert_eq!(streamed.changes.len(), rows);
    let (mut reader, schema) = reader_for(&url, "public.every_type").await;
    assert_eq!(*streamed.changes[0].table, *schema, "describe gives the schema the stream builds");
    let chunk = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    assert_eq!(chunk.rows.len(), rows);

    let mut compared = 0;
    for (change, read) in streamed.changes.iter().zip(&chunk.rows) {
        assert_eq!(change.operation, Operation::Insert);
        let after = change.after.as_ref().unwrap();
        assert_eq!(after.len(), read.len());
        for ((column, streamed), read) in schema.columns.iter().zip(after).zip(read) {
            assert!(
                same(streamed, read),
                "column {} ({}): stream {streamed:?}, chunk {read:?}",
                column.name,
                column.type_name
            );
            if !matches!(streamed, Value::Float32(_) | Value::Float64(_) | Value::Array(_)) {
                assert_eq!(streamed, read, "column {}", column.name);
            }
            compared += usize::from(*streamed != Value::Null);
        }
    }
    assert!(compared > 150, "only {compared} non-NULL values compared");
    let ch = schema.column_index("ch").unwrap();
    assert_eq!(chunk.rows[0][ch], Value::Text("\\351".into()), "\"char\" keeps its octal form");
}
