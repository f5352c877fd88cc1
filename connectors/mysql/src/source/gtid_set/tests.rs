//! GTID sets: MySQL's text examples, the binary form built by hand after
//! `Gtid_set::encode`, the COM_BINLOG_DUMP_GTID bytes, and property tests
//! of the arithmetic (union, difference, intersection, subset) against a
//! plain set of (TSID, number) pairs.

use std::collections::BTreeSet;

use mysql_common::proto::MySerialize;
use proptest::prelude::*;

use super::*;

const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const B: &str = "8d5b4a8c-0000-4000-8000-000000000001";
const A_BYTES: [u8; 16] =
    [0x3E, 0x11, 0xFA, 0x47, 0x71, 0xCA, 0x11, 0xE1, 0x9E, 0x33, 0xC8, 0x0A, 0xA9, 0x42, 0x95, 0x62];

fn set(text: &str) -> GtidSet {
    GtidSet::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn gtid(text: &str) -> Gtid {
    Gtid::parse(text).unwrap()
}

#[test]
fn mysql_documentation_sets_parse_and_print_canonically() {
    // The example of the MySQL manual (GTID Sets), upper case as MySQL documents it.
    let text = "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18";
    assert_eq!(set(text).to_string(), format!("{A}:1-5:11-18"));
    // Several UUIDs as @@gtid_executed prints them: ",\n" between them.
    let two = set(&format!("{B}:1-27,\n{A}:1-5"));
    assert_eq!(two.to_string(), format!("{A}:1-5,{B}:1-27"), "sorted by UUID");
    // Overlapping, unordered and adjacent intervals merge; a repeated UUID joins its intervals.
    assert_eq!(set(&format!("{A}:11-18:1-5:6:3-4, {A}:19-20")).to_string(), format!("{A}:1-6:11-20"));
    assert_eq!(set("").to_string(), "");
    assert!(set(" \n").is_empty());
    assert_eq!(Uuid::parse("3e11fa4771ca11e19e33c80aa9429562"), Some(Uuid(A_BYTES)));
}

#[test]
fn tagged_sets_follow_mysql_84() {
    // "uuid:1-3:abc:1:foo:1-3:5-7": untagged intervals, then each tag with its intervals.
    let text = format!("{A}:1-3:abc:1:foo:1-3:5-7");
    let parsed = set(&text);
    assert_eq!(parsed.to_string(), text);
    assert!(parsed.is_tagged());
    assert!(parsed.contains(&gtid(&format!("{A}:foo:6"))));
    assert!(!parsed.contains(&gtid(&format!("{A}:foo:4"))));
    assert!(!parsed.contains(&gtid(&format!("{A}:abc:2"))));
    assert!(parsed.contains(&gtid(&format!("{A}:2"))));
    // Tags are case-insensitive and stored lowercase; tags sort after the untagged intervals.
    assert_eq!(set(&format!("{A}:Foo:1:2")).to_string(), format!("{A}:foo:1-2"));
    assert_eq!(set(&format!("{A}:Foo:1,{A}:2")).to_string(), format!("{A}:2:foo:1"));
    assert_eq!(gtid(&format!("{A}:TAG_1:9")).to_string(), format!("{A}:tag_1:9"));
}

#[test]
fn malformed_sets_and_gtids_are_refused() {
    for bad in [
        A.to_string(),
        format!("{A}:"),
        format!("{A}:0"),
        format!("{A}:5-3"),
        format!("{A}:1-{}", i64::MAX),
        format!("{A}:1-x"),
        format!("{A}:tag"),
        format!("{A}:tag:other:1"),
        format!("{A}:1tag:1"),
        format!("{A}:{}:1", "t".repeat(33)),
        format!("{A}:1,"),
        "0-1-5".to_owned(),
        "not-a-uuid:1".to_owned(),
    ] {
        assert!(GtidSet::parse(&bad).is_err(), "{bad:?} parsed");
    }
    assert!(Gtid::parse(&format!("{A}:0")).is_err());
    assert!(Gtid::parse(&format!("{A}:1-2")).is_err());
    assert!(Gtid::parse("0-1-7").is_err(), "a MariaDB GTID is not a MySQL one");
    assert_eq!(set(&format!("{A}:{}", i64::MAX - 1)).to_string(), format!("{A}:{}", i64::MAX - 1));
}

#[test]
fn adding_transactions_merges_intervals() {
    let mut executed = set(&format!("{A}:1-5:7"));
    executed.add(&gtid(&format!("{A}:6")));
    assert_eq!(executed.to_string(), format!("{A}:1-7"));
    executed.add(&gtid(&format!("{A}:3")));
    assert_eq!(executed.to_string(), format!("{A}:1-7"), "adding a member changes nothing");
    executed.add(&gtid(&format!("{B}:1")));
    executed.add(&gtid(&format!("{A}:t:1")));
    assert_eq!(executed.to_string(), format!("{A}:1-7:t:1,{B}:1"));
}

#[test]
fn subset_union_and_difference() {
    let purged = set(&format!("{A}:1-10"));
    let checkpoint = set(&format!("{A}:1-20,{B}:1-3"));
    assert!(purged.is_subset_of(&checkpoint));
    assert!(!checkpoint.is_subset_of(&purged));
    assert!(GtidSet::new().is_subset_of(&purged));
    let gone = set(&format!("{A}:1-25,{B}:1-2:9"));
    assert_eq!(gone.difference(&checkpoint).to_string(), format!("{A}:21-25,{B}:9"));
    assert!(!gone.is_subset_of(&checkpoint));
    let mut both = purged;
    both.union(&set(&format!("{A}:11-12:30,{B}:5")));
    assert_eq!(both.to_string(), format!("{A}:1-12:30,{B}:5"));
    assert_eq!(
        set(&format!("{A}:1-10:20-30")).difference(&set(&format!("{A}:5-25"))).to_string(),
        format!("{A}:1-4:26-30")
    );
}

#[test]
fn intersection_keeps_what_both_executed() {
    // Two targets after a failover: each holds transactions the other lacks.
    let first = set(&format!("{A}:1-100,{B}:1-5:tag:1-3"));
    let second = set(&format!("{A}:1-90:95-120,{B}:1-7"));
    let both = first.intersection(&second);
    assert_eq!(both.to_string(), format!("{A}:1-90:95-100,{B}:1-5"));
    assert_eq!(both.len(), 90 + 6 + 5);
    assert_eq!(second.intersection(&first), both);
    // Touching but not overlapping intervals share nothing.
    assert!(set(&format!("{A}:1-5")).intersection(&set(&format!("{A}:6-9"))).is_empty());
    assert_eq!(set(&format!("{A}:1-5:7-9")).intersection(&set(&format!("{A}:5-7"))).to_string(), format!("{A}:5:7"));
    assert_eq!(GtidSet::new().len(), 0);
}

/// PREVIOUS_GTIDS bodies built after `Gtid_set::encode`.
#[test]
fn binary_form_decodes_untagged_and_tagged_bodies() {
    // Untagged: n_sids = 1; A; n_intervals = 2; [1, 6) and [11, 19).
    let mut body = 1u64.to_le_bytes().to_vec();
    body.extend_from_slice(&A_BYTES);
    body.extend_from_slice(&2u64.to_le_bytes());
    for value in [1i64, 6, 11, 19] {
        body.extend_from_slice(&value.to_le_bytes());
    }
    let decoded = GtidSet::decode(&body).unwrap();
    assert_eq!(decoded.to_string(), format!("{A}:1-5:11-18"));
    assert_eq!(decoded.encode(), body, "encodes as MySQL does");
    // The empty set: 8 zero bytes.
    assert_eq!(GtidSet::decode(&[0; 8]).unwrap(), GtidSet::new());

    // Tagged (format 1): header = 1 << 56 | n_sids << 8 | 1; each TSID: UUID,
    // varlen tag length (length << 1 for short tags) and bytes, intervals.
    let mut tagged = ((1u64 << 56) | (2 << 8) | 1).to_le_bytes().to_vec();
    tagged.extend_from_slice(&A_BYTES);
    tagged.push(0x00); // untagged
    tagged.extend_from_slice(&1u64.to_le_bytes());
    tagged.extend_from_slice(&1i64.to_le_bytes());
    tagged.extend_from_slice(&4i64.to_le_bytes());
    tagged.extend_from_slice(&A_BYTES);
    tagged.push(3 << 1);
    tagged.extend_from_slice(b"abc");
    tagged.extend_from_slice(&1u64.to_le_bytes());
    tagged.extend_from_slice(&1i64.to_le_bytes());
    tagged.extend_from_slice(&2i64.to_le_bytes());
    let decoded = GtidSet::decode(&tagged).unwrap();
    assert_eq!(decoded.to_string(), format!("{A}:1-3:abc:1"));
    assert_eq!(decoded.encode(), tagged);

    // What MySQL's decoder refuses, Sluice refuses.
    assert!(GtidSet::decode(&body[..body.len() - 1]).is_err(), "truncated");
    let mut trailing = body.clone();
    trailing.push(0);
    assert!(GtidSet::decode(&trailing).is_err(), "bytes after the set");
    let mut adjacent = body.clone();
    adjacent[48..56].copy_from_slice(&6i64.to_le_bytes()); // the second interval starts at the first's end
    assert!(GtidSet::decode(&adjacent).is_err(), "adjacent intervals are malformed in MySQL's encoding");
    let mut format2 = body.clone();
    format2[7] = 2;
    assert!(GtidSet::decode(&format2).is_err(), "unknown format");
    let mut huge = body;
    huge[..8].copy_from_slice(&u64::from(u32::MAX).to_le_bytes());
    assert!(GtidSet::decode(&huge).is_err(), "a count beyond the body");
}

/// COM_BINLOG_DUMP_GTID as mysql_async sends it for `with_gtid().with_gtid_set(sids)`
/// (mysql_common's `BinlogRequest::as_cmd`), byte for byte against the
/// documented layout: 0x1e; u16 flags (BINLOG_THROUGH_GTID = 0x04); u32
/// server id; u32 file name length (0) and name; u64 position (4); u32
/// data size; the set in its binary form.
#[test]
fn dump_request_packet_bytes() {
    let executed = set(&format!("{A}:1-5:11-18"));
    let request = mysql_common::packets::binlog_request::BinlogRequest::new(1001)
        .with_use_gtid(true)
        .with_sids(executed.sids().unwrap());
    let mut packet = Vec::new();
    request.as_cmd().unwrap_right().serialize(&mut packet);

    let data = executed.encode();
    let mut expected = vec![0x1E, 0x04, 0x00];
    expected.extend_from_slice(&1001u32.to_le_bytes());
    expected.extend_from_slice(&0u32.to_le_bytes());
    expected.extend_from_slice(&4u64.to_le_bytes());
    expected.extend_from_slice(&(data.len() as u32).to_le_bytes());
    expected.extend_from_slice(&data);
    assert_eq!(data.len(), 8 + 16 + 8 + 2 * 16, "n_sids, one SID, n_intervals, two intervals");
    assert_eq!(packet, expected);

    // A tagged set switches the block to the tagged format (format byte 1 at
    // the top; MySQL also repeats it in the low byte, mysql_common leaves it 0,
    // which the server masks off) with a varlen tag length per SID.
    let tagged = set(&format!("{A}:1-3:abc:1"));
    let request = mysql_common::packets::binlog_request::BinlogRequest::new(7)
        .with_use_gtid(true)
        .with_sids(tagged.sids().unwrap());
    let mut packet = Vec::new();
    request.as_cmd().unwrap_right().serialize(&mut packet);
    let block = &packet[1 + 2 + 4 + 4 + 8 + 4..];
    let header = u64::from_le_bytes(block[..8].try_into().unwrap());
    assert_eq!((header >> 56, (header & 0x00FF_FFFF_FFFF_FF00) >> 8), (1, 2));
    assert_eq!(&block[8..], &tagged.encode()[8..], "the TSIDs as MySQL encodes them");
}

// Property tests against a model: a set of (uuid index, tag index, number).

const UUIDS: [&str; 3] = [A, B, "ffffffff-ffff-ffff-ffff-ffffffffffff"];
const TAGS: [&str; 3] = ["", "abc", "z_9"];

fn tsid(u: usize, t: usize) -> Tsid {
    Tsid { uuid: Uuid::parse(UUIDS[u]).unwrap(), tag: TAGS[t].to_owned() }
}

fn model_strategy() -> impl Strategy<Value = BTreeSet<(usize, usize, i64)>> {
    proptest::collection::btree_set((0..UUIDS.len(), 0..TAGS.len(), 1i64..40), 0..30)
}

fn build(model: &BTreeSet<(usize, usize, i64)>) -> GtidSet {
    let mut set = GtidSet::new();
    for &(u, t, n) in model {
        set.add(&Gtid::new(tsid(u, t), n).unwrap());
    }
    set
}

fn every_gtid() -> impl Iterator<Item = (usize, usize, i64)> {
    (0..UUIDS.len()).flat_map(|u| (0..TAGS.len()).flat_map(move |t| (1i64..41).map(move |n| (u, t, n))))
}

proptest! {
    #[test]
    fn parse_inverts_format(model in model_strategy()) {
        let built = build(&model);
        let text = built.to_string();
        prop_assert_eq!(&GtidSet::parse(&text).unwrap(), &built);
        prop_assert_eq!(GtidSet::decode(&built.encode()).unwrap(), built);
    }

    #[test]
    fn membership_matches_the_model(model in model_strategy()) {
        let built = build(&model);
        for (u, t, n) in every_gtid() {
            prop_assert_eq!(built.contains(&Gtid::new(tsid(u, t), n).unwrap()), model.contains(&(u, t, n)));
        }
    }

    #[test]
    fn set_operations_match_the_model(a in model_strategy(), b in model_strategy()) {
        let (set_a, set_b) = (build(&a), build(&b));
        let mut union = set_a.clone();
        union.union(&set_b);
        prop_assert_eq!(&union, &build(&a.union(&b).copied().collect()));
        prop_assert_eq!(set_a.difference(&set_b), build(&a.difference(&b).copied().collect()));
        prop_assert_eq!(set_a.is_subset_of(&set_b), a.is_subset(&b));
        // Subset laws.
        prop_assert!(set_a.is_subset_of(&union) && set_b.is_subset_of(&union));
        prop_assert!(set_a.is_subset_of(&set_a));
        prop_assert_eq!(set_a.is_subset_of(&set_b) && set_b.is_subset_of(&set_a), set_a == set_b);
        prop_assert_eq!(set_a.is_subset_of(&set_b), set_a.difference(&set_b).is_empty());
        prop_assert!(GtidSet::new().is_subset_of(&set_a));
    }

    #[test]
    fn intersection_matches_the_model(a in model_strategy(), b in model_strategy(), c in model_strategy()) {
        let (set_a, set_b, set_c) = (build(&a), build(&b), build(&c));
        let both = set_a.intersection(&set_b);
        prop_assert_eq!(&both, &build(&a.intersection(&b).copied().collect()));
        prop_assert_eq!(both.len(), a.intersection(&b).count() as u128);
        // Lattice laws: the greatest set inside both, the same either way round, grouping free.
        prop_assert!(both.is_subset_of(&set_a) && both.is_subset_of(&set_b));
        prop_assert_eq!(&set_b.intersection(&set_a), &both);
        prop_assert_eq!(both.intersection(&set_c), set_a.intersection(&set_b.intersection(&set_c)));
        prop_assert_eq!(&set_a.intersection(&set_a), &set_a);
        prop_assert!(set_a.intersection(&GtidSet::new()).is_empty());
        prop_assert_eq!(&set_a.difference(&set_a.difference(&set_b)), &both);
        prop_assert_eq!(set_a.is_subset_of(&set_b), both == set_a);
        // What is in a but not in the intersection is exactly what b lacks.
        prop_assert_eq!(set_a.difference(&both), set_a.difference(&set_b));
    }

    /// sluice-api's `Position::is_covered_by` reads the same text with its own
    /// small parser: it must agree with the set arithmetic here.
    #[test]
    fn position_coverage_agrees_with_membership(model in model_strategy(), upper in any::<bool>()) {
        use sluice_api::{BinlogPosition, Position};
        let built = build(&model);
        let text = if upper { built.to_string().to_uppercase() } else { built.to_string() };
        let applied = Position::Binlog(BinlogPosition {
            file: "z.000009".into(),
            offset: 1,
            gtid: Some(format!("{}{text}", BinlogPosition::MYSQL_GTID_SET)),
        });
        for (u, t, n) in every_gtid() {
            let gtid = Gtid::new(tsid(u, t), n).unwrap();
            let begin = Position::Binlog(BinlogPosition {
                file: "a.000001".into(),
                offset: 4,
                gtid: Some(format!("{}{gtid}", BinlogPosition::MYSQL_GTID)),
            });
            prop_assert_eq!(begin.is_covered_by(&applied), built.contains(&gtid), "{} in {}", gtid, text);
        }
    }

    /// Any text MySQL could print for a set (intervals in any order, split,
    /// repeated UUIDs, upper case, `,\n` separators) parses to the same set.
    #[test]
    fn uncanonical_text_parses_to_the_same_set(model in model_strategy(), upper in any::<bool>()) {
        let built = build(&model);
        let mut parts: Vec<String> = model
            .iter()
            .rev()
            .map(|&(u, t, n)| {
                let uuid = if upper { UUIDS[u].to_uppercase() } else { UUIDS[u].to_owned() };
                match TAGS[t] {
                    "" => format!("{uuid}:{n}"),
                    tag => format!("{uuid}:{}:{n}", if upper { tag.to_uppercase() } else { tag.to_owned() }),
                }
            })
            .collect();
        parts.dedup();
        prop_assert_eq!(GtidSet::parse(&parts.join(",\n")).unwrap(), built);
    }
}
