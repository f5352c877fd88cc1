//! One table with a column of every supported type; every sample value is
//! written as `encode_text` text cast to the column type, read back as the
//! server's text output, and decoded: the result must be the original value.

use sluice_postgres::{decode_text, encode_text};
use sluice_testkit::PgServer;

use super::samples::{SESSION_SQL, SETUP_SQL, column_type, output_of, same, samples};

#[tokio::test]
async fn every_type_round_trips_through_the_servers_input_and_output_functions() {
    let database = PgServer::shared().create_database("types_round_trip").await;
    let client = database.connect().await;
    client.batch_execute(SESSION_SQL).await.unwrap();
    client.batch_execute(SETUP_SQL).await.unwrap();
    let samples = samples();
    let columns: Vec<String> = samples.iter().enumerate().map(|(i, s)| format!("c{i} {}", s.sql_type)).collect();
    client
        .batch_execute(&format!("CREATE TABLE every_type (id int PRIMARY KEY, {})", columns.join(", ")))
        .await
        .unwrap();

    let rows = samples.iter().map(|s| s.values.len()).max().unwrap();
    let casts: Vec<String> =
        samples.iter().enumerate().map(|(i, s)| format!("${}::text::{}", i + 2, s.sql_type)).collect();
    let insert = format!("INSERT INTO every_type VALUES ($1, {})", casts.join(", "));
    for row in 0..rows {
        let id = row as i32;
        let texts: Vec<Option<String>> =
            samples.iter().map(|s| s.values.get(row).and_then(|v| encode_text(v).unwrap())).collect();
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&id];
        params.extend(texts.iter().map(|t| t as &(dyn tokio_postgres::types::ToSql + Sync)));
        if let Err(error) = client.execute(&insert, &params).await {
            panic!("row {row} was refused: {error:?}");
        }
    }

    let attributes = client
        .query(
            "SELECT atttypid, atttypmod, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'every_type'::regclass AND attnum > 1 ORDER BY attnum",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(attributes.len(), samples.len());
    let column_types: Vec<_> =
        attributes.iter().map(|a| (column_type(a.get(0), a.get(1), a.get(2)), a.get::<_, String>(2))).collect();

    let selects: Vec<String> = (0..samples.len()).map(|i| output_of(&format!("c{i}"))).collect();
    let read = client.query(&format!("SELECT {} FROM every_type ORDER BY id", selects.join(", ")), &[]).await.unwrap();
    assert_eq!(read.len(), rows);
    let mut checked = 0;
    for (row, record) in read.iter().enumerate() {
        for (i, sample) in samples.iter().enumerate() {
            let text: Option<String> = record.get(i);
            let Some(expected) = sample.values.get(row) else {
                assert_eq!(text, None);
                continue;
            };
            let (column_type, type_name) = &column_types[i];
            let text = text.unwrap_or_else(|| panic!("{} row {row} read back NULL", sample.sql_type));
            let decoded = decode_text(column_type, type_name, &text)
                .unwrap_or_else(|e| panic!("{} row {row}: {text:?} does not decode: {e}", sample.sql_type));
            assert!(
                same(&decoded, expected),
                "{} row {row}: wrote {expected:?}, server printed {text:?}, decoded {decoded:?}",
                sample.sql_type
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} values checked");
}
