//! A master with a key refuses requests not signed with it; nodes and tools with the
//! key (`PINION_KEY_FILE`) work as usual.

mod support;

use pinion::auth::{sign, Domain, Key};
use pinion::protocol::control::{ControlReply, ControlRequest};
use pinion::protocol::master_to_node::{MasterErrorKind, MasterReply};
use pinion::protocol::{self, NodeToMaster};
use pinion::transport::Requester;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::*;

const KEY: &str = "master-key-of-the-test-robot-0123456789";

fn keyed_master(dir: &TempDir) -> (Proc, Env, std::path::PathBuf) {
    let key = dir.0.join("master.key");
    std::fs::write(&key, KEY).expect("key file");
    let mut c = Command::new(bin("pinion"));
    c.args(["master", "--bind", "tcp://127.0.0.1:0", "--key-file"])
        .arg(&key)
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
    (master, env, key)
}

fn with_key(mut c: Command, key: &Path) -> Command {
    c.env("PINION_KEY_FILE", key);
    c
}

async fn raw(master: &str, frames: Vec<bytes::Bytes>) -> MasterReply {
    let mut r = Requester::new(master, Duration::from_secs(2)).expect("requester");
    let reply = r.request_frames(frames).await.expect("an answer");
    protocol::decode("reply", &reply).expect("a reply")
}

fn signed_frames(key: &Key, request: &NodeToMaster, nonce: u64) -> Vec<bytes::Bytes> {
    let now_ms = pinion::host::now_ns() / 1_000_000;
    signed_as(key, Domain::Master, request, now_ms, nonce)
}

/// The request frames of `request` signed with `key` for `domain` at `at_ms`.
fn signed_as(
    key: &Key,
    domain: Domain,
    request: &NodeToMaster,
    at_ms: u64,
    nonce: u64,
) -> Vec<bytes::Bytes> {
    let body = protocol::encode("request", request).expect("encode");
    let (body, signature) = sign(key, domain, body, at_ms, nonce).split();
    vec![
        body.into(),
        postcard::to_stdvec(&signature).expect("signature").into(),
    ]
}

fn refused(reply: &MasterReply, needle: &str) {
    match reply {
        MasterReply::Error(e) => {
            assert_eq!(e.kind, MasterErrorKind::Unauthorized, "{e:?}");
            assert!(
                e.message.contains(needle),
                "{:?} lacks {needle:?}",
                e.message
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn nodes_and_tools_without_the_key_are_refused_and_with_it_work() {
    let dir = TempDir::new("keyed");
    let (mut master, env, key) = keyed_master(&dir);

    // A node without the key cannot register: a clear error and a failure exit.
    let mut stranger = Proc::spawn("stranger", env.command("talker"));
    let (_, code) = stranger.finish(SOON);
    assert_eq!(code, Some(1), "{}", stranger.dump());
    assert!(
        stranger.dump().contains("refused: unsigned request"),
        "{}",
        stranger.dump()
    );
    master.expect_line("the refusal is logged", SOON, |_, l| {
        l.contains("refused a request") && l.contains("unsigned request")
    });

    // With the key: the talker registers and the listener receives.
    let mut talker = Proc::spawn("talker", with_key(env.command("talker"), &key));
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let mut listener = Proc::spawn("listener", with_key(env.command("listener"), &key));
    listener.expect_line("data", SOON, |s, l| s == Src::Out && l.starts_with("seq="));

    // Tools: refused without the key, served with it.
    tool_is_refused_without_the_key_and_served_with_it(&env, &key);
}

/// `pinion node list` against `env.master`: exit 1 and the refusal without the key;
/// with it, the list with the talker in it.
fn tool_is_refused_without_the_key_and_served_with_it(env: &Env, key: &Path) {
    let tool = |signed: bool| {
        let mut c = Command::new(bin("pinion"));
        c.args(["node", "list"])
            .env("PINION_MASTER", &env.master)
            .env("PINION_RUNTIME_DIR", &env.runtime_dir)
            .env_remove("PINION_KEY_FILE");
        if signed {
            c.env("PINION_KEY_FILE", key);
        }
        let mut p = Proc::spawn("tool", c);
        let (out, code) = p.finish(SOON);
        (out, code, p.dump())
    };
    let (_, code, dump) = tool(false);
    assert_eq!(code, Some(1), "{dump}");
    assert!(dump.contains("refused: unsigned request"), "{dump}");
    let (out, code, dump) = tool(true);
    assert_eq!(code, Some(0), "{dump}");
    assert!(out.iter().any(|l| l.starts_with("talker\t")), "{out:?}");
}

#[test]
fn launch_with_a_key_signs_everything_it_does_and_its_master_refuses_the_rest() {
    let dir = TempDir::new("keyed-launch");
    let key = dir.0.join("master.key");
    std::fs::write(&key, KEY).expect("key file");
    let path = dir.0.join("graph.toml");
    std::fs::write(
        &path,
        r#"
robot = "keyed"
[master]
bind = "tcp://127.0.0.1:0"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "50"]
params = { text = "signed" }
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
        .env("PINION_KEY_FILE", &key)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    let env = Env {
        runtime_dir: dir.0.clone(),
        master: launcher.expect_master_up(),
    };
    // The launcher's own requests (the parameter from the file) and the nodes' are
    // signed: the talker sends the file's text and the listener receives it.
    launcher.expect_line("data with the signed parameter", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=") && l.ends_with("text=signed")
    });
    tool_is_refused_without_the_key_and_served_with_it(&env, &key);

    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_replay_and_agent_signatures_are_refused() {
    let dir = TempDir::new("keyedraw");
    let (_master, env, _key) = keyed_master(&dir);
    let right = Key::from_bytes(KEY.as_bytes(), "test").expect("key");
    let wrong = Key::from_bytes(b"another-key-entirely-0123456789", "test").expect("key");

    refused(
        &raw(
            &env.master,
            signed_frames(
                &wrong,
                &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
                1,
            ),
        )
        .await,
        "bad signature",
    );
    // A signature made for an agent, with the right key, does not pass at the master.
    let now_ms = pinion::host::now_ns() / 1_000_000;
    let agent = signed_as(
        &right,
        Domain::Agent,
        &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
        now_ms,
        2,
    );
    refused(&raw(&env.master, agent).await, "bad signature");

    let good = signed_frames(
        &right,
        &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
        3,
    );
    assert!(matches!(
        raw(&env.master, good.clone()).await,
        MasterReply::Nodes(_)
    ));
    refused(&raw(&env.master, good.clone()).await, "replayed");

    // The body swapped under a good signature.
    let mut tampered = good;
    tampered[0] = protocol::encode(
        "request",
        &NodeToMaster::ListTopics(pinion::protocol::node_to_master::ListTopics),
    )
    .expect("encode")
    .into();
    refused(&raw(&env.master, tampered).await, "bad signature");

    // A stale signature (older than the window).
    let old_ms = now_ms - pinion::auth::WINDOW_MS - 5_000;
    let stale = signed_as(
        &right,
        Domain::Master,
        &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
        old_ms,
        4,
    );
    refused(&raw(&env.master, stale).await, "stale");
}

/// The talker's control endpoint and tcp data endpoint, asked with the key.
async fn talker_endpoints(env: &Env, key: &Key, name: &str) -> (String, String) {
    let mut master = Requester::new(&env.master, Duration::from_secs(2))
        .expect("requester")
        .with_key(Some(key.clone()));
    let frames = signed_frames(
        key,
        &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
        pinion::host::random_id(),
    );
    let reply = master.request_frames(frames).await.expect("nodes");
    let Ok(MasterReply::Nodes(nodes)) = protocol::decode("reply", &reply) else {
        panic!("no node list");
    };
    let node = nodes
        .into_iter()
        .find(|n| n.name.as_str() == name)
        .expect("registered");
    let control = node.control.tcp.expect("tcp control");
    let mut client = Requester::new(&control, Duration::from_secs(2))
        .expect("client")
        .with_key(Some(key.clone()));
    let body = protocol::encode("identify", &ControlRequest::Identify).expect("encode");
    let Ok(ControlReply::Identity(id)) =
        protocol::decode("identity", &client.request(body).await.expect("identity"))
    else {
        panic!("no identity");
    };
    (control, id.data.tcp.expect("tcp data"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_nodes_sockets_admit_only_peers_with_the_key() {
    let dir = TempDir::new("keyed-sockets");
    let (_master, env, key_path) = keyed_master(&dir);
    let key = Key::load(&key_path).expect("key");
    let mut talker = Proc::spawn("talker", with_key(env.command("talker"), &key_path));
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let (control, data) = talker_endpoints(&env, &key, "talker").await;

    // Without the key: no shutdown, no logs, no data; each refusal logged.
    for (what, request) in [
        (
            "shutdown",
            ControlRequest::Shutdown {
                reason: "stranger".into(),
                replaced: false,
                session: None,
            },
        ),
        (
            "logs",
            ControlRequest::RecentLogs {
                after_seq: 0,
                max: 10,
            },
        ),
    ] {
        let mut stranger = Requester::new(&control, Duration::from_secs(1)).expect("client");
        let body = protocol::encode("request", &request).expect("encode");
        let err = stranger
            .request(body)
            .await
            .expect_err(&format!("{what} answered without the key"));
        assert!(err.to_string().contains("PINION_KEY_FILE"), "{err}");
        talker.expect_line(&format!("the refused {what} connection"), SOON, |_, l| {
            l.contains("guard closed a connection")
                && l.contains("socket=control")
                && l.contains("no connection token")
        });
    }
    let mut eavesdropper =
        pinion::transport::DataSubscriber::new("chatter\0", Duration::from_secs(1), None)
            .await
            .expect("subscriber");
    assert!(
        eavesdropper.connect(&data).await.is_err(),
        "subscribed without the key"
    );
    talker.expect_line("the refused data connection", SOON, |_, l| {
        l.contains("guard closed a connection")
            && l.contains("socket=data")
            && l.contains("no connection token")
    });
    // A wrong key is no better.
    let wrong = Key::from_bytes(b"a key of another robot entirely", "wrong").expect("key");
    let mut impostor = Requester::new(&control, Duration::from_secs(1))
        .expect("client")
        .with_key(Some(wrong));
    let ping = protocol::encode("ping", &ControlRequest::Ping).expect("encode");
    assert!(impostor.request(ping).await.is_err());
    talker.expect_line("the refused wrong key", SOON, |_, l| {
        l.contains("guard closed a connection") && l.contains("bad signature")
    });
    assert!(alive(talker.pid()), "the talker stopped for a stranger");

    // With the key: a subscriber on another host id (tcp) receives, and `pinion logs`
    // and `pinion node kill` work.
    let mut listener = Proc::spawn("listener", {
        let mut c = with_key(env.command("listener"), &key_path);
        c.env("PINION_HOST", "elsewhere");
        c
    });
    listener.expect_line("data over tcp", SOON, |s, l| {
        s == Src::Out && l.starts_with("seq=")
    });
    let tool = |args: &[&str]| {
        let mut c = Command::new(bin("pinion"));
        c.args(args)
            .env("PINION_MASTER", &env.master)
            .env("PINION_RUNTIME_DIR", &env.runtime_dir)
            .env("PINION_KEY_FILE", &key_path)
            .env("PINION_HOST", "a-tool-elsewhere");
        let mut p = Proc::spawn("tool", c);
        let (out, code) = p.finish(SOON);
        (out, code, p.dump())
    };
    let (out, code, dump) = tool(&["logs", "talker"]);
    assert_eq!(code, Some(0), "{dump}");
    assert!(out.iter().any(|l| l.contains("registered")), "{dump}");
    let (_, code, dump) = tool(&["node", "kill", "talker"]);
    assert_eq!(code, Some(0), "{dump}");
    let (_, code) = talker.finish(SOON);
    assert_eq!(code, Some(0), "{}", talker.dump());
}
