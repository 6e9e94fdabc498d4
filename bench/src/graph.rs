//! Whole-graph figures, with real node processes (the release binaries next to this one).
//!
//! - `startup N`: N node processes (N/2 talkers, N/2 listeners on their own topics) are
//!   spawned at once; measured is the time until every listener has its first message,
//!   so every node is registered and every subscription connected. Baseline in the same
//!   run: spawning N processes of the same binaries that only print their manifest and
//!   exit (`--pinion-manifest`), i.e. what starting N processes costs at all. Also the
//!   master's CPU time and RSS at the end.
//! - `footprint`: stripped sizes of the node binaries and of `pinion`, and the idle RSS
//!   and threads of a node that publishes and subscribes (odometry), beside a process
//!   of the bare `zeromq` crate with one PUB and one SUB socket.

use crate::util::{rss_bytes, threads};
use pinion_master::server::{Master, MasterConfig};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Baseline of the graph figures: `n` processes of the talker and listener binaries
/// started and ended, doing nothing else (`--pinion-manifest` prints and exits).
pub fn spawn_baseline(
    n: usize,
    talker: &std::path::Path,
    listener: &std::path::Path,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut children = Vec::new();
    for i in 0..n {
        let program = if i % 2 == 0 { talker } else { listener };
        children.push(
            Command::new(program)
                .arg("--pinion-manifest")
                .stdout(Stdio::null())
                .spawn()?,
        );
    }
    for mut c in children {
        c.wait()?;
    }
    Ok(start.elapsed())
}

/// A release binary of this workspace, next to this one.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build the workspace binaries first (cargo build --release --workspace --bins)",
        path.display()
    );
    Ok(path)
}

/// Runs `startup` for `n` nodes.
pub fn startup(n: usize, rounds: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("pinion-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (talker, listener) = (sibling("talker")?, sibling("listener")?);
    let mut graph_times = Vec::new();
    let mut spawn_times = Vec::new();
    let mut master_cpu = Duration::ZERO;
    let mut master_rss = 0;
    for round in 0..rounds {
        spawn_times.push(spawn_baseline(n, &talker, &listener)?);

        let master = runtime.block_on(Master::bind(
            &["tcp://127.0.0.1:0".to_owned()],
            MasterConfig::default(),
        ))?;
        let endpoint = master.endpoints()[0].clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(master.run(async {
            let _ = stop_rx.await;
        }));
        let cpu_before = process_cpu();
        let start = Instant::now();
        let mut talkers = Vec::new();
        let mut listeners = Vec::new();
        for i in 0..n / 2 {
            let topic = format!("startup_{round}_{i}");
            let common = |c: &mut Command, name: String| {
                c.env("PINION_MASTER", &endpoint)
                    .env("PINION_RUNTIME_DIR", &dir)
                    .env("PINION_NODE_NAME", name)
                    .env("RUST_LOG", "error")
                    .stderr(Stdio::null());
            };
            let mut t = Command::new(&talker);
            t.args(["--topic", &topic, "--rate", "100"]);
            common(&mut t, format!("t{i}"));
            talkers.push(t.stdout(Stdio::null()).spawn()?);
            let mut l = Command::new(&listener);
            l.args(["--topic", &topic, "--count", "1"]);
            common(&mut l, format!("l{i}"));
            listeners.push(l.stdout(Stdio::piped()).spawn()?);
        }
        for l in &mut listeners {
            let out = l
                .stdout
                .take()
                .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
            let first = BufReader::new(out).lines().next();
            anyhow::ensure!(
                matches!(first, Some(Ok(ref line)) if line.starts_with("seq=")),
                "a listener ended without a message"
            );
        }
        graph_times.push(start.elapsed());
        master_cpu += process_cpu().saturating_sub(cpu_before);
        master_rss = master_rss.max(rss_bytes(std::process::id()).unwrap_or(0));
        for mut t in talkers {
            let _ = t.kill();
            let _ = t.wait();
        }
        for mut l in listeners {
            let _ = l.wait();
        }
        let _ = stop_tx.send(());
        let _ = runtime.block_on(served);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let median = crate::util::median;
    let (g, s) = (median(&mut graph_times), median(&mut spawn_times));
    println!(
        "startup: {n} node processes ({} talkers, {} listeners), {rounds} rounds",
        n / 2,
        n / 2
    );
    println!(
        "  all registered and connected (every listener has a message): median {:>8.1} ms",
        g.as_secs_f64() * 1e3
    );
    println!(
        "  baseline, {n} processes of the same binaries started and ended: median {:>8.1} ms",
        s.as_secs_f64() * 1e3
    );
    println!(
        "  ratio: {:.2}",
        g.as_secs_f64() / s.as_secs_f64().max(1e-9)
    );
    println!(
        "  this process (master inside): CPU {:.0} ms per round, RSS {:.1} MB",
        master_cpu.as_secs_f64() * 1e3 / rounds as f64,
        master_rss as f64 / 1e6
    );
    println!(
        "{{\"bench\":\"startup\",\"nodes\":{n},\"graph_ms\":{:.1},\"spawn_ms\":{:.1},\"master_cpu_ms\":{:.1},\"master_rss_mb\":{:.1}}}",
        g.as_secs_f64() * 1e3,
        s.as_secs_f64() * 1e3,
        master_cpu.as_secs_f64() * 1e3 / rounds as f64,
        master_rss as f64 / 1e6
    );
    Ok(())
}

/// CPU time (user + system) of this process so far.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // Linux reports in clock ticks of 1/100 s on every platform Pinion runs on.
    Duration::from_millis(ticks * 10)
}

/// Runs `footprint`.
pub fn footprint() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("pinion-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("footprint: stripped binaries (x86_64 here), idle node");
    let mut json = Vec::new();
    let names = [
        "talker",
        "listener",
        "odometry",
        "motor_driver",
        "wander",
        "pinion",
    ];
    for name in names {
        let copy = dir.join(name);
        std::fs::copy(sibling(name)?, &copy)?;
        let status = Command::new("strip").arg(&copy).status()?;
        anyhow::ensure!(status.success(), "strip failed on {name}");
        let size = std::fs::metadata(&copy)?.len();
        println!("  {name:<13} {:>6.2} MB stripped", size as f64 / 1e6);
        json.push(format!("\"{name}_stripped_mb\":{:.2}", size as f64 / 1e6));
    }
    json.extend(crate::arm::stripped_sizes(&names, &dir)?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let endpoint = runtime.block_on(crate::util::serve_master("tcp://127.0.0.1:0"))?;
    let mut node = Command::new(sibling("odometry")?)
        .env("PINION_MASTER", &endpoint)
        .env("PINION_RUNTIME_DIR", &dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let err = node
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keeps draining after the line, so the node never writes into a closed pipe.
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("registered") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| anyhow::anyhow!("odometry did not register"))?;
    // Idle: registered, its publisher and subscriptions made, nothing flowing.
    std::thread::sleep(Duration::from_secs(2));
    let pid = node.id();
    let (rss, thr) = (rss_bytes(pid).unwrap_or(0), threads(pid).unwrap_or(0));
    let _ = node.kill();
    let _ = node.wait();

    let mut bare = Command::new(std::env::current_exe()?)
        .args(["role", "bare-idle"])
        .stdout(Stdio::piped())
        .spawn()?;
    let out = bare
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let ready = BufReader::new(out).lines().next();
    anyhow::ensure!(
        matches!(ready, Some(Ok(ref l)) if l == "ready"),
        "bare process failed"
    );
    std::thread::sleep(Duration::from_secs(2));
    let bpid = bare.id();
    let (brss, bthr) = (rss_bytes(bpid).unwrap_or(0), threads(bpid).unwrap_or(0));
    let _ = bare.kill();
    let _ = bare.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "  idle odometry node (1 publisher, 2 subscriptions): RSS {:.1} MB, {thr} threads",
        rss as f64 / 1e6
    );
    println!(
        "  baseline, bare zeromq process (PUB + SUB, tokio): RSS {:.1} MB, {bthr} threads",
        brss as f64 / 1e6
    );
    json.push(format!(
        "\"idle_node_rss_mb\":{:.2},\"idle_node_threads\":{thr},\"bare_rss_mb\":{:.2},\"bare_threads\":{bthr}",
        rss as f64 / 1e6,
        brss as f64 / 1e6
    ));
    println!("{{\"bench\":\"footprint\",{}}}", json.join(","));
    Ok(())
}
