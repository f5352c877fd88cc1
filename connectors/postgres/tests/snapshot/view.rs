//! The read view of a chunk: transactions committed before the read are
//! seen, one open during the read and those after it are not, and `high`
//! lies beyond every seen commit and before every unseen one — checked
//! against the transactions and positions the replication stream reports.

use sluice_api::{ChunkRange, Lsn, Seen, Value};

use super::reader_for;
use crate::source::harness::{Fixture, lsn_of, start};

fn row(id: i64, v: &str) -> Vec<Value> {
    vec![Value::Int(id), Value::Text(v.into())]
}

#[tokio::test]
async fn a_chunk_sees_committed_transactions_and_not_open_or_later_ones() {
    let fixture = Fixture::shared("snap_view", "CREATE TABLE public.t (id int PRIMARY KEY, v text)").await;
    let url = fixture.database.url();
    let mut source = start(fixture.config(url.clone(), &["public.t"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.t VALUES (1, 'committed')").await.unwrap();
    let committed = source.next_transaction().await;

    let other = fixture.database.connect().await;
    other.batch_execute("BEGIN; INSERT INTO public.t VALUES (2, 'open')").await.unwrap();
    let open_xid: i64 = other.query_one("SELECT txid_current() % 4294967296", &[]).await.unwrap().get(0);
    let flushed: Lsn = {
        let row = fixture.client.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]).await.unwrap();
        row.get::<_, String>(0).parse().unwrap()
    };

    let (mut reader, schema) = reader_for(&url, "public.t").await;
    let chunk = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    other.batch_execute("COMMIT").await.unwrap();
    let open = source.next_transaction().await;
    assert_eq!(open.transaction.id, open_xid.to_string());
    fixture.client.batch_execute("INSERT INTO public.t VALUES (3, 'later')").await.unwrap();
    let later = source.next_transaction().await;

    assert_eq!(chunk.rows, vec![row(1, "committed")]);
    assert_eq!(chunk.view.saw(&committed.transaction), Seen::Yes);
    assert_eq!(chunk.view.saw(&open.transaction), Seen::No, "open during the read");
    assert_eq!(chunk.view.saw(&later.transaction), Seen::No, "began after the read");
    let high = lsn_of(&chunk.high);
    assert!(high >= committed.position(), "high {high} is beyond the seen commit {}", committed.position());
    assert!(high >= flushed, "high {high} is beyond the WAL flushed before the read ({flushed})");
    let open_commit = lsn_of(&open.transaction.position);
    assert!(open_commit >= high, "an unseen commit record ({open_commit}) starts at or after high {high}");

    let next = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    assert_eq!(next.rows, vec![row(1, "committed"), row(2, "open"), row(3, "later")]);
    for transaction in [&committed, &open, &later] {
        assert_eq!(next.view.saw(&transaction.transaction), Seen::Yes);
    }
}

#[tokio::test]
async fn a_read_abandoned_half_way_does_not_leave_its_snapshot_behind() {
    let fixture = Fixture::shared("snap_abandon", "CREATE TABLE public.t (id int PRIMARY KEY, v text)").await;
    let (mut reader, schema) = reader_for(&fixture.database.url(), "public.t").await;
    // Polled exactly once (BEGIN and the snapshot query go out), then
    // dropped. (Not `timeout(ZERO, …)`: its timer may fire only after
    // further polls, which on a loaded machine let the read finish.)
    {
        let (key, range) = ([0], ChunkRange::default());
        let mut read = std::pin::pin!(reader.read_chunk(&schema, &key, &range, None));
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
        let finished = match &first {
            std::task::Poll::Ready(read) => {
                Some(read.as_ref().map(|chunk| chunk.rows.len()).map_err(|e| e.to_string()))
            }
            std::task::Poll::Pending => None,
        };
        assert!(first.is_pending(), "the read cannot finish without waiting, yet it gave {finished:?}");
    }
    fixture.client.batch_execute("INSERT INTO public.t VALUES (1, 'after')").await.unwrap();
    let chunk = reader.read_chunk(&schema, &[0], &ChunkRange::default(), None).await.unwrap();
    assert_eq!(chunk.rows, vec![row(1, "after")], "the next read takes a fresh snapshot");
}

#[tokio::test]
async fn a_view_alone_sees_what_a_read_starting_now_would_see() {
    let fixture = Fixture::shared("snap_view_alone", "CREATE TABLE public.t (id int PRIMARY KEY, v text)").await;
    let url = fixture.database.url();
    let mut source = start(fixture.config(url.clone(), &["public.t"]), None).await;
    fixture.client.batch_execute("INSERT INTO public.t VALUES (1, 'committed')").await.unwrap();
    let committed = source.next_transaction().await;
    let other = fixture.database.connect().await;
    other.batch_execute("BEGIN; INSERT INTO public.t VALUES (2, 'open')").await.unwrap();

    let (mut reader, _) = reader_for(&url, "public.t").await;
    let view = reader.read_view().await.unwrap();
    other.batch_execute("COMMIT").await.unwrap();
    let open = source.next_transaction().await;
    assert_eq!(view.saw(&committed.transaction), Seen::Yes);
    assert_eq!(view.saw(&open.transaction), Seen::No, "open when the view was taken");
    let later = reader.read_view().await.unwrap();
    assert_eq!(later.saw(&open.transaction), Seen::Yes);
}
