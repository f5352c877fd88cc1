//! A burst over TCP: every transaction arrives, in commit order, and so
//! does a lone transaction after it. The source may coalesce its reads of
//! such a stream (`source/coalesce.rs`); whether it does here depends on
//! how fast this build reads, so the coalescing itself, including a lone
//! frame far below the low-water mark, is tested deterministically in
//! `source/wire.rs`. This test guards the end-to-end path.

use sluice_api::Value;

use super::harness::{Fixture, start};

const BURST: i64 = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_row_transactions_and_a_lone_one_after_it_all_arrive_in_commit_order() {
    let fixture = Fixture::shared("src_busy", "CREATE TABLE public.items (id int PRIMARY KEY);").await;
    let url = fixture.database.url();
    assert!(url.contains("@127.0.0.1:"), "this test is about the TCP path: {url}");
    let mut source = start(fixture.config(url, &["public.items"]), None).await;

    // One transaction per row, committed back to back inside the server.
    fixture
        .client
        .batch_execute(&format!(
            "DO $$ BEGIN FOR i IN 1..{BURST} LOOP INSERT INTO public.items VALUES (i); COMMIT; END LOOP; END $$"
        ))
        .await
        .unwrap();
    for id in 1..=BURST {
        let read = source.next_transaction().await;
        assert_eq!(read.changes.len(), 1);
        assert_eq!(read.changes[0].after, Some(vec![Value::Int(id)]), "transactions arrive in commit order");
    }

    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    fixture.client.batch_execute("INSERT INTO public.items VALUES (0)").await.unwrap();
    let lone = source.next_transaction().await;
    assert_eq!(lone.changes[0].after, Some(vec![Value::Int(0)]));
}
