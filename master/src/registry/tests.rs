use super::*;
use pinion::prelude::*;
use pinion::protocol::Endpoints;

#[derive(Message, Serialize, Deserialize)]
#[message(name = "test/Chatter")]
struct Chatter {
    seq: u64,
    text: String,
}

mod other {
    use pinion::prelude::*;
    #[derive(Message, Serialize, Deserialize)]
    #[message(name = "other/Chatter")]
    pub struct Chatter {
        pub seq: u32,
        pub text: String,
        pub loud: bool,
    }
}

fn registration(name: &str, session: u64) -> NodeRegistration {
    NodeRegistration {
        name: NodeName::new(name).expect("name"),
        session,
        host: "h".into(),
        pid: 1,
        control: Endpoints {
            ipc: None,
            tcp: Some(format!("tcp://127.0.0.1:{session}")),
        },
        data: Endpoints {
            ipc: None,
            tcp: None,
        },
    }
}

fn caller(name: &str, session: u64) -> Caller {
    Caller {
        node: NodeName::new(name).expect("name"),
        session,
    }
}

fn topic(name: &str) -> TopicName {
    TopicName::new(name).expect("topic")
}

#[test]
fn heartbeat_of_unknown_node_asks_to_register() {
    let mut r = Registry::new(7, Duration::from_secs(3));
    let now = Instant::now();
    let out = r.handle(
        NodeToMaster::Heartbeat(pinion::protocol::node_to_master::Heartbeat(caller("a", 1))),
        now,
    );
    assert!(matches!(
        out.reply,
        MasterReply::Error(MasterError {
            kind: MasterErrorKind::UnknownNode,
            ..
        })
    ));
    r.handle(NodeToMaster::RegisterNode(registration("a", 1)), now);
    let out = r.handle(
        NodeToMaster::Heartbeat(pinion::protocol::node_to_master::Heartbeat(caller("a", 1))),
        now,
    );
    assert!(matches!(
        out.reply,
        MasterReply::Alive { master_session: 7 }
    ));
}

#[test]
fn newest_node_wins_and_old_one_is_told() {
    let mut r = Registry::new(7, Duration::from_secs(3));
    let now = Instant::now();
    r.handle(NodeToMaster::RegisterNode(registration("a", 1)), now);
    let out = r.handle(NodeToMaster::RegisterNode(registration("a", 2)), now);
    assert!(
        out.notices
            .iter()
            .any(|n| n.to.session == 1
                && matches!(n.request, NoticeKind::Replaced { session: 1, .. }))
    );
    let out = r.handle(
        NodeToMaster::Heartbeat(pinion::protocol::node_to_master::Heartbeat(caller("a", 1))),
        now,
    );
    match out.reply {
        MasterReply::Error(MasterError {
            kind: MasterErrorKind::Replaced { by },
            ..
        }) => assert!(by.contains("newer")),
        other => panic!("expected Replaced, got {other:?}"),
    }
    assert_eq!(r.node_count(), 1);
}

#[test]
fn type_mismatch_names_both_types_and_fields() {
    let mut r = Registry::new(7, Duration::from_secs(3));
    let now = Instant::now();
    r.handle(NodeToMaster::RegisterNode(registration("a", 1)), now);
    r.handle(NodeToMaster::RegisterNode(registration("b", 2)), now);
    let ok = r.handle(
        NodeToMaster::Advertise(pinion::protocol::node_to_master::Advertise {
            caller: caller("a", 1),
            topic: topic("chatter"),
            type_info: Chatter::type_info(),
            publisher_id: 10,
            latched: false,
        }),
        now,
    );
    assert!(matches!(ok.reply, MasterReply::Subscribers(_)));
    let refused = r.handle(
        NodeToMaster::Subscribe(pinion::protocol::node_to_master::Subscribe {
            caller: caller("b", 2),
            topic: topic("chatter"),
            type_info: other::Chatter::type_info(),
            subscriber_id: 20,
        }),
        now,
    );
    let MasterReply::Error(e) = refused.reply else {
        panic!("expected a refusal")
    };
    assert!(
        e.message.contains("test/Chatter") && e.message.contains("other/Chatter"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("Chatter.seq: U64 vs U32"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("Chatter.loud: only in the second type"),
        "{}",
        e.message
    );
}

#[test]
fn forged_hash_is_refused() {
    let mut r = Registry::new(7, Duration::from_secs(3));
    let now = Instant::now();
    r.handle(NodeToMaster::RegisterNode(registration("a", 1)), now);
    let mut info = Chatter::type_info();
    info.hash ^= 1;
    let out = r.handle(
        NodeToMaster::Advertise(pinion::protocol::node_to_master::Advertise {
            caller: caller("a", 1),
            topic: topic("t"),
            type_info: info,
            publisher_id: 1,
            latched: false,
        }),
        now,
    );
    assert!(matches!(
        out.reply,
        MasterReply::Error(MasterError {
            kind: MasterErrorKind::Invalid,
            ..
        })
    ));
}

#[test]
fn subscribers_hear_of_new_and_expired_publishers() {
    let mut r = Registry::new(7, Duration::from_secs(3));
    let t0 = Instant::now();
    r.handle(NodeToMaster::RegisterNode(registration("sub", 1)), t0);
    r.handle(
        NodeToMaster::Subscribe(pinion::protocol::node_to_master::Subscribe {
            caller: caller("sub", 1),
            topic: topic("chatter"),
            type_info: Chatter::type_info(),
            subscriber_id: 5,
        }),
        t0,
    );
    r.handle(NodeToMaster::RegisterNode(registration("pub", 2)), t0);
    let out = r.handle(
        NodeToMaster::Advertise(pinion::protocol::node_to_master::Advertise {
            caller: caller("pub", 2),
            topic: topic("chatter"),
            type_info: Chatter::type_info(),
            publisher_id: 9,
            latched: false,
        }),
        t0,
    );
    let told: Vec<_> = out
        .notices
        .iter()
        .filter_map(|n| match &n.request {
            NoticeKind::Publishers(_, list) if n.to.name.as_str() == "sub" => {
                Some(list.items.len())
            }
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![1]);

    // "sub" keeps heartbeating, "pub" goes silent.
    let t1 = t0 + Duration::from_secs(2);
    r.handle(
        NodeToMaster::Heartbeat(pinion::protocol::node_to_master::Heartbeat(caller(
            "sub", 1,
        ))),
        t1,
    );
    let mut notices = Vec::new();
    let expired = r.expire(t0 + Duration::from_secs(4), &mut notices);
    assert_eq!(expired, vec![NodeName::new("pub").expect("name")]);
    assert!(notices
        .iter()
        .any(|n| matches!(&n.request, NoticeKind::Publishers(_, list) if list.items.is_empty())));
}

#[test]
fn parameters_are_checked_stored_and_pushed_to_watchers() {
    let mut r = Registry::new(7, Duration::from_secs(3));
    let now = Instant::now();
    r.handle(NodeToMaster::RegisterNode(registration("talker", 1)), now);
    let out = r.handle(
        NodeToMaster::WatchParams(pinion::protocol::node_to_master::WatchParams {
            caller: caller("talker", 1),
            keys: vec!["talker/text".into()],
        }),
        now,
    );
    assert!(matches!(out.reply, MasterReply::Params(ref v) if v.is_empty()));
    let out = r.handle(
        NodeToMaster::SetParam(pinion::protocol::node_to_master::SetParam {
            key: "talker/text".into(),
            value_json: "\"hi\"".into(),
        }),
        now,
    );
    assert!(matches!(out.reply, MasterReply::Ok));
    assert!(out.notices.iter().any(|n| n.to.name.as_str() == "talker"
        && n.request == NoticeKind::Param("talker/text".into(), Some("\"hi\"".into()))));
    let out = r.handle(
        NodeToMaster::GetParam(pinion::protocol::node_to_master::GetParam {
            key: "talker/text".into(),
        }),
        now,
    );
    assert!(matches!(out.reply, MasterReply::Param(Some(ref v)) if v == "\"hi\""));
    let bad = r.handle(
        NodeToMaster::SetParam(pinion::protocol::node_to_master::SetParam {
            key: "talker/text".into(),
            value_json: "hi".into(),
        }),
        now,
    );
    assert!(matches!(bad.reply, MasterReply::Error(ref e) if e.message.contains("not JSON")));
    let bad = r.handle(
        NodeToMaster::SetParam(pinion::protocol::node_to_master::SetParam {
            key: "bad key".into(),
            value_json: "1".into(),
        }),
        now,
    );
    assert!(matches!(bad.reply, MasterReply::Error(_)));
}
