//! The Rust ends of the cross-language figures (`bench/python/side_by_side.py`): a
//! source and a sink of `bench/Payload`, reliable on both sides, so that Python and
//! Rust publishers and subscribers are measured the same way. The echo is `role pong`.
//! Times are read from the system's monotonic clock (`CLOCK_MONOTONIC`, Python's
//! `time.monotonic()`), the same in every process of the host: a burst is timed from
//! the source's first message to the sink's last.

use crate::setup::{reliable, Payload};
use pinion::prelude::*;
use std::time::Duration;

/// The longest a peer waits for the other side, or for the rest of a burst.
const PATIENCE: Duration = Duration::from_secs(60);

/// `role source TOPIC COUNT SIZE`: publishes COUNT payloads of SIZE bytes on TOPIC, as
/// fast as reliable publishing allows, once a subscriber is there.
pub async fn source(args: &[String]) -> anyhow::Result<()> {
    let (topic, count, size) = match args {
        [topic, count, size, ..] => (topic, count.parse::<usize>()?, size.parse::<usize>()?),
        _ => anyhow::bail!("source needs TOPIC COUNT SIZE"),
    };
    let node = Node::init(pinion::NodeOptions::from_env("peer_source")).await?;
    let publisher = node.advertise_with::<Payload>(topic, reliable()).await?;
    tokio::time::timeout(PATIENCE, publisher.wait_for_subscribers(1)).await??;
    println!("ready");
    let payload = Payload::of_size(size);
    println!("start {:.6}", monotonic()?);
    for _ in 0..count {
        publisher.publish(&payload).await?;
    }
    println!("sent {count}");
    // Stay until the sink has read what is on its way (it ends the figure).
    tokio::time::sleep(PATIENCE).await;
    Ok(())
}

/// `role sink TOPIC COUNT`: receives COUNT payloads on TOPIC and prints how many came
/// and when the last did.
pub async fn sink(args: &[String]) -> anyhow::Result<()> {
    let (topic, count) = match args {
        [topic, count, ..] => (topic, count.parse::<usize>()?),
        _ => anyhow::bail!("sink needs TOPIC COUNT"),
    };
    let node = Node::init(pinion::NodeOptions::from_env("peer_sink")).await?;
    let mut messages = node
        .subscribe_with::<Payload>(topic, SubscribeOptions::queue(1000).reliable())
        .await?;
    println!("ready");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (mut got, mut last) = (0usize, 0.0);
    while got < count {
        match tokio::time::timeout_at(deadline, messages.recv()).await {
            Ok(Some(_)) => {
                last = monotonic()?;
                got += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
    println!("received {got} {last:.6}");
    node.close().await;
    Ok(())
}

/// Seconds on the host's monotonic clock.
fn monotonic() -> anyhow::Result<f64> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
    Ok(t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}
