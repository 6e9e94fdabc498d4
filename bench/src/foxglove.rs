//! A slow Foxglove client: the bridge (`foxglove_bridge`, as a launch file runs it) serves an image topic of
//! `SIZE` bytes at `HZ` to two clients written from the protocol's specification
//! (`cli/tests/foxglove_client.py`); one of them stops reading for `SECONDS`. Printed:
//! the bridge's resident memory every second and its growth, the other client's
//! messages per second, and whether the slow one receives again, beside the same run
//! with no slow client (the baseline).

use crate::graph::sibling;
use crate::util::rss_bytes;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Outcome {
    start: u64,
    max: u64,
    series: Vec<u64>,
    rates: Vec<u64>,
    resumed: Option<u64>,
    full_reports: usize,
}

/// Runs the figure.
pub fn run(seconds: f64, hz: f64, size: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let master = runtime.block_on(crate::util::serve_master("tcp://127.0.0.1:0"))?;
    let dir = std::env::temp_dir().join(format!("pinion-bench-foxglove-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let side = ((size as f64 / 3.0).sqrt().ceil() as u32).max(1);
    let mut camera = Command::new(sibling("camera_sim")?)
        .args(["--width", &side.to_string(), "--height", &side.to_string()])
        .args(["--rate", &hz.to_string()])
        .env("PINION_MASTER", &master)
        .env("PINION_RUNTIME_DIR", &dir)
        .env("RUST_LOG", "warn")
        .spawn()?;
    println!(
        "foxglove: {side}x{side} rgb8 images ({} bytes) at {hz} Hz through the bridge, one client stopping for {seconds} s",
        side * side * 3
    );
    let report = |label: &str, r: Outcome| {
        let mb = |b: u64| b as f64 / 1e6;
        let steady: Vec<u64> = r
            .rates
            .iter()
            .skip(1)
            .take(seconds as usize)
            .copied()
            .collect();
        let mean = steady.iter().sum::<u64>() as f64 / steady.len().max(1) as f64;
        println!(
            "  {label:<12} bridge rss start {:>6.1} MB  max {:>6.1} MB  growth {:>6.1} MB  other client {:.1} msg/s (min {} in a second){}  full-queue reports in the bridge's log: {}",
            mb(r.start),
            mb(r.max),
            mb(r.max.saturating_sub(r.start)),
            mean,
            steady.iter().min().copied().unwrap_or(0),
            match r.resumed {
                Some(n) => format!("  slow client got {n} in 5 s after it read again"),
                None => String::new(),
            },
            r.full_reports
        );
        println!(
            "    bridge rss per second (MB): {}",
            r.series
                .iter()
                .map(|b| format!("{:.0}", mb(*b)))
                .collect::<Vec<_>>()
                .join(" ")
        );
    };
    let baseline = one_run(&master, &dir, seconds, false);
    let stalled = baseline.and_then(|b| {
        report("baseline", b);
        one_run(&master, &dir, seconds, true)
    });
    let _ = camera.kill();
    let _ = camera.wait();
    let _ = std::fs::remove_dir_all(&dir);
    report("one slow", stalled?);
    Ok(())
}

fn client_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/foxglove_client.py")
}

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn one_run(master: &str, dir: &PathBuf, seconds: f64, slow: bool) -> anyhow::Result<Outcome> {
    let mut bridge = Guard(
        Command::new(sibling("foxglove_bridge")?)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env("PINION_MASTER", master)
            .env("PINION_RUNTIME_DIR", dir)
            .env("RUST_LOG", "warn,foxglove=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?,
    );
    // The SDK reports a client whose queue is full (throttled, without a count).
    let reports = bridge.0.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .filter(|l| l.contains("outbox for client"))
                .count()
        })
    });
    let stdout = bridge
        .0
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("foxglove bridge listening on ")
        .ok_or_else(|| anyhow::anyhow!("the bridge said {line:?}"))?
        .to_owned();
    let pid = bridge.0.id();
    let start = rss_bytes(pid).unwrap_or(0);
    let python = |args: &[String]| {
        Command::new("python3")
            .arg(client_script())
            .arg(&url)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
    };
    let slow_client = if slow {
        Some(python(&[
            "stall".into(),
            "camera/image".into(),
            seconds.to_string(),
        ])?)
    } else {
        None
    };
    let other = python(&[
        "rate".into(),
        "camera/image".into(),
        (seconds + 2.0).to_string(),
    ])?;
    let mut series = Vec::new();
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs_f64(seconds + 2.0) {
        std::thread::sleep(Duration::from_secs(1)); // a sampling period, not a wait for an event
        series.push(rss_bytes(pid).unwrap_or(0));
    }
    let out = other.wait_with_output()?;
    let rates = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "rate")
        .and_then(|v| {
            v["per_second"]
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_u64()).collect())
        })
        .unwrap_or_default();
    let resumed = match slow_client {
        Some(client) => {
            let out = client.wait_with_output()?;
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["event"] == "resumed")
                .and_then(|v| v["received"].as_u64())
        }
        None => None,
    };
    drop(bridge);
    let full_reports = reports.and_then(|r| r.join().ok()).unwrap_or(0);
    Ok(Outcome {
        full_reports,
        max: series.iter().copied().max().unwrap_or(start).max(start),
        start,
        series,
        rates,
        resumed,
    })
}
