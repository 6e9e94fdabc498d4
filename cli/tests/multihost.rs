//! Three Pis played by three network namespaces on one bridge, each with its own agent
//! and host id; one `pinion launch` runs nodes on all of them. Needs root (ip netns).

mod support;

use std::time::{Duration, Instant};
use support::netns::Lan;
use support::*;

const KEY: &str = "multi-host test key, 32 bytes..";

fn seq_of(line: &str, prefix: &str) -> Option<u64> {
    line.strip_prefix(prefix)?
        .strip_prefix("seq=")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

#[test]
fn one_launch_over_three_namespaces_crosses_tcp_and_recovers_from_a_cut_link() {
    let dir = TempDir::new("multihost");
    let lan = Lan::new(3);
    let key = dir.0.join("key");
    std::fs::write(&key, KEY).expect("key");

    let (_agents, endpoints) = start_lan_agents(&lan, 3, 0, &dir, &key);

    let mut text = format!(
        "robot = \"lan\"\n[master]\nbind = \"tcp://{}:0\"\n",
        Lan::address(1)
    );
    for i in 1..=3 {
        text += &format!(
            "[machines.pi{i}]\naddress = \"{}\"\nagent = \"{}\"\n",
            Lan::address(i),
            endpoints[i - 1]
        );
    }
    text += r#"
[[node]]
name = "talker"
binary = "talker"
machine = "pi2"
args = ["--rate", "50"]
[[node]]
name = "far_listener"
binary = "listener"
machine = "pi3"
[[node]]
name = "base_listener"
binary = "listener"
machine = "pi1"
"#;
    let file = dir.0.join("lan.toml");
    std::fs::write(&file, text).expect("launch file");
    let mut c = lan.command(1, &bin("pinion"));
    c.arg("launch")
        .arg(&file)
        .arg("--key-file")
        .arg(&key)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);

    launcher.expect_line("talker registered from pi2", SOON, |_, l| {
        l.contains("node registered node=talker host=pi2")
    });
    launcher.expect_line("data on pi3", SOON, |s, l| {
        s == Src::Out && l.starts_with("[pi3/far_listener] seq=")
    });
    launcher.expect_line("data on pi1", SOON, |s, l| {
        s == Src::Out && l.starts_with("[pi1/base_listener] seq=")
    });

    // The status table shows the nodes the agents run.
    let start = Instant::now();
    let table = loop {
        let mut c = std::process::Command::new(bin("pinion"));
        c.arg("launch")
            .arg("status")
            .arg(&file)
            .env("PINION_RUNTIME_DIR", &dir.0);
        let (out, code) = Proc::spawn("status", c).finish(SOON);
        assert_eq!(code, Some(0), "{out:?}");
        let shows = |node: &str, machine: &str| {
            out.iter()
                .any(|l| l.starts_with(node) && l.contains(machine) && l.contains("running"))
        };
        if shows("talker", "pi2") && shows("far_listener", "pi3") && shows("base_listener", "pi1") {
            break out;
        }
        assert!(
            start.elapsed() < SOON,
            "status never showed the remote nodes: {out:?}"
        );
    };
    assert!(table[0].contains("robot lan"), "{table:?}");

    // `pinion logs` on pi1 shows the records of the nodes on every Pi.
    let master = launcher
        .seen
        .iter()
        .find_map(|(_, l)| l.split("master=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the launcher names its master")
        .to_owned();
    let mut c = lan.command(1, &bin("pinion"));
    c.arg("logs")
        .env("PINION_MASTER", &master)
        .env("PINION_HOST", "pi1")
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "warn");
    let (out, code) = Proc::spawn("logs", c).finish(SOON);
    assert_eq!(code, Some(0), "{out:?}");
    for (node, host) in [
        ("talker", "pi2"),
        ("far_listener", "pi3"),
        ("base_listener", "pi1"),
    ] {
        assert!(
            out.iter()
                .any(|l| l.contains(&format!("[{node}@{host}] registered"))),
            "no records of {node} on {host}: {out:?}"
        );
    }

    // Cut pi3 off until the master notices (its heartbeats stop), then repair.
    lan.set_link(3, false);
    launcher.expect_line("pi3's listener expires", SOON, |_, l| {
        l.contains("node expired") && l.contains("far_listener")
    });
    let last_before = launcher
        .seen
        .iter()
        .filter_map(|(_, l)| seq_of(l, "[pi3/far_listener] "))
        .max()
        .unwrap_or(0);
    lan.set_link(3, true);
    let repaired = Instant::now();
    launcher.expect_line("data on pi3 again", SOON, |s, l| {
        s == Src::Out && seq_of(l, "[pi3/far_listener] ").is_some_and(|seq| seq > last_before + 1)
    });
    let back = repaired.elapsed();
    eprintln!("data flowed again {back:?} after the repair (measured at the launcher)");
    // Includes up to one 200 ms log poll of the launcher.
    assert!(
        back < Duration::from_secs(2),
        "data flowed again {back:?} after the repair"
    );
    let registrations = |p: &Proc| {
        p.seen
            .iter()
            .filter(|(_, l)| l.contains("node registered node=far_listener host=pi3"))
            .count()
    };
    if registrations(&launcher) < 2 {
        launcher.expect_line("pi3 registered again", SOON, |_, l| {
            l.contains("node registered node=far_listener host=pi3")
        });
    }

    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
}
