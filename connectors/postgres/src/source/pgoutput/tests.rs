//! Decoder tests: one hand-built message per type, malformed input, and
//! property tests (arbitrary bytes never panic; well-formed messages
//! encoded here decode back to themselves). Regressions found by proptest
//! are kept in `proptest-regressions/`.

use proptest::prelude::*;

use super::*;

/// Encodes a message the way the walsender and pgoutput do (test-only).
fn encode(message: &PgOutputMessage) -> Vec<u8> {
    let mut out = Vec::new();
    let string = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    };
    match message {
        PgOutputMessage::Begin(b) => {
            out.push(b'B');
            out.extend_from_slice(&b.final_lsn.0.to_be_bytes());
            out.extend_from_slice(&b.commit_time.to_be_bytes());
            out.extend_from_slice(&b.xid.to_be_bytes());
        }
        PgOutputMessage::Commit(c) => {
            out.push(b'C');
            out.push(c.flags);
            out.extend_from_slice(&c.commit_lsn.0.to_be_bytes());
            out.extend_from_slice(&c.end_lsn.0.to_be_bytes());
            out.extend_from_slice(&c.commit_time.to_be_bytes());
        }
        PgOutputMessage::Origin { commit_lsn, name } => {
            out.push(b'O');
            out.extend_from_slice(&commit_lsn.0.to_be_bytes());
            string(&mut out, name);
        }
        PgOutputMessage::Relation(r) => {
            out.push(b'R');
            out.extend_from_slice(&r.oid.to_be_bytes());
            string(&mut out, &r.namespace);
            string(&mut out, &r.name);
            out.push(r.replica_identity);
            out.extend_from_slice(&(r.columns.len() as i16).to_be_bytes());
            for column in &r.columns {
                out.push(u8::from(column.is_key));
                string(&mut out, &column.name);
                out.extend_from_slice(&column.type_oid.to_be_bytes());
                out.extend_from_slice(&column.type_modifier.to_be_bytes());
            }
        }
        PgOutputMessage::Type { oid, namespace, name } => {
            out.push(b'Y');
            out.extend_from_slice(&oid.to_be_bytes());
            string(&mut out, namespace);
            string(&mut out, name);
        }
        PgOutputMessage::Insert { relation, new } => {
            out.push(b'I');
            out.extend_from_slice(&relation.to_be_bytes());
            out.push(b'N');
            encode_tuple(&mut out, new);
        }
        PgOutputMessage::Update { relation, old, new } => {
            out.push(b'U');
            out.extend_from_slice(&relation.to_be_bytes());
            if let Some(old) = old {
                encode_old(&mut out, old);
            }
            out.push(b'N');
            encode_tuple(&mut out, new);
        }
        PgOutputMessage::Delete { relation, old } => {
            out.push(b'D');
            out.extend_from_slice(&relation.to_be_bytes());
            encode_old(&mut out, old);
        }
        PgOutputMessage::Truncate { options, relations } => {
            out.push(b'T');
            out.extend_from_slice(&(relations.len() as u32).to_be_bytes());
            out.push(*options);
            for relation in relations {
                out.extend_from_slice(&relation.to_be_bytes());
            }
        }
        PgOutputMessage::Message { transactional, lsn, prefix, content } => {
            out.push(b'M');
            out.push(u8::from(*transactional));
            out.extend_from_slice(&lsn.0.to_be_bytes());
            string(&mut out, prefix);
            out.extend_from_slice(&(content.len() as i32).to_be_bytes());
            out.extend_from_slice(content);
        }
    }
    out
}

fn encode_old(out: &mut Vec<u8>, old: &OldTuple) {
    match old {
        OldTuple::Key(tuple) => {
            out.push(b'K');
            encode_tuple(out, tuple);
        }
        OldTuple::Full(tuple) => {
            out.push(b'O');
            encode_tuple(out, tuple);
        }
    }
}

fn encode_tuple(out: &mut Vec<u8>, tuple: &Tuple) {
    out.extend_from_slice(&(tuple.len() as i16).to_be_bytes());
    for column in tuple {
        match column {
            TupleColumn::Null => out.push(b'n'),
            TupleColumn::Unchanged => out.push(b'u'),
            TupleColumn::Text(bytes) | TupleColumn::Binary(bytes) => {
                out.push(if matches!(column, TupleColumn::Text(_)) { b't' } else { b'b' });
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
}

fn xlog(start: u64, message: &PgOutputMessage) -> Bytes {
    let mut out = vec![b'w'];
    out.extend_from_slice(&start.to_be_bytes());
    out.extend_from_slice(&start.to_be_bytes());
    out.extend_from_slice(&777i64.to_be_bytes());
    out.extend_from_slice(&encode(message));
    Bytes::from(out)
}

fn text(s: &str) -> TupleColumn {
    TupleColumn::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn decoded(bytes: &[u8]) -> PgOutputMessage {
    decode_pgoutput(Bytes::copy_from_slice(bytes)).expect("well-formed message decodes")
}

#[test]
fn begin_decodes_final_lsn_time_and_xid() {
    let mut bytes = vec![b'B'];
    bytes.extend_from_slice(&0x0000_0001_0000_0200u64.to_be_bytes());
    bytes.extend_from_slice(&123_456i64.to_be_bytes());
    bytes.extend_from_slice(&42u32.to_be_bytes());
    assert_eq!(
        decoded(&bytes),
        PgOutputMessage::Begin(Begin { final_lsn: Lsn(0x1_0000_0200), commit_time: 123_456, xid: 42 })
    );
}

#[test]
fn commit_decodes_both_lsns() {
    let mut bytes = vec![b'C', 0];
    bytes.extend_from_slice(&100u64.to_be_bytes());
    bytes.extend_from_slice(&148u64.to_be_bytes());
    bytes.extend_from_slice(&(-5i64).to_be_bytes());
    assert_eq!(
        decoded(&bytes),
        PgOutputMessage::Commit(Commit { flags: 0, commit_lsn: Lsn(100), end_lsn: Lsn(148), commit_time: -5 })
    );
}

#[test]
fn origin_decodes_name() {
    let mut bytes = vec![b'O'];
    bytes.extend_from_slice(&9u64.to_be_bytes());
    bytes.extend_from_slice(b"pg_16389\0");
    assert_eq!(decoded(&bytes), PgOutputMessage::Origin { commit_lsn: Lsn(9), name: "pg_16389".into() });
}

#[test]
fn relation_decodes_columns_with_key_flags() {
    let mut bytes = vec![b'R'];
    bytes.extend_from_slice(&16_384u32.to_be_bytes());
    bytes.extend_from_slice(b"public\0orders\0d");
    bytes.extend_from_slice(&2i16.to_be_bytes());
    bytes.push(1);
    bytes.extend_from_slice(b"id\0");
    bytes.extend_from_slice(&20u32.to_be_bytes());
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    bytes.push(0);
    bytes.extend_from_slice(b"note\0");
    bytes.extend_from_slice(&1043u32.to_be_bytes());
    bytes.extend_from_slice(&44i32.to_be_bytes());
    let PgOutputMessage::Relation(relation) = decoded(&bytes) else { panic!("not a relation") };
    assert_eq!((relation.oid, relation.namespace.as_str(), relation.name.as_str()), (16_384, "public", "orders"));
    assert_eq!(relation.replica_identity, b'd');
    assert_eq!(
        relation.columns,
        vec![
            RelationColumn { is_key: true, name: "id".into(), type_oid: 20, type_modifier: -1 },
            RelationColumn { is_key: false, name: "note".into(), type_oid: 1043, type_modifier: 44 },
        ]
    );
}

#[test]
fn type_decodes_names() {
    let mut bytes = vec![b'Y'];
    bytes.extend_from_slice(&16_400u32.to_be_bytes());
    bytes.extend_from_slice(b"public\0mood\0");
    assert_eq!(decoded(&bytes), PgOutputMessage::Type { oid: 16_400, namespace: "public".into(), name: "mood".into() });
}

#[test]
fn insert_decodes_every_column_kind() {
    let mut bytes = vec![b'I'];
    bytes.extend_from_slice(&7u32.to_be_bytes());
    bytes.push(b'N');
    bytes.extend_from_slice(&4i16.to_be_bytes());
    bytes.push(b'n');
    bytes.push(b'u');
    bytes.push(b't');
    bytes.extend_from_slice(&2i32.to_be_bytes());
    bytes.extend_from_slice(b"42");
    bytes.push(b'b');
    bytes.extend_from_slice(&1i32.to_be_bytes());
    bytes.push(0xFF);
    assert_eq!(
        decoded(&bytes),
        PgOutputMessage::Insert {
            relation: 7,
            new: vec![
                TupleColumn::Null,
                TupleColumn::Unchanged,
                text("42"),
                TupleColumn::Binary(Bytes::from_static(&[0xFF]))
            ],
        }
    );
}

#[test]
fn update_decodes_without_and_with_old_images() {
    for old in [None, Some(OldTuple::Key(vec![text("1")])), Some(OldTuple::Full(vec![text("1"), text("a")]))] {
        let message = PgOutputMessage::Update { relation: 3, old, new: vec![text("1"), TupleColumn::Unchanged] };
        assert_eq!(decoded(&encode(&message)), message);
    }
}

#[test]
fn delete_decodes_key_and_full_images() {
    for old in [OldTuple::Key(vec![text("1"), TupleColumn::Null]), OldTuple::Full(vec![text("1"), text("x")])] {
        let message = PgOutputMessage::Delete { relation: 3, old };
        assert_eq!(decoded(&encode(&message)), message);
    }
}

#[test]
fn truncate_decodes_options_and_relations() {
    let mut bytes = vec![b'T'];
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.push(3);
    bytes.extend_from_slice(&10u32.to_be_bytes());
    bytes.extend_from_slice(&11u32.to_be_bytes());
    assert_eq!(decoded(&bytes), PgOutputMessage::Truncate { options: 3, relations: vec![10, 11] });
}

#[test]
fn logical_message_decodes_prefix_and_content() {
    let message = PgOutputMessage::Message {
        transactional: true,
        lsn: Lsn(5),
        prefix: "sluice".into(),
        content: Bytes::from_static(b"\x00\x01"),
    };
    assert_eq!(decoded(&encode(&message)), message);
}

#[test]
fn xlogdata_and_keepalive_wrappers_decode() {
    let begin = PgOutputMessage::Begin(Begin { final_lsn: Lsn(10), commit_time: 1, xid: 2 });
    assert_eq!(
        decode(xlog(9, &begin)).unwrap(),
        ReplicationMessage::XLogData { wal_start: Lsn(9), wal_end: Lsn(9), server_time: 777, message: begin }
    );
    let mut keepalive = vec![b'k'];
    keepalive.extend_from_slice(&0x16_B374_D848u64.to_be_bytes());
    keepalive.extend_from_slice(&1i64.to_be_bytes());
    keepalive.push(1);
    assert_eq!(
        decode(Bytes::from(keepalive)).unwrap(),
        ReplicationMessage::Keepalive { wal_end: Lsn(0x16_B374_D848), server_time: 1, reply_requested: true }
    );
}

#[test]
fn malformed_messages_are_protocol_errors() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![b'Z'],
        vec![b'B', 0, 0],
        // Negative column count in a tuple.
        [&[b'I', 0, 0, 0, 1, b'N'][..], &(-1i16).to_be_bytes()].concat(),
        // A text value longer than the message.
        [&[b'I', 0, 0, 0, 1, b'N', 0, 1, b't'][..], &1000i32.to_be_bytes(), b"ab"].concat(),
        // Negative text length.
        [&[b'I', 0, 0, 0, 1, b'N', 0, 1, b't'][..], &(-5i32).to_be_bytes()].concat(),
        // Unknown column kind.
        vec![b'I', 0, 0, 0, 1, b'N', 0, 1, b'x'],
        // Insert without the N marker.
        vec![b'I', 0, 0, 0, 1, b'K', 0, 0],
        // Unterminated string.
        vec![b'Y', 0, 0, 0, 1, b'p', b'u', b'b'],
        // Invalid UTF-8 in a name.
        vec![b'Y', 0, 0, 0, 1, 0xC3, 0x28, 0, b'x', 0],
        // Trailing garbage after a complete message.
        [&encode(&PgOutputMessage::Truncate { options: 0, relations: vec![1] })[..], &[0]].concat(),
        // A truncate announcing four billion relations.
        vec![b'T', 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1],
        // Streaming messages are not requested.
        vec![b'S', 0, 0, 0, 1, 0],
    ];
    for bytes in cases {
        match decode_pgoutput(Bytes::from(bytes.clone())) {
            Err(PostgresError::Protocol { .. }) => {}
            other => panic!("{bytes:?} must be a protocol error, got {other:?}"),
        }
    }
    for bytes in [vec![b'k', 0, 0], vec![b'x'], vec![b'w', 0, 0, 0, 0, 0, 0, 0, 0]] {
        assert!(matches!(decode(Bytes::from(bytes)), Err(PostgresError::Protocol { .. })));
    }
}

fn lsn() -> impl Strategy<Value = Lsn> {
    any::<u64>().prop_map(Lsn)
}

fn name() -> impl Strategy<Value = String> {
    // Any UTF-8 without NUL (names are C strings).
    "[^\u{0}]{0,12}"
}

fn tuple() -> impl Strategy<Value = Tuple> {
    prop::collection::vec(
        prop_oneof![
            Just(TupleColumn::Null),
            Just(TupleColumn::Unchanged),
            prop::collection::vec(any::<u8>(), 0..20).prop_map(|b| TupleColumn::Text(Bytes::from(b))),
            prop::collection::vec(any::<u8>(), 0..20).prop_map(|b| TupleColumn::Binary(Bytes::from(b))),
        ],
        0..8,
    )
}

fn old_tuple() -> impl Strategy<Value = OldTuple> {
    prop_oneof![tuple().prop_map(OldTuple::Key), tuple().prop_map(OldTuple::Full)]
}

fn message() -> impl Strategy<Value = PgOutputMessage> {
    let column = (any::<bool>(), name(), any::<u32>(), any::<i32>())
        .prop_map(|(is_key, name, type_oid, type_modifier)| RelationColumn { is_key, name, type_oid, type_modifier });
    prop_oneof![
        (lsn(), any::<i64>(), any::<u32>()).prop_map(|(final_lsn, commit_time, xid)| PgOutputMessage::Begin(Begin {
            final_lsn,
            commit_time,
            xid
        })),
        (any::<u8>(), lsn(), lsn(), any::<i64>()).prop_map(|(flags, commit_lsn, end_lsn, commit_time)| {
            PgOutputMessage::Commit(Commit { flags, commit_lsn, end_lsn, commit_time })
        }),
        (lsn(), name()).prop_map(|(commit_lsn, name)| PgOutputMessage::Origin { commit_lsn, name }),
        (any::<u32>(), name(), name(), any::<u8>(), prop::collection::vec(column, 0..6)).prop_map(
            |(oid, namespace, name, replica_identity, columns)| {
                PgOutputMessage::Relation(RelationMessage { oid, namespace, name, replica_identity, columns })
            }
        ),
        (any::<u32>(), name(), name()).prop_map(|(oid, namespace, name)| PgOutputMessage::Type {
            oid,
            namespace,
            name
        }),
        (any::<u32>(), tuple()).prop_map(|(relation, new)| PgOutputMessage::Insert { relation, new }),
        (any::<u32>(), prop::option::of(old_tuple()), tuple())
            .prop_map(|(relation, old, new)| PgOutputMessage::Update { relation, old, new }),
        (any::<u32>(), old_tuple()).prop_map(|(relation, old)| PgOutputMessage::Delete { relation, old }),
        (any::<u8>(), prop::collection::vec(any::<u32>(), 0..6))
            .prop_map(|(options, relations)| PgOutputMessage::Truncate { options, relations }),
        (any::<bool>(), lsn(), name(), prop::collection::vec(any::<u8>(), 0..20)).prop_map(
            |(transactional, lsn, prefix, content)| PgOutputMessage::Message {
                transactional,
                lsn,
                prefix,
                content: Bytes::from(content)
            }
        ),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(Bytes::from(bytes.clone()));
        let _ = decode_pgoutput(Bytes::from(bytes));
    }

    #[test]
    fn bytes_behind_a_valid_tag_never_panic(
        tag in prop::sample::select(b"BCORYIUDTM".to_vec()),
        body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&body);
        let _ = decode_pgoutput(Bytes::from(bytes));
    }

    #[test]
    fn well_formed_messages_round_trip(message in message(), start in any::<u64>()) {
        prop_assert_eq!(&decode_pgoutput(Bytes::from(encode(&message))).unwrap(), &message);
        match decode(xlog(start, &message)).unwrap() {
            ReplicationMessage::XLogData { wal_start, message: inner, .. } => {
                prop_assert_eq!(wal_start, Lsn(start));
                prop_assert_eq!(inner, message);
            }
            other => prop_assert!(false, "expected XLogData, got {:?}", other),
        }
    }

    #[test]
    fn truncated_well_formed_messages_are_errors_not_panics(message in message(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&message);
        let cut = cut.index(bytes.len());
        prop_assert!(decode_pgoutput(Bytes::copy_from_slice(&bytes[..cut])).is_err());
    }
}
