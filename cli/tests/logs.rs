//! `pinion logs`: every node's records from its ring, following through the log topic.

mod support;

use pinion::msgs::log::{Level, Log, LOG_TOPIC};
use std::process::Command;
use support::*;

fn pinion(env: &Env, args: &[&str]) -> (Vec<String>, Option<i32>, String) {
    let mut c = Command::new(bin("pinion"));
    c.args(args)
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "warn");
    let mut p = Proc::spawn("pinion", c);
    let (out, code) = p.finish(SOON);
    (out, code, p.dump())
}

fn graph(tag: &str) -> (TempDir, Proc, Env, Proc, Proc) {
    let dir = TempDir::new(tag);
    let (master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "20"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let mut listener = env.node("listener", "listener", &[]);
    listener.expect_line("data", SOON, |_, l| l.starts_with("seq="));
    (dir, master, env, talker, listener)
}

#[test]
fn history_shows_every_nodes_records_and_filters_by_node_and_level() {
    let (_dir, _master, env, _talker, _listener) = graph("logshist");
    let (out, code, dump) = pinion(&env, &["logs"]);
    assert_eq!(code, Some(0), "{dump}");
    for node in ["talker", "listener"] {
        assert!(
            out.iter()
                .any(|l| l.contains(&format!(" INFO  [{node}@")) && l.contains("registered")),
            "no `registered` record of {node}: {out:?}"
        );
    }

    let (out, code, dump) = pinion(&env, &["logs", "talker", "--json"]);
    assert_eq!(code, Some(0), "{dump}");
    assert!(!out.is_empty(), "{dump}");
    for line in &out {
        let record: Log = serde_json::from_str(line).expect("a JSON record");
        assert_eq!(record.node, "talker");
        assert!(record.seq >= 1 && record.stamp_ns > 0, "{record:?}");
    }

    // The talker has logged nothing at warn or above.
    let (out, code, dump) = pinion(&env, &["logs", "talker", "--level", "warn"]);
    assert_eq!((out, code), (vec![], Some(0)), "{dump}");

    let (_, code, dump) = pinion(&env, &["logs", "ghost"]);
    assert_eq!(code, Some(1), "{dump}");
    assert!(
        dump.contains("unknown node `ghost`; registered nodes: listener, talker"),
        "{dump}"
    );
    let (_, code, dump) = pinion(&env, &["logs", "--level", "loud"]);
    assert_eq!(code, Some(2), "{dump}");
    assert!(dump.contains("unknown log level `loud`"), "{dump}");
}

#[test]
fn follow_prints_new_records_as_they_happen() {
    let (_dir, _master, env, _talker, _listener) = graph("logsfollow");
    let mut c = Command::new(bin("pinion"));
    c.args(["logs", "-f", "talker"])
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "warn");
    let mut follower = Proc::spawn("follower", c);
    follower.expect_line("history", SOON, |s, l| {
        s == Src::Out && l.contains("[talker@") && l.contains("registered")
    });
    let (_, code, dump) = pinion(&env, &["param", "set", "talker/text", "\"bye\""]);
    assert_eq!(code, Some(0), "{dump}");
    follower.expect_line("the new record", SOON, |s, l| {
        s == Src::Out && l.contains("[talker@") && l.contains("text changed new=bye")
    });
    let printed = follower
        .seen
        .iter()
        .filter(|(s, l)| *s == Src::Out && l.contains("text changed new=bye"))
        .count();
    assert_eq!(printed, 1, "printed once:\n{}", follower.dump());
    follower.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_topic_carries_a_nodes_records() {
    let (_dir, _master, env, _talker, _listener) = graph("logstopic");
    let node = pinion::Node::init(options(&env, "log_reader"))
        .await
        .expect("node");
    let mut records = node.subscribe::<Log>(LOG_TOPIC).await.expect("subscribe");
    // Two publishers of the log topic: the talker and the listener.
    let both = wait::until_async(SOON, std::time::Duration::from_millis(20), || async {
        (records.connections().len() >= 2).then_some(())
    })
    .await;
    assert!(both.is_some(), "{:?}", records.connections());
    let (_, code, dump) = pinion(&env, &["param", "set", "talker/text", "\"over the topic\""]);
    assert_eq!(code, Some(0), "{dump}");
    let mut got = None;
    for _ in 0..1000 {
        let record = recv_within(&mut records, SOON)
            .await
            .expect("a record in time");
        if record.text.contains("text changed") {
            got = Some(record);
            break;
        }
    }
    let got = got.expect("the talker's record among the first 1000");
    assert_eq!(got.node, "talker");
    assert_eq!(got.level, Level::Info);
    assert_eq!(got.text, "text changed new=over the topic");
    assert_eq!(got.target, "talker");
    node.close().await;
}
