//! Shared memory between nodes on one host (`pinion-bench shm`): round trips of 1 and
//! 4 MiB images through Pinion's shared memory, through today's socket path
//! (`PINION_SHM_POOL=0`) and through iceoryx2 (built with `--features iceoryx2`), and
//! the CPU per delivered 4 MiB image at 30 Hz to three subscribers, shared memory
//! against the socket path; each in processes of their own, in turns, in one run.
//! Also the holder role of the crash tests.

mod cpu;
pub(crate) mod hold;
#[cfg(feature = "iceoryx2")]
mod ice;
mod rtt;

use crate::role::{Place, Role};
use std::time::Duration;

const READY: Duration = Duration::from_secs(30);

/// Runs the child role `args[0]`, if it is one of these.
pub(crate) async fn role(args: &[String]) -> Option<anyhow::Result<()>> {
    Some(match args.first().map(String::as_str)? {
        "shm-hold" => hold::role(&args[1..]).await,
        "shm-echo" => rtt::echo(&args[1..]).await,
        "shm-ping" => rtt::ping(&args[1..]).await,
        "shm-cam" => cpu::camera(&args[1..]).await,
        "shm-sink" => cpu::sink().await,
        #[cfg(feature = "iceoryx2")]
        "ice-echo" => ice::echo(&args[1..]),
        #[cfg(feature = "iceoryx2")]
        "ice-ping" => ice::ping(&args[1..]),
        _ => return None,
    })
}

/// How a variant's processes move large frames.
#[derive(Debug, Clone, Copy)]
enum Path {
    Shm,
    Socket,
    Iceoryx2,
}

impl Path {
    fn env(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::Socket => vec![("PINION_SHM_POOL", "0")],
            _ => vec![("PINION_SHM_POOL", "256M")],
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// One round-trip run: p50 and p99 in microseconds.
fn round_trips(
    place: &Place,
    path: Path,
    size: usize,
    rounds: usize,
    mode: &str,
) -> anyhow::Result<(f64, f64)> {
    let size_s = size.to_string();
    let rounds_s = rounds.to_string();
    let (echo, ping) = match path {
        Path::Iceoryx2 => (
            strings(&["ice-echo", &size_s, mode]),
            strings(&["ice-ping", &size_s, &rounds_s, mode]),
        ),
        _ => (
            strings(&["shm-echo", mode]),
            strings(&["shm-ping", &size_s, &rounds_s, mode]),
        ),
    };
    let mut echo = Role::spawn_with(place, &echo, &path.env())?;
    echo.expect("ready", READY)?;
    let mut ping = Role::spawn_with(place, &ping, &path.env())?;
    let line = ping.expect("rtt ", READY * 4)?;
    let mut numbers = line.split_whitespace().skip(1).map(str::parse::<f64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(p50)), Some(Ok(p99))) => Ok((p50, p99)),
        _ => anyhow::bail!("unreadable: {line}"),
    }
}

/// CPU per delivered image (µs) and images delivered.
fn cpu_per_image(
    place: &Place,
    path: Path,
    size: usize,
    hz: f64,
    count: u64,
) -> anyhow::Result<(f64, u64)> {
    let names = ["shm_sink_0", "shm_sink_1", "shm_sink_2"];
    let sinks: Vec<Role> = names
        .iter()
        .map(|name| {
            let mut env = path.env();
            env.push(("PINION_NODE_NAME", name));
            Role::spawn_with(place, &strings(&["shm-sink"]), &env)
        })
        .collect::<Result<_, _>>()?;
    let mut camera = Role::spawn_with(
        place,
        &strings(&[
            "shm-cam",
            &size.to_string(),
            &hz.to_string(),
            &count.to_string(),
            "3",
        ]),
        &path.env(),
    )?;
    camera.expect(
        "done",
        READY + Duration::from_secs_f64(count as f64 / hz * 2.0),
    )?;
    let mut delivered = 0;
    let mut total = cpu::cpu_ns(camera.pid());
    for mut sink in sinks {
        let line = sink.expect("received ", READY)?;
        delivered += line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        // Read before it is killed (dropped).
        total += cpu::cpu_ns(sink.pid());
    }
    Ok((total as f64 / 1e3 / delivered.max(1) as f64, delivered))
}

/// `pinion-bench shm [ROUNDS] [SECONDS] [REPEAT]`.
pub(crate) fn run(rounds: usize, seconds: f64, repeat: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let place = Place::with_local_master(&runtime)?;
    let paths = [
        Some(Path::Shm),
        Some(Path::Socket),
        cfg!(feature = "iceoryx2").then_some(Path::Iceoryx2),
    ];
    let paths: Vec<Path> = paths.into_iter().flatten().collect();
    for (mode, what) in [
        (
            "ready",
            "images ready in a buffer from Node::loan_blob (iceoryx2: 8 bytes written per sample)",
        ),
        ("whole", "each image copied whole into a new buffer first"),
    ] {
        println!("round trips, {what}; {rounds} per run, p50 / p99 in µs");
        for size in [1usize << 20, 4 << 20] {
            for run in 1..=repeat {
                let mut row = Vec::new();
                for &path in &paths {
                    let (p50, p99) = round_trips(&place, path, size, rounds, mode)?;
                    row.push((path, p50));
                    println!(
                        "  {mode} {} MiB run {run} {path:?}: p50 {p50:.0} p99 {p99:.0}",
                        size >> 20
                    );
                }
                let p50 = |want: &str| {
                    row.iter()
                        .find(|(p, _)| format!("{p:?}") == want)
                        .map(|r| r.1)
                };
                if let (Some(shm), Some(socket)) = (p50("Shm"), p50("Socket")) {
                    print!(
                        "  {mode} {} MiB run {run}: socket / shm {:.1}x",
                        size >> 20,
                        socket / shm
                    );
                    if let Some(ice) = p50("Iceoryx2") {
                        print!(", shm / iceoryx2 {:.2}x", shm / ice);
                    }
                    println!();
                }
            }
        }
    }
    let hz = 30.0;
    let count = (seconds * hz) as u64;
    println!("CPU per delivered 4 MiB image, 3 subscribers at {hz} Hz, {count} images (camera and subscribers, all threads)");
    for run in 1..=repeat {
        let (shm, n_shm) = cpu_per_image(&place, Path::Shm, 4 << 20, hz, count)?;
        let (socket, n_socket) = cpu_per_image(&place, Path::Socket, 4 << 20, hz, count)?;
        println!(
            "  run {run}: shared memory {shm:.0} µs ({n_shm} delivered), socket {socket:.0} µs ({n_socket} delivered): {:.3}x",
            shm / socket
        );
    }
    Ok(())
}
