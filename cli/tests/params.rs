//! Parameters: from the launch file to a node, and changed at run time by `pinion param set`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn launch_file_parameter_reaches_the_node_and_param_set_changes_it_live() {
    let dir = TempDir::new("params");
    let path = dir.0.join("graph.toml");
    std::fs::write(
        &path,
        r#"
[master]
bind = "tcp://127.0.0.1:0"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "50", "--text", "from-args"]
params = { text = "from-file" }
[[node]]
name = "listener"
binary = "listener"
"#,
    )
    .expect("launch file");
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    let master = launcher.expect_master_up();
    launcher.expect_line("the file's value", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=") && l.ends_with("text=from-file")
    });

    let pinion = |args: &[&str]| {
        let mut c = Command::new(bin("pinion"));
        c.args(args).env("PINION_MASTER", &master);
        let mut p = Proc::spawn("pinion", c);
        let (out, code) = p.finish(SOON);
        (out, code, p.dump())
    };
    let (out, code, dump) = pinion(&["param", "get", "talker/text"]);
    assert_eq!(
        (out, code),
        (vec!["\"from-file\"".to_owned()], Some(0)),
        "{dump}"
    );

    let (_, code, dump) = pinion(&["param", "set", "talker/text", "\"changed\""]);
    assert_eq!(code, Some(0), "{dump}");
    let set_at = Instant::now();
    launcher.expect_line("the new value", SOON, |s, l| {
        s == Src::Out && l.ends_with("text=changed")
    });
    let took = set_at.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the change reached the node after {took:?}"
    );

    let (out, code, _) = pinion(&["param", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&"talker/text = \"changed\"".to_owned()),
        "{out:?}"
    );
    let (_, code, dump) = pinion(&["param", "set", "talker/text", "not json"]);
    assert_eq!(code, Some(1));
    assert!(dump.contains("not JSON"), "{dump}");
    let (_, code, dump) = pinion(&["param", "get", "nobody/knows"]);
    assert_eq!(code, Some(1));
    assert!(dump.contains("is not set"), "{dump}");

    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
}

/// A master with its parameters kept in `file`, started as a process.
fn master_keeping(dir: &TempDir, file: &std::path::Path) -> (Proc, Env) {
    let mut c = Command::new(bin("pinion"));
    c.args(["master", "--bind", "tcp://127.0.0.1:0", "--params-file"])
        .arg(file)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut master = Proc::spawn("master", c);
    let line = master.expect_line("PINION_MASTER=", SOON, |s, l| {
        s == Src::Out && l.starts_with("PINION_MASTER=")
    });
    let env = Env {
        runtime_dir: dir.0.clone(),
        master: line.trim_start_matches("PINION_MASTER=").to_owned(),
    };
    (master, env)
}

async fn set(master: &str, key: &str, value: &str) -> pinion::protocol::MasterReply {
    ask(
        master,
        &pinion::protocol::NodeToMaster::SetParam(pinion::protocol::node_to_master::SetParam {
            key: key.to_owned(),
            value_json: value.to_owned(),
        }),
    )
    .await
    .expect("the master answers")
}

fn rss_mb(pid: i32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_changes_all_arrive_in_order_and_deletes_are_seen() {
    use pinion::protocol::MasterReply;
    let dir = TempDir::new("params-quick");
    let (_master, env) = start_master(&dir);
    let node = pinion::Node::init(options(&env, "watcher"))
        .await
        .expect("node");
    let mut one = node.watch_param::<u32>("/gain").await.expect("watch");
    let mut keys = Vec::new();
    for key in ["/a", "/b", "/c"] {
        keys.push(node.watch_param::<u32>(key).await.expect("watch"));
    }

    // Three values of one key, and three keys, each set back to back.
    let start = Instant::now();
    for (i, value) in ["1", "2", "3"].into_iter().enumerate() {
        assert!(matches!(
            set(&env.master, "gain", value).await,
            MasterReply::Ok
        ));
        assert!(matches!(
            set(&env.master, ["a", "b", "c"][i], value).await,
            MasterReply::Ok
        ));
    }
    eprintln!("six changes sent in {:?}", start.elapsed());
    for want in 1..=3 {
        let got = tokio::time::timeout(SOON, one.changed())
            .await
            .expect("a change in time")
            .expect("node running")
            .expect("a number");
        assert_eq!(got, Some(want), "changes of one key out of order or lost");
    }
    for (want, watch) in (1..=3).zip(&mut keys) {
        let got = tokio::time::timeout(SOON, watch.changed())
            .await
            .expect("a change in time")
            .expect("node running")
            .expect("a number");
        assert_eq!(got, Some(want), "{}", watch.key());
    }

    let mut c = Command::new(bin("pinion"));
    c.args(["param", "delete", "gain"])
        .env("PINION_MASTER", &env.master);
    let mut p = Proc::spawn("pinion", c);
    let (_, code) = p.finish(SOON);
    assert_eq!(code, Some(0), "{}", p.dump());
    let gone = tokio::time::timeout(SOON, one.changed())
        .await
        .expect("the delete in time")
        .expect("node running")
        .expect("decodes");
    assert_eq!(gone, None);
    assert_eq!(node.param::<u32>("/gain").await.expect("asked"), None);
    let mut p = Proc::spawn("pinion", {
        let mut c = Command::new(bin("pinion"));
        c.args(["param", "delete", "gain"])
            .env("PINION_MASTER", &env.master);
        c
    });
    let (_, code) = p.finish(SOON);
    assert_eq!(code, Some(1));
    assert!(p.dump().contains("no parameter `gain`"), "{}", p.dump());
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_clearly_and_run_time_values_survive_a_sigkill() {
    use pinion::protocol::master_to_node::MasterErrorKind;
    use pinion::protocol::{MasterReply, NodeToMaster};
    let dir = TempDir::new("params-limits");
    let file = dir.0.join("kept").join("params.json");
    let (mut master, env) = master_keeping(&dir, &file);

    let big = format!("\"{}\"", "x".repeat((1 << 20) - 2));
    let too_big = format!("\"{}\"", "x".repeat(1 << 20));
    match set(&env.master, "one/too_big", &too_big).await {
        MasterReply::Error(e) => {
            assert_eq!(e.kind, MasterErrorKind::LimitReached);
            assert!(e.message.contains("larger than the limit"), "{}", e.message);
        }
        other => panic!("a value past the limit was taken: {other:?}"),
    }
    let mut refused = None;
    for i in 0..64 {
        match set(&env.master, &format!("big/v{i}"), &big).await {
            MasterReply::Ok => {}
            MasterReply::Error(e) => {
                refused = Some((i, e));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let (taken, e) = refused.expect("the total limit holds");
    assert_eq!(e.kind, MasterErrorKind::LimitReached);
    assert!(e.message.contains("pinion param delete"), "{}", e.message);
    assert!(taken >= 4, "only {taken} values of 1 MiB taken");
    let listed = ask(
        &env.master,
        &NodeToMaster::ListParams(pinion::protocol::node_to_master::ListParams),
    )
    .await
    .expect("list");
    assert!(matches!(listed, MasterReply::Params(ref p) if p.len() == taken));
    let rss = rss_mb(master.pid());
    assert!(rss < 64.0, "the master holds {rss:.1} MB");

    assert!(matches!(
        set(&env.master, "talker/rate", "20").await,
        MasterReply::Ok
    ));
    master.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = master.finish(SOON);
    let (_again, env) = master_keeping(&dir, &file);
    let value = ask(
        &env.master,
        &NodeToMaster::GetParam(pinion::protocol::node_to_master::GetParam {
            key: "talker/rate".into(),
        }),
    )
    .await
    .expect("get");
    assert!(
        matches!(value, MasterReply::Param(Some(ref v)) if v == "20"),
        "{value:?}"
    );
}
