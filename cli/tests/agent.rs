//! `pinion agent` on this host: authentication, remote launch, life without the launcher.

mod support;

use nix::sys::signal::Signal;
use pinion_launch::agent::auth::{sign, Domain, Key};
use pinion_launch::agent::client::AgentClient;
use pinion_launch::agent::protocol::{AgentReply, AgentRequest};
use pinion_launch::status::{NodeState, NodeStatus};
use std::process::Command;
use std::time::Duration;
use support::*;

const KEY: &str = "correct horse battery staple 42";

fn write_key(dir: &TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.0.join(name);
    std::fs::write(&path, text).expect("key file");
    path
}

fn start_agent(dir: &TempDir, host: &str) -> (Proc, String) {
    let key = write_key(dir, "agent.key", KEY);
    let mut c = Command::new(bin("pinion"));
    c.args(["agent", "--listen", "tcp://127.0.0.1:0", "--key-file"])
        .arg(&key)
        .arg("--store")
        .arg(dir.0.join(format!("store-{host}")))
        .env("PINION_HOST", host)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut agent = Proc::spawn(&format!("agent-{host}"), c);
    let line = agent.expect_line("PINION_AGENT=", SOON, |s, l| {
        s == Src::Out && l.starts_with("PINION_AGENT=")
    });
    (agent, line.trim_start_matches("PINION_AGENT=").to_owned())
}

fn key() -> Key {
    Key::from_bytes(KEY.as_bytes(), "test").expect("key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_refuses_unsigned_wrongly_signed_and_replayed_requests() {
    let dir = TempDir::new("agentauth");
    let (mut agent, endpoint) = start_agent(&dir, "pi-auth");
    let mut raw =
        pinion::transport::Requester::new(&endpoint, Duration::from_secs(5)).expect("client");
    let reply_text = |bytes: bytes::Bytes| {
        format!(
            "{:?}",
            pinion::protocol::decode::<AgentReply>("reply", &bytes).expect("a reply")
        )
    };

    // Unsigned: a bare request.
    let bare = pinion::protocol::encode("req", &AgentRequest::Ping).expect("encode");
    let text = reply_text(raw.request(bare).await.expect("answer"));
    assert!(text.contains("refused: unsigned or malformed"), "{text}");

    // Signed with another key.
    let wrong = Key::from_bytes(b"another key of enough length", "wrong").expect("key");
    let body = pinion::protocol::encode("req", &AgentRequest::Ping).expect("encode");
    let now = pinion::host::now_ns() / 1_000_000;
    let forged =
        pinion::protocol::encode("signed", &sign(&wrong, Domain::Agent, body.clone(), now, 1))
            .expect("encode");
    let text = reply_text(raw.request(forged).await.expect("answer"));
    assert!(text.contains("refused: bad signature"), "{text}");

    // A good request, then the same bytes again.
    let good =
        pinion::protocol::encode("signed", &sign(&key(), Domain::Agent, body.clone(), now, 2))
            .expect("encode");
    let text = reply_text(raw.request(good.clone()).await.expect("answer"));
    assert!(text.contains("Pong") && text.contains("pi-auth"), "{text}");
    let text = reply_text(raw.request(good).await.expect("answer"));
    assert!(text.contains("refused: replayed"), "{text}");

    // Too old.
    let stale = pinion::protocol::encode(
        "signed",
        &sign(&key(), Domain::Agent, body, now - 120_000, 3),
    )
    .expect("encode");
    let text = reply_text(raw.request(stale).await.expect("answer"));
    assert!(text.contains("refused: stale request"), "{text}");

    for reason in [
        "unsigned or malformed",
        "bad signature",
        "replayed",
        "stale request",
    ] {
        agent.expect_line(reason, SOON, |_, l| {
            l.contains("refused a request") && l.contains(reason)
        });
    }
}

async fn remote_status(endpoint: &str, launch: &str) -> Vec<NodeStatus> {
    let mut client = AgentClient::new(endpoint, key(), Duration::from_secs(5)).expect("client");
    match client
        .call(&AgentRequest::Status {
            launch: launch.to_owned(),
        })
        .await
    {
        Ok(AgentReply::Status(rows)) => rows,
        _ => Vec::new(),
    }
}

async fn wait_status(
    endpoint: &str,
    launch: &str,
    pred: impl Fn(&NodeStatus) -> bool,
) -> Option<NodeStatus> {
    wait::until_async(SOON, Duration::from_millis(50), || async {
        remote_status(endpoint, launch)
            .await
            .into_iter()
            .find(|r| pred(r))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_through_an_agent_survives_the_launcher_and_stops_on_request() {
    let dir = TempDir::new("agentlaunch");
    let (_agent, endpoint) = start_agent(&dir, "pi1");
    let file = dir.0.join("robot.toml");
    std::fs::write(
        &file,
        format!(
            r#"
robot = "agenttest"
[master]
bind = "tcp://127.0.0.1:0"
[machines.pi1]
address = "127.0.0.1"
agent = "{endpoint}"
[[node]]
name = "talker"
binary = "talker"
machine = "pi1"
args = ["--rate", "20"]
respawn = "always"
respawn_delay = "100ms"
[[node]]
name = "listener"
binary = "listener"
"#
        ),
    )
    .expect("launch file");
    let key_file = write_key(&dir, "launcher.key", KEY);
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&file)
        .arg("--key-file")
        .arg(&key_file)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    launcher.expect_line("shipped", SOON, |_, l| l.contains("shipped binaries"));
    launcher.expect_line("remote output", SOON, |_, l| {
        l.starts_with("[pi1/talker]") && l.contains("registered")
    });
    launcher.expect_line("data from the remote talker", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=")
    });

    let launch_id = {
        let text = std::fs::read_to_string(&file).expect("read");
        let _ = text;
        let parsed = pinion_launch::model::load(&file, &|_| true).expect("valid");
        pinion_launch::remote::launch_id(&parsed)
    };
    let running = wait_status(&endpoint, &launch_id, |r| {
        r.name == "talker" && r.state == NodeState::Running
    })
    .await
    .expect("the agent runs the talker");
    let first_pid = running.pid.expect("pid") as i32;

    // The launcher dies: the agent's talker keeps running, and respawns when killed.
    launcher.signal(Signal::SIGKILL);
    launcher.finish(SOON);
    assert!(alive(first_pid), "the remote talker outlived the launcher");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first_pid), Signal::SIGKILL)
        .expect("kill talker");
    let respawned = wait_status(&endpoint, &launch_id, |r| {
        r.name == "talker"
            && r.restarts >= 1
            && r.state == NodeState::Running
            && r.pid.is_some_and(|p| p as i32 != first_pid)
    })
    .await
    .expect("the agent respawned the talker without the launcher");
    let second_pid = respawned.pid.expect("pid") as i32;

    // `pinion launch stop FILE` reaches the agents directly.
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg("stop")
        .arg(&file)
        .arg("--key-file")
        .arg(&key_file)
        .env("PINION_RUNTIME_DIR", &dir.0);
    let mut stop = Proc::spawn("stop", c);
    let (_, code) = stop.finish(SOON);
    assert_eq!(code, Some(0), "{}", stop.dump());
    let stopped = wait::until(SOON, Duration::from_millis(20), || {
        (!alive(second_pid)).then_some(())
    });
    assert!(stopped.is_some(), "the remote talker was stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_told_to_become_a_build_that_does_not_run_says_why_and_serves_on() {
    use pinion_launch::agent::protocol::calls::{self, Upgraded};
    let dir = TempDir::new("agentupgrade");
    let (_agent, endpoint) = start_agent(&dir, "pi-upgrade");
    let mut client = AgentClient::new(&endpoint, key(), Duration::from_secs(5)).expect("client");

    // Its own build: nothing to do. Another one it does not hold: ship it first.
    let own = pinion_launch::agent::store::hash_file(&bin("pinion")).expect("hash");
    let answer = client
        .ask(calls::Upgrade { blob: own })
        .await
        .expect("answer");
    assert_eq!(answer, Upgraded::AlreadyThisBuild);
    let garbage = b"not a program at all".to_vec();
    let hash = pinion_launch::agent::store::hash(&garbage);
    let answer = client
        .ask(calls::Upgrade { blob: hash.clone() })
        .await
        .expect("answer");
    assert_eq!(answer, Upgraded::NeedsBlob);

    // A stored blob that is no program: refused before the agent becomes it.
    let part = calls::PutBlobPart {
        hash: hash.clone(),
        size: garbage.len() as u64,
        offset: 0,
        bytes: garbage,
    };
    assert_eq!(client.ask(part).await.expect("stored"), (20, true));
    let refused = client
        .ask(calls::Upgrade { blob: hash })
        .await
        .expect_err("the agent says why");
    assert!(
        refused.to_string().contains("cannot run the new build"),
        "{refused}"
    );
    let mut again = AgentClient::new(&endpoint, key(), Duration::from_secs(5)).expect("client");
    again.ask(calls::Ping).await.expect("it serves on");
}
