//! `pinion health` reports real readings of this machine (temperature and throttling
//! from files standing in for a Raspberry Pi's `/sys`, this machine not being one) and
//! every node of its host with CPU and resident memory; `pinion top` shows them in a
//! terminal.

mod support;

use pinion_launch::status::{NodeState, NodeStatus};
use serde_json::Value;
use std::time::Duration;
use support::tmux::Terminal;
use support::*;

/// A status of a report, by name.
fn status<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["status"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

/// A status's value, by key.
fn value<'a>(status: &'a Value, key: &str) -> Option<&'a str> {
    status["values"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)?["value"]
        .as_str()
}

#[test]
fn health_reports_the_machine_and_its_nodes_and_top_shows_them() {
    let dir = TempDir::new("health");
    let (_master, env) = start_master(&dir);
    // A Pi at 85.2 °C, under-voltage now, throttled earlier.
    let sys = dir.0.join("sys");
    let thermal = sys.join("class/thermal/thermal_zone0");
    let firmware = sys.join("devices/platform/soc/soc:firmware");
    std::fs::create_dir_all(&thermal).expect("fixture dir");
    std::fs::create_dir_all(&firmware).expect("fixture dir");
    std::fs::write(thermal.join("temp"), "85200\n").expect("fixture");
    std::fs::write(firmware.join("get_throttled"), "0x40001\n").expect("fixture");

    let mut talker = env.node("talker", "talker", &["--rate", "20"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    // The status rows its agent would keep: the talker restarted twice, a camera
    // node crashing.
    let row = |name: &str, pid, state, restarts, last_exit: Option<&str>| NodeStatus {
        name: name.to_owned(),
        machine: "local".to_owned(),
        pid,
        state,
        restarts,
        since: None,
        last_exit: last_exit.map(str::to_owned),
    };
    let rows = vec![
        row(
            "talker",
            Some(talker.pid() as u32),
            NodeState::Running,
            2,
            None,
        ),
        row("camera", None, NodeState::Backoff, 3, Some("exit code 1")),
    ];
    let launch_status = dir.0.join("status.json");
    std::fs::write(&launch_status, serde_json::to_vec(&rows).expect("json")).expect("fixture");
    let mut c = env.command("pinion");
    c.args(["health", "--period", "200ms"])
        .env("PINION_SYS_DIR", &sys)
        .env("PINION_LAUNCH_STATUS", &launch_status);
    let mut health = Proc::spawn("health", c);
    health.expect_line("registered", SOON, |_, l| l.contains("registered"));

    // A report with the talker's CPU share (it takes two samples).
    let report = wait::until(SOON, Duration::from_millis(50), || {
        let out = env
            .command("pinion")
            .args(["topic", "echo", "/pinion/health", "--count", "1", "--json"])
            .output()
            .ok()?;
        let report: Value = serde_json::from_slice(&out.stdout).ok()?;
        value(status(&report, "talker")?, "cpu_percent")?;
        Some(report)
    })
    .unwrap_or_else(|| panic!("no report with the talker: {}", health.dump()));

    let machine = status(&report, "machine").expect("the machine's status");
    assert_eq!(value(machine, "cpu_temp_c"), Some("85.2"));
    assert_eq!(value(machine, "throttled"), Some("0x40001"));
    assert_eq!(machine["level"], 2, "under-voltage now is an error");
    let message = machine["message"].as_str().unwrap_or_default();
    assert!(message.contains("CPU at 85.2 °C"), "{message}");
    assert!(message.contains("under-voltage now"), "{message}");
    assert!(message.contains("throttling has occurred"), "{message}");
    // The rest is this machine's own.
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    let total_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("MemTotal");
    assert_eq!(
        value(machine, "mem_total_mb"),
        Some((total_kb * 1024 / 1_000_000).to_string().as_str())
    );
    let load: f64 = value(machine, "load_1m")
        .and_then(|v| v.parse().ok())
        .expect("load");
    assert!(load >= 0.0);
    assert!(value(machine, "disk_free_mb").is_some());

    let node = status(&report, "talker").expect("the talker's status");
    assert_eq!(value(node, "pid"), Some(talker.pid().to_string().as_str()));
    let rss: f64 = value(node, "rss_mb")
        .and_then(|v| v.parse().ok())
        .expect("rss");
    assert!(rss > 1.0 && rss < 100.0, "talker RSS {rss} MB");
    assert_eq!(value(node, "restarts"), Some("2"));
    assert_eq!(
        value(node, "dropped"),
        Some("0"),
        "asked of the talker itself"
    );
    let camera = status(&report, "camera").expect("the crashing node is reported");
    assert_eq!(camera["level"], 1);
    let message = camera["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("exit code 1") && message.contains("restarted 3 times"),
        "{message}"
    );
    let warned = health.wait_line(SOON, |_, l| {
        l.contains("WARN") && l.contains("under-voltage")
    });
    assert!(
        warned.is_some(),
        "the threshold is in the log: {}",
        health.dump()
    );

    // pinion doctor reads the reports and says what to do.
    let out = env
        .command("pinion")
        .args(["doctor", "--json"])
        .output()
        .expect("doctor runs");
    let findings: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let power = findings
        .iter()
        .find(|f| {
            f["what"]
                .as_str()
                .is_some_and(|w| w.contains("under-voltage now"))
        })
        .unwrap_or_else(|| panic!("no health finding: {findings:?}"));
    assert_eq!(power["severity"], "error");
    assert!(
        power["fix"].as_str().unwrap_or_default().contains("supply"),
        "{power}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error finding fails the doctor"
    );

    // pinion top, in a terminal.
    let terminal = Terminal::pinion(&env, "top", 120, 20);
    let capture = || terminal.screen();
    let screen = wait::until(SOON, Duration::from_millis(100), || {
        let screen = capture()?;
        (screen.contains("talker") && screen.contains("(machine)")).then_some(screen)
    });
    let closed = terminal.quit();
    let screen = screen.expect("top shows the machine and the talker");
    assert!(
        screen.contains("CPU %") && screen.contains("RSS MB"),
        "{screen}"
    );
    let talker_row = screen
        .lines()
        .find(|l| l.contains("talker"))
        .expect("a talker row");
    let numbers: Vec<f64> = talker_row
        .split_whitespace()
        .filter_map(|w| w.trim_matches('│').parse().ok())
        .collect();
    assert!(numbers.len() >= 2, "CPU and RSS on the row: {talker_row}");
    assert!(screen.contains("85.2 °C"), "{screen}");
    assert!(closed, "q ends top");
}
