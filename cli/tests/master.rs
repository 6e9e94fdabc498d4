//! The master as a process: endpoints, expiry, name conflicts, restarts.

mod support;

use nix::sys::signal::Signal;
use pinion::prelude::*;
use pinion_nodes::Chatter;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn master_on_port_zero_prints_the_endpoint_it_bound() {
    let dir = TempDir::new("port0");
    let (_a, env_a) = start_master(&dir);
    let (_b, env_b) = start_master(&dir);
    for env in [&env_a, &env_b] {
        let port: u16 = env
            .master
            .strip_prefix("tcp://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected endpoint {}", env.master));
        assert_ne!(port, 0);
    }
    assert_ne!(env_a.master, env_b.master, "two masters run side by side");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_leaves_the_registry_within_five_seconds() {
    let dir = TempDir::new("expiry");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "doomed", &["--rate", "10"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    assert!(node_names(&env.master).await.contains(&"doomed".to_owned()));
    talker.signal(Signal::SIGKILL);
    let gone = wait_nodes(&env.master, Duration::from_secs(8), |n| {
        !n.iter().any(|x| x == "doomed")
    })
    .await;
    let gone = gone.expect("the killed node is never removed");
    assert!(gone < Duration::from_secs(5), "removed after {gone:?}");
}

#[test]
fn second_node_with_a_taken_name_wins_and_the_first_exits_with_a_clear_error() {
    let dir = TempDir::new("names");
    let (_master, env) = start_master(&dir);
    let mut first = env.node("talker", "driver", &["--rate", "10"]);
    first.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let mut second = env.node("talker", "driver", &["--rate", "10"]);
    second.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let (_, code) = first.finish(SOON);
    assert_eq!(code, Some(3), "first instance:\n{}", first.dump());
    assert!(
        first
            .seen
            .iter()
            .any(|(_, l)| l.contains("error: node `driver` stops") && l.contains("newer `driver`")),
        "the first instance explains why it stops:\n{}",
        first.dump()
    );
    // The newer one keeps running.
    assert!(second
        .wait_line(Duration::from_millis(500), |_, l| l.contains("error"))
        .is_none());
}

/// A newer process can answer at the control endpoint of the one a shutdown was meant
/// for (its tcp port used again): it refuses a shutdown for another session, and obeys
/// one for its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_for_another_session_is_refused_and_one_for_its_own_obeyed() {
    use pinion::protocol::control::{ControlReply, ControlRequest};
    let dir = TempDir::new("session");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "driver", &["--rate", "10"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let node = node_info(&env.master, "driver").await;
    let control = node.control.tcp.clone().expect("tcp control");
    let mut client = pinion::transport::Requester::new(&control, SOON).expect("client");
    let refused = control_request(&mut client, shutdown_for(node.session ^ 1)).await;
    assert!(
        matches!(&refused, ControlReply::Error(e) if e.contains("not")),
        "{refused:?}"
    );
    talker.expect_line("the refusal logged", SOON, |_, l| {
        l.contains("ignored a shutdown meant for session")
    });
    let alive = control_request(&mut client, ControlRequest::Ping).await;
    assert!(
        matches!(alive, ControlReply::Ok),
        "still running: {alive:?}"
    );
    let obeyed = control_request(&mut client, shutdown_for(node.session)).await;
    assert!(matches!(obeyed, ControlReply::Ok), "{obeyed:?}");
    let (_, code) = talker.finish(SOON);
    assert_eq!(code, Some(3), "replaced:\n{}", talker.dump());
}

fn shutdown_for(session: u64) -> pinion::protocol::control::ControlRequest {
    pinion::protocol::control::ControlRequest::Shutdown {
        reason: "a newer `driver` registered".into(),
        replaced: true,
        session: Some(session),
    }
}

async fn control_request(
    client: &mut pinion::transport::Requester,
    request: pinion::protocol::control::ControlRequest,
) -> pinion::protocol::control::ControlReply {
    use pinion::protocol;
    let body = protocol::encode("control request", &request).expect("encode");
    let reply = client.request(body).await.expect("a reply");
    protocol::decode("control reply", &reply).expect("decode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_publisher_reaches_its_subscribers_again_quickly() {
    let dir = TempDir::new("pubrestart");
    let (_master, env) = start_master(&dir);
    let node = Node::init(options(&env, "restart_sub"))
        .await
        .expect("node");
    let mut sub = node
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");

    let mut talker = env.node("talker", "talker", &["--rate", "100"]);
    recv_within(&mut sub, SOON)
        .await
        .expect("first talker reaches the subscriber");
    talker.signal(Signal::SIGKILL);
    talker.finish(SOON);
    while sub.try_recv().is_some() {}

    let mut talker = env.node("talker", "talker", &["--rate", "100", "--text", "again"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let registered = Instant::now();
    let mut again = None;
    while registered.elapsed() < SOON {
        match recv_within(&mut sub, SOON).await {
            Some(m) if m.text == "again" => {
                again = Some(registered.elapsed());
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    let again = again.expect("the restarted talker never reached the subscriber");
    assert!(
        again < Duration::from_secs(1),
        "took {again:?} after the restart"
    );
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_restart_nodes_register_again_and_data_flows_meanwhile() {
    let dir = TempDir::new("masterrestart");
    let (mut master, env) = start_master(&dir);
    let node = Node::init(options(&env, "mr_sub")).await.expect("node");
    let mut sub = node
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");
    let mut talker = env.node("talker", "mr_talker", &["--rate", "200"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    recv_within(&mut sub, SOON)
        .await
        .expect("data before the outage");

    master.signal(Signal::SIGKILL);
    master.finish(SOON);
    // Data keeps flowing peer to peer while no master runs.
    let mut during = 0;
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_millis(700) {
        if recv_within(&mut sub, Duration::from_millis(200))
            .await
            .is_some()
        {
            during += 1;
        }
    }
    assert!(
        during > 20,
        "only {during} messages while the master was down"
    );

    let bind = env.master.clone();
    let (_master2, _) = start_master_on(&dir, &bind);
    let restarted = Instant::now();
    let back = wait_nodes(&env.master, Duration::from_secs(10), |n| {
        n.iter().any(|x| x == "mr_sub") && n.iter().any(|x| x == "mr_talker")
    })
    .await
    .expect("nodes never registered again");
    assert!(
        back < Duration::from_secs(3),
        "registered again after {back:?} (since {:?})",
        restarted.elapsed()
    );
    recv_within(&mut sub, SOON)
        .await
        .expect("data after the restart");
    node.close().await;
}

/// How many times the master is killed during start-up (`PINION_RESTART_ROUNDS`,
/// default 50).
fn restart_rounds() -> usize {
    std::env::var("PINION_RESTART_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_while_ten_nodes_start_loses_none_of_them() {
    let dir = TempDir::new("restart-startup");
    let (mut master, env) = start_master(&dir);
    let bind = env.master.clone();
    for round in 0..restart_rounds() {
        // Five talkers and five listeners, each pair on a topic of its own: every node
        // registers, then advertises or subscribes.
        let names: Vec<String> = (0..10).map(|i| format!("r{round}n{i}")).collect();
        let mut nodes: Vec<Proc> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let topic = format!("r{round}/t{}", i / 2);
                let program = if i % 2 == 0 { "talker" } else { "listener" };
                env.node(program, name, &["--topic", &topic])
            })
            .collect();
        // The kill comes at another moment of the start-up each round: once none, one,
        // ... nine of the nodes are registered.
        let before = round % 10;
        wait_nodes(&bind, SOON, |n| {
            n.iter()
                .filter(|x| x.starts_with(&format!("r{round}n")))
                .count()
                >= before
        })
        .await
        .unwrap_or_else(|| panic!("round {round}: {before} nodes never registered"));
        master.signal(Signal::SIGKILL);
        let _ = master.finish(SOON);
        master = start_master_on(&dir, &bind).0;

        let all = wait_nodes(&bind, SOON, |n| names.iter().all(|name| n.contains(name))).await;
        for node in &mut nodes {
            if !alive(node.pid()) {
                let _ = node.finish(Duration::from_secs(1));
                panic!(
                    "round {round}: {} exited after the master was killed with {before} nodes registered:\n{}",
                    node.name,
                    node.dump()
                );
            }
        }
        assert!(
            all.is_some(),
            "round {round}: not every node registered with the new master: {:?}",
            node_names(&bind).await
        );
    }
}
