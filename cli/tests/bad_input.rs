//! Bad input: wrong types, garbage requests, undecodable payloads, wrong schema hashes.

mod support;

use bytes::Bytes;
use pinion::prelude::*;
use pinion::protocol::header::{lead_frame, topic_frame, FrameKind, Header};
use pinion::protocol::master_to_node::{MasterErrorKind, MasterReply};
use pinion::protocol::node_to_master::{Caller, NodeRegistration};
use pinion::protocol::{Endpoints, NodeToMaster};
use pinion::transport::{DataPublisher, Requester};
use pinion::{Error, NodeName, TopicName};
use pinion_nodes::Chatter;
use std::time::Duration;
use support::*;

mod v2 {
    use pinion::prelude::*;
    /// Same topic, another layout: `seq` narrowed, a field added.
    #[derive(Message, Serialize, Deserialize, Debug)]
    #[message(name = "demo/ChatterV2")]
    pub struct Chatter {
        pub seq: u32,
        pub text: String,
        pub volume: f32,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_and_publisher_of_another_type_are_refused_with_the_differences() {
    let dir = TempDir::new("types");
    let (_master, env) = start_master(&dir);
    let node = Node::init(options(&env, "types_a")).await.expect("node");
    let _good = node
        .advertise::<Chatter>("chatter")
        .await
        .expect("first type wins");

    let err = node
        .subscribe::<v2::Chatter>("chatter")
        .await
        .expect_err("wrong type refused");
    let text = err.to_string();
    for needle in [
        "demo/Chatter",
        "demo/ChatterV2",
        "Chatter.seq: U64 vs U32",
        "Chatter.volume: only in the second type",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(
        matches!(&err, Error::Master(e) if matches!(e.kind, MasterErrorKind::TypeMismatch { .. }))
    );

    let err = node
        .advertise::<v2::Chatter>("chatter")
        .await
        .expect_err("wrong publisher refused");
    assert!(err.to_string().contains("demo/ChatterV2"), "{err}");
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_answers_garbage_with_an_error_and_keeps_serving() {
    let dir = TempDir::new("garbage");
    let (mut master, env) = start_master(&dir);
    let mut client = Requester::new(&env.master, Duration::from_secs(2)).expect("client");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..50 {
        let len = (round * 7) % 300;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let reply = client.request(bytes).await.expect("the master answers");
        let reply: MasterReply = pinion::protocol::decode("reply", &reply).expect("a valid reply");
        assert!(
            matches!(&reply, MasterReply::Error(e) if e.kind == MasterErrorKind::Malformed),
            "round {round}: {reply:?}"
        );
    }
    // Still serving real requests.
    assert!(matches!(
        ask(
            &env.master,
            &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes)
        )
        .await,
        Ok(MasterReply::Nodes(_))
    ));
    master.expect_line("a counted warning", SOON, |_, l| {
        l.contains("malformed request") && l.contains("malformed_total=50")
    });
}

/// A hand-made publisher that registers like a node but sends whatever the test wants.
struct FakePublisher {
    socket: DataPublisher,
    topic: Bytes,
    publisher_id: u64,
}

impl FakePublisher {
    async fn start(env: &Env, topic: &str) -> Self {
        let mut socket = DataPublisher::new(None);
        let data = socket.bind("tcp://127.0.0.1:0").await.expect("bind");
        socket.start();
        let caller = Caller {
            node: NodeName::new("fake_pub").expect("name"),
            session: 77,
        };
        let registration = NodeRegistration {
            name: caller.node.clone(),
            session: 77,
            host: "fake-host".into(),
            pid: 1,
            control: Endpoints {
                ipc: None,
                tcp: None,
            },
            data: Endpoints {
                ipc: None,
                tcp: Some(data),
            },
        };
        ask(&env.master, &NodeToMaster::RegisterNode(registration))
            .await
            .expect("register");
        let publisher_id = 4242;
        let advertise = NodeToMaster::Advertise(pinion::protocol::node_to_master::Advertise {
            caller,
            topic: TopicName::new(topic).expect("topic"),
            type_info: Chatter::type_info(),
            publisher_id,
            latched: false,
        });
        assert!(matches!(
            ask(&env.master, &advertise).await,
            Ok(MasterReply::Subscribers(_))
        ));
        Self {
            socket,
            topic: Bytes::from(topic_frame(topic)),
            publisher_id,
        }
    }

    async fn send(&mut self, schema_hash: u64, seq: u64, payload: Vec<u8>) {
        let header = Header {
            kind: FrameKind::Data,
            schema_hash,
            publisher_id: self.publisher_id,
            seq,
            stamp_ns: 0,
        };
        // The payload in a frame of its own, as a node sends a large one.
        let frames = vec![
            Bytes::from(lead_frame(&self.topic, &header).expect("header")),
            Bytes::from(payload),
        ];
        self.socket.send(frames).await.expect("send");
    }

    async fn send_raw(&mut self, frames: Vec<Bytes>) {
        self.socket.send(frames).await.expect("send");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_counted_and_dropped_and_good_ones_still_arrive() {
    log_to_test_output();
    let dir = TempDir::new("badframes");
    let (_master, env) = start_master(&dir);
    let node = Node::init(options(&env, "bad_sub")).await.expect("node");
    let mut sub = node
        .subscribe::<Chatter>("robust")
        .await
        .expect("subscribe");
    let mut fake = FakePublisher::start(&env, "robust").await;
    let good = |seq: u64| {
        postcard::to_stdvec(&Chatter {
            seq,
            text: "ok".into(),
        })
        .expect("encode")
    };

    // The fake publisher has no control socket, so no handshake: send until the first arrives.
    let mut seq = 0;
    let first = loop {
        seq += 1;
        assert!(seq < 5000, "the subscriber never connected");
        fake.send(Chatter::SCHEMA_HASH, seq, good(seq)).await;
        if let Some(m) = recv_within(&mut sub, Duration::from_millis(2)).await {
            break m;
        }
    };
    assert_eq!(first.text, "ok");
    // Messages sent before the first arrived may still be on their way: take them all
    // (one connection keeps order), so that the next one received is the next one sent.
    let mut last = first.seq;
    while last < seq {
        last = recv_within(&mut sub, SOON)
            .await
            .expect("the messages sent before the first arrived")
            .seq;
    }
    let before = sub.counters();

    fake.send(Chatter::SCHEMA_HASH ^ 0xff, seq + 1, good(seq + 1))
        .await; // wrong type
    fake.send(Chatter::SCHEMA_HASH, seq + 2, vec![0xff; 3])
        .await; // payload does not decode
    fake.send_raw(vec![
        Bytes::from([&fake.topic[..], b"\xff\xff\xff\xff\xff\xff"].concat()),
        Bytes::new(),
    ])
    .await; // header does not decode
    fake.send_raw(vec![fake.topic.clone()]).await; // no header at all
    fake.send(Chatter::SCHEMA_HASH, seq + 3, good(seq + 3))
        .await;

    let next = recv_within(&mut sub, SOON)
        .await
        .expect("a good message after bad ones");
    assert_eq!(next.seq, seq + 3);
    let after = sub.counters();
    assert_eq!(after.wrong_type - before.wrong_type, 1, "{after:?}");
    assert_eq!(after.malformed - before.malformed, 3, "{after:?}");
    assert!(sub.try_recv().is_none(), "nothing bad was delivered");
    node.close().await;
}

#[test]
fn a_message_past_the_robots_limit_is_refused_with_a_clear_error() {
    let dir = TempDir::new("too-large");
    let (_master, env) = start_master(&dir);
    let text = "x".repeat(200);
    let mut c = env.command("talker");
    c.args(["--text", &text, "--count", "1"])
        .env("PINION_MAX_MESSAGE", "128");
    let mut talker = Proc::spawn("talker", c);
    let (_, code) = talker.finish(SOON);
    assert_eq!(code, Some(1), "{}", talker.dump());
    assert!(
        talker
            .dump()
            .contains("is larger than the robot's limit of 128 bytes (PINION_MAX_MESSAGE)"),
        "{}",
        talker.dump()
    );
}
