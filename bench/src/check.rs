//! `check N [ROUNDS]`: `pinion launch --check` of a launch file of N rover nodes (the
//! five rover binaries, each declaring its topics with `#[derive(Node)]`, repeated in
//! namespaces of their own), from start to exit: every program inspected for the node
//! marker, each distinct one run once for its manifest, and the wiring of all N nodes
//! checked. Baseline in the same run: spawning N processes that print a manifest.

use crate::graph::{sibling, spawn_baseline};
use crate::util::median;
use std::process::{Command, Stdio};
use std::time::Instant;

const ROVER: [&str; 5] = [
    "motor_driver",
    "wheel_encoders",
    "imu_sim",
    "odometry",
    "wander",
];

fn launch_file(n: usize) -> String {
    let mut toml = String::from("robot = \"bench\"\n\n[master]\nbind = \"tcp://127.0.0.1:0\"\n");
    for i in 0..n {
        let binary = ROVER[i % ROVER.len()];
        let rover = i / ROVER.len();
        toml.push_str(&format!(
            "\n[[node]]\nname = \"{binary}_{rover}\"\nbinary = \"{binary}\"\nnamespace = \"rover{rover}\"\n"
        ));
    }
    toml
}

/// Runs the figure.
#[allow(clippy::print_stdout)]
pub fn run(n: usize, rounds: usize) -> anyhow::Result<()> {
    let pinion = sibling("pinion")?;
    for binary in ROVER {
        sibling(binary)?;
    }
    let (talker, listener) = (sibling("talker")?, sibling("listener")?);
    let dir = std::env::temp_dir().join(format!("pinion-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("rovers.toml");
    std::fs::write(&file, launch_file(n))?;
    let (mut checked, mut spawned) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        spawned.push(spawn_baseline(n, &talker, &listener)?);
        let start = Instant::now();
        let status = Command::new(&pinion)
            .arg("launch")
            .arg(&file)
            .arg("--check")
            .env("PINION_RUNTIME_DIR", &dir)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        checked.push(start.elapsed());
        anyhow::ensure!(status.success(), "pinion launch --check failed: {status}");
    }
    let (c, s) = (median(&mut checked), median(&mut spawned));
    let ms = crate::util::ms;
    println!(
        "check: `pinion launch --check` of {n} rover nodes ({} programs), median of {}: {:.1} ms; spawning {n} processes: {:.1} ms",
        ROVER.len(),
        checked.len(),
        ms(c),
        ms(s)
    );
    println!(
        "{{\"bench\":\"check\",\"nodes\":{n},\"check_ms\":{:.1},\"spawn_ms\":{:.1}}}",
        ms(c),
        ms(s)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
