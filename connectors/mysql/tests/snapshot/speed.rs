//! How fast a chunk decodes: 10,000 rows of bigint, int, varchar,
//! decimal(12,2), datetime(6), varchar(100), best of five reads. Ignored by
//! default; run it in release mode:
//! `cargo test --release -p sluice-mysql --test mysql -- --ignored --nocapture snapshot::speed`.

use std::time::Instant;

use sluice_testkit::MariaDbServer;

use super::*;

const ROWS: usize = 10_000;

#[tokio::test]
#[ignore = "a measurement; run in release mode"]
async fn a_chunk_of_ten_thousand_rows_decodes_fast() {
    let database = MariaDbServer::shared().create_database("snap_speed").await;
    execute(
        &database,
        &format!(
            "CREATE TABLE s (id BIGINT PRIMARY KEY, n INT, name VARCHAR(40), amount DECIMAL(12,2),
                 at DATETIME(6), note VARCHAR(100));
             INSERT INTO s SELECT seq, seq * 7, CONCAT('customer-', seq), seq * 1.25,
                 TIMESTAMP('2024-01-01') + INTERVAL seq SECOND + INTERVAL seq MICROSECOND,
                 REPEAT('x', 20 + seq % 80) FROM seq_1_to_{ROWS}"
        ),
    )
    .await;
    let mut reader = reader(&database).await;
    let schema = describe(&mut reader, &database, "s").await;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let chunk = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert_eq!(chunk.rows.len(), ROWS);
    }
    let rate = ROWS as f64 / best;
    println!("read_chunk: {ROWS} rows in {:.1} ms, {rate:.0} rows/s", best * 1000.0);
    if !cfg!(debug_assertions) {
        assert!(rate > 200_000.0, "{rate:.0} rows/s");
    }
}
