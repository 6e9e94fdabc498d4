//! `pinion launch`: the demo graph comes up, prints, and stops without leftovers.

mod support;

use nix::sys::signal::Signal;
use std::process::Command;
use std::time::Duration;
use support::*;

fn launch_file(dir: &TempDir, body: &str) -> std::path::PathBuf {
    let path = dir.0.join("graph.toml");
    std::fs::write(&path, body).expect("write launch file");
    path
}

fn pids_of_started_nodes(launcher: &Proc) -> Vec<i32> {
    launcher
        .seen
        .iter()
        .filter(|(_, l)| l.contains("started"))
        .filter_map(|(_, l)| {
            l.split("pid=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn wait_gone(pids: &[i32], timeout: Duration) -> Vec<i32> {
    let gone = wait::until(timeout, Duration::from_millis(20), || {
        pids.iter().all(|p| !alive(*p)).then(Vec::new)
    });
    gone.unwrap_or_else(|| pids.iter().copied().filter(|p| alive(*p)).collect())
}

const DEMO: &str = r#"
robot = "test"
[master]
bind = "tcp://127.0.0.1:0"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "20"]
[[node]]
name = "listener"
binary = "listener"
"#;

#[test]
fn demo_graph_prints_messages_and_ctrl_c_leaves_no_process() {
    let dir = TempDir::new("launch");
    let path = launch_file(&dir, DEMO);
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    launcher.expect_line("from the listener", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=")
    });
    launcher.expect_line("a second message", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=")
    });
    let pids = pids_of_started_nodes(&launcher);
    assert_eq!(pids.len(), 2, "{}", launcher.dump());

    launcher.signal(Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
    assert!(
        wait_gone(&pids, Duration::from_secs(2)).is_empty(),
        "nodes outlived the launcher"
    );
    assert!(
        launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("[master]") && l.contains("node unregistered")),
        "nodes left the master cleanly:\n{}",
        launcher.dump()
    );
}

#[test]
fn launcher_killed_with_sigkill_takes_its_nodes_along() {
    let dir = TempDir::new("launchkill");
    let path = launch_file(&dir, DEMO);
    let mut c = Command::new(bin("pinion"));
    c.arg("launch").arg(&path).env("PINION_RUNTIME_DIR", &dir.0);
    let mut launcher = Proc::spawn("launcher", c);
    launcher.expect_line("from the listener", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=")
    });
    let pids = pids_of_started_nodes(&launcher);
    assert_eq!(pids.len(), 2);
    launcher.signal(Signal::SIGKILL);
    assert!(
        wait_gone(&pids, Duration::from_secs(5)).is_empty(),
        "nodes outlived a killed launcher"
    );
}

#[test]
fn broken_launch_file_is_refused_whole_with_line_and_column_and_nothing_starts() {
    let dir = TempDir::new("launchbad");
    let path = launch_file(
        &dir,
        "[[node]]\nname = \"a\"\nbinary = \"talker\"\nrespawn_typo = true\n[[node]]\nname = \"b\"\nbinary = \"no-such-binary\"\nafter = [\"c\"]\n",
    );
    for check in [true, false] {
        let mut c = Command::new(bin("pinion"));
        c.arg("launch").arg(&path).env("PINION_RUNTIME_DIR", &dir.0);
        if check {
            c.arg("--check");
        }
        let mut launcher = Proc::spawn("launcher", c);
        let (_, code) = launcher.finish(SOON);
        assert_eq!(code, Some(1), "{}", launcher.dump());
        let file = path.display();
        for expected in [
            format!("{file}:4:1: unknown key `respawn_typo` in [[node]]"),
            format!("{file}:6:8: node `b`: binary `no-such-binary` not found"),
            format!("{file}:6:8: node `b` starts after `c`, which is not a node of this launch"),
            "3 problems found; nothing was started".to_owned(),
        ] {
            assert!(
                launcher.seen.iter().any(|(_, l)| l.contains(&expected)),
                "missing {expected:?}:\n{}",
                launcher.dump()
            );
        }
        assert!(
            !launcher
                .seen
                .iter()
                .any(|(_, l)| l.contains("master up") || l.contains("started node=")),
            "nothing starts"
        );
    }
}

#[test]
fn check_reads_manifests_and_refuses_a_type_mismatch_between_two_binaries() {
    let dir = TempDir::new("wiring");
    // odometry's `imu` input remapped onto the encoders' `wheel_ticks`: Imu vs WheelTicks.
    let path = launch_file(
        &dir,
        r#"
[master]
bind = "tcp://127.0.0.1:0"
[[node]]
name = "encoders"
binary = "wheel_encoders"
[[node]]
name = "odometry"
binary = "odometry"
remap = { imu = "wheel_ticks" }
"#,
    );
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .arg("--check")
        .env("PINION_RUNTIME_DIR", &dir.0);
    let mut launcher = Proc::spawn("launcher", c);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(1), "{}", launcher.dump());
    let mismatch = launcher
        .seen
        .iter()
        .map(|(_, l)| l.as_str())
        .find(|l| l.contains("error: topic `wheel_ticks`"))
        .unwrap_or_else(|| panic!("no mismatch reported:\n{}", launcher.dump()));
    for needle in [
        "`encoders` publishes it as `rover/WheelTicks`",
        "`odometry` subscribes it as `sensor_msgs/Imu`",
        "differences:",
        "WheelTicks.left: only in the first type",
    ] {
        assert!(
            mismatch.contains(needle),
            "missing {needle:?} in {mismatch}"
        );
    }
    assert!(
        launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("warning: topic `wheel_speeds`")
                && l.contains("no node of this file publishes it")),
        "{}",
        launcher.dump()
    );
    assert!(
        !launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains("master up") || l.contains("started node=")),
        "nothing starts"
    );

    // A real launch runs each program once, without reading manifests first: the
    // master refuses the second type as the nodes come up, with the differences.
    let mut c = Command::new(bin("pinion"));
    c.arg("launch").arg(&path).env("PINION_RUNTIME_DIR", &dir.0);
    let mut launcher = Proc::spawn("launcher", c);
    launcher.expect_line("the master's refusal", SOON, |_, l| {
        l.contains("wheel_ticks") && l.contains("rover/WheelTicks") && l.contains("sensor_msgs/Imu")
    });
    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let _ = launcher.finish(SOON);
}

#[test]
fn check_never_runs_a_program_that_is_not_a_node_and_a_launch_runs_each_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("not-a-node");
    let ran = dir.0.join("ran");
    let script = dir.0.join("camera.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> {}\necho camera up\nexec sleep 30\n",
            ran.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = launch_file(
        &dir,
        &format!(
            r#"
[master]
bind = "tcp://127.0.0.1:0"
[[node]]
name = "camera"
binary = "{}"
[[node]]
name = "odometry"
binary = "odometry"
"#,
            script.display()
        ),
    );
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .arg("--check")
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info");
    let mut check = Proc::spawn("check", c);
    let (_, code) = check.finish(SOON);
    assert_eq!(code, Some(0), "{}", check.dump());
    assert!(!ran.exists(), "--check ran the script:\n{}", check.dump());
    assert!(
        check.dump().contains("is not a Pinion node binary"),
        "{}",
        check.dump()
    );

    let mut c = Command::new(bin("pinion"));
    c.arg("launch").arg(&path).env("PINION_RUNTIME_DIR", &dir.0);
    let mut launcher = Proc::spawn("launcher", c);
    launcher.expect_line("the script's output", SOON, |_, l| {
        l.contains("[camera] camera up")
    });
    let runs = std::fs::read_to_string(&ran).expect("the script ran");
    assert_eq!(runs.lines().count(), 1, "started {runs:?}");
    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let _ = launcher.finish(SOON);
}

#[test]
fn a_launch_whose_master_already_runs_attaches_to_it_and_leaves_it_running() {
    let dir = TempDir::new("launch-attach");
    let (mut master, env) = start_master(&dir);
    let port = env.master.rsplit(':').next().expect("port").to_owned();
    let file = launch_file(
        &dir,
        &format!(
            "robot = \"attach\"\n[master]\nbind = \"tcp://127.0.0.1:{port}\"\n\n\
             [[node]]\nname = \"talker\"\nbinary = \"talker\"\nargs = [\"--rate\", \"10\"]\n"
        ),
    );
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&file)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    launcher.expect_line("attached", SOON, |_, l| {
        l.contains("attached to the master that runs there")
    });
    launcher.expect_line("talker started", SOON, |_, l| {
        l.contains("started node=talker")
    });
    assert!(
        !launcher.seen.iter().any(|(_, l)| l.contains("master up")),
        "a second master was started: {}",
        launcher.dump()
    );
    // The talker registered with the master that was already there.
    let listed = wait::until(SOON, Duration::from_millis(50), || {
        let out = env.command("pinion").args(["node", "list"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .contains("talker")
            .then_some(())
    });
    assert!(
        listed.is_some(),
        "the talker is not registered with the running master"
    );
    launcher.signal(Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
    // The master it attached to still answers.
    let out = env
        .command("pinion")
        .args(["node", "list"])
        .output()
        .expect("pinion runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alive(master.pid()));
    master.kill();
}
