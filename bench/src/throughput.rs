//! The throughput figure: one publisher sends a burst as fast as `publish` lets it to 1
//! or 4 subscribers, beside a bare PUB doing the same; what each subscriber receives per
//! second, what is lost, and per message delivered the process's CPU time and heap
//! allocations. Pinion's publisher and subscribers are reliable here (they wait for room
//! instead of dropping), as the bare PUB queues everything.

use crate::baseline::{BarePub, BareSub};
use crate::rows::Row;
use crate::setup::{bare_endpoint, handshake, hosts, node_options, Payload, System};
use crate::util::cpu_seconds;
use bytes::Bytes;
use pinion::prelude::*;
use std::time::{Duration, Instant};

/// Alternating rounds of the throughput figure; the best of each system's rates is
/// compared, and the median of the rounds' own ratios is noted. A round takes 40 to
/// 150 ms, so that one pause of a shared machine spoils a round, not the figure: with
/// two rounds, runs of the same build differed by 0.3 at 1 MiB.
pub(crate) fn throughput_rounds(size: usize) -> usize {
    if size <= 65536 {
        10
    } else {
        8
    }
}

pub(crate) fn throughput_count(size: usize) -> usize {
    match size {
        s if s <= 1024 => 50_000,
        s if s <= 65536 => 5_000,
        s if s <= 1 << 20 => 300,
        _ => 80,
    }
}

/// Where a figure runs: the master, the directory for ipc sockets, the transport.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting<'a> {
    pub(crate) master: &'a str,
    pub(crate) dir: &'a std::path::Path,
    pub(crate) transport: &'static str,
}

/// One throughput row: `subscribers` subscribers of one publisher, the systems in
/// alternating rounds.
pub(crate) async fn throughput(
    place: Setting<'_>,
    size: usize,
    subscribers: usize,
    only: Option<System>,
) -> anyhow::Result<Row> {
    let Setting {
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

    let blob = Payload::of_size(size);
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
        runs: Vec::new(),
    })
}

/// A receiver whose arrivals the throughput figure counts.
pub(crate) trait Arrivals: Send + 'static {
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
pub(crate) fn count_arrivals<S: Arrivals>(
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
pub(crate) async fn gather<S>(
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
