//! Services between real processes and in-process nodes.

mod support;

use nix::sys::signal::Signal;
use pinion::protocol::master_to_node::MasterErrorKind;
use pinion::{Error, Node};
use pinion_nodes::{AddTwoIntsRequest as Req, AddTwoIntsResponse as Resp};
use std::time::{Duration, Instant};
use support::*;

fn start_server(env: &Env) -> Proc {
    let mut server = env.node("add_server", "add_server", &[]);
    server.expect_line("serving", SOON, |_, l| l.contains("serving add_two_ints"));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_call_at_once() {
    let dir = TempDir::new("svc3");
    let (_master, env) = start_master(&dir);
    let _server = start_server(&env);
    let mut tasks = Vec::new();
    for c in 0..3i64 {
        let node = Node::init(options(&env, &format!("svc_client_{c}")))
            .await
            .expect("node");
        tasks.push(tokio::spawn(async move {
            let add = node.client::<Req, Resp>("add_two_ints").expect("client");
            for i in 0..20 {
                let sum = add
                    .call(&Req { a: c * 1000, b: i })
                    .await
                    .expect("call")
                    .sum;
                assert_eq!(sum, c * 1000 + i);
            }
            node.close().await;
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_clear_type_mismatch_missing_handler_and_frozen_server() {
    let dir = TempDir::new("svcerr");
    let (_master, env) = start_master(&dir);
    let node = Node::init(options(&env, "svc_checker"))
        .await
        .expect("node");

    let missing = node
        .client::<Req, Resp>("nobody_serves_this")
        .expect("client");
    let err = missing
        .call(&Req { a: 1, b: 2 })
        .await
        .expect_err("missing");
    assert!(
        matches!(&err, Error::Master(e) if e.kind == MasterErrorKind::NoService),
        "{err}"
    );

    let server = start_server(&env);
    let wrong = node.client::<Resp, Resp>("add_two_ints").expect("client");
    let err = wrong.call(&Resp { sum: 1 }).await.expect_err("wrong type");
    assert!(
        err.to_string().contains("service request type")
            && err.to_string().contains("demo/AddTwoIntsRequest"),
        "{err}"
    );

    let add = node.client::<Req, Resp>("add_two_ints").expect("client");
    let err = add
        .call(&Req { a: i64::MAX, b: 1 })
        .await
        .expect_err("overflow");
    assert!(err.to_string().contains("overflows"), "{err}");

    // A frozen server: the call ends with a timeout error, in about the time allowed.
    server.signal(Signal::SIGSTOP);
    // Stopping is asynchronous: wait until the kernel reports the process stopped.
    let stat = format!("/proc/{}/stat", server.pid());
    let stopped = Instant::now();
    while !std::fs::read_to_string(&stat)
        .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('T')))
    {
        assert!(stopped.elapsed() < SOON, "the server never stopped");
        std::thread::yield_now();
    }
    let started = Instant::now();
    let err = add
        .call_timeout(&Req { a: 1, b: 1 }, Duration::from_millis(300))
        .await
        .expect_err("frozen");
    assert!(
        err.to_string().contains("no answer from `add_server`"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    server.signal(Signal::SIGCONT);
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_found_again() {
    let dir = TempDir::new("svcrestart");
    let (_master, env) = start_master(&dir);
    let node = Node::init(options(&env, "svc_restart"))
        .await
        .expect("node");
    let add = node.client::<Req, Resp>("add_two_ints").expect("client");
    let mut server = start_server(&env);
    assert_eq!(add.call(&Req { a: 1, b: 2 }).await.expect("first").sum, 3);
    server.signal(Signal::SIGKILL);
    server.finish(SOON);
    let _server = start_server(&env);
    // The first call after the restart may hit the dead endpoint; the client then looks
    // the service up again, so within a few calls it works.
    let mut ok = None;
    for _ in 0..5 {
        if let Ok(r) = add
            .call_timeout(&Req { a: 2, b: 2 }, Duration::from_millis(500))
            .await
        {
            ok = Some(r.sum);
            break;
        }
    }
    assert_eq!(ok, Some(4));
    node.close().await;
}

#[test]
fn example_client_prints_the_sum() {
    let dir = TempDir::new("svcexample");
    let (_master, env) = start_master(&dir);
    let _server = start_server(&env);
    let mut client = env.node("add_client", "add_client", &["40", "2"]);
    let (out, code) = client.finish(SOON);
    assert_eq!(code, Some(0), "{}", client.dump());
    assert_eq!(out, vec!["sum=42".to_owned()]);
}
