//! `cargo run --release -p pinion-bench -- BENCHMARK [ARGS]`
//!
//! - `discovery [ROUNDS]`: new publisher to first message, beside a bare PUB/SUB pair.
//! - `pubsub [SIZE...]`: round-trip latency (p50, p99) and throughput with 1 and 4
//!   subscribers, over ipc and tcp, beside the bare `zeromq` crate.
//! - `startup [N] [ROUNDS]`: N node processes until all are registered and connected,
//!   beside spawning N processes of the same binaries.
//! - `codec`: postcard encode + decode of an IMU reading, a 1 MiB image and a 4 MiB
//!   point cloud, beside two plain copies of the same bytes.
//! - `footprint`: stripped binary sizes; idle RSS and threads of a pub+sub node.
//! - `stall [SECONDS] [MB_PER_S] [SIZE]`: a publisher's memory while one of its two
//!   subscribers is stopped (SIGSTOP, over ipc and over tcp) or cut off (its network
//!   namespace's link taken down; needs root). With `--check`, exits 1 unless every
//!   stalled run grew the publisher by less than 64 MB, the healthy subscriber lost
//!   nothing, and the stalled one received again once back (what CI runs).
//!
//! Each figure is measured beside a baseline in the same run where one fits; the
//! machine is shared and noisy, so compare ratios, not times.

#![allow(clippy::print_stdout)]

mod baseline;
mod codec;
mod discovery;
mod graph;
mod netns;
mod pubsub;
mod stall;
mod util;

fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let check = all.iter().any(|a| a == "--check");
    let args: Vec<String> = all.into_iter().filter(|a| a != "--check").collect();
    let what = args.first().map(String::as_str).unwrap_or("discovery");
    let number = |i: usize, default: f64| -> anyhow::Result<f64> {
        Ok(args
            .get(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match what {
        "discovery" => runtime.block_on(discovery::discovery(number(1, 30.0)? as usize)),
        "stall" => stall::run(
            number(1, 30.0)?,
            number(2, 10.0)?,
            number(3, 65536.0)? as usize,
            check,
        ),
        "pubsub" => {
            let sizes: Vec<usize> = if args.len() > 1 {
                args[1..]
                    .iter()
                    .map(|a| a.parse())
                    .collect::<Result<_, _>>()?
            } else {
                pubsub::SIZES.to_vec()
            };
            let rows = runtime.block_on(pubsub::run(&sizes))?;
            pubsub::print(&rows);
            Ok(())
        }
        "startup" => graph::startup(number(1, 100.0)? as usize, number(2, 5.0)? as usize),
        "footprint" => graph::footprint(),
        "codec" => codec::run(),
        "role" => runtime.block_on(stall::role(&args[1..])),
        other => anyhow::bail!("unknown benchmark {other:?}; try `discovery` or `stall`"),
    }
}
