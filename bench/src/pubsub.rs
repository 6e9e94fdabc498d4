//! Pub/sub latency and throughput, Pinion beside the bare `zeromq` crate: the run of
//! every row (`run`), and the latency figure.
//!
//! Latency: a ping node publishes a message of SIZE bytes, a pong node republishes what
//! it receives, and the ping node times the round trip. The bare baseline does the same
//! with two PUB/SUB pairs and the payload as one frame. Here both sides run in this
//! process on the same runtime; `pingpong.rs` puts the pong sides in processes of their
//! own. The two systems alternate in blocks so that the machine's noise falls on both.
//! Throughput is in `throughput.rs`; rows and their repetitions in `rows.rs`.

use crate::baseline::{BarePub, BareSub};
use crate::rows::Row;
use crate::throughput::{throughput, Setting};
use crate::util::median;
use bytes::Bytes;
use pinion::prelude::*;
use std::time::{Duration, Instant};

/// A payload of some size, sent as one byte string.
#[derive(Message, Serialize, Deserialize, Clone)]
#[message(name = "bench/Payload")]
pub struct Payload {
    data: pinion::Blob,
}

impl Payload {
    /// `size` bytes of payload.
    pub fn of_size(size: usize) -> Self {
        Self {
            data: vec![7; size].into(),
        }
    }
}

/// The message sizes measured.
pub const SIZES: [usize; 5] = [64, 1 << 10, 64 << 10, 1 << 20, 4 << 20];

/// Alternating blocks per figure.
const BLOCKS: usize = 8;

/// Round trips of each system in sparse traffic (`--gap-ms`): each is preceded by a
/// pause, so this many take a few seconds per figure.
const SPARSE_ROUND_TRIPS: usize = 1000;

/// Round trips per system. Small sizes take many: at 50 µs a round trip, the median of
/// a few hundred moves by a third from run to run on a shared machine. Large sizes take
/// at least 200, so that the p99 is not simply the slowest round trip (with 40 at
/// 4 MiB, it was).
fn round_trips(size: usize) -> usize {
    match size {
        s if s <= 1024 => 2000,
        s if s <= 65536 => 400,
        s if s <= 1 << 20 => 320,
        _ => 200,
    }
}

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

/// One of the two systems a figure compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Pinion,
    Bare,
}

/// Which rows a run measures: by default every transport, both subscriber counts and
/// both systems. Running one system alone lets `perf` see one side at a time; its rows
/// then have no ratio.
#[derive(Debug, Clone)]
pub struct Selection {
    pub transports: Vec<&'static str>,
    pub subscribers: Vec<usize>,
    /// Only this system's throughput rounds run.
    pub only: Option<System>,
    /// A runtime of one thread instead of two workers.
    pub one_thread: bool,
    /// The latency figures' pong sides in processes of their own.
    pub pong_apart: bool,
    /// How many times every row is measured; each row shows its median repetition.
    pub repeat: usize,
    /// Sparse traffic in the latency figures: a pause before each round trip.
    pub gap: Option<Duration>,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            transports: vec!["ipc", "tcp"],
            subscribers: vec![1, 4],
            only: None,
            one_thread: false,
            pong_apart: false,
            repeat: 1,
            gap: None,
        }
    }
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

pub(crate) fn node_options(master: &str, name: &str, host: &str) -> pinion::NodeOptions {
    let mut o = pinion::NodeOptions::from_env(name)
        .master(master.to_owned())
        .host(host);
    o.name = name.to_owned();
    o
}

/// The host ids of two nodes: equal means ipc, different means tcp.
pub(crate) fn hosts(transport: &str) -> (&'static str, &'static str) {
    if transport == "ipc" {
        ("bench", "bench")
    } else {
        ("bench-a", "bench-b")
    }
}

/// A fresh endpoint for a bare socket. ipc paths are never reused: the engine deletes a
/// socket's file when the socket is dropped, which may happen after the next phase bound
/// the same path.
pub(crate) fn bare_endpoint(dir: &std::path::Path, transport: &str, name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if transport == "ipc" {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("ipc://{}/{name}-{n}.sock", dir.display())
    } else {
        "tcp://127.0.0.1:0".to_owned()
    }
}

async fn latency(
    master: &str,
    dir: &std::path::Path,
    transport: &'static str,
    size: usize,
    gap: Option<Duration>,
) -> anyhow::Result<Vec<Row>> {
    let (ha, hb) = hosts(transport);
    let ping_node = Node::init(node_options(master, "lat_ping", ha)).await?;
    let pong_node = Node::init(node_options(master, "lat_pong", hb)).await?;
    let mut pings = pong_node.subscribe::<Payload>("lat/ping").await?;
    let pong = pong_node
        .advertise_with::<Payload>("lat/pong", reliable())
        .await?;
    let mut pinion = PinionPinger::new(&ping_node, size).await?;
    pinion.connected().await?;
    handshake(pong.wait_for_subscribers(1)).await?;
    let echo = tokio::spawn(async move {
        while let Some(m) = pings.recv().await {
            if pong.publish(&m).await.is_err() {
                break;
            }
        }
    });

    let (bare_ping, ping_ep) = BarePub::bind(&bare_endpoint(dir, transport, "ping")).await?;
    let (mut bare_pong, pong_ep) = BarePub::bind(&bare_endpoint(dir, transport, "pong")).await?;
    let mut bare_pings = BareSub::connect(&ping_ep, "p").await?;
    let bare_pongs = BareSub::connect(&pong_ep, "p").await?;
    let bare_echo = tokio::spawn(async move {
        while let Ok(frames) = bare_pings.recv().await {
            if bare_pong.send(frames).await.is_err() {
                break;
            }
        }
    });
    let mut bare = BarePinger::new(bare_ping, bare_pongs, size).await?;

    let rows = alternate(&mut pinion, &mut bare, transport, size, gap, "").await;
    echo.abort();
    bare_echo.abort();
    ping_node.close().await;
    pong_node.close().await;
    rows
}

/// Publisher options of the latency figures. Reliable, as the bare PUB never drops a
/// message it has room for: with a window of two 4 MiB messages, a best-effort publisher
/// drops a ping whenever the credit for earlier ones is late, and a round trip is lost.
pub(crate) fn reliable() -> AdvertiseOptions {
    AdvertiseOptions::reliable().max_block(Duration::from_secs(5))
}

/// The time allowed for one round trip before the figure fails.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(5);

/// The ping side of a latency figure: sends a ping and waits for its echo.
pub(crate) trait Pinger {
    fn round_trip(&mut self) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// Pinion's ping side: publishes on `lat/ping`, receives on `lat/pong`.
pub(crate) struct PinionPinger {
    ping: Publisher<Payload>,
    pongs: Subscriber<Payload>,
    blob: Payload,
}

impl PinionPinger {
    /// Advertises and subscribes on `node`; connected once the pong side's publisher and
    /// subscriber are (see [`PinionPinger::connected`]).
    pub(crate) async fn new(node: &Node, size: usize) -> anyhow::Result<Self> {
        Self::on(node, "lat/ping", "lat/pong", size).await
    }

    /// The same on other topics.
    pub(crate) async fn on(
        node: &Node,
        ping: &str,
        pong: &str,
        size: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            ping: node.advertise_with::<Payload>(ping, reliable()).await?,
            pongs: node.subscribe::<Payload>(pong).await?,
            blob: Payload::of_size(size),
        })
    }

    /// Waits until the pong side is subscribed to the pings and its pongs arrive here.
    pub(crate) async fn connected(&self) -> anyhow::Result<()> {
        handshake(self.ping.wait_for_subscribers(1)).await?;
        handshake(self.pongs.wait_for_publishers(1)).await
    }
}

impl Pinger for PinionPinger {
    async fn round_trip(&mut self) -> anyhow::Result<()> {
        self.ping.publish(&self.blob).await?;
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, self.pongs.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("pong node gone"))?;
        Ok(())
    }
}

/// The bare pair's ping side: the payload as one frame after a one-byte topic.
pub(crate) struct BarePinger {
    ping: BarePub,
    pongs: BareSub,
    payload: Bytes,
}

impl BarePinger {
    /// Ready once the first echo came back: the bare pair has no handshake, so it sends
    /// until one does, then drains the echoes of the extra pings.
    pub(crate) async fn new(
        mut ping: BarePub,
        mut pongs: BareSub,
        size: usize,
    ) -> anyhow::Result<Self> {
        let payload = Bytes::from(vec![7u8; size]);
        let mut echoed = false;
        for _ in 0..10_000 {
            ping.send(vec![Bytes::from_static(b"p"), payload.clone()])
                .await?;
            if tokio::time::timeout(Duration::from_millis(2), pongs.recv())
                .await
                .is_ok()
            {
                echoed = true;
                break;
            }
        }
        anyhow::ensure!(echoed, "the bare pong side never echoed");
        while tokio::time::timeout(Duration::from_millis(20), pongs.recv())
            .await
            .is_ok()
        {}
        Ok(Self {
            ping,
            pongs,
            payload,
        })
    }
}

impl Pinger for BarePinger {
    async fn round_trip(&mut self) -> anyhow::Result<()> {
        self.ping
            .send(vec![Bytes::from_static(b"p"), self.payload.clone()])
            .await?;
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, self.pongs.recv()).await??;
        Ok(())
    }
}

/// Makes `count` round trips, each after a pause of `gap` if given, keeping their times in `times` unless warming up.
async fn time_block(
    pinger: &mut impl Pinger,
    count: usize,
    gap: Option<Duration>,
    mut times: Option<&mut Vec<Duration>>,
) -> anyhow::Result<()> {
    for _ in 0..count {
        if let Some(gap) = gap {
            tokio::time::sleep(gap).await;
        }
        let start = Instant::now();
        pinger.round_trip().await?;
        if let Some(times) = times.as_mut() {
            times.push(start.elapsed());
        }
    }
    Ok(())
}

/// Times the round trips of both systems in alternating blocks, after a warm-up block of
/// each; the p50 and p99 rows, their figure names ending in `suffix` (and ", sparse"
/// with a `gap`). With a `gap`, the traffic is sparse (a sensor at a few hundred Hz):
/// every thread of both sides has gone idle before each message. Blocks, not turns of one round trip: in one process, what
/// one system does after its round trip (a timer, a thread still spinning) changes how
/// warm the runtime is for the other's next one; taking turns one round trip at a time
/// gave the bare pair 95 µs and Pinion 177 µs at ipc 64 B, each 156-166 µs alone.
pub(crate) async fn alternate(
    pinion: &mut impl Pinger,
    bare: &mut impl Pinger,
    transport: &'static str,
    size: usize,
    gap: Option<Duration>,
    suffix: &str,
) -> anyhow::Result<Vec<Row>> {
    let len = match gap {
        Some(_) => SPARSE_ROUND_TRIPS / BLOCKS,
        None => round_trips(size) / BLOCKS,
    };
    let (mut p, mut b) = (Vec::new(), Vec::new());
    for block in 0..BLOCKS + 1 {
        let warm_up = block == 0;
        time_block(pinion, len, gap, (!warm_up).then_some(&mut p)).await?;
        time_block(bare, len, gap, (!warm_up).then_some(&mut b)).await?;
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (p50, b50) = (median(&mut p), median(&mut b));
    let (p99, b99) = (percentile(&p, 0.99), percentile(&b, 0.99));
    let sparse = if gap.is_some() { ", sparse" } else { "" };
    let row = |what: &str, pinion: Duration, bare: Duration| Row {
        what: format!("{what}{suffix}{sparse}"),
        transport,
        size,
        pinion: us(pinion),
        bare: us(bare),
        unit: "µs",
        note: format!("{} round trips each", p.len()),
        runs: Vec::new(),
    };
    Ok(vec![
        row("latency p50", p50, b50),
        row("latency p99", p99, b99),
    ])
}

/// A subscriber handshake, bounded: a benchmark that waits for ever measures nothing.
pub(crate) async fn handshake(
    wait: impl std::future::Future<Output = pinion::Result<()>>,
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .map_err(|_| anyhow::anyhow!("subscribers not connected within 10 s"))??;
    Ok(())
}

/// The `q` quantile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
