//! A large transaction streams through the bounded channel: changes are
//! decoded and sent one by one, so the source holds no more than the
//! channel does, whatever the size of the transaction.

use sluice_api::{Operation, SourceEvent};
use sluice_testkit::MariaDbServer;

use super::*;

const ROWS: usize = 200_000;
const FILLER: usize = 600;

/// This process's resident memory, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("VmRSS");
    let kilobytes: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS in kB");
    kilobytes * 1024
}

#[tokio::test]
async fn a_200k_row_transaction_streams_without_being_buffered() {
    let database = MariaDbServer::shared().create_database("src_large").await;
    execute(&database, &format!("CREATE TABLE big (id INT PRIMARY KEY, filler VARCHAR({FILLER}))")).await;
    let mut config = config(&database, &["big"]);
    config.channel_capacity = 64;
    let mut stream = start(config, None).await;
    // One transaction of ~130 MB of row data; the source blocks after 64 events until we read.
    execute(&database, &format!("INSERT INTO big SELECT seq, REPEAT('x', {FILLER}) FROM seq_1_to_{ROWS}")).await;

    let baseline = resident_bytes();
    let mut peak = baseline;
    let transaction = loop {
        match next(&mut stream).await.expect("no error") {
            SourceEvent::Begin(transaction) => break transaction,
            SourceEvent::Progress(_) => continue,
            other => panic!("expected Begin, got {other:?}"),
        }
    };
    let mut changes = 0usize;
    loop {
        match next(&mut stream).await.expect("no error") {
            SourceEvent::Change(change) => {
                assert!(Arc::ptr_eq(&change.transaction, &transaction));
                assert_eq!(change.operation, Operation::Insert);
                changes += 1;
                if changes.is_multiple_of(10_000) {
                    peak = peak.max(resident_bytes());
                }
            }
            SourceEvent::Commit { transaction: committed, .. } => {
                assert!(Arc::ptr_eq(&committed, &transaction));
                break;
            }
            other => panic!("expected Change or Commit, got {other:?}"),
        }
    }
    assert_eq!(changes, ROWS, "every row arrives before the commit");
    let row_data = (ROWS * FILLER) as u64;
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < row_data / 2,
        "memory grew by {growth} bytes while streaming {row_data} bytes of rows: the transaction was buffered"
    );
}
