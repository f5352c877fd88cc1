//! The decoder driven by scripted MySQL binlogs (events built from bytes,
//! no server): GTID sets grow with each transaction and every commit and
//! progress position carries the set including it; a GTID resume on
//! another server skips exactly what the set holds; learning the set from
//! a file's PREVIOUS_GTIDS counts the covered transactions before the
//! start; an anonymous transaction ends tracking.

use mysql_async::binlog::BinlogVersion;
use mysql_async::binlog::events::{Event, FormatDescriptionEvent};
use sluice_api::{BinlogPosition, Position, SourceEvent, TableName};
use tokio::sync::mpsc;

use super::{Cover, Decoder, Stop};
use crate::source::events;
use crate::source::fixtures::{
    SERVER_UUID, WIDE_TABLE_MAP, WIDE_WRITE_ROWS, collations, extras, hex, mysql_gtid_body, mysql_tagged_gtid_body,
    query_body,
};
use crate::source::gtid_set::GtidSet;
use crate::source::position::{GtidTracker, MySqlGtids};
use crate::source::tables::{NameCase, Routes, Tables};

const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

/// A binlog file being written: each event is framed with the 19-byte
/// header (timestamp, type, server id, size, `log_pos` = its end, flags).
struct Script {
    at: u32,
    events: Vec<Event>,
}

impl Script {
    fn new(at: u32) -> Script {
        Script { at, events: Vec::new() }
    }

    fn push(&mut self, event_type: u8, flags: u16, body: &[u8]) -> &mut Script {
        let size = 19 + body.len() as u32;
        let log_pos = if flags & events::FLAG_ARTIFICIAL != 0 { 0 } else { self.at + size };
        let mut bytes = 1_700_000_000u32.to_le_bytes().to_vec();
        bytes.push(event_type);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&log_pos.to_le_bytes());
        bytes.extend_from_slice(&flags.to_le_bytes());
        bytes.extend_from_slice(body);
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        self.events.push(Event::read(&fde, &bytes[..]).expect("a well-formed event"));
        if log_pos != 0 {
            self.at = log_pos;
        }
        self
    }

    /// A heartbeat: the server has nothing to send; `log_pos` is where it is.
    fn heartbeat(&mut self) -> &mut Script {
        let at = self.at;
        let mut bytes = 0u32.to_le_bytes().to_vec();
        bytes.push(events::HEARTBEAT);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(19u32 + 13).to_le_bytes());
        bytes.extend_from_slice(&at.to_le_bytes());
        bytes.extend_from_slice(&events::FLAG_ARTIFICIAL.to_le_bytes());
        bytes.extend_from_slice(b"binlog.000003");
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        self.events.push(Event::read(&fde, &bytes[..]).expect("a well-formed heartbeat"));
        self
    }

    /// The dump's first, artificial Rotate into `file`.
    fn rotate(&mut self, file: &str) -> &mut Script {
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend_from_slice(file.as_bytes());
        self.push(events::ROTATE, events::FLAG_ARTIFICIAL, &body)
    }

    fn previous_gtids(&mut self, set: &str) -> &mut Script {
        self.push(events::PREVIOUS_GTIDS, 0, &GtidSet::parse(set).unwrap().encode())
    }

    /// GTID, BEGIN, (a row of the routed table `x.t`,) XID.
    fn transaction(&mut self, gtid_event: (u8, Vec<u8>), routed_row: bool) -> &mut Script {
        self.push(gtid_event.0, 0, &gtid_event.1);
        self.push(events::QUERY, 0, &query_body("x", "BEGIN"));
        if routed_row {
            self.push(events::TABLE_MAP, 0, &hex(WIDE_TABLE_MAP));
            self.push(events::WRITE_ROWS_V1, 0, &hex(WIDE_WRITE_ROWS));
        }
        self.push(events::XID, 0, &7u64.to_le_bytes())
    }
}

fn gtid(number: i64) -> (u8, Vec<u8>) {
    (events::GTID, mysql_gtid_body(SERVER_UUID, number))
}

fn tagged(tag: &str, number: i64) -> (u8, Vec<u8>) {
    (events::GTID_TAGGED, mysql_tagged_gtid_body(SERVER_UUID, tag, number, 0))
}

/// An ANONYMOUS_GTID body: a zero SID and number 0.
fn anonymous() -> (u8, Vec<u8>) {
    (events::ANONYMOUS_GTID, vec![0; 42])
}

fn decoder(
    gtids: GtidTracker,
    cover: Cover,
) -> (Decoder, mpsc::Receiver<Result<SourceEvent, sluice_api::ConnectorError>>) {
    let (sender, receiver) = mpsc::channel(1000);
    let routes = Routes::new([TableName::new("x", "t")], NameCase::Sensitive);
    let tables = Tables::scripted(routes, collations(), [(TableName::new("x", "t"), extras())]);
    let decoder = Decoder::new(sender, tables, None, String::new(), 4, gtids, false).with_cover(cover);
    (decoder, receiver)
}

async fn run(decoder: &mut Decoder, script: &Script) {
    for event in &script.events {
        if let Err(Stop::Failed(error)) = decoder.handle(event).await {
            panic!("the decoder stopped: {error}");
        }
    }
}

/// What the decoder emitted: (kind, position) per event.
fn emitted(receiver: &mut mpsc::Receiver<Result<SourceEvent, sluice_api::ConnectorError>>) -> Vec<(String, Position)> {
    let mut out = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        match event.expect("no error") {
            SourceEvent::Begin(transaction) => {
                out.push((format!("begin {}", transaction.id), transaction.position.clone()))
            }
            SourceEvent::Change(change) => out.push(("change".into(), change.transaction.position.clone())),
            SourceEvent::Commit { position, .. } => out.push(("commit".into(), position)),
            SourceEvent::Progress(position) => out.push(("progress".into(), position)),
        }
    }
    out
}

fn binlog(position: &Position) -> BinlogPosition {
    match position {
        Position::Binlog(at) => at.clone(),
        Position::Postgres(_) => panic!("not a binlog position"),
    }
}

fn gtid_of(position: &Position) -> Option<String> {
    match position {
        Position::Binlog(BinlogPosition { gtid, .. }) => gtid.clone(),
        Position::Postgres(_) => None,
    }
}

#[tokio::test]
async fn commit_positions_carry_the_executed_set_including_their_transaction() {
    let mut script = Script::new(4);
    script.rotate("binlog.000003").previous_gtids(&format!("{A}:1-5"));
    script.transaction(gtid(6), true).transaction(gtid(7), false).transaction(tagged("abc", 1), true);
    let (mut decoder, mut receiver) = decoder(GtidTracker::MySql(MySqlGtids::learning()), Cover::Before(None));
    run(&mut decoder, &script).await;
    let out = emitted(&mut receiver);
    let kinds: Vec<&str> = out.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            &format!("begin {A}:6") as &str,
            "change",
            "commit",
            "progress",
            &format!("begin {A}:abc:1"),
            "change",
            "commit"
        ]
    );
    // Begin positions name their transaction; commit and progress positions carry the set with it.
    assert_eq!(gtid_of(&out[0].1), Some(format!("gtid={A}:6")));
    assert_eq!(gtid_of(&out[2].1), Some(format!("gtid_set={A}:1-6")));
    assert_eq!(gtid_of(&out[3].1), Some(format!("gtid_set={A}:1-7")), "idle progress past transaction 7");
    assert_eq!(gtid_of(&out[4].1), Some(format!("gtid={A}:abc:1")));
    let last_commit = out[6].1.clone();
    assert_eq!(gtid_of(&last_commit), Some(format!("gtid_set={A}:1-7:abc:1")));
    // The stored text round-trips and is what a resume reads.
    let stored = Position::decode(&last_commit.encode()).unwrap();
    let Position::Binlog(stored) = stored else { panic!() };
    assert_eq!(GtidSet::parse(stored.mysql_gtid_set().unwrap()).unwrap().to_string(), format!("{A}:1-7:abc:1"));
    // Coverage by GTID: both transactions are in the last commit's set.
    assert!(out[0].1.is_covered_by(&last_commit) && out[4].1.is_covered_by(&last_commit));
    assert!(!out[4].1.is_covered_by(&out[2].1));
}

#[tokio::test]
async fn a_gtid_resume_on_another_server_skips_exactly_the_executed_set() {
    // The checkpoint of the test above, written while reading binlog.000003 of the old primary.
    let checkpoint = Position::Binlog(BinlogPosition {
        file: "binlog.000003".into(),
        offset: 2000,
        gtid: Some(format!("gtid_set={A}:1-7:abc:1")),
    });
    let executed = GtidSet::parse(&format!("{A}:1-7:abc:1")).unwrap();
    // The new primary's binlog (a name that sorts before the old one's):
    // it resends transaction 7 (say, its first file starts there) and has a new one.
    let mut script = Script::new(4);
    script.rotate("a-bin.000001").previous_gtids(&format!("{A}:1-6"));
    script.transaction(gtid(7), true).transaction(gtid(8), true);
    let (mut decoder, mut receiver) = decoder(GtidTracker::MySql(MySqlGtids::from(executed)), Cover::ExecutedGtids);
    run(&mut decoder, &script).await;
    let out = emitted(&mut receiver);
    let kinds: Vec<&str> = out.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, [&format!("begin {A}:8") as &str, "change", "commit"], "7 is in the set: skipped");
    let (begin, commit) = (&out[0].1, &out[2].1);
    assert_eq!(gtid_of(commit), Some(format!("gtid_set={A}:1-8:abc:1")));
    // By file and offset the new server's transaction would look covered
    // by the old checkpoint; by GTID it is not.
    let file_and_offset_only = Position::Binlog(BinlogPosition { gtid: None, ..binlog(begin) });
    assert!(
        file_and_offset_only.is_covered_by(&Position::Binlog(BinlogPosition { gtid: None, ..binlog(&checkpoint) }))
    );
    assert!(!begin.is_covered_by(&checkpoint));
    assert!(begin.is_covered_by(commit));
}

#[tokio::test]
async fn learning_the_set_counts_the_covered_transactions_before_the_start() {
    let mut head = Script::new(4);
    head.rotate("binlog.000003").previous_gtids(&format!("{A}:1-5"));
    // A heartbeat inside the head must not report progress from before the start.
    head.transaction(gtid(6), true).heartbeat().transaction(gtid(7), true);
    // Start (the resume offset) just past transaction 7: both are covered.
    let start = BinlogPosition { file: "binlog.000003".into(), offset: u64::from(head.at), gtid: None };
    head.transaction(gtid(8), true);
    let (mut decoder, mut receiver) = decoder(GtidTracker::MySql(MySqlGtids::learning()), Cover::Before(Some(start)));
    run(&mut decoder, &head).await;
    let out = emitted(&mut receiver);
    let kinds: Vec<&str> = out.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, [&format!("begin {A}:8") as &str, "change", "commit"]);
    assert_eq!(gtid_of(&out[2].1), Some(format!("gtid_set={A}:1-8")));
}

#[tokio::test]
async fn an_anonymous_transaction_ends_gtid_tracking() {
    let mut script = Script::new(4);
    script.rotate("binlog.000003").previous_gtids(&format!("{A}:1-5"));
    script.transaction(gtid(6), true).transaction(anonymous(), true).transaction(gtid(7), true);
    let (mut decoder, mut receiver) = decoder(GtidTracker::MySql(MySqlGtids::learning()), Cover::Before(None));
    run(&mut decoder, &script).await;
    let commits: Vec<Option<String>> =
        emitted(&mut receiver).into_iter().filter(|(kind, _)| kind == "commit").map(|(_, p)| gtid_of(&p)).collect();
    assert_eq!(commits, [Some(format!("gtid_set={A}:1-6")), None, None]);
}

#[tokio::test]
async fn a_malformed_tagged_gtid_stops_the_stream() {
    let mut body = mysql_tagged_gtid_body(SERVER_UUID, "abc", 1, 0);
    body.truncate(body.len() - 3);
    let mut script = Script::new(4);
    script.rotate("binlog.000003").push(events::GTID_TAGGED, 0, &body);
    let (mut decoder, _receiver) = decoder(GtidTracker::MySql(MySqlGtids::learning()), Cover::Before(None));
    let mut stopped = None;
    for event in &script.events {
        if let Err(Stop::Failed(error)) = decoder.handle(event).await {
            stopped = Some(error);
        }
    }
    let error = stopped.expect("the tagged GTID event is refused, never read as anonymous");
    assert!(error.to_string().contains("tagged GTID event"), "{error}");
}
