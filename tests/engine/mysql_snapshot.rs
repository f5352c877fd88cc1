//! Initial snapshots and backfills from MariaDB: chunks read under MariaDB's
//! binlog-consistent snapshot, reconciled with the binlog stream.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use sluice_testkit::{MariaDbServer, PgServer};

use super::mysql_support::{maria_rows, mysql_source, mysql_target, pg_rows, pg_target, wait_until, write_config};
use super::support::Sluice;

const SETTINGS: &str = "[snapshot]\nchunk_rows = 500\nworkers = 2\n";

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_initial_snapshot_with_concurrent_writes_ends_equal_in_postgres() {
    let source = MariaDbServer::shared().create_database("snap_m2p").await;
    let target = PgServer::shared().create_database("snap_m2p_dst").await;
    let mut source_conn = source.connect().await;
    let target_client = target.connect().await;
    source_conn
        .query_drop("CREATE TABLE items (id BIGINT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL)")
        .await
        .unwrap();
    source_conn
        .query_drop("INSERT INTO items SELECT seq, seq % 100, MD5(seq), seq / 7 FROM seq_1_to_20000")
        .await
        .unwrap();
    target_client
        .batch_execute("CREATE TABLE items (id bigint PRIMARY KEY, qty int NOT NULL, note text NOT NULL, price numeric(12,2) NOT NULL)")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let routes = format!(
        "{SETTINGS}[[routes]]\nsource = \"src\"\ntable = \"{}.items\"\ntarget = \"dst\"\ninto = \"public.items\"\n",
        source.name
    );
    let config = write_config(dir.path(), &mysql_source(&source), &pg_target(&target.url()), &routes);
    let mut sluice = Sluice::spawn(&config, dir.path());

    let mut writer = source.connect().await;
    for round in 0..150i64 {
        writer
            .query_drop(format!(
                "BEGIN; UPDATE items SET qty = qty + 1 WHERE id IN ({a}, {b});
                 UPDATE items SET note = 'changed' WHERE id = {c}; DELETE FROM items WHERE id = {d};
                 INSERT INTO items VALUES ({new}, 1, 'new', 1.50); COMMIT",
                a = 1 + (round * 7919) % 20_000,
                b = 20_000 - round,
                c = 1 + (round * 131) % 20_000,
                d = 2 + (round * 271) % 20_000,
                new = 50_000 + round,
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let expected = maria_rows(&mut source_conn, "SELECT id, qty, note, price FROM items").await;
    wait_until(&mut sluice, "target equal to source", || {
        let client = &target_client;
        let expected = &expected;
        async move { &pg_rows(client, "SELECT id::text, qty::text, note, price::text FROM items").await == expected }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_backfill_once_into_mariadb_copies_only_rows_matching_where() {
    let server = MariaDbServer::shared();
    let source = server.create_database("snap_m2m_src").await;
    let target = server.create_database("snap_m2m_dst").await;
    let mut source_conn = source.connect().await;
    let mut target_conn = target.connect().await;
    let table =
        "CREATE TABLE items (region VARCHAR(8) NOT NULL, id INT NOT NULL, qty INT NOT NULL, PRIMARY KEY (region, id))";
    source_conn.query_drop(table).await.unwrap();
    target_conn.query_drop(table).await.unwrap();
    source_conn
        .query_drop("INSERT INTO items SELECT IF(seq % 2 = 0, 'east', 'west'), seq, seq FROM seq_1_to_3000")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let routes = format!(
        "{SETTINGS}[[routes]]\nname = \"items\"\nsource = \"src\"\ntable = \"{}.items\"\ntarget = \"dst\"\ninto = \"{}.items\"\nsnapshot = \"never\"\n",
        source.name, target.name
    );
    let config = write_config(dir.path(), &mysql_source(&source), &mysql_target(&target), &routes);
    let output = std::process::Command::new(super::support::SLUICE)
        .args(["backfill", "--route", "items", "--where", "region = 'east'", "--once", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let copied = maria_rows(&mut target_conn, "SELECT region, id, qty FROM items").await;
    let expected = maria_rows(&mut source_conn, "SELECT region, id, qty FROM items WHERE region = 'east'").await;
    assert_eq!(copied.len(), 1500);
    assert_eq!(copied, expected);
}
