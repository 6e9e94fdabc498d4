//! Pub/sub latency and throughput, Pinion beside the bare `zeromq` crate: the run of
//! every row (`run`).
//!
//! Latency: a ping node publishes a message of SIZE bytes, a pong node republishes what
//! it receives, and the ping node times the round trip. The bare baseline does the same
//! with two PUB/SUB pairs and the payload as one frame. Here both sides run in this
//! process on the same runtime; `pingpong.rs` puts the pong sides in processes of their
//! own. The two systems alternate in blocks so that the machine's noise falls on both.
//! The latency figure is in `latency.rs`, throughput in `throughput.rs`, what they
//! share in `setup.rs`; rows and their repetitions in `rows.rs`.

use crate::latency::latency;
use crate::rows::Row;
pub use crate::setup::{Selection, System};
use crate::throughput::{throughput, Setting};

/// The message sizes measured.
pub const SIZES: [usize; 5] = [64, 1 << 10, 64 << 10, 1 << 20, 4 << 20];

/// Which figures a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figures {
    /// Latency and throughput.
    Both,
    /// Throughput only (quicker when working on the send or receive path).
    Throughput,
    /// Latency only.
    Latency,
}

/// Runs the benchmarks `selection.repeat` times, each time every row anew, and keeps of
/// each row its median repetition (see [`crate::rows::median_of_runs`]); the rows of the
/// table. Repetitions are the outer loop, so a noisy spell of the machine falls on one
/// repetition of many rows rather than on every repetition of one.
pub async fn run(
    sizes: &[usize],
    figures: Figures,
    selection: &Selection,
) -> anyhow::Result<Vec<Row>> {
    let endpoint = crate::util::serve_master("tcp://127.0.0.1:0").await?;
    let dir = std::env::temp_dir().join(format!("pinion-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let repeat = selection.repeat.max(1);
    let mut runs = Vec::new();
    for repetition in 1..=repeat {
        eprintln!("pubsub: run {repetition} of {repeat}");
        runs.push(run_once(sizes, figures, selection, &endpoint, &dir).await?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    crate::rows::median_of_runs(runs)
}

/// Every row once.
async fn run_once(
    sizes: &[usize],
    figures: Figures,
    selection: &Selection,
    master: &str,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &transport in &selection.transports {
        let place = Setting {
            master,
            dir,
            transport,
        };
        for &size in sizes {
            eprintln!("pubsub: {transport} {size} B");
            if figures != Figures::Throughput {
                rows.extend(if selection.pong_apart {
                    crate::pingpong::latency(master, dir, transport, size, selection).await?
                } else {
                    latency(master, dir, transport, size, selection.gap).await?
                });
            }
            let subscribers = match figures {
                Figures::Latency => &[][..],
                _ => &selection.subscribers,
            };
            for &subscribers in subscribers {
                rows.push(throughput(place, size, subscribers, selection.only).await?);
            }
        }
    }
    Ok(rows)
}
