//! How fast `read_chunk` reads and decodes: 10,000-row chunks of (bigint,
//! int, text, numeric(12,2), timestamptz, 100-character text). A
//! measurement, not a pass/fail test:
//! `cargo test --release -p sluice-postgres --test postgres -- --ignored --nocapture read_chunk_rate`

use std::time::{Duration, Instant};

use sluice_api::{ChunkRange, Value};

use super::reader_for;
use crate::source::harness::Fixture;

const CHUNK_ROWS: usize = 10_000;
const CHUNKS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn read_chunk_rate() {
    let setup = format!(
        "CREATE TABLE public.r (id bigint PRIMARY KEY, n int, name text, amount numeric(12,2), at timestamptz, pad text); \
         INSERT INTO public.r SELECT g, g % 1000, 'name ' || g, (g * 1.37)::numeric(12,2), \
             '2024-01-01 00:00:00+00'::timestamptz + g * interval '1.5 seconds', \
             rpad(md5(g::text), 100, md5((g + 1)::text)) \
         FROM generate_series(1, {}) g",
        CHUNK_ROWS * CHUNKS
    );
    let fixture = Fixture::shared("snap_rate", &setup).await;
    let (mut reader, schema) = reader_for(&fixture.database.url(), "public.r").await;
    let mut ranges = Vec::new();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let through = reader.next_boundary(&schema, &[0], after.as_deref(), CHUNK_ROWS, None).await.unwrap();
        ranges.push(ChunkRange { after: after.clone(), through: through.clone() });
        match through {
            Some(through) => after = Some(through),
            None => break,
        }
    }
    // Warm the server's cache, then measure two passes.
    for range in &ranges {
        reader.read_chunk(&schema, &[0], range, None).await.unwrap();
    }
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    let mut rows = 0;
    for _ in 0..2 {
        for range in &ranges {
            let started = Instant::now();
            let chunk = reader.read_chunk(&schema, &[0], range, None).await.unwrap();
            let took = started.elapsed();
            if chunk.rows.len() == CHUNK_ROWS {
                best = best.min(took);
            }
            total += took;
            rows += chunk.rows.len();
        }
    }
    let rate = |rows: usize, took: Duration| rows as f64 / took.as_secs_f64();
    println!(
        "read_chunk: {rows} rows in {total:?}, {:.0} rows/s on average; best {CHUNK_ROWS}-row chunk {best:?}, {:.0} rows/s",
        rate(rows, total),
        rate(CHUNK_ROWS, best)
    );
}
