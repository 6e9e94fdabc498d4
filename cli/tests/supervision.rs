//! Supervision by `pinion launch` on one host, with real processes.

mod support;

use nix::sys::signal::Signal;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn launch(dir: &TempDir, body: &str) -> Proc {
    let path = dir.0.join("graph.toml");
    std::fs::write(
        &path,
        format!("[master]\nbind = \"tcp://127.0.0.1:0\"\n{body}"),
    )
    .expect("write launch file");
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    Proc::spawn("launcher", c)
}

/// Times at which lines matching `pred` were seen, relative to the first one.
fn times_of(
    proc: &mut Proc,
    count: usize,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Vec<Duration> {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < count && start.elapsed() < timeout {
        if proc
            .wait_line(timeout - start.elapsed(), |_, l| pred(l))
            .is_some()
        {
            times.push(start.elapsed());
        }
    }
    times
}

#[test]
fn on_failure_respawns_with_growing_backoff_until_max_restarts() {
    let dir = TempDir::new("respawn");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "crasher"
binary = "/bin/sh"
args = ["-c", "echo run; exit 3"]
respawn = "on-failure"
respawn_delay = "100ms"
respawn_max_delay = "1s"
max_restarts = 3
"#,
    );
    let runs = times_of(&mut launcher, 4, SOON, |l| l == "[crasher] run");
    assert_eq!(runs.len(), 4, "1 run + 3 restarts:\n{}", launcher.dump());
    let gaps: Vec<Duration> = runs.windows(2).map(|w| w[1] - w[0]).collect();
    // Delays are 100, 200 and 400 ms: each gap is at least its delay.
    for (gap, least) in gaps.iter().zip([100u64, 200, 400]) {
        assert!(*gap >= Duration::from_millis(least), "gaps {gaps:?}");
    }
    launcher.expect_line("give up", SOON, |_, l| l.contains("restart limit reached"));
    let (_, code) = launcher.finish(SOON);
    assert_eq!(
        code,
        Some(1),
        "a node that failed makes the launch fail:\n{}",
        launcher.dump()
    );
    assert!(!launcher.seen.iter().any(|(_, l)| l.contains("restarts=4")));
}

#[test]
fn on_failure_leaves_a_clean_exit_alone_and_always_restarts_it() {
    let dir = TempDir::new("policies");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "clean"
binary = "/bin/sh"
args = ["-c", "echo clean; exit 0"]
respawn = "on-failure"
[[node]]
name = "again"
binary = "/bin/sh"
args = ["-c", "echo again; exit 0"]
respawn = "always"
respawn_delay = "10ms"
max_restarts = 2
[[node]]
name = "once"
binary = "/bin/sh"
args = ["-c", "echo once; exit 5"]
"#,
    );
    let (_, code) = launcher.finish(SOON);
    let count = |what: &str| launcher.seen.iter().filter(|(_, l)| l == what).count();
    assert_eq!(count("[clean] clean"), 1, "{}", launcher.dump());
    assert_eq!(count("[again] again"), 3, "{}", launcher.dump());
    assert_eq!(
        count("[once] once"),
        1,
        "never is the default:\n{}",
        launcher.dump()
    );
    assert_eq!(code, Some(1), "`once` failed");
}

#[test]
fn a_required_node_that_exits_stops_the_launch() {
    let dir = TempDir::new("required");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "20"]
[[node]]
name = "watchdog"
binary = "listener"
args = ["--count", "3"]
required = true
"#,
    );
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(1), "{}", launcher.dump());
    assert!(
        launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("required node exited")),
        "{}",
        launcher.dump()
    );
    assert!(
        launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("[master]") && l.contains("node unregistered node=talker")),
        "the talker was stopped cleanly:\n{}",
        launcher.dump()
    );
}

#[test]
fn after_waits_until_the_named_node_is_registered() {
    let dir = TempDir::new("after");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "listener"
binary = "listener"
args = ["--count", "2"]
after = ["talker"]
required = true
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "20"]
"#,
    );
    let (_, _) = launcher.finish(SOON);
    let position = |pred: &dyn Fn(&str) -> bool| launcher.seen.iter().position(|(_, l)| pred(l));
    let talker_registered =
        position(&|l| l.contains("[master]") && l.contains("node registered node=talker"));
    let listener_started = position(&|l| l.contains("started node=listener"));
    let (Some(t), Some(s)) = (talker_registered, listener_started) else {
        panic!("missing events:\n{}", launcher.dump());
    };
    assert!(
        t < s,
        "the listener started before the talker registered:\n{}",
        launcher.dump()
    );
    assert_eq!(
        launcher
            .seen
            .iter()
            .filter(|(_, l)| l.starts_with("[listener] seq="))
            .count(),
        2
    );
}

#[test]
fn stop_asks_first_then_sigterm_then_sigkill() {
    let dir = TempDir::new("escalation");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "5"]
[[node]]
name = "stubborn"
binary = "/bin/sh"
args = ["-c", "trap '' TERM; echo ready; while true; do sleep 0.05; done"]
stop_timeout = "1s"
"#,
    );
    launcher.expect_line("stubborn ready", SOON, |_, l| l == "[stubborn] ready");
    launcher.expect_line("talker registered", SOON, |_, l| {
        l.contains("node registered node=talker")
    });
    let pids: Vec<i32> = launcher
        .seen
        .iter()
        .filter(|(_, l)| l.contains("started node="))
        .filter_map(|(_, l)| {
            l.split("pid=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(pids.len(), 2);
    launcher.signal(Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
    let has = |what: &str| launcher.seen.iter().any(|(_, l)| l.contains(what));
    assert!(
        has("not reachable as a registered node; SIGTERM node=stubborn"),
        "{}",
        launcher.dump()
    );
    assert!(
        has("did not stop within 1s; SIGKILL"),
        "{}",
        launcher.dump()
    );
    assert!(
        has("node unregistered node=talker"),
        "the talker stopped on request:\n{}",
        launcher.dump()
    );
    assert!(
        !launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("node=talker") && l.contains("SIGTERM")),
        "{}",
        launcher.dump()
    );
    assert!(
        pids.iter().all(|p| !alive(*p)),
        "no node outlives the launch"
    );
}

#[test]
fn namespace_and_remap_from_the_launch_file_shape_topic_names() {
    let dir = TempDir::new("naming");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "20"]
namespace = "r1"                    # publishes on r1/chatter
[[node]]
name = "listener"
binary = "listener"
args = ["--count", "2"]
remap = { chatter = "/r1/chatter" } # listens to r1/chatter
required = true
[[node]]
name = "deaf"
binary = "listener"
args = ["--count", "1"]             # listens to plain `chatter`: nobody publishes there
"#,
    );
    let (_, _) = launcher.finish(SOON);
    let lines = |who: &str| {
        launcher
            .seen
            .iter()
            .filter(|(_, l)| l.starts_with(&format!("[{who}] seq=")))
            .count()
    };
    assert_eq!(lines("listener"), 2, "{}", launcher.dump());
    assert_eq!(lines("deaf"), 0, "{}", launcher.dump());
    assert!(
        launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("node registered node=r1/talker")),
        "{}",
        launcher.dump()
    );
}

/// Runs `pinion launch ACTION FILE [NODE]` and returns (stdout lines, exit code).
fn launch_cmd(dir: &TempDir, args: &[&str]) -> (Vec<String>, Option<i32>) {
    let mut c = Command::new(bin("pinion"));
    c.arg("launch").args(args).env("PINION_RUNTIME_DIR", &dir.0);
    let mut p = Proc::spawn("launch-cmd", c);
    p.finish(SOON)
}

fn status_of(dir: &TempDir, file: &str, node: &str) -> serde_json::Value {
    let (out, code) = launch_cmd(dir, &["status", file, "--json"]);
    assert_eq!(code, Some(0), "{out:?}");
    out.iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["name"] == node)
        .unwrap_or_else(|| panic!("no status for {node}: {out:?}"))
}

#[test]
fn status_restart_and_stop_reach_a_running_launch() {
    let dir = TempDir::new("control");
    let mut launcher = launch(
        &dir,
        r#"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "20"]
[[node]]
name = "listener"
binary = "listener"
"#,
    );
    launcher.expect_line("a message", SOON, |_, l| l.starts_with("[listener] seq="));
    let file = dir.0.join("graph.toml");
    let file = file.to_str().expect("utf-8 path");

    let (table, code) = launch_cmd(&dir, &["status", file]);
    assert_eq!(code, Some(0));
    assert!(
        table
            .iter()
            .any(|l| l.starts_with("talker") && l.contains("running")),
        "{table:?}"
    );

    let before = status_of(&dir, file, "talker");
    assert_eq!(launch_cmd(&dir, &["restart", file, "talker"]).1, Some(0));
    launcher.expect_line("talker back", SOON, |_, l| {
        l.contains("started node=talker")
    });
    let after = status_of(&dir, file, "talker");
    assert_eq!(after["restarts"], 1);
    assert_ne!(after["pid"], before["pid"]);

    assert_eq!(launch_cmd(&dir, &["stop", file, "listener"]).1, Some(0));
    launcher.expect_line("listener stopped", SOON, |_, l| {
        l.contains("stopped on request node=listener")
    });
    assert_eq!(status_of(&dir, file, "listener")["state"], "Exited");

    let (_, code) = launch_cmd(&dir, &["restart", file, "nobody"]);
    assert_eq!(code, Some(1), "an unknown node is an error");

    let mut second = Proc::spawn("second", {
        let mut c = Command::new(bin("pinion"));
        c.arg("launch").arg(file).env("PINION_RUNTIME_DIR", &dir.0);
        c
    });
    let (_, code) = second.finish(SOON);
    assert_eq!(code, Some(1));
    assert!(
        second
            .seen
            .iter()
            .any(|(_, l)| l.contains("already running")),
        "{}",
        second.dump()
    );

    assert_eq!(launch_cmd(&dir, &["stop", file]).1, Some(0));
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
    let (_, code) = launch_cmd(&dir, &["status", file]);
    assert_eq!(code, Some(1), "no launch runs any more");
}
