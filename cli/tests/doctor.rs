//! `pinion doctor` on a healthy graph, on a sick one, and with no master.

mod support;

use nix::sys::signal::Signal;
use std::process::Command;
use std::time::Instant;
use support::*;

fn doctor(env: &Env, args: &[&str]) -> (Vec<String>, Option<i32>, String) {
    let mut c = Command::new(bin("pinion"));
    c.arg("doctor")
        .args(args)
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env_remove("PINION_HOST")
        .env("RUST_LOG", "warn");
    let mut p = Proc::spawn("doctor", c);
    let (out, code) = p.finish(SOON);
    (out, code, p.dump())
}

fn registered(mut p: Proc) -> Proc {
    p.expect_line("registered", SOON, |_, l| l.contains("registered"));
    p
}

/// libfaketime's preload library (Debian's `faketime` package, from `scripts/setup`).
fn libfaketime() -> String {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists());
    found
        .expect("libfaketime is missing (scripts/setup installs the faketime package)")
        .display()
        .to_string()
}

#[test]
fn a_healthy_graph_has_only_ok_findings() {
    let dir = TempDir::new("doctorok");
    let (_master, env) = start_master(&dir);
    let _talker = registered(env.node("talker", "talker", &[]));
    let _listener = registered(env.node("listener", "listener", &[]));
    let (out, code, dump) = doctor(&env, &[]);
    assert_eq!(code, Some(0), "{dump}");
    let expected = [
        format!("ok: master at {} answers in", env.master),
        "ok: node `listener` (host ".to_owned(),
        "ok: node `talker` (host ".to_owned(),
        "ok: host ids: 1 host(s), each on its own machine".to_owned(),
        "ok: clocks: 1 host(s) within 20.0 ms of this host's".to_owned(),
        "ok: no machine reports its health".to_owned(),
        "0 error(s), 0 warning(s)".to_owned(),
    ];
    assert_eq!(out.len(), expected.len(), "{dump}");
    for (line, start) in out.iter().zip(&expected) {
        assert!(line.starts_with(start.as_str()), "{line:?} vs {start:?}");
    }
    assert!(out[2].contains("its data port ipc://"), "{dump}");
}

#[test]
fn shared_host_id_skewed_clock_and_frozen_node_are_errors_with_fixes() {
    let dir = TempDir::new("doctorbad");
    let other_dir = TempDir::new("doctorbad2");
    let (_master, env) = start_master(&dir);
    let mut a = env.command("listener");
    a.env("PINION_NODE_NAME", "a").env("PINION_HOST", "pi-x");
    let _a = registered(Proc::spawn("a", a));
    // Same host id, other runtime directory: as if on another Pi.
    let mut b = env.command("listener");
    b.env("PINION_NODE_NAME", "b")
        .env("PINION_HOST", "pi-x")
        .env("PINION_RUNTIME_DIR", &other_dir.0);
    let _b = registered(Proc::spawn("b", b));
    let mut skewed = env.command("listener");
    skewed
        .env("PINION_NODE_NAME", "skewed")
        .env("PINION_HOST", "pi-skew")
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME", "+3s")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    let _skewed = registered(Proc::spawn("skewed", skewed));
    let frozen = registered(env.node("listener", "frozen", &[]));
    frozen.signal(Signal::SIGSTOP);

    // Within the 3 s the master still lists the frozen node.
    let started = Instant::now();
    let (out, code, dump) = doctor(&env, &["--json"]);
    eprintln!("doctor took {:?}", started.elapsed());
    frozen.signal(Signal::SIGCONT);
    assert_eq!(code, Some(1), "{dump}");
    let findings: Vec<serde_json::Value> = out
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON finding"))
        .collect();
    let error = |needle: &str| {
        findings
            .iter()
            .find(|f| {
                f["severity"] == "error" && f["what"].as_str().is_some_and(|w| w.contains(needle))
            })
            .unwrap_or_else(|| panic!("no error with {needle:?}:\n{dump}"))
            .clone()
    };
    let shared = error("host id `pi-x` is used on 2 machines");
    assert!(
        shared["what"]
            .as_str()
            .unwrap_or("")
            .contains("{a} and {b}"),
        "{shared}"
    );
    assert!(
        shared["fix"].as_str().unwrap_or("").contains("PINION_HOST"),
        "{shared}"
    );

    let clock = error("clock of host `pi-skew` differs");
    let what = clock["what"].as_str().unwrap_or("");
    let ms: f64 = what
        .split("by ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {what}"));
    assert!((2900.0..3100.0).contains(&ms), "{what}");
    assert!(clock["fix"].as_str().unwrap_or("").contains("timedatectl"));

    let stuck = error("node `frozen`");
    assert!(
        stuck["what"]
            .as_str()
            .unwrap_or("")
            .contains("does not answer on its control socket"),
        "{stuck}"
    );
    assert_eq!(
        findings.iter().filter(|f| f["severity"] == "error").count(),
        3,
        "{dump}"
    );
}

#[test]
fn no_master_is_one_error_that_says_what_to_do() {
    let dir = TempDir::new("doctornone");
    // A port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let env = Env {
        runtime_dir: dir.0.clone(),
        master: format!("tcp://127.0.0.1:{port}"),
    };
    let (out, code, dump) = doctor(&env, &[]);
    assert_eq!(code, Some(1), "{dump}");
    assert!(
        out[0].starts_with(&format!("error: no master answers at {}", env.master)),
        "{dump}"
    );
    assert!(
        out[1].starts_with("  fix: start one (`pinion master`"),
        "{dump}"
    );
    assert_eq!(
        out.last().map(String::as_str),
        Some("1 error(s), 0 warning(s)")
    );
}
