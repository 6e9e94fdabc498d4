//! Publish/subscribe between real processes and in-process nodes, against a real master.

mod support;

use pinion::prelude::*;
use pinion::subscriber::Transport;
use pinion_nodes::Chatter;
use std::time::{Duration, Instant};
use support::*;

fn seq_lines(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("seq=")?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn listener_started_before_its_talker_receives() {
    let dir = TempDir::new("before");
    let (_master, env) = start_master(&dir);
    let mut listener = env.node("listener", "listener", &["--count", "3"]);
    listener.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let _talker = env.node("talker", "talker", &["--rate", "50"]);
    let (out, code) = listener.finish(SOON);
    assert_eq!(code, Some(0), "listener output:\n{}", listener.dump());
    let seqs = seq_lines(&out);
    assert_eq!(seqs.len(), 3, "{out:?}");
    assert!(out.iter().all(|l| l.ends_with("text=hello")), "{out:?}");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive: {seqs:?}"
    );
}

#[test]
fn listener_started_after_its_talker_receives() {
    let dir = TempDir::new("after");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "50"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let mut listener = env.node("listener", "listener", &["--count", "3"]);
    let (out, code) = listener.finish(SOON);
    assert_eq!(code, Some(0), "listener output:\n{}", listener.dump());
    assert_eq!(seq_lines(&out).len(), 3, "{out:?}");
}

/// A listener for `n` messages and a talker that sends them as fast as it can and
/// exits, both with `env_vars`; checks both exit cleanly and returns the listener's
/// sequence numbers. `check_listener` looks at the running listener first.
fn talker_to_listener(
    tag: &str,
    n: u64,
    env_vars: &[(&str, &str)],
    check_listener: impl FnOnce(&Proc),
) -> Vec<u64> {
    let dir = TempDir::new(tag);
    let (_master, env) = start_master(&dir);
    let node = |program: &str, args: &[&str]| {
        let mut c = env.command(program);
        c.env("PINION_NODE_NAME", program)
            .envs(env_vars.iter().copied())
            .args(args);
        Proc::spawn(program, c)
    };
    let mut listener = node("listener", &["--count", &n.to_string()]);
    listener.expect_line("registered", SOON, |_, l| l.contains("registered"));
    check_listener(&listener);
    let mut talker = node(
        "talker",
        &[
            "--rate",
            "100000",
            "--count",
            &n.to_string(),
            "--wait-for",
            "1",
        ],
    );
    let (_, talker_code) = talker.finish(SOON);
    assert_eq!(talker_code, Some(0), "talker:\n{}", talker.dump());
    let (out, code) = listener.finish(SOON);
    assert_eq!(code, Some(0), "listener:\n{}", listener.dump());
    seq_lines(&out)
}

#[test]
fn talker_that_exits_delivers_every_message() {
    let n = 2000;
    let seqs = talker_to_listener("noloss", n, &[], |_| ());
    assert_eq!(
        seqs,
        (0..n).collect::<Vec<u64>>(),
        "every message, in order"
    );
}

#[test]
fn nodes_on_one_runtime_thread_deliver_every_message() {
    // `PINION_THREADS=1`, the setting for very small nodes: everything on the main
    // thread, the talker's end-of-run flush included.
    let n = 500;
    let seqs = talker_to_listener("onethread", n, &[("PINION_THREADS", "1")], |listener| {
        let threads = std::fs::read_to_string(format!("/proc/{}/status", listener.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:").map(|t| t.trim().to_owned()));
        assert_eq!(
            threads.as_deref(),
            Some("1"),
            "the listener runs one thread"
        );
    });
    assert_eq!(seqs, (0..n).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_publisher_is_found_quickly_by_a_running_subscriber() {
    let dir = TempDir::new("discovery");
    let (_master, env) = start_master(&dir);
    let sub_node = Node::init(options(&env, "discovery_sub"))
        .await
        .expect("sub node");
    let mut sub = sub_node
        .subscribe::<Chatter>("discovery")
        .await
        .expect("subscribe");
    let pub_node = Node::init(options(&env, "discovery_pub"))
        .await
        .expect("pub node");

    let start = Instant::now();
    let publisher = pub_node
        .advertise::<Chatter>("discovery")
        .await
        .expect("advertise");
    let mut first = None;
    for seq in 0..2000u64 {
        publisher
            .publish(&Chatter {
                seq,
                text: "x".into(),
            })
            .await
            .expect("publish");
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(1), sub.recv()).await {
            first = Some(start.elapsed());
            break;
        }
    }
    let first = first.expect("no message within 2000 attempts");
    // The target is 200 ms; the test bound is generous for loaded CI machines.
    assert!(first < Duration::from_secs(2), "discovery took {first:?}");
    pub_node.close().await;
    sub_node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_host_uses_ipc_and_other_host_uses_tcp() {
    log_to_test_output();
    let dir = TempDir::new("transport");
    let (mut master, env) = start_master(&dir);
    let pub_node = Node::init(options(&env, "tr_pub").host("pi-a"))
        .await
        .expect("pub");
    let near = Node::init(options(&env, "tr_near").host("pi-a"))
        .await
        .expect("near");
    let far = Node::init(options(&env, "tr_far").host("pi-b"))
        .await
        .expect("far");
    let publisher = pub_node
        .advertise::<Chatter>("transport")
        .await
        .expect("advertise");
    let mut near_sub = near
        .subscribe::<Chatter>("transport")
        .await
        .expect("near sub");
    let mut far_sub = far
        .subscribe::<Chatter>("transport")
        .await
        .expect("far sub");
    if tokio::time::timeout(SOON, publisher.wait_for_subscribers(2))
        .await
        .is_err()
    {
        master.finish(Duration::from_millis(100));
        panic!("both connect; master: {}", master.dump());
    }
    publisher
        .publish(&Chatter {
            seq: 7,
            text: "t".into(),
        })
        .await
        .expect("publish");
    assert_eq!(
        recv_within(&mut near_sub, SOON).await.map(|m| m.seq),
        Some(7)
    );
    assert_eq!(
        recv_within(&mut far_sub, SOON).await.map(|m| m.seq),
        Some(7)
    );

    let near_c = near_sub.connections();
    let far_c = far_sub.connections();
    assert_eq!(near_c.len(), 1);
    assert_eq!(near_c[0].transport, Transport::Ipc, "{near_c:?}");
    assert!(near_c[0].endpoint.starts_with("ipc://"));
    assert_eq!(far_c.len(), 1);
    assert_eq!(far_c[0].transport, Transport::Tcp, "{far_c:?}");
    assert!(far_c[0].endpoint.starts_with("tcp://127.0.0.1:"));
    for n in [pub_node, near, far] {
        n.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_subscriber_of_latched_topic_gets_last_message() {
    let dir = TempDir::new("latch");
    let (_master, env) = start_master(&dir);
    let pub_node = Node::init(options(&env, "latch_pub")).await.expect("pub");
    let publisher = pub_node
        .advertise_with::<Chatter>("map", AdvertiseOptions::latched())
        .await
        .expect("advertise");
    for seq in 0..3 {
        publisher
            .publish(&Chatter {
                seq,
                text: "map".into(),
            })
            .await
            .expect("publish");
    }
    let sub_node = Node::init(options(&env, "latch_sub")).await.expect("sub");
    let mut sub = sub_node
        .subscribe::<Chatter>("map")
        .await
        .expect("subscribe");
    let got = recv_within(&mut sub, SOON).await.expect("latched message");
    assert_eq!(got.seq, 2, "the last message, not an earlier one");
    // The latched message is sent again for each new subscriber: no duplicate here.
    assert!(recv_within(&mut sub, Duration::from_millis(300))
        .await
        .is_none());
    pub_node.close().await;
    sub_node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_after_wait_for_subscribers_is_received() {
    let dir = TempDir::new("waitsubs");
    let (_master, env) = start_master(&dir);
    let pub_node = Node::init(options(&env, "wfs_pub")).await.expect("pub");
    let sub_node = Node::init(options(&env, "wfs_sub")).await.expect("sub");
    let publisher = pub_node
        .advertise::<Chatter>("wfs")
        .await
        .expect("advertise");
    let mut sub = sub_node
        .subscribe::<Chatter>("wfs")
        .await
        .expect("subscribe");
    tokio::time::timeout(SOON, publisher.wait_for_subscribers(1))
        .await
        .expect("in time")
        .expect("ok");
    assert_eq!(publisher.subscriber_count(), 1);
    publisher
        .publish(&Chatter {
            seq: 1,
            text: "first".into(),
        })
        .await
        .expect("publish");
    let got = recv_within(&mut sub, SOON)
        .await
        .expect("the first message arrives");
    assert_eq!(got.text, "first");
    assert_eq!(sub.counters().gaps, 0);
    pub_node.close().await;
    sub_node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_closed_and_made_again_in_one_process_keeps_its_sockets() {
    let dir = TempDir::new("twins");
    let (_master, env) = start_master(&dir);
    // The first `twin` is closed but still held, so its sockets live on for a while.
    let first = Node::init(options(&env, "twin")).await.expect("first twin");
    first.close().await;
    let second = Node::init(options(&env, "twin"))
        .await
        .expect("second twin");
    // The engine deletes an ipc socket's file when the socket goes: the first twin's
    // must not take the second's with it.
    drop(first);
    let publisher = second
        .advertise::<Chatter>("twins")
        .await
        .expect("advertise");
    let peer = Node::init(options(&env, "twin_peer")).await.expect("peer");
    let mut sub = peer.subscribe::<Chatter>("twins").await.expect("subscribe");
    tokio::time::timeout(SOON, publisher.wait_for_subscribers(1))
        .await
        .expect("the subscriber reaches the second twin over ipc")
        .expect("handshake");
    assert_eq!(sub.connections()[0].transport, Transport::Ipc);
    publisher
        .publish(&Chatter {
            seq: 7,
            text: "x".into(),
        })
        .await
        .expect("publish");
    let got = recv_within(&mut sub, SOON).await.expect("a message");
    assert_eq!(got.seq, 7);
    second.close().await;
    peer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarting_publisher_does_not_cost_the_other_publishers_messages() {
    let dir = TempDir::new("mixed");
    let (_master, env) = start_master(&dir);
    let sub_node = Node::init(options(&env, "mix_sub")).await.expect("sub");
    let mut sub = sub_node
        .subscribe_with::<Chatter>("mix", SubscribeOptions::queue(1_000_000))
        .await
        .expect("subscribe");
    let steady_node = Node::init(options(&env, "mix_steady"))
        .await
        .expect("steady");
    let steady = steady_node
        .advertise_with::<Chatter>("mix", AdvertiseOptions::reliable())
        .await
        .expect("advertise");
    steady.wait_for_subscribers(1).await.expect("handshake");

    // The steady publisher sends without pause until told to stop (at most 500 000).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn(async move {
        let mut sent = 0u64;
        while !*stop_rx.borrow_and_update() && sent < 500_000 {
            steady
                .publish(&Chatter {
                    seq: sent,
                    text: "steady".into(),
                })
                .await
                .expect("publish");
            sent += 1;
            tokio::task::yield_now().await;
        }
        sent
    });

    // Meanwhile another publisher of the topic comes, goes and comes back.
    for round in 0..3 {
        let node = Node::init(options(&env, &format!("mix_restarting{round}")))
            .await
            .expect("restarting");
        let p = node.advertise::<Chatter>("mix").await.expect("advertise");
        tokio::time::timeout(SOON, p.wait_for_subscribers(1))
            .await
            .expect("the restarted publisher is reached")
            .expect("handshake");
        drop(p);
        node.close().await;
    }
    stop_tx.send_replace(true);
    let sent = tokio::time::timeout(SOON, sender)
        .await
        .expect("sender stops")
        .expect("sender");

    let mut seqs = Vec::new();
    while let Some(m) = recv_within(&mut sub, Duration::from_secs(1)).await {
        if m.text == "steady" {
            seqs.push(m.seq);
        }
    }
    assert!(sent > 0);
    assert_eq!(
        seqs,
        (0..sent).collect::<Vec<_>>(),
        "every steady message, in order ({} of {sent}; {:?})",
        seqs.len(),
        sub.counters()
    );
    sub_node.close().await;
    steady_node.close().await;
}
