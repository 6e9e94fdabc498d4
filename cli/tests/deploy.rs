//! `pinion deploy` into network namespaces with an agent each: ships only what changed,
//! runs without a launcher, rolls back by hand, and by itself when a new version is not
//! healthy. The aarch64 case runs in the ARM phase of
//! `scripts/test` (it needs the aarch64 builds and qemu-user).

mod support;

use pinion_launch::identity::Identity;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::netns::Lan;
use support::*;

const KEY: &str = "deploy test key with 32 bytes...";

struct Robot {
    lan: Lan,
    dir: TempDir,
    key: PathBuf,
    endpoints: Vec<String>,
    agents: Vec<Proc>,
}

impl Drop for Robot {
    /// The agents' nodes outlive their agents: whatever a failed test left running
    /// is killed by the identities the agents kept.
    fn drop(&mut self) {
        for agent in &mut self.agents {
            agent.kill();
        }
        for i in 1..=2 {
            let launches = self.dir.0.join(format!("store{i}")).join("launches");
            for entry in std::fs::read_dir(launches).into_iter().flatten().flatten() {
                let table = std::fs::read(entry.path().join("pids.json")).unwrap_or_default();
                let table: serde_json::Value = serde_json::from_slice(&table).unwrap_or_default();
                for who in table.as_object().into_iter().flat_map(|t| t.values()) {
                    let Ok(who) = serde_json::from_value::<Identity>(who.clone()) else {
                        continue;
                    };
                    if who.is_running() {
                        let group = nix::unistd::Pid::from_raw(who.pid as i32);
                        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                    }
                }
            }
        }
    }
}

impl Robot {
    fn new(tag: &str) -> Self {
        let dir = TempDir::new(tag);
        let lan = Lan::new(2);
        let key = dir.0.join("key");
        std::fs::write(&key, KEY).expect("key");
        let (agents, endpoints) = start_lan_agents(&lan, 2, 11411, &dir, &key);
        Self {
            lan,
            dir,
            key,
            endpoints,
            agents,
        }
    }

    fn write(&self, pi_target: Option<&str>, text: &str) -> PathBuf {
        let args = format!(r#"["--rate", "20", "--text", "{text}"]"#);
        self.write_talker(pi_target, &args)
    }

    /// A launch file whose talker on the Pi gets `args` (a TOML list).
    fn write_talker(&self, pi_target: Option<&str>, args: &str) -> PathBuf {
        let target = pi_target
            .map(|t| {
                format!("target = \"{t}\"\nrunner = \"qemu-aarch64 -L /usr/aarch64-linux-gnu\"\n")
            })
            .unwrap_or_default();
        let body = format!(
            r#"robot = "deployed"
[master]
machine = "base"
bind = "tcp://0.0.0.0:11311"
[deploy]
steady_for = "1s"
[machines.base]
address = "{a1}"
agent = "{e1}"
[machines.pi]
address = "{a2}"
agent = "{e2}"
{target}
[[node]]
name = "talker"
binary = "talker"
machine = "pi"
args = {args}
respawn = "always"
"#,
            a1 = Lan::address(1),
            a2 = Lan::address(2),
            e1 = self.endpoints[0],
            e2 = self.endpoints[1],
        );
        let path = self.dir.0.join("robot.toml");
        std::fs::write(&path, body).expect("launch file");
        path
    }

    fn pinion(&self, args: &[&str], file: &Path) -> (Vec<String>, Option<i32>, String) {
        let mut p = self.spawn_pinion(args, file);
        let (out, code) = p.finish(SOON * 4);
        (out, code, p.dump())
    }

    /// `pinion ARGS FILE` on the base machine, running.
    fn spawn_pinion(&self, args: &[&str], file: &Path) -> Proc {
        let mut c = self.lan.command(1, &bin("pinion"));
        c.args(args)
            .arg(file)
            .arg("--key-file")
            .arg(&self.key)
            .env("PINION_RUNTIME_DIR", &self.dir.0)
            .env("CARGO_TARGET_DIR", support::target_dir());
        Proc::spawn("pinion", c)
    }

    /// The pid of `node` as `pinion launch status` shows it from the agents (no
    /// launcher runs), once it runs.
    fn running_pid(&self, file: &Path, node: &str) -> Option<u32> {
        status_pid(&self.lan.hosts[0], file, &self.key, &self.dir.0, node)
    }

    /// Starts the Pi's agent again, from `program` (as its unit would).
    fn restart_pi_agent(&mut self, program: &Path) {
        let (agent, _) = start_lan_agent_from(&self.lan, 2, 11411, &self.dir, &self.key, program);
        self.agents[1] = agent;
    }

    /// A native listener on the base machine that runs until dropped.
    fn listener(&self) -> Proc {
        let mut c = self.lan.command(1, &bin("listener"));
        c.env("PINION_MASTER", format!("tcp://{}:11311", Lan::address(1)))
            .env("PINION_NODE_NAME", "steady_listener")
            .env("PINION_HOST", "checker")
            .env("PINION_RUNTIME_DIR", &self.dir.0);
        Proc::spawn("listener", c)
    }

    /// The size of the upload the Pi's agent holds part of (0: none).
    fn part_held_on_pi(&self) -> u64 {
        let blobs = self.dir.0.join("store2").join("blobs");
        std::fs::read_dir(blobs)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0)
    }

    /// A native listener on the base machine; returns the text of the first message.
    fn listen(&self) -> String {
        let mut c = self.lan.command(1, &bin("listener"));
        c.args(["--count", "1"])
            .env("PINION_MASTER", format!("tcp://{}:11311", Lan::address(1)))
            .env(
                "PINION_NODE_NAME",
                format!("checker_{}", pinion::host::random_id() % 100_000),
            )
            .env("PINION_HOST", "checker")
            .env("PINION_RUNTIME_DIR", &self.dir.0);
        let mut p = Proc::spawn("checker", c);
        let (out, code) = p.finish(SOON * 4);
        assert_eq!(code, Some(0), "{}", p.dump());
        out.iter()
            .find_map(|l| l.split("text=").nth(1))
            .unwrap_or_default()
            .to_owned()
    }
}

fn shipped(out: &[String]) -> u64 {
    out.iter()
        .find_map(|l| l.strip_prefix("shipped ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no shipped line: {out:?}"))
}

fn deploy_cycle(robot: &Robot, pi_target: Option<&str>) {
    let file = robot.write(pi_target, "v1");
    let (out, code, dump) = robot.pinion(&["deploy", "--profile", "dev", "--no-build"], &file);
    assert_eq!(code, Some(0), "{dump}");
    assert!(
        shipped(&out) > 0,
        "the first deploy ships the binaries: {out:?}"
    );
    assert_eq!(
        robot.listen(),
        "v1",
        "the deployed talker runs with no launcher"
    );

    // On the Pi, the talker changes and its health reporter does not.
    let health = robot
        .running_pid(&file, "health_pi")
        .expect("the Pi reports its health");
    let talker = robot.running_pid(&file, "talker").expect("the talker runs");
    let file = robot.write(pi_target, "v2");
    let (out, code, dump) = robot.pinion(&["deploy", "--profile", "dev", "--no-build"], &file);
    assert_eq!(code, Some(0), "{dump}");
    assert_eq!(
        shipped(&out),
        0,
        "no binary changed, nothing is shipped: {out:?}"
    );
    assert_eq!(robot.listen(), "v2");
    assert_eq!(
        robot.running_pid(&file, "health_pi"),
        Some(health),
        "a node that did not change runs on into the new version"
    );
    assert_ne!(
        robot.running_pid(&file, "talker"),
        Some(talker),
        "the talker changed"
    );

    let (out, code, dump) = robot.pinion(&["deploy", "--rollback"], &file);
    assert_eq!(code, Some(0), "{dump}");
    assert!(out.iter().any(|l| l.starts_with("rolled back")), "{out:?}");
    assert_eq!(robot.listen(), "v1", "rollback runs the previous version");

    let (_, code, dump) = robot.pinion(&["launch", "stop"], &file);
    assert_eq!(code, Some(0), "{dump}");
}

#[test]
fn deploy_ships_only_changes_runs_detached_and_rolls_back() {
    let robot = Robot::new("deploy");
    deploy_cycle(&robot, None);
}

#[test]
fn a_deploy_that_is_not_healthy_goes_back_by_itself() {
    let robot = Robot::new("deploybad");
    let file = robot.write(None, "good");
    let (_, code, dump) = robot.pinion(&["deploy", "--profile", "dev", "--no-build"], &file);
    assert_eq!(code, Some(0), "{dump}");
    assert_eq!(robot.listen(), "good");

    // The new talker exits at start: its argument is refused.
    let file = robot.write_talker(None, r#"["--rate", "fast"]"#);
    let (_, code, dump) = robot.pinion(&["deploy", "--profile", "dev", "--no-build"], &file);
    assert_eq!(code, Some(1), "an unhealthy deploy fails: {dump}");
    assert!(
        dump.contains("every machine went back to its previous version"),
        "{dump}"
    );
    assert!(
        dump.contains("node `talker` on `pi`"),
        "names the node: {dump}"
    );
    assert!(
        dump.contains("| error: invalid value 'fast'"),
        "shows the node's last lines: {dump}"
    );
    assert_eq!(
        robot.listen(),
        "good",
        "the previous talker runs again, with nobody at the keyboard"
    );

    // --no-rollback keeps the failing version, for debugging.
    let (_, code, dump) = robot.pinion(
        &["deploy", "--profile", "dev", "--no-build", "--no-rollback"],
        &file,
    );
    assert_eq!(code, Some(1), "{dump}");
    assert!(dump.contains("--no-rollback was given"), "{dump}");

    let (_, code, dump) = robot.pinion(&["launch", "stop"], &file);
    assert_eq!(code, Some(0), "{dump}");
}

#[test]
fn a_deploy_cut_off_mid_transfer_sends_only_the_rest_the_next_time() {
    let robot = Robot::new("deployresume");
    let file = robot.write(None, "resumed");
    let talker = std::fs::metadata(bin("talker")).expect("talker").len();
    // The base machine deploys; what it sends the Pi crosses its link, slowed so that
    // the cut comes mid-transfer.
    robot.lan.shape(1, Some("40mbit"));
    let args = [
        "deploy",
        "--profile",
        "dev",
        "--no-build",
        "--agent-timeout",
        "2s",
    ];
    let mut deploy = robot.spawn_pinion(&args, &file);
    let deadline = std::time::Instant::now() + SOON * 2;
    let part = 4 << 20; // a whole part of the upload arrived
    while robot.part_held_on_pi() < part {
        assert!(
            std::time::Instant::now() < deadline,
            "no part arrived: {}",
            deploy.dump()
        );
        // Waiting on the deploy's output doubles as the pause between looks.
        let _ = deploy.wait_line(std::time::Duration::from_millis(20), |_, _| false);
    }
    robot.lan.set_link(1, false);
    let (_, code) = deploy.finish(SOON);
    assert_eq!(code, Some(1), "the cut deploy fails: {}", deploy.dump());
    robot.lan.set_link(1, true);
    robot.lan.shape(1, None);

    let (out, code, dump) = robot.pinion(&args[..4], &file);
    assert_eq!(code, Some(0), "{dump}");
    let resumed_from: u64 = dump
        .lines()
        .find(|l| l.contains("resuming an upload"))
        .and_then(|l| l.split("from=").nth(1))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no resumed upload: {dump}"));
    assert!(resumed_from >= part, "{resumed_from} held, {dump}");
    assert_eq!(
        shipped(&out),
        talker - resumed_from,
        "only what did not arrive is sent again: {dump}"
    );
    eprintln!("talker {talker} bytes, resumed from {resumed_from}");
    assert_eq!(robot.listen(), "resumed");
    let (_, code, dump) = robot.pinion(&["launch", "stop"], &file);
    assert_eq!(code, Some(0), "{dump}");
}

/// The pid `pinion launch status` shows for `node` running, asked from host namespace
/// `host` of the agents directly (no launcher runs).
fn status_pid(host: &str, file: &Path, key: &Path, dir: &Path, node: &str) -> Option<u32> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", host])
        .arg(bin("pinion"))
        .args(["launch", "status", "--json"])
        .arg(file)
        .arg("--key-file")
        .arg(key)
        .env("PINION_RUNTIME_DIR", dir)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|row| row["name"] == node && row["state"] == "Running")
        .and_then(|row| row["pid"].as_u64())
        .and_then(|pid| u32::try_from(pid).ok())
}

/// Runs `change` while `listener` keeps receiving; the longest time without a message,
/// until the agents show `node` running again and a second more has passed, and the
/// pid they then show.
fn through(
    robot: &mut Robot,
    file: &Path,
    listener: &mut Proc,
    node: &'static str,
    change: impl FnOnce(&mut Robot),
) -> (Duration, Option<u64>) {
    let is_message = |s: Src, l: &str| s == Src::Out && l.starts_with("seq=");
    listener.expect_line("a message", SOON, is_message);
    change(robot);
    let (tx, rx) = std::sync::mpsc::channel();
    let checker = {
        let (file, key, dir) = (file.to_owned(), robot.key.clone(), robot.dir.0.clone());
        let host = robot.lan.hosts[0].clone();
        std::thread::spawn(move || {
            let found = wait::until(SOON, Duration::from_millis(200), || {
                status_pid(&host, &file, &key, &dir, node).map(u64::from)
            });
            let _ = tx.send(found);
        })
    };
    let mut last = Instant::now();
    let mut longest = Duration::ZERO;
    let mut shown: Option<(Option<u64>, Instant)> = None;
    let deadline = last + SOON * 2;
    while shown.is_none_or(|(_, at)| at.elapsed() < Duration::from_secs(1)) {
        assert!(Instant::now() < deadline, "{}", listener.dump());
        let message = listener.wait_line(Duration::from_secs(2), is_message);
        longest = longest.max(last.elapsed());
        if message.is_some() {
            last = Instant::now();
        }
        if shown.is_none() {
            if let Ok(pid) = rx.try_recv() {
                shown = Some((pid, Instant::now()));
            }
        }
    }
    checker.join().expect("status checker");
    (longest, shown.and_then(|(pid, _)| pid))
}

/// A build directory like cargo's whose `pinion` is another build (the same program
/// with bytes appended: another hash, the same behaviour), its `talker` the same.
fn new_build(robot: &Robot) -> PathBuf {
    let target = robot.dir.0.join("newbuild");
    let bins = target.join("debug");
    std::fs::create_dir_all(&bins).expect("build dir");
    std::fs::copy(bin("talker"), bins.join("talker")).expect("talker");
    let mut pinion = std::fs::read(bin("pinion")).expect("pinion");
    pinion.extend_from_slice(b"another build");
    std::fs::write(bins.join("pinion"), pinion).expect("pinion");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(bins.join("pinion"), mode).expect("mode");
    target
}

#[test]
fn nodes_run_on_while_their_agent_is_killed_restarted_and_upgraded() {
    let mut robot = Robot::new("agentkill");
    let file = robot.write(None, "steady");
    let (_, code, dump) = robot.pinion(&["deploy", "--profile", "dev", "--no-build"], &file);
    assert_eq!(code, Some(0), "{dump}");
    let talker = robot
        .running_pid(&file, "talker")
        .expect("the status shows the talker running");
    let mut listener = robot.listener();

    // The Pi's agent dies without a word, and comes back as its systemd unit would
    // start it: from where it is installed.
    let installed = robot.dir.0.join("usr-local-bin").join("pinion");
    std::fs::create_dir_all(installed.parent().expect("dir")).expect("dir");
    std::fs::copy(bin("pinion"), &installed).expect("install pinion");
    let (longest, shown) = through(&mut robot, &file, &mut listener, "talker", |robot| {
        robot.agents[1].kill();
        robot.restart_pi_agent(&installed);
    });
    assert_eq!(
        shown,
        Some(u64::from(talker)),
        "the new agent adopted the talker"
    );
    assert!(longest < Duration::from_secs(1), "a gap of {longest:?}");

    // Stopped politely (systemctl restart: SIGTERM), it leaves the robot running too.
    let (longest, shown) = through(&mut robot, &file, &mut listener, "talker", |robot| {
        robot.agents[1].signal(nix::sys::signal::Signal::SIGTERM);
        let (_, code) = robot.agents[1].finish(SOON);
        assert_eq!(code, Some(0), "{}", robot.agents[1].dump());
        robot.restart_pi_agent(&installed);
    });
    assert_eq!(
        shown,
        Some(u64::from(talker)),
        "adopted after a SIGTERM too"
    );
    assert!(longest < Duration::from_secs(1), "a gap of {longest:?}");

    // A new build of pinion, deployed: the agents become it, the talker runs on.
    let agent = robot.agents[1].pid();
    let build = new_build(&robot);
    let (longest, shown) = through(&mut robot, &file, &mut listener, "talker", |robot| {
        let build = build.to_str().expect("a UTF-8 path");
        let args = [
            "deploy",
            "--profile",
            "dev",
            "--no-build",
            "--target-dir",
            build,
        ];
        let (_, code, dump) = robot.pinion(&args, &file);
        assert_eq!(code, Some(0), "{dump}");
    });
    assert_eq!(
        shown,
        Some(u64::from(talker)),
        "the upgraded agent kept the talker"
    );
    assert!(longest < Duration::from_secs(1), "a gap of {longest:?}");
    let exe = std::fs::read_link(format!("/proc/{agent}/exe")).expect("the agent runs");
    assert_eq!(
        exe, installed,
        "the agent (same pid) runs from where it is installed"
    );
    assert_eq!(
        std::fs::read(&installed).expect("installed"),
        std::fs::read(build.join("debug").join("pinion")).expect("new build"),
        "the new build took the installed program's place, for the next boot"
    );
    assert!(support::alive(talker as i32), "the talker still runs");

    let (_, code, dump) = robot.pinion(&["launch", "stop"], &file);
    assert_eq!(code, Some(0), "{dump}");
    let gone = wait::until(SOON, Duration::from_millis(50), || {
        (!support::alive(talker as i32)).then_some(())
    });
    assert!(gone.is_some(), "the adopted talker stops with its launch");
}

#[test]
#[ignore = "needs the aarch64 builds and qemu-user; scripts/test runs it"]
fn deployed_aarch64_node_under_qemu_reaches_a_native_subscriber() {
    let robot = Robot::new("deployarm");
    deploy_cycle(&robot, Some("aarch64-unknown-linux-gnu"));
}
