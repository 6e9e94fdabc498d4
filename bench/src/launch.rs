//! `launch N...`: `pinion launch` of a generated launch file with N/2 talker–listener
//! pairs, each pair on its own topic. Measured is the time from starting the launcher
//! until every listener printed its first message through it: the master up, every
//! manifest read (`--check` runs on every launch), every node spawned, registered and
//! connected. Baseline in the same run, alternating: spawning N processes of the same
//! binaries that only print their manifest and exit.

use crate::graph::{sibling, spawn_baseline};
use crate::util::median;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one launch may take before the benchmark gives up.
const LIMIT: Duration = Duration::from_secs(60);

fn launch_file(pairs: usize) -> String {
    let mut toml = String::from("robot = \"bench\"\n\n[master]\nbind = \"tcp://127.0.0.1:0\"\n");
    for i in 0..pairs {
        toml.push_str(&format!(
            "\n[[node]]\nname = \"t{i}\"\nbinary = \"talker\"\nargs = [\"--topic\", \"launch_{i}\", \"--rate\", \"100\"]\n\
             \n[[node]]\nname = \"l{i}\"\nbinary = \"listener\"\nargs = [\"--topic\", \"launch_{i}\"]\n"
        ));
    }
    toml
}

/// Starts the launcher and waits until every listener printed a message; the time.
fn one_launch(
    pinion: &std::path::Path,
    file: &std::path::Path,
    runtime_dir: &std::path::Path,
    pairs: usize,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut child = Command::new(pinion)
        .arg("launch")
        .arg(file)
        .env("PINION_RUNTIME_DIR", runtime_dir)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    // Read on a thread, to the end, so the launcher never blocks on a full pipe.
    let (lines, arrived) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            // Once nobody listens, keep draining all the same.
            let _ = lines.send(line);
        }
    });
    let mut heard = HashSet::new();
    let deadline = start + LIMIT;
    while heard.len() < pairs {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = arrived.recv_timeout(left) else {
            stop(&mut child);
            anyhow::bail!(
                "only {} of {pairs} listeners printed a message within {LIMIT:?}",
                heard.len()
            );
        };
        if let Some((name, text)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
            if name.starts_with('l') && text.starts_with("seq=") {
                heard.insert(name.to_owned());
            }
        }
    }
    let elapsed = start.elapsed();
    stop(&mut child);
    Ok(elapsed)
}

/// Ctrl-C to the launcher, as a person would; killed if it takes over 10 s.
fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `launch` for each graph size.
#[allow(clippy::print_stdout)]
pub fn run(sizes: &[usize], rounds: usize) -> anyhow::Result<()> {
    let (pinion, talker, listener) = (sibling("pinion")?, sibling("talker")?, sibling("listener")?);
    let dir = std::env::temp_dir().join(format!("pinion-launch-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("launch: `pinion launch` of N nodes until every listener has a message, {rounds} rounds, median");
    let mut json = Vec::new();
    for &n in sizes {
        let pairs = (n / 2).max(1);
        let file = dir.join(format!("graph-{n}.toml"));
        std::fs::File::create(&file)?.write_all(launch_file(pairs).as_bytes())?;
        let (mut launched, mut spawned) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            spawned.push(spawn_baseline(2 * pairs, &talker, &listener)?);
            let runtime_dir = dir.join(format!("run-{n}-{round}"));
            std::fs::create_dir_all(&runtime_dir)?;
            launched.push(one_launch(&pinion, &file, &runtime_dir, pairs)?);
        }
        let (l, s) = (median(&mut launched), median(&mut spawned));
        let ms = crate::util::ms;
        println!(
            "  {:>4} nodes  launch {:>8.1} ms   spawn baseline {:>8.1} ms   ratio {:.2}",
            2 * pairs,
            ms(l),
            ms(s),
            l.as_secs_f64() / s.as_secs_f64().max(1e-9)
        );
        json.push(format!(
            "{{\"nodes\":{},\"launch_ms\":{:.1},\"spawn_ms\":{:.1}}}",
            2 * pairs,
            ms(l),
            ms(s)
        ));
    }
    println!("{{\"bench\":\"launch\",\"rows\":[{}]}}", json.join(","));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
