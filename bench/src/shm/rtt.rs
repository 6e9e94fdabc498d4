//! Round trips of large images between two processes on one host, Pinion's way: a
//! pinger (`role shm-ping SIZE ROUNDS`) and an echo (`role shm-echo`), each writing
//! every image whole into a buffer from `Node::loan_blob` (in the node's shared memory,
//! or on the heap with `PINION_SHM_POOL=0`, today's socket path).

use pinion::msgs::sensor::Image;
use pinion::prelude::*;
use std::time::{Duration, Instant};

/// Round trips before the measured ones.
const WARMUP: usize = 20;

/// An image of `size` bytes copied whole from `frame`, with `n` in its first 8 bytes.
pub(crate) fn image(node: &Node, frame: &[u8], n: u64) -> Image {
    let size = frame.len();
    let data = node.loan_blob(size, |buf| {
        buf.copy_from_slice(frame);
        buf[..8].copy_from_slice(&n.to_le_bytes());
    });
    Image {
        width: (size / 4) as u32,
        height: 1,
        encoding: "rgba8".to_owned(),
        step: size as u32,
        data,
        ..Default::default()
    }
}

fn number(image: &Image) -> u64 {
    let mut n = [0u8; 8];
    n.copy_from_slice(&image.data[..8]);
    u64::from_le_bytes(n)
}

/// `role shm-echo`: sends back on `shm/pong` every image from `shm/ping`, written anew.
pub(crate) async fn echo() -> anyhow::Result<()> {
    let node = Node::init(pinion::NodeOptions::from_env("shm_echo")).await?;
    let mut pings = node.subscribe::<Image>("shm/ping").await?;
    let pongs = node.advertise::<Image>("shm/pong").await?;
    println!("ready");
    let mut frame = Vec::new();
    while let Some(ping) = pings.recv().await {
        let n = number(&ping);
        frame.resize(ping.data.len(), 0x5a);
        drop(ping);
        pongs.publish(&image(&node, &frame, n)).await?;
    }
    Ok(())
}

/// `role shm-ping SIZE ROUNDS`: prints `rtt p50 p99` in microseconds.
pub(crate) async fn ping(args: &[String]) -> anyhow::Result<()> {
    let (Some(size), Some(rounds)) = (args.first(), args.get(1)) else {
        anyhow::bail!("shm-ping needs SIZE ROUNDS");
    };
    let (size, rounds): (usize, usize) = (size.parse()?, rounds.parse()?);
    let node = Node::init(pinion::NodeOptions::from_env("shm_ping")).await?;
    let mut pongs = node.subscribe::<Image>("shm/pong").await?;
    let pings = node.advertise::<Image>("shm/ping").await?;
    pings.wait_for_subscribers(1).await?;
    let mut times = Vec::with_capacity(rounds);
    let frame = vec![0x5a; size];
    for n in 0..(WARMUP + rounds) as u64 {
        let start = Instant::now();
        pings.publish(&image(&node, &frame, n)).await?;
        // While warming up, the echo's publisher may not have found this subscriber
        // yet: a lost pong is skipped then, never later.
        let wait = if (n as usize) < WARMUP { 0.5 } else { 5.0 };
        loop {
            let Ok(pong) = tokio::time::timeout(Duration::from_secs_f64(wait), pongs.recv()).await
            else {
                anyhow::ensure!((n as usize) < WARMUP, "no pong {n} within {wait} s");
                break;
            };
            let pong = pong.ok_or_else(|| anyhow::anyhow!("the subscription ended"))?;
            if number(&pong) == n {
                break;
            }
        }
        if n as usize >= WARMUP {
            times.push(start.elapsed());
        }
    }
    let (p50, p99) = percentiles(&mut times);
    println!("rtt {p50:.1} {p99:.1}");
    node.close().await;
    Ok(())
}

/// Median and 99th percentile in microseconds.
pub(crate) fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1));
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    (at(0.5), at(0.99))
}
