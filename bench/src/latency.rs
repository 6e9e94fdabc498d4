//! The latency figures: round trips of Pinion and of the bare pair, timed in
//! alternating blocks; here with both sides in this process (`pingpong.rs` puts the
//! pong sides in processes of their own).

use crate::baseline::{BarePub, BareSub};
use crate::rows::Row;
use crate::setup::{bare_endpoint, handshake, hosts, node_options, reliable, Payload};
use crate::util::median;
use bytes::Bytes;
use pinion::prelude::*;
use std::time::{Duration, Instant};

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

/// The latency rows of one transport and size, both sides in this process.
pub(crate) async fn latency(
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

/// The `q` quantile of sorted samples.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
