//! Chaos: the rover graph deployed to two agents (network namespaces standing in for two
//! Pis), then a bounded run of random SIGKILLs of nodes, of the master and of an agent
//! (restarted as systemd would). Afterwards every node is registered again, data flows,
//! and the surviving agent has not grown in file descriptors or memory.
//!
//! Ignored by plain `cargo test` (it takes about a minute and needs root for the
//! namespaces); `scripts/test` runs it. `PINION_CHAOS_SECONDS` sets the length (45).

mod support;

use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::netns::Lan;
use support::*;

const KEY: &str = "chaos test key with 32 bytes....";
const NODES: [&str; 5] = [
    "motor_driver",
    "wheel_encoders",
    "imu",
    "odometry",
    "wander",
];

struct Robot {
    lan: Lan,
    dir: TempDir,
    key: PathBuf,
    agents: Vec<Proc>,
}

impl Robot {
    fn pinion(&self, args: &[&str]) -> (Vec<String>, Option<i32>, String) {
        let mut c = self.lan.command(1, &bin("pinion"));
        c.args(args)
            .env("PINION_MASTER", format!("tcp://{}:11311", Lan::address(1)))
            .env("PINION_HOST", "chaos-tool")
            .env("PINION_RUNTIME_DIR", &self.dir.0)
            .env("CARGO_TARGET_DIR", support::target_dir())
            .env("RUST_LOG", "warn");
        let mut p = Proc::spawn("pinion", c);
        let (out, code) = p.finish(SOON * 4);
        (out, code, p.dump())
    }

    /// The registered nodes, by name (empty while the master is down).
    fn registered(&self) -> Vec<String> {
        let (out, code, _) = self.pinion(&["node", "list"]);
        if code != Some(0) {
            return Vec::new();
        }
        out.iter()
            .filter_map(|l| l.split('\t').next())
            .map(str::to_owned)
            .collect()
    }

    fn restart_agent(&mut self, i: usize) {
        let (agent, _) = start_lan_agent(&self.lan, i, 11411, &self.dir, &self.key);
        self.agents[i - 1] = agent;
    }
}

/// Children of a process (the master and the nodes an agent runs).
fn children(pid: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid: Option<i32> = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(pid) && !rest.starts_with('Z') {
            out.push((child, role_of(child)));
        }
    }
    out
}

/// `master`, or the node name an agent gave the process (binaries run from the
/// agent's store under their hash, so the command name says nothing).
fn role_of(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if cmdline.split(|b| *b == 0).nth(1) == Some(&b"master"[..]) {
        return "master".to_owned();
    }
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(&b"PINION_NODE_NAME="[..]))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| format!("pid {pid}"))
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Waits until every rover node is registered; how long it took.
fn all_registered(robot: &Robot, within: Duration) -> Duration {
    let start = Instant::now();
    let all = wait::until(within, Duration::from_millis(200), || {
        let names = robot.registered();
        NODES
            .iter()
            .all(|n| names.iter().any(|r| r == n))
            .then(|| start.elapsed())
    });
    all.unwrap_or_else(|| {
        panic!(
            "after {within:?} only {:?} are registered",
            robot.registered()
        )
    })
}

fn odometry_flows(robot: &Robot) {
    let (out, code, dump) = robot.pinion(&["topic", "echo", "odom", "--count", "1", "--json"]);
    assert_eq!(code, Some(0), "{dump}");
    assert!(out.iter().any(|l| l.contains("pose")), "{out:?}");
}

#[test]
#[ignore = "about a minute, needs root; scripts/test runs it"]
fn rover_survives_random_kills_of_nodes_master_and_agent() {
    let dir = TempDir::new("chaos");
    let lan = Lan::new(2);
    let key = dir.0.join("key");
    std::fs::write(&key, KEY).expect("key");
    let (agents, endpoints) = start_lan_agents(&lan, 2, 11411, &dir, &key);
    let mut text = format!(
        "robot = \"chaos\"\n[master]\nmachine = \"base\"\nbind = \"tcp://0.0.0.0:11311\"\n\
         [machines.base]\naddress = \"{}\"\nagent = \"{}\"\n\
         [machines.drive]\naddress = \"{}\"\nagent = \"{}\"\n",
        Lan::address(1),
        endpoints[0],
        Lan::address(2),
        endpoints[1]
    );
    for (name, binary, machine) in [
        ("motor_driver", "motor_driver", "drive"),
        ("wheel_encoders", "wheel_encoders", "drive"),
        ("imu", "imu_sim", "base"),
        ("odometry", "odometry", "base"),
        ("wander", "wander", "base"),
    ] {
        text += &format!(
            "[[node]]\nname = \"{name}\"\nbinary = \"{binary}\"\nmachine = \"{machine}\"\n\
             respawn = \"always\"\nrespawn_delay = \"100ms\"\n"
        );
    }
    let file = dir.0.join("chaos.toml");
    std::fs::write(&file, text).expect("launch file");
    let mut robot = Robot {
        lan,
        dir,
        key,
        agents,
    };
    let file_arg = file.to_str().expect("utf-8");
    let key_arg = robot.key.to_str().expect("utf-8").to_owned();
    let (_, code, dump) = robot.pinion(&[
        "deploy",
        file_arg,
        "--key-file",
        &key_arg,
        "--profile",
        "dev",
        "--no-build",
    ]);
    assert_eq!(code, Some(0), "{dump}");
    all_registered(&robot, SOON * 2);
    odometry_flows(&robot);
    let survivor = robot.agents[0].pid();
    let (fds_before, rss_before) = (open_fds(survivor), rss_kb(survivor));

    let seconds: u64 = std::env::var("PINION_CHAOS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(45);
    let mut rng = pinion::host::random_id() | 1;
    eprintln!("chaos seed {rng:#x}");
    let start = Instant::now();
    let mut kills: Vec<String> = Vec::new();
    // Bounded in time and in count.
    for round in 0..1000 {
        if start.elapsed() >= Duration::from_secs(seconds) {
            break;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut victims: Vec<(i32, String)> = Vec::new();
        for agent in &robot.agents {
            victims.extend(children(agent.pid()));
        }
        // Early on the master and the drive Pi's agent go down for sure; later one draw
        // in eight takes the agent down, the others kill a random child of an agent
        // (the master or a node).
        if round == 2 {
            victims.retain(|(_, name)| name == "master");
        }
        if round == 4 || (round > 4 && rng % 8 == 0) {
            robot.agents[1].kill();
            kills.push("agent of drive".to_owned());
            robot.restart_agent(2);
        } else if !victims.is_empty() {
            let (pid, name) = &victims[(rng / 8) as usize % victims.len()];
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGKILL);
            kills.push(name.clone());
        }
        // A random pause between kills (0.5 to 2 s), bounded.
        wait::pace(Duration::from_millis(500 + (rng >> 20) % 1500));
    }
    eprintln!("{} kills: {kills:?}", kills.len());
    assert!(kills.len() >= 10, "too few kills: {kills:?}");
    assert!(kills.iter().any(|k| k == "master"), "{kills:?}");
    assert!(kills.iter().any(|k| k == "agent of drive"), "{kills:?}");

    let back = all_registered(&robot, SOON * 2);
    eprintln!(
        "every node registered {back:?} after the chaos ended (0.5 to 2 s after the last kill)"
    );
    odometry_flows(&robot);
    let (fds_after, rss_after) = (open_fds(survivor), rss_kb(survivor));
    eprintln!(
        "surviving agent: fds {fds_before} -> {fds_after}, RSS {rss_before} -> {rss_after} kB"
    );
    assert!(
        fds_after <= fds_before + 4,
        "the agent's descriptors grew from {fds_before} to {fds_after}"
    );
    assert!(
        rss_after <= rss_before + 8 * 1024,
        "the agent's memory grew from {rss_before} kB to {rss_after} kB"
    );
    let _ = robot.pinion(&["launch", "stop", file_arg, "--key-file", &key_arg]);
}
