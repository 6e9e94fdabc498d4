//! Pub/sub latency and throughput, Pinion beside the bare `zeromq` crate.
//!
//! Latency: a ping node publishes a message of SIZE bytes, a pong node republishes what
//! it receives, and the ping node times the round trip. The bare baseline does the same
//! with two PUB/SUB pairs and the payload as one frame. Throughput: one publisher sends
//! COUNT messages as fast as it can to 1 or 4 subscribers; measured is what arrives per
//! second, what is lost, and the process's CPU time per message delivered (steadier
//! than the rate on a shared machine). Pinion's publisher and subscribers are reliable
//! there (they wait for room instead of dropping), as the bare PUB queues everything.
//! Both sides run in this process on the same runtime, and the two systems alternate in
//! blocks so that the machine's noise falls on both.

use crate::baseline::{BarePub, BareSub};
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

/// The message sizes measured.
pub const SIZES: [usize; 5] = [64, 1 << 10, 64 << 10, 1 << 20, 4 << 20];

/// Alternating blocks per figure.
const BLOCKS: usize = 8;

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

/// Alternating rounds of the throughput figure; the best of each system's rates is
/// compared, and the median of the rounds' own ratios is noted. A round takes 40 to
/// 150 ms, so that one pause of a shared machine spoils a round, not the figure: with
/// two rounds, runs of the same build differed by 0.3 at 1 MiB.
fn throughput_rounds(size: usize) -> usize {
    if size <= 65536 {
        10
    } else {
        8
    }
}

fn throughput_count(size: usize) -> usize {
    match size {
        s if s <= 1024 => 50_000,
        s if s <= 65536 => 5_000,
        s if s <= 1 << 20 => 300,
        _ => 80,
    }
}

/// One row of results.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub transport: &'static str,
    pub size: usize,
    pub pinion: f64,
    pub bare: f64,
    pub unit: &'static str,
    pub note: String,
}

impl Row {
    /// Pinion's figure over the baseline's; none if either system did not run.
    pub fn ratio(&self) -> Option<f64> {
        (self.pinion > 0.0 && self.bare > 0.0).then(|| self.pinion / self.bare)
    }
}

/// Which figures a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figures {
    /// Latency and throughput.
    Both,
    /// Throughput only (quicker when working on the send or receive path).
    Throughput,
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
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            transports: vec!["ipc", "tcp"],
            subscribers: vec![1, 4],
            only: None,
            one_thread: false,
            pong_apart: false,
        }
    }
}

/// Runs the benchmarks; the rows of the table.
pub async fn run(
    sizes: &[usize],
    figures: Figures,
    selection: &Selection,
) -> anyhow::Result<Vec<Row>> {
    let endpoint = crate::util::serve_master("tcp://127.0.0.1:0").await?;
    let dir = std::env::temp_dir().join(format!("pinion-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for &transport in &selection.transports {
        for &size in sizes {
            eprintln!("pubsub: {transport} {size} B");
            if figures == Figures::Both {
                rows.extend(if selection.pong_apart {
                    crate::pingpong::latency(&endpoint, &dir, transport, size, selection.one_thread)
                        .await?
                } else {
                    latency(&endpoint, &dir, transport, size).await?
                });
            }
            for &subscribers in &selection.subscribers {
                let place = Place {
                    master: &endpoint,
                    dir: &dir,
                    transport,
                };
                rows.push(throughput(place, size, subscribers, selection.only).await?);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
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

    let rows = alternate(&mut pinion, &mut bare, transport, size, "").await;
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
        Ok(Self {
            ping: node
                .advertise_with::<Payload>("lat/ping", reliable())
                .await?,
            pongs: node.subscribe::<Payload>("lat/pong").await?,
            blob: Payload {
                data: vec![7; size].into(),
            },
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

/// Makes `count` round trips, keeping their times in `times` unless warming up.
async fn time_block(
    pinger: &mut impl Pinger,
    count: usize,
    mut times: Option<&mut Vec<Duration>>,
) -> anyhow::Result<()> {
    for _ in 0..count {
        let start = Instant::now();
        pinger.round_trip().await?;
        if let Some(times) = times.as_mut() {
            times.push(start.elapsed());
        }
    }
    Ok(())
}

/// Times the round trips of both systems in alternating blocks, after a warm-up block of
/// each; the p50 and p99 rows, their figure names ending in `suffix`.
pub(crate) async fn alternate(
    pinion: &mut impl Pinger,
    bare: &mut impl Pinger,
    transport: &'static str,
    size: usize,
    suffix: &str,
) -> anyhow::Result<Vec<Row>> {
    let n = round_trips(size);
    let (mut p, mut b) = (Vec::new(), Vec::new());
    for block in 0..BLOCKS + 1 {
        let warm_up = block == 0;
        time_block(pinion, n / BLOCKS, (!warm_up).then_some(&mut p)).await?;
        time_block(bare, n / BLOCKS, (!warm_up).then_some(&mut b)).await?;
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (p50, b50) = (median(&mut p), median(&mut b));
    let (p99, b99) = (percentile(&p, 0.99), percentile(&b, 0.99));
    let row = |what: &str, pinion: Duration, bare: Duration| Row {
        what: format!("{what}{suffix}"),
        transport,
        size,
        pinion: us(pinion),
        bare: us(bare),
        unit: "µs",
        note: format!("{} round trips each", p.len()),
    };
    Ok(vec![
        row("latency p50", p50, b50),
        row("latency p99", p99, b99),
    ])
}

/// A subscriber handshake, bounded: a benchmark that waits for ever measures nothing.
async fn handshake(
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

/// Where a figure runs: the master, the directory for ipc sockets, the transport.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    master: &'a str,
    dir: &'a std::path::Path,
    transport: &'static str,
}

async fn throughput(
    place: Place<'_>,
    size: usize,
    subscribers: usize,
    only: Option<System>,
) -> anyhow::Result<Row> {
    let Place {
        master,
        dir,
        transport,
    } = place;
    let count = throughput_count(size);
    let (ha, hb) = hosts(transport);
    let topic = format!("thr/s{size}n{subscribers}");
    let pub_node = Node::init(node_options(master, "thr_pub", ha)).await?;
    // Reliable on both sides: the bare PUB queues a whole burst, so compare with a
    // publisher that waits for room rather than one that drops past its window.
    let publisher = pub_node
        .advertise_with::<Payload>(
            &topic,
            AdvertiseOptions::reliable().max_block(Duration::from_secs(5)),
        )
        .await?;
    let mut sub_nodes = Vec::new();
    let mut subs = Vec::new();
    for i in 0..subscribers {
        let node = Node::init(node_options(master, &format!("thr_sub{i}"), hb)).await?;
        subs.push(
            node.subscribe_with::<Payload>(&topic, SubscribeOptions::queue(1000).reliable())
                .await?,
        );
        sub_nodes.push(node);
    }
    handshake(publisher.wait_for_subscribers(subscribers)).await?;

    let (mut bare_pub, ep) = BarePub::bind(&bare_endpoint(dir, transport, "thr")).await?;
    let mut bare_subs = Vec::new();
    for _ in 0..subscribers {
        bare_subs.push(BareSub::connect(&ep, "t").await?);
    }
    // Until every bare subscriber gets one (no handshake).
    let probe = vec![Bytes::from_static(b"t"), Bytes::from_static(b"probe")];
    for s in &mut bare_subs {
        for _ in 0..10_000 {
            bare_pub.send(probe.clone()).await?;
            if tokio::time::timeout(Duration::from_millis(2), s.recv())
                .await
                .is_ok()
            {
                break;
            }
        }
    }
    for s in &mut bare_subs {
        while tokio::time::timeout(Duration::from_millis(20), s.recv())
            .await
            .is_ok()
        {}
    }

    let blob = Payload {
        data: vec![7; size].into(),
    };
    let payload = Bytes::from(vec![7u8; size]);
    let (mut p_rate, mut b_rate) = (Vec::new(), Vec::new());
    let (mut p_lost, mut b_lost) = (0usize, 0usize);
    let (mut p_cpu, mut b_cpu) = (Vec::new(), Vec::new());
    let (mut p_allocs, mut b_allocs) = (Vec::new(), Vec::new());
    let rounds = throughput_rounds(size);
    let run_pinion = only != Some(System::Bare);
    let run_bare = only != Some(System::Pinion);
    for round in 0..rounds * 2 {
        let pinion_turn = round % 2 == 0;
        if (pinion_turn && !run_pinion) || (!pinion_turn && !run_bare) {
            continue;
        }
        if pinion_turn {
            let counters = subs.drain(..).map(|s| count_arrivals(s, count)).collect();
            let cpu = cpu_seconds();
            let allocs = crate::allocations::count();
            let start = Instant::now();
            for _ in 0..count {
                publisher.publish(&blob).await?;
            }
            let (got, end) = gather(counters, &mut subs).await;
            p_cpu.push((cpu_seconds() - cpu) / got.max(1) as f64);
            p_allocs.push((crate::allocations::count() - allocs) as f64 / got.max(1) as f64);
            p_rate.push(got as f64 / (end - start).as_secs_f64() / subscribers as f64);
            p_lost += count * subscribers - got;
        } else {
            let counters = bare_subs
                .drain(..)
                .map(|s| count_arrivals(s, count))
                .collect();
            let cpu = cpu_seconds();
            let allocs = crate::allocations::count();
            let start = Instant::now();
            for _ in 0..count {
                bare_pub
                    .send(vec![Bytes::from_static(b"t"), payload.clone()])
                    .await?;
            }
            let (got, end) = gather(counters, &mut bare_subs).await;
            b_cpu.push((cpu_seconds() - cpu) / got.max(1) as f64);
            b_allocs.push((crate::allocations::count() - allocs) as f64 / got.max(1) as f64);
            b_rate.push(got as f64 / (end - start).as_secs_f64() / subscribers as f64);
            b_lost += count * subscribers - got;
        }
    }
    pub_node.close().await;
    for n in sub_nodes {
        n.close().await;
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let mut round_ratios: Vec<f64> = p_rate.iter().zip(&b_rate).map(|(p, b)| p / b).collect();
    round_ratios.sort_by(f64::total_cmp);
    let median_ratio = round_ratios
        .get(round_ratios.len() / 2)
        .map_or("-".to_owned(), |x| format!("{x:.2}"));
    // The least of a figure's rounds, scaled; "-" for a system that did not run.
    let least = |v: &[f64], scale: f64, decimals: usize| {
        v.iter()
            .copied()
            .reduce(f64::min)
            .map_or("-".to_owned(), |x| format!("{:.*}", decimals, x * scale))
    };
    // What each system was sent (a system that did not run lost nothing).
    let total = (rounds * count * subscribers).max(1);
    Ok(Row {
        what: format!("throughput, {subscribers} sub"),
        transport,
        size,
        pinion: best(&p_rate),
        bare: best(&b_rate),
        unit: "msg/s",
        note: format!(
            "median of the rounds' ratios {median_ratio}; lost pinion {:.1}% bare {:.1}%; per delivery: cpu pinion {} µs bare {} µs, allocations pinion {} bare {}",
            100.0 * p_lost as f64 / total as f64,
            100.0 * b_lost as f64 / total as f64,
            least(&p_cpu, 1e6, 2),
            least(&b_cpu, 1e6, 2),
            least(&p_allocs, 1.0, 1),
            least(&b_allocs, 1.0, 1),
        ),
    })
}

/// A receiver whose arrivals the throughput figure counts.
trait Arrivals: Send + 'static {
    /// Waits for the next message; false if there is none (closed or failed).
    fn arrive(&mut self) -> impl std::future::Future<Output = bool> + Send;
}

impl Arrivals for Subscriber<Payload> {
    async fn arrive(&mut self) -> bool {
        self.recv().await.is_some()
    }
}

impl Arrivals for BareSub {
    async fn arrive(&mut self) -> bool {
        self.recv().await.is_ok()
    }
}

/// Counts up to `count` arrivals, until half a second passes without one; hands back the
/// count, the time of the last arrival and the receiver.
fn count_arrivals<S: Arrivals>(
    mut s: S,
    count: usize,
) -> tokio::task::JoinHandle<(usize, Instant, S)> {
    tokio::spawn(async move {
        let mut got = 0;
        let mut last = Instant::now();
        while got < count {
            match tokio::time::timeout(Duration::from_millis(500), s.arrive()).await {
                Ok(true) => {
                    got += 1;
                    last = Instant::now();
                }
                _ => break,
            }
        }
        (got, last, s)
    })
}

/// Waits for the counting tasks; the messages received in all and when the last arrived.
async fn gather<S>(
    tasks: Vec<tokio::task::JoinHandle<(usize, Instant, S)>>,
    back: &mut Vec<S>,
) -> (usize, Instant) {
    let mut got = 0;
    let mut end: Option<Instant> = None;
    for t in tasks {
        if let Ok((n, last, s)) = t.await {
            got += n;
            end = Some(end.map_or(last, |e| e.max(last)));
            back.push(s);
        }
    }
    (got, end.unwrap_or_else(Instant::now))
}

/// Prints the rows as a table, then one JSON line.
#[allow(clippy::print_stdout)]
pub fn print(rows: &[Row]) {
    println!(
        "{:<20} {:<4} {:>8} {:>14} {:>14} {:>7}  note",
        "figure", "via", "size", "pinion", "bare zeromq", "ratio"
    );
    for r in rows {
        println!(
            "{:<20} {:<4} {:>8} {:>10.1} {:<3} {:>10.1} {:<3} {:>7}  {}",
            r.what,
            r.transport,
            human(r.size),
            r.pinion,
            r.unit,
            r.bare,
            r.unit,
            r.ratio().map_or("-".to_owned(), |x| format!("{x:.2}")),
            r.note
        );
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"figure\":\"{}\",\"transport\":\"{}\",\"size\":{},\"pinion\":{:.3},\"bare\":{:.3},\"unit\":\"{}\",\"ratio\":{}}}",
                r.what,
                r.transport,
                r.size,
                r.pinion,
                r.bare,
                r.unit,
                r.ratio().map_or("null".to_owned(), |x| format!("{x:.3}"))
            )
        })
        .collect();
    println!("{{\"bench\":\"pubsub\",\"rows\":[{}]}}", json.join(","));
}

fn human(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// CPU time (user and system) this process has used, in seconds.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| seconds(u.user_time()) + seconds(u.system_time()))
        .unwrap_or(0.0)
}
