use super::*;

#[test]
fn reads_every_field() {
    let text = r#"
robot = "rover"
[master]
machine = "base"
bind = "tcp://0.0.0.0:0"
[machines.base]
address = "127.0.0.1"
target = "aarch64-unknown-linux-gnu"
agent = "tcp://127.0.0.1:11411"
runner = "qemu-aarch64 -L /usr/aarch64-linux-gnu"
[[node]]
name = "imu"
binary = "imu_sim"
machine = "base"
args = ["--rate", "50"]
env = { RUST_LOG = "debug" }
params = { frame_id = "imu_link", rate = 50, gains = [1.0, 2.5] }
remap = { imu = "sensors/imu" }
namespace = "rover"
respawn = "on-failure"
respawn_delay = "250ms"
respawn_max_delay = "4s"
max_restarts = 3
required = true
stop_timeout = 2
[[node]]
name = "odom"
binary = "odometry"
after = ["imu"]
"#;
    let file = parse(text, Path::new("rover.toml")).expect("valid");
    assert_eq!(file.robot, "rover");
    assert_eq!(file.master.machine.as_deref(), Some("base"));
    let base = &file.machines["base"];
    assert_eq!(
        base.runner,
        vec!["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    );
    assert_eq!(base.host_id, "base");
    let imu = &file.nodes[0];
    assert_eq!(imu.respawn.policy, RespawnPolicy::OnFailure);
    assert_eq!(imu.respawn.delay, Duration::from_millis(250));
    assert_eq!(imu.respawn.max_restarts, Some(3));
    assert_eq!(imu.stop_timeout, Duration::from_secs(2));
    assert_eq!(imu.params["rate"], serde_json::json!(50));
    assert_eq!(imu.params["gains"], serde_json::json!([1.0, 2.5]));
    assert_eq!(imu.at.line, 12);
    assert_eq!(file.nodes[1].after, vec!["imu"]);
}

#[test]
fn problems_come_all_at_once_and_sorted() {
    let text = "bogus = 1\n[[node]]\nname = \"a\"\nbinary = \"b\"\nmachine = \"nowhere\"\nafter = [\"ghost\"]\n";
    let problems = parse(text, Path::new("x.toml")).expect_err("broken");
    assert_eq!(problems.0.len(), 3, "{problems}");
    let report = problems.to_string();
    assert!(
        report.starts_with("x.toml:1:1: unknown key `bogus`"),
        "{report}"
    );
    assert!(
        report.ends_with("3 problems found; nothing was started"),
        "{report}"
    );
}

#[test]
fn devices_and_huge_files_are_refused_not_read() {
    let dir = std::env::temp_dir().join(format!(
        "pinion-model-bounded-{}-{}",
        std::process::id(),
        pinion::host::random_id()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let main = dir.join("robot.toml");
    std::fs::write(&main, "include = [\"/dev/zero\", \"big.toml\"]\n").expect("write");
    std::fs::write(dir.join("big.toml"), vec![b'#'; (4 << 20) + 1]).expect("write");
    let problems = load(&main, &|_| true).expect_err("refused");
    let report = problems.to_string();
    assert!(
        report.contains("/dev/zero is not a regular file"),
        "{report}"
    );
    assert!(report.contains("big.toml is larger than"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_robots_largest_message_reaches_every_node_unless_it_sets_its_own() {
    let text = r#"
max_message = "8MiB"
[[node]]
name = "a"
binary = "talker"
[[node]]
name = "b"
binary = "talker"
env = { PINION_MAX_MESSAGE = "1024" }
"#;
    let file = parse(text, Path::new("r.toml")).expect("valid");
    assert_eq!(file.max_message, Some(8 << 20));
    assert_eq!(
        file.nodes[0].env["PINION_MAX_MESSAGE"],
        (8 << 20).to_string()
    );
    assert_eq!(file.nodes[1].env["PINION_MAX_MESSAGE"], "1024");
    let problems = parse("max_message = \"lots\"\n", Path::new("r.toml")).expect_err("bad size");
    assert!(problems.to_string().contains("max_message"), "{problems}");
}

#[test]
fn the_deploy_table_sets_the_health_check_and_refuses_a_steady_time_past_the_deadline() {
    let file = parse("robot = \"r\"\n", Path::new("r.toml")).expect("valid");
    assert_eq!(file.deploy, DeploySpec::default());
    let text = "[deploy]\nhealth_deadline = \"1m\"\nsteady_for = \"500ms\"\n";
    let file = parse(text, Path::new("r.toml")).expect("valid");
    assert_eq!(file.deploy.health_deadline, Duration::from_secs(60));
    assert_eq!(file.deploy.steady_for, Duration::from_millis(500));

    let text = "[deploy]\nhealth_deadline = \"2s\"\nsteady_for = \"5s\"\nwait = 1\n";
    let report = parse(text, Path::new("r.toml"))
        .expect_err("refused")
        .to_string();
    assert!(
        report.contains("r.toml:3:14: [deploy] steady_for"),
        "{report}"
    );
    assert!(
        report.contains("unknown key `wait` in [deploy]"),
        "{report}"
    );
}
