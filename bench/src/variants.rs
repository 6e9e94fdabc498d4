//! Pinion beside Pinion: the tcp latency and throughput figures of `pubsub`, with two
//! configurations of the runtime taking turns in one run.
//!
//! - `guard`: tcp through the transport guard (as every node runs) beside the engine
//!   bound directly, the path before the guard existed
//!   (`pinion::transport::guard::bypass_for_benchmarks`).
//! - `keyed`: nodes holding a robot key (every connection proves it) beside nodes
//!   without one.
//!
//! Both sides are Pinion nodes in this process, over tcp (different host ids), each
//! configuration with a master of its own (a keyed robot's master has the key too: it
//! signs nothing to nodes, but its notices reach their control sockets only with a
//! connection token); the ratio is the first configuration over the second.

use crate::latency::{alternate, PinionPinger};
use crate::rows::Row;
use crate::setup::{handshake, node_options, reliable, Payload};
use crate::throughput::{count_arrivals, gather, throughput_count, throughput_rounds};
use pinion::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which pair of configurations to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Guarded tcp beside the direct engine binding.
    Guard,
    /// A robot key beside none.
    Keyed,
}

impl Variant {
    /// The names of its two sides, as the table heads them.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Variant::Guard => ("guarded", "direct"),
            Variant::Keyed => ("keyed", "unkeyed"),
        }
    }
}

/// How one side's nodes are made.
#[derive(Debug, Clone)]
struct Config {
    bypass: bool,
    key_file: Option<PathBuf>,
    master: String,
}

impl Config {
    async fn node(&self, name: &str, host: &str) -> anyhow::Result<Node> {
        let mut options = node_options(&self.master, name, host);
        options.key_file = self.key_file.clone();
        pinion::transport::guard::bypass_for_benchmarks(self.bypass);
        let node = Node::init(options).await;
        pinion::transport::guard::bypass_for_benchmarks(false);
        Ok(node?)
    }
}

async fn configs(variant: Variant, dir: &std::path::Path) -> anyhow::Result<(Config, Config)> {
    let plain = crate::util::serve_master("tcp://127.0.0.1:0").await?;
    Ok(match variant {
        Variant::Guard => (
            Config {
                bypass: false,
                key_file: None,
                master: plain.clone(),
            },
            Config {
                bypass: true,
                key_file: None,
                master: plain,
            },
        ),
        Variant::Keyed => {
            let key = dir.join("bench.key");
            std::fs::write(&key, "pinion-bench-robot-key-0123456789")?;
            let config = pinion_master::server::MasterConfig {
                key: Some(pinion::auth::Key::load(&key)?),
                ..Default::default()
            };
            let keyed = crate::util::serve_master_with("tcp://127.0.0.1:0", config).await?;
            (
                Config {
                    bypass: false,
                    key_file: Some(key),
                    master: keyed,
                },
                Config {
                    bypass: false,
                    key_file: None,
                    master: plain,
                },
            )
        }
    })
}

/// Every row `repeat` times; each row's median repetition.
pub async fn run(variant: Variant, sizes: &[usize], repeat: usize) -> anyhow::Result<Vec<Row>> {
    let dir = std::env::temp_dir().join(format!("pinion-bench-v-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (a, b) = configs(variant, &dir).await?;
    let mut runs = Vec::new();
    for repetition in 1..=repeat.max(1) {
        eprintln!("variants: run {repetition} of {repeat}");
        let mut rows = Vec::new();
        for &size in sizes {
            eprintln!("variants: tcp {size} B");
            rows.extend(latency(&a, &b, size).await?);
            for subscribers in [1, 4] {
                rows.push(throughput(&a, &b, size, subscribers).await?);
            }
        }
        runs.push(rows);
    }
    let _ = std::fs::remove_dir_all(&dir);
    crate::rows::median_of_runs(runs)
}

/// A ping node and a pong node of one configuration, the pong side echoing.
struct Pair {
    pinger: PinionPinger,
    nodes: [Node; 2],
    echo: tokio::task::JoinHandle<()>,
}

impl Pair {
    async fn new(config: &Config, tag: &str, size: usize) -> anyhow::Result<Self> {
        let ping = config.node(&format!("v{tag}_ping"), "bench-a").await?;
        let pong = config.node(&format!("v{tag}_pong"), "bench-b").await?;
        let topic = |t: &str| format!("v{tag}/{t}");
        let mut pings = pong.subscribe::<Payload>(&topic("ping")).await?;
        let echo_pub = pong
            .advertise_with::<Payload>(&topic("pong"), reliable())
            .await?;
        let pinger = PinionPinger::on(&ping, &topic("ping"), &topic("pong"), size).await?;
        pinger.connected().await?;
        handshake(echo_pub.wait_for_subscribers(1)).await?;
        let echo = tokio::spawn(async move {
            while let Some(m) = pings.recv().await {
                if echo_pub.publish(&m).await.is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            pinger,
            nodes: [ping, pong],
            echo,
        })
    }

    async fn close(self) {
        self.echo.abort();
        for node in self.nodes {
            node.close().await;
        }
    }
}

async fn latency(a: &Config, b: &Config, size: usize) -> anyhow::Result<Vec<Row>> {
    let mut first = Pair::new(a, "a", size).await?;
    let mut second = Pair::new(b, "b", size).await?;
    let rows = alternate(&mut first.pinger, &mut second.pinger, "tcp", size, None, "").await;
    first.close().await;
    second.close().await;
    rows
}

/// One publisher and its subscribers, of one configuration.
struct Fan {
    publisher: Publisher<Payload>,
    subs: Vec<Subscriber<Payload>>,
    nodes: Vec<Node>,
}

impl Fan {
    async fn new(
        config: &Config,
        tag: &str,
        size: usize,
        subscribers: usize,
    ) -> anyhow::Result<Self> {
        let topic = format!("v{tag}/s{size}n{subscribers}");
        let pub_node = config.node(&format!("v{tag}_pub"), "bench-a").await?;
        let publisher = pub_node
            .advertise_with::<Payload>(
                &topic,
                AdvertiseOptions::reliable().max_block(Duration::from_secs(5)),
            )
            .await?;
        let mut nodes = vec![pub_node];
        let mut subs = Vec::new();
        for i in 0..subscribers {
            let node = config.node(&format!("v{tag}_sub{i}"), "bench-b").await?;
            subs.push(
                node.subscribe_with::<Payload>(&topic, SubscribeOptions::queue(1000).reliable())
                    .await?,
            );
            nodes.push(node);
        }
        handshake(publisher.wait_for_subscribers(subscribers)).await?;
        Ok(Self {
            publisher,
            subs,
            nodes,
        })
    }

    /// Sends `count` messages; messages per second and subscriber.
    async fn round(&mut self, blob: &Payload, count: usize) -> anyhow::Result<f64> {
        let counters: Vec<_> = self
            .subs
            .drain(..)
            .map(|s| count_arrivals(s, count))
            .collect();
        let subscribers = counters.len().max(1);
        let start = Instant::now();
        for _ in 0..count {
            self.publisher.publish(blob).await?;
        }
        let (got, end) = gather(counters, &mut self.subs).await;
        Ok(got as f64 / (end - start).as_secs_f64() / subscribers as f64)
    }

    async fn close(self) {
        for node in self.nodes {
            node.close().await;
        }
    }
}

async fn throughput(
    a: &Config,
    b: &Config,
    size: usize,
    subscribers: usize,
) -> anyhow::Result<Row> {
    let mut first = Fan::new(a, "a", size, subscribers).await?;
    let mut second = Fan::new(b, "b", size, subscribers).await?;
    let blob = Payload::of_size(size);
    let count = throughput_count(size);
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..throughput_rounds(size) {
        ra.push(first.round(&blob, count).await?);
        rb.push(second.round(&blob, count).await?);
    }
    first.close().await;
    second.close().await;
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let mut ratios: Vec<f64> = ra.iter().zip(&rb).map(|(x, y)| x / y).collect();
    ratios.sort_by(f64::total_cmp);
    Ok(Row {
        what: format!("throughput, {subscribers} sub"),
        transport: "tcp",
        size,
        pinion: best(&ra),
        bare: best(&rb),
        unit: "msg/s",
        note: format!(
            "best round of {}; median of the rounds' ratios {:.2}",
            ra.len(),
            ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
        ),
        runs: Vec::new(),
    })
}
