//! Raspberry Pi binaries end to end: an aarch64 talker and an armv7 listener, each under
//! qemu-user with its own host id (so over tcp), plus an aarch64 listener on the
//! talker's host id (so over ipc), against a native master; and `pinion launch --check`
//! reading the manifest of an aarch64 node binary under qemu; and images shared through
//! shared memory between nodes of each ARM build.
//!
//! Needs the ARM builds: run by `scripts/test` as
//! `PINION_ARM_TARGET_DIR=target cargo test -p pinion-cli --test arm -- --ignored`.

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::*;

struct Arm {
    qemu: &'static str,
    sysroot: &'static str,
    triple: &'static str,
}

const AARCH64: Arm = Arm {
    qemu: "qemu-aarch64",
    sysroot: "/usr/aarch64-linux-gnu",
    triple: "aarch64-unknown-linux-gnu",
};
const ARMV7: Arm = Arm {
    qemu: "qemu-arm",
    sysroot: "/usr/arm-linux-gnueabihf",
    triple: "armv7-unknown-linux-gnueabihf",
};

fn arm_bin(arm: &Arm, name: &str) -> PathBuf {
    let dir = std::env::var("PINION_ARM_TARGET_DIR")
        .expect("PINION_ARM_TARGET_DIR names the cargo target directory with the ARM builds");
    let path = PathBuf::from(dir).join(arm.triple).join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: cargo build --workspace --bins --target {}",
        path.display(),
        arm.triple
    );
    let output = Command::new("file").arg(&path).output();
    if let Ok(out) = output {
        let text = String::from_utf8_lossy(&out.stdout);
        let want = if arm.triple.starts_with("aarch64") {
            "ARM aarch64"
        } else {
            "ARM,"
        };
        assert!(
            text.contains(want),
            "{} is not an ARM binary: {text}",
            path.display()
        );
    }
    path
}

fn arm_node(env: &Env, arm: &Arm, program: &str, name: &str, host: &str, args: &[&str]) -> Proc {
    let mut c = Command::new(arm.qemu);
    c.arg("-L")
        .arg(arm.sysroot)
        .arg(arm_bin(arm, program))
        .args(args)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("PINION_MASTER", &env.master)
        .env("PINION_NODE_NAME", name)
        .env("PINION_HOST", host)
        .env("RUST_LOG", "info,pinion=debug,zeromq=error");
    Proc::spawn(name, c)
}

#[test]
#[ignore = "needs the ARM builds and qemu-user; scripts/test runs it"]
fn arm_talker_reaches_arm_listeners_over_tcp_and_ipc() {
    let dir = TempDir::new("arm");
    let (_master, env) = start_master(&dir);
    let n = "20";
    let mut far = arm_node(
        &env,
        &ARMV7,
        "listener",
        "listener_armv7",
        "pi-32",
        &["--count", n],
    );
    let mut near = arm_node(
        &env,
        &AARCH64,
        "listener",
        "listener_aarch64",
        "pi-64",
        &["--count", n],
    );
    // qemu is slow to start: wait until both listeners are registered.
    far.expect_line("registered", SOON * 4, |_, l| l.contains("registered"));
    near.expect_line("registered", SOON * 4, |_, l| l.contains("registered"));
    let mut talker = arm_node(
        &env,
        &AARCH64,
        "talker",
        "talker_aarch64",
        "pi-64",
        &["--rate", "200", "--count", n, "--wait-for", "2"],
    );
    let (_, talker_code) = talker.finish(SOON * 4);
    // A talker that failed leaves the listeners waiting: collect what they said so far.
    let wait = if talker_code == Some(0) {
        SOON * 4
    } else {
        std::time::Duration::from_secs(1)
    };
    let mut results = Vec::new();
    for listener in [&mut far, &mut near] {
        results.push(listener.finish(wait));
    }
    // On failure, show what every process said: a stuck handshake shows on both sides.
    let everything = || {
        [&talker, &far, &near]
            .iter()
            .map(|p| format!("{}:\n{}", p.name, p.dump()))
            .collect::<String>()
    };
    assert_eq!(talker_code, Some(0), "the talker failed\n{}", everything());
    let expected: Vec<String> = (0..20).map(|i| format!("seq={i} text=hello")).collect();
    for ((out, code), name) in results.into_iter().zip([&far.name, &near.name]) {
        assert_eq!(code, Some(0), "{name} failed\n{}", everything());
        assert_eq!(out, expected, "{name}\n{}", everything());
    }
}

#[test]
#[ignore = "needs the ARM builds and qemu-user; scripts/test runs it"]
fn check_reads_the_manifest_of_an_aarch64_node_binary() {
    let dir = TempDir::new("arm-check");
    // Checked before anything: the ARM binary is where --check will look for it.
    arm_bin(&AARCH64, "odometry");
    let path = dir.0.join("rover.toml");
    std::fs::write(
        &path,
        r#"
[master]
bind = "tcp://127.0.0.1:0"
[machines.pi]
address = "127.0.0.1"
target = "aarch64-unknown-linux-gnu"
agent = "tcp://127.0.0.1:11411"
[[node]]
name = "encoders"
binary = "wheel_encoders"
[[node]]
name = "odometry"
binary = "odometry"
machine = "pi"
remap = { imu = "wheel_ticks" }
"#,
    )
    .expect("launch file");
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .arg("--check")
        .env("PINION_RUNTIME_DIR", &dir.0);
    let mut check = Proc::spawn("check", c);
    let (_, code) = check.finish(SOON * 4);
    assert_eq!(code, Some(1), "{}", check.dump());
    // Only the aarch64 binary's own manifest says how odometry subscribes.
    assert!(
        check
            .dump()
            .contains("`odometry` subscribes it as `sensor_msgs/Imu`"),
        "{}",
        check.dump()
    );
}

/// A camera and two holders of its images under qemu, on one host id (so over ipc,
/// the images through the camera's shared-memory pool): the holders get images in
/// place, one of them is SIGKILLed while it holds some, and the camera takes its slots
/// back (32-bit atomics on armv7, 64-bit on aarch64).
fn shared_memory_under_qemu(arm: &Arm, host: &str) {
    let dir = TempDir::new("armshm");
    let (_master, env) = start_master(&dir);
    let mut camera = arm_node(
        &env,
        arm,
        "camera_sim",
        "camera",
        host,
        &["--width", "320", "--height", "240", "--rate", "20"],
    );
    let holder = |name: &str| {
        arm_node(
            &env,
            arm,
            "pinion-bench",
            name,
            host,
            &["role", "shm-hold", "camera/image", "2"],
        )
    };
    let mut holders = [holder("hold_a"), holder("hold_b")];
    let pooled = |s: Src, l: &str| {
        s == Src::Out
            && l.ends_with(" pooled")
            && l.split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 2)
    };
    for h in &mut holders {
        h.expect_line("an image through the pool", SOON * 4, pooled);
    }
    let [mut killed, mut other] = holders;
    killed.kill();
    camera.expect_line("the killed holder's slots released", SOON * 4, |_, l| {
        l.contains("a subscriber process is gone; released the")
    });
    other.expect_line("another image through the pool", SOON * 4, pooled);
}

#[test]
#[ignore = "needs the ARM builds and qemu-user; scripts/test runs it"]
fn aarch64_nodes_share_images_through_shared_memory() {
    shared_memory_under_qemu(&AARCH64, "pi-64");
}

#[test]
#[ignore = "needs the ARM builds and qemu-user; scripts/test runs it"]
fn armv7_nodes_share_images_through_shared_memory() {
    shared_memory_under_qemu(&ARMV7, "pi-32");
}
