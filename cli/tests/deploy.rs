//! `pinion deploy` into network namespaces with an agent each: ships only what changed,
//! runs without a launcher, rolls back. The aarch64 case runs in the ARM phase of
//! `scripts/test` (it needs the aarch64 builds and qemu-user).

mod support;

use std::path::{Path, PathBuf};
use support::netns::Lan;
use support::*;

const KEY: &str = "deploy test key with 32 bytes...";

struct Robot {
    lan: Lan,
    dir: TempDir,
    key: PathBuf,
    endpoints: Vec<String>,
    _agents: Vec<Proc>,
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
            _agents: agents,
        }
    }

    fn write(&self, pi_target: Option<&str>, text: &str) -> PathBuf {
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
args = ["--rate", "20", "--text", "{text}"]
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
        let mut c = self.lan.command(1, &bin("pinion"));
        c.args(args)
            .arg(file)
            .arg("--key-file")
            .arg(&self.key)
            .env("PINION_RUNTIME_DIR", &self.dir.0)
            .env("CARGO_TARGET_DIR", support::target_dir());
        let mut p = Proc::spawn("pinion", c);
        let (out, code) = p.finish(SOON * 4);
        (out, code, p.dump())
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

    let file = robot.write(pi_target, "v2");
    let (out, code, dump) = robot.pinion(&["deploy", "--profile", "dev", "--no-build"], &file);
    assert_eq!(code, Some(0), "{dump}");
    assert_eq!(
        shipped(&out),
        0,
        "no binary changed, nothing is shipped: {out:?}"
    );
    assert_eq!(robot.listen(), "v2");

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
#[ignore = "needs the aarch64 builds and qemu-user; scripts/test runs it"]
fn deployed_aarch64_node_under_qemu_reaches_a_native_subscriber() {
    let robot = Robot::new("deployarm");
    deploy_cycle(&robot, Some("aarch64-unknown-linux-gnu"));
}
