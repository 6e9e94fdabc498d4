//! Round trips of large images between two processes on one host, Pinion's way: a
//! pinger (`role shm-ping SIZE ROUNDS MODE`) and an echo (`role shm-echo MODE`), each
//! sending images in buffers from `Node::loan_blob` (in the node's shared memory, or on
//! the heap with `PINION_SHM_POOL=0`, today's socket path), written whole for each
//! image or written once and sent again (see [`Writer`]).

use pinion::msgs::sensor::Image;
use pinion::prelude::*;
use std::time::{Duration, Instant};

/// Round trips before the measured ones.
const WARMUP: usize = 20;

/// How each side makes the image it sends.
#[derive(Debug)]
pub(crate) enum Writer {
    /// Copies a whole frame into a new buffer from `Node::loan_blob` for each image,
    /// as a camera driver writes each frame.
    Whole(Vec<u8>),
    /// Sends one buffer from `Node::loan_blob`, written once, again and again: what is
    /// measured is the middleware moving an image that is ready.
    Ready(Option<pinion::Blob>),
}

impl Writer {
    pub(crate) fn new(mode: &str) -> anyhow::Result<Self> {
        match mode {
            "whole" => Ok(Self::Whole(Vec::new())),
            "ready" => Ok(Self::Ready(None)),
            other => anyhow::bail!("mode {other}: expected whole or ready"),
        }
    }

    /// An image of `size` bytes numbered `n` (in its `width`).
    fn image(&mut self, node: &Node, size: usize, n: u64) -> Image {
        let data = match self {
            Self::Whole(frame) => {
                frame.resize(size, 0x5a);
                node.loan_blob(size, |buf| buf.copy_from_slice(frame))
            }
            Self::Ready(blob) => blob
                .get_or_insert_with(|| node.loan_blob(size, |buf| buf.fill(0x5a)))
                .clone(),
        };
        Image {
            width: n as u32,
            height: 1,
            encoding: "mono8".to_owned(),
            step: size as u32,
            data,
            ..Default::default()
        }
    }
}

fn number(image: &Image) -> u64 {
    u64::from(image.width)
}

/// `role shm-echo MODE`: sends back on `shm/pong` every image from `shm/ping`.
pub(crate) async fn echo(args: &[String]) -> anyhow::Result<()> {
    let mut writer = Writer::new(args.first().map_or("whole", String::as_str))?;
    let node = Node::init(pinion::NodeOptions::from_env("shm_echo")).await?;
    let mut pings = node.subscribe::<Image>("shm/ping").await?;
    let pongs = node.advertise::<Image>("shm/pong").await?;
    println!("ready");
    while let Some(ping) = pings.recv().await {
        let n = number(&ping);
        let size = ping.data.len();
        drop(ping);
        pongs.publish(&writer.image(&node, size, n)).await?;
    }
    Ok(())
}

/// `role shm-ping SIZE ROUNDS MODE`: prints `rtt p50 p99` in microseconds.
pub(crate) async fn ping(args: &[String]) -> anyhow::Result<()> {
    let [size, rounds, mode] = args else {
        anyhow::bail!("shm-ping needs SIZE ROUNDS MODE");
    };
    let mut writer = Writer::new(mode)?;
    let (size, rounds): (usize, usize) = (size.parse()?, rounds.parse()?);
    let node = Node::init(pinion::NodeOptions::from_env("shm_ping")).await?;
    let mut pongs = node.subscribe::<Image>("shm/pong").await?;
    let pings = node.advertise::<Image>("shm/ping").await?;
    pings.wait_for_subscribers(1).await?;
    let mut times = Vec::with_capacity(rounds);
    for n in 0..(WARMUP + rounds) as u64 {
        let start = Instant::now();
        pings.publish(&writer.image(&node, size, n)).await?;
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
    let us = |q: f64| crate::latency::percentile(times, q).as_secs_f64() * 1e6;
    (us(0.5), us(0.99))
}
