//! `cargo run --release -p pinion-bench -- BENCHMARK [ARGS]`
//!
//! - `discovery [ROUNDS]`: new publisher to first message, beside a bare PUB/SUB pair.
//! - `pubsub [SIZE...]`: round-trip latency (p50, p99) and throughput with 1 and 4
//!   subscribers, over ipc and tcp, beside the bare `zeromq` crate.
//! - `latency [SIZE...] [--via ipc|tcp] [--gap-ms MS]`: the latency rows of `pubsub`
//!   alone; with `--gap-ms`, sparse traffic: a pause of MS before every round trip (all
//!   threads idle when a message comes, as with a sensor at a few hundred Hz).
//! - `throughput [SIZE...] [--via ipc|tcp] [--subs N] [--only pinion|bare]`: the
//!   throughput rows of `pubsub` alone; those of one transport or subscriber count, and
//!   one system alone (rows without a ratio), so that `perf` sees one side at a time.
//!   `pubsub` and `throughput` take `--threads 1`: both systems on a runtime of one
//!   thread, where no wake-up crosses threads, so that what remains between them is
//!   the work each does per message (steadier than the default two workers).
//!   `pubsub --pong-apart` runs the latency figures' pong sides in processes of their
//!   own, as nodes are deployed. `--repeat N` measures every row N times, each time set
//!   up anew, and shows each row's median run with every run's ratio beside it.
//! - `startup [N,N...] [ROUNDS]`: N node processes until every listener has its first
//!   message (all registered and connected), beside spawning N processes of the same
//!   binaries; the master's CPU and RSS.
//! - `launch [N,N...] [ROUNDS]`: `pinion launch` of N nodes until every listener has its
//!   first message, beside the same spawning baseline.
//! - `check [N] [ROUNDS]`: `pinion launch --check` of N rover nodes (the wiring check:
//!   every program inspected, each distinct one run once for its manifest), beside
//!   spawning N processes.
//! - `codec`: encode + decode of an IMU reading, a 1 MiB image and a 4 MiB point cloud,
//!   beside plain postcard and two plain copies of the same bytes.
//! - `footprint`: stripped binary sizes (also of the ARM release builds, if built); idle
//!   RSS and threads of a pub+sub node.
//! - `stall [SECONDS] [MB_PER_S] [SIZE]`: a publisher's memory while one of its two
//!   subscribers is stopped (SIGSTOP, over ipc and over tcp) or cut off (its network
//!   namespace's link taken down; needs root). With `--check`, exits 1 unless every
//!   stalled run grew the publisher by less than 64 MB, the healthy subscriber lost
//!   nothing, and the stalled one received again once back (what CI runs).
//!
//! - `variants guard|keyed [SIZE...] [--repeat N]`: the tcp latency and throughput
//!   rows with Pinion on both sides in two configurations: through the transport
//!   guard beside the engine bound directly (`guard`), or with a robot key beside
//!   without (`keyed`).
//!
//! - `all`: discovery, codec, pubsub, startup and launch at 2 to 200 nodes, footprint
//!   (about 55 s here; `stall` runs on its own).
//!
//! Each figure is measured beside a baseline in the same run where one fits; the
//! machine is shared and noisy, so compare ratios, not times.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod allocations;
mod arm;
mod baseline;
mod check;
mod codec;
mod discovery;
mod foxglove;
mod graph;
mod latency;
mod launch;
mod netns;
mod peers;
mod pingpong;
mod pubsub;
mod ring;
mod role;
mod rows;
mod setup;
mod shm;
mod stall;
mod throughput;
mod util;
mod variants;

#[global_allocator]
static ALLOCATOR: allocations::Counting = allocations::Counting;

/// Graph sizes of `all`: the master and the launcher from 2 to 200 nodes.
const GRAPH_SIZES: [usize; 5] = [2, 10, 50, 100, 200];

fn main() -> anyhow::Result<()> {
    // Quiet unless asked: `RUST_LOG=pinion=debug` shows what the nodes in this process do.
    if std::env::var_os("RUST_LOG").is_some() {
        pinion::runtime::init_logging();
    }
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    let check = all.iter().any(|a| a == "--check");
    all.retain(|a| a != "--check");
    let selection = selection(&mut all)?;
    let args = all;
    let what = args.first().map(String::as_str).unwrap_or("discovery");
    let number = |i: usize, default: f64| -> anyhow::Result<f64> {
        Ok(args
            .get(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    // A comma-separated list of sizes in argument `i`.
    let list = |i: usize, default: &[usize]| -> anyhow::Result<Vec<usize>> {
        match args.get(i) {
            Some(a) => Ok(a
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<usize>, _>>()?),
            None => Ok(default.to_vec()),
        }
    };
    let runtime = if selection.one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    };
    match what {
        "discovery" => runtime.block_on(discovery::discovery(number(1, 30.0)? as usize)),
        "foxglove" => foxglove::run(
            number(1, 30.0)?,
            number(2, 30.0)?,
            number(3, 1048576.0)? as usize,
        ),
        "stall" => stall::run(
            number(1, 30.0)?,
            number(2, 10.0)?,
            number(3, 65536.0)? as usize,
            check,
        ),
        "pubsub" | "throughput" | "latency" => {
            let figures = match what {
                "pubsub" => pubsub::Figures::Both,
                "throughput" => pubsub::Figures::Throughput,
                _ => pubsub::Figures::Latency,
            };
            let sizes: Vec<usize> = if args.len() > 1 {
                args[1..]
                    .iter()
                    .map(|a| a.parse())
                    .collect::<Result<_, _>>()?
            } else {
                pubsub::SIZES.to_vec()
            };
            let rows = if selection.one_thread {
                // As a task, not as the future of `block_on`: on a one-thread runtime
                // that future is polled only after an extra poll of the I/O driver
                // whenever a task (not the driver) wakes it, as Pinion's subscription
                // task does and the bare socket does not.
                let run = runtime.spawn(async move { pubsub::run(&sizes, figures, &selection).await });
                runtime.block_on(run)??
            } else {
                runtime.block_on(pubsub::run(&sizes, figures, &selection))?
            };
            rows::print(&rows);
            Ok(())
        }
        "startup" => {
            for n in list(1, &[100])? {
                graph::startup(n, number(2, 5.0)? as usize)?;
            }
            Ok(())
        }
        "launch" => launch::run(&list(1, &[10, 50, 100])?, number(2, 3.0)? as usize),
        "all" => {
            runtime.block_on(discovery::discovery(30))?;
            codec::run()?;
            let rows = runtime.block_on(pubsub::run(
                &pubsub::SIZES,
                pubsub::Figures::Both,
                &pubsub::Selection::default(),
            ))?;
            rows::print(&rows);
            for n in GRAPH_SIZES {
                graph::startup(n, 3)?;
            }
            launch::run(&GRAPH_SIZES, 3)?;
            graph::footprint()
        }
        "variants" => {
            let variant = match args.get(1).map(String::as_str) {
                Some("guard") => variants::Variant::Guard,
                Some("keyed") => variants::Variant::Keyed,
                other => anyhow::bail!("variants {other:?}: expected guard or keyed"),
            };
            let sizes: Vec<usize> = if args.len() > 2 {
                args[2..].iter().map(|a| a.parse()).collect::<Result<_, _>>()?
            } else {
                pubsub::SIZES.to_vec()
            };
            let rows = runtime.block_on(variants::run(variant, &sizes, selection.repeat))?;
            rows::print_as(&rows, variant.names(), "variants");
            Ok(())
        }
        "check" => check::run(number(1, 100.0)? as usize, number(2, 5.0)? as usize),
        "footprint" => graph::footprint(),
        "codec" => codec::run(),
        "ring" => ring::run(number(1, 100.0)? as usize, number(2, 1.0)? as usize),
        "shm" => shm::run(
            number(1, 200.0)? as usize,
            number(2, 10.0)?,
            number(3, 3.0)? as usize,
        ),
        // A task on the runtime, as `#[pinion::main]` runs a node's `main` (see
        // `pinion::runtime::Main`).
        "role" => {
            let rest = args[1..].to_vec();
            runtime.block_on(async move { tokio::spawn(async move { run_role(&rest).await }).await? })
        }
        other => anyhow::bail!("unknown benchmark {other:?}; try `all`, `discovery`, `pubsub`, `latency`, `throughput`, `codec`, `startup`, `launch`, `footprint`, `stall` or `foxglove`"),
    }
}

/// Takes `--via ipc|tcp`, `--subs N`, `--threads 1|2`, `--pong-apart`, `--repeat N`,
/// `--gap-ms MS` and `--only pinion|bare` out of `args`: which rows run, on how many
/// threads, where the pong sides run, how many times, how sparse the latency traffic is,
/// and whether one system runs alone.
fn selection(args: &mut Vec<String>) -> anyhow::Result<pubsub::Selection> {
    let mut selection = pubsub::Selection::default();
    if let Some(at) = args.iter().position(|a| a == "--pong-apart") {
        args.remove(at);
        selection.pong_apart = true;
    }
    let mut take = |flag: &str| -> anyhow::Result<Option<String>> {
        let Some(at) = args.iter().position(|a| a == flag) else {
            return Ok(None);
        };
        if at + 1 >= args.len() {
            anyhow::bail!("{flag} needs a value");
        }
        let value = args.remove(at + 1);
        args.remove(at);
        Ok(Some(value))
    };
    if let Some(via) = take("--via")? {
        selection.transports = match via.as_str() {
            "ipc" => vec!["ipc"],
            "tcp" => vec!["tcp"],
            other => anyhow::bail!("--via {other}: expected ipc or tcp"),
        };
    }
    if let Some(subs) = take("--subs")? {
        let n: usize = subs
            .parse()
            .map_err(|e| anyhow::anyhow!("--subs {subs}: {e}"))?;
        anyhow::ensure!(n > 0, "--subs 0: at least one subscriber");
        selection.subscribers = vec![n];
    }
    if let Some(threads) = take("--threads")? {
        selection.one_thread = match threads.as_str() {
            "1" => true,
            "2" => false,
            other => anyhow::bail!("--threads {other}: expected 1 or 2"),
        };
    }
    if let Some(repeat) = take("--repeat")? {
        let n: usize = repeat
            .parse()
            .map_err(|e| anyhow::anyhow!("--repeat {repeat}: {e}"))?;
        anyhow::ensure!(n > 0, "--repeat 0: at least one run");
        selection.repeat = n;
    }
    if let Some(gap) = take("--gap-ms")? {
        let ms: u64 = gap
            .parse()
            .map_err(|e| anyhow::anyhow!("--gap-ms {gap}: {e}"))?;
        anyhow::ensure!(
            ms > 0,
            "--gap-ms 0: leave the flag out for back-to-back round trips"
        );
        selection.gap = Some(std::time::Duration::from_millis(ms));
    }
    if let Some(only) = take("--only")? {
        selection.only = Some(match only.as_str() {
            "pinion" => pubsub::System::Pinion,
            "bare" => pubsub::System::Bare,
            other => anyhow::bail!("--only {other}: expected pinion or bare"),
        });
    }
    Ok(selection)
}

/// Runs the role named by `args[0]` in this process (`pinion-bench role ...`).
async fn run_role(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("pong") => crate::pingpong::pong().await,
        Some("source") => crate::peers::source(&args[1..]).await,
        Some("sink") => crate::peers::sink(&args[1..]).await,
        Some("bare-pong") => match (args.get(1), args.get(2)) {
            (Some(ping), Some(bind)) => crate::pingpong::bare_pong(ping, bind).await,
            _ => anyhow::bail!("bare-pong needs PING_ENDPOINT BIND"),
        },
        Some("ring") => crate::ring::node(&args[1..]).await,
        _ => match crate::shm::role(args).await {
            Some(done) => done,
            None => crate::stall::role(args).await,
        },
    }
}
