//! Snapshot chunks through `Sink::load`: `COPY` into an empty key range
//! (proved by a statement trigger that records the statement's verb), the
//! upsert path when the range holds rows or `COPY` meets an existing key,
//! and the same refusals, with the same error kinds, as the upsert path.

use sluice_api::{Decimal, ErrorKind, HasErrorKind, RowWrite, Value};
use sluice_postgres::PostgresError;

use super::{Target, table, text, upsert};

/// `t` with an audit of the statements that insert into or update it.
const AUDITED: &str = "CREATE TABLE audit (n serial PRIMARY KEY, verb text); \
     CREATE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
       INSERT INTO audit (verb) VALUES (upper(split_part(ltrim(current_query()), ' ', 1))); RETURN NULL; END $$; \
     CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(12,2)); \
     CREATE TRIGGER t_audit AFTER INSERT OR UPDATE ON t FOR EACH STATEMENT EXECUTE FUNCTION log_statement()";

const NAMES: [&str; 8] =
    ["plain", "tab\there", "new\nline\r\n", "back\\slash \\N \\.", "it's \"quoted\"", "", "ünï ✓ 𝄞", "\\"];

fn chunk(ids: std::ops::RangeInclusive<i64>, suffix: &str) -> Vec<RowWrite> {
    let t = table("t", &["id", "name", "amount"], 1);
    ids.map(|id| {
        let name =
            if id % 9 == 0 { Value::Null } else { text(&format!("{}{suffix}", NAMES[id as usize % NAMES.len()])) };
        let amount = Value::Decimal(Decimal::parse(&format!("{id}.25")).unwrap());
        upsert(&t, vec![Value::Int(id), name, amount])
    })
    .collect()
}

/// The rows chunks should leave, as the target prints them, ordered by
/// the id's text as `Target::rows` orders them.
fn expected(writes: &[RowWrite]) -> Vec<Vec<Option<String>>> {
    let mut rows: Vec<Vec<Option<String>>> = writes
        .iter()
        .map(|write| {
            let RowWrite::Upsert { values, .. } = write else { unreachable!() };
            values.iter().map(|value| sluice_postgres::encode_text(value).unwrap()).collect()
        })
        .collect();
    rows.sort();
    rows
}

async fn verbs(target: &Target) -> Vec<String> {
    let rows = target.client.query("SELECT verb FROM audit ORDER BY n", &[]).await.unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn chunks_into_empty_key_ranges_are_copied_with_every_value_intact() {
    let mut target = Target::new("load_copy", AUDITED).await;
    let first = chunk(1..=500, "");
    let second = chunk(501..=600, " more");
    target.sink.load(first.clone()).await.unwrap();
    target.sink.load(second.clone()).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    let all: Vec<RowWrite> = first.into_iter().chain(second).collect();
    assert_eq!(target.rows("t").await, expected(&all));
    assert_eq!(verbs(&target).await, ["COPY", "COPY"], "both chunks went in by COPY");
}

#[tokio::test]
async fn a_chunk_whose_range_holds_rows_is_upserted() {
    let mut target = Target::new("load_overlap", AUDITED).await;
    target
        .client
        .batch_execute("INSERT INTO t VALUES (5, 'stale', 0), (1000, 'outside', 0); DELETE FROM audit")
        .await
        .unwrap();
    let writes = chunk(1..=10, "");
    target.sink.load(writes.clone()).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    let mut rows = expected(&writes);
    rows.push(vec![Some("1000".into()), Some("outside".into()), Some("0.00".into())]);
    rows.sort();
    assert_eq!(target.rows("t").await, rows);
    let verbs = verbs(&target).await;
    assert!(!verbs.is_empty() && verbs.iter().all(|v| v == "INSERT"), "{verbs:?}");
}

#[tokio::test]
async fn an_existing_key_outside_the_probed_range_falls_back_after_the_unique_violation() {
    // The source orders keys differently from the target: the chunk's first
    // and last keys (b, c) bracket no target row, yet a2 exists.
    let ddl = "CREATE TABLE k (id text COLLATE \"C\" PRIMARY KEY, v int); INSERT INTO k VALUES ('a2', 0), ('z', 0)";
    let mut target = Target::new("load_fallback", ddl).await;
    let k = table("k", &["id", "v"], 1);
    let writes: Vec<RowWrite> =
        ["b", "a2", "c"].iter().zip(1..).map(|(id, v)| upsert(&k, vec![text(id), Value::Int(v)])).collect();
    target.sink.load(writes).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    let rows = target.client.query("SELECT id, v FROM k ORDER BY id", &[]).await.unwrap();
    let rows: Vec<(String, i32)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let expected = [("a2", 2), ("b", 1), ("c", 3), ("z", 0)].map(|(id, v)| (id.to_owned(), v));
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn identity_columns_generated_always_take_the_source_values_as_upserts_do() {
    let ddl = "CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)";
    let mut target = Target::new("load_identity", ddl).await;
    let g = table("g", &["id", "v"], 1);
    target.sink.load(vec![upsert(&g, vec![Value::Int(42), text("x")])]).await.unwrap();
    target.sink.commit_rows().await.unwrap();
    assert_eq!(target.rows("g").await, super::expect(&[&[Some("42"), Some("x")]]));
}

fn sqlstate(error: &PostgresError) -> Option<String> {
    match error {
        PostgresError::Query { source, .. } => source.code().map(|code| code.code().to_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn values_the_target_refuses_fail_a_load_as_they_fail_upserts() {
    let ddl = "CREATE TABLE r (id int PRIMARY KEY, v varchar(3), n int NOT NULL DEFAULT 0, d time, \
               u int UNIQUE); INSERT INTO r (id, u) VALUES (100, 7)";
    let mut target = Target::new("load_refused", ddl).await;
    let r = table("r", &["id", "v", "n", "d", "u"], 1);
    let good = || vec![Value::Int(1), text("ok"), Value::Int(1), Value::Null, Value::Null];
    let cases: Vec<(&str, usize, Value)> = vec![
        ("too long for varchar(3)", 1, text("secret")),
        ("NUL", 1, text("secr\0et")),
        ("NULL into NOT NULL", 2, Value::Null),
        ("negative duration into time", 3, Value::Duration(-1)),
        ("a secondary unique key clash", 4, Value::Int(7)),
    ];
    for (case, column, value) in cases {
        let mut values = good();
        values[column] = value;
        let writes = vec![upsert(&r, values)];
        let loaded = target.sink.load(writes.clone()).await.unwrap_err();
        target.sink.rollback().await.unwrap();
        // Upserts are sent ahead: the refusal surfaces at the latest at the commit.
        let upserted = match target.sink.write(writes).await {
            Err(error) => error,
            Ok(()) => target.sink.commit("erp", &sluice_api::Position::Postgres(sluice_api::Lsn(1))).await.unwrap_err(),
        };
        target.sink.rollback().await.unwrap();
        assert_eq!(loaded.kind(), ErrorKind::Data, "{case}: {loaded:?}");
        assert_eq!(loaded.kind(), upserted.kind(), "{case}");
        assert_eq!(
            std::mem::discriminant(&loaded),
            std::mem::discriminant(&upserted),
            "{case}: {loaded:?} / {upserted:?}"
        );
        assert_eq!(sqlstate(&loaded), sqlstate(&upserted), "{case}");
        if let (PostgresError::Value { column: a, .. }, PostgresError::Value { column: b, .. }) = (&loaded, &upserted) {
            assert_eq!(a, b, "{case}");
        }
        assert!(!loaded.to_string().contains("secr"), "{case}: {loaded}");
    }
    // The sink still works after the refusals.
    target.sink.load(vec![upsert(&r, good())]).await.unwrap();
    target.sink.commit_rows().await.unwrap();
}
