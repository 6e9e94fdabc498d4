//! Discovery: a subscriber node runs; a publisher node appears and publishes in a loop.
//! Measured: from the start of `advertise` to the subscriber's first message. Baseline,
//! alternating with it in the same run: a bare PUB/SUB pair of the same transport with
//! no master (bind, connect, publish until the first message arrives). The Pinion
//! figure excludes binding (a node binds its data socket once, at start); the bare
//! figure includes it.

use crate::baseline::{BarePub, BareSub};
use crate::util::{median, ms};
use bytes::Bytes;
use pinion::prelude::*;
use std::time::{Duration, Instant};

#[derive(Message, Serialize, Deserialize)]
struct Ping {
    seq: u64,
}

pub async fn discovery(rounds: usize) -> anyhow::Result<()> {
    let endpoint = crate::util::serve_master("tcp://127.0.0.1:0").await?;
    let options = |name: &str| {
        let mut o = pinion::NodeOptions::from_env(name).master(endpoint.clone());
        o.name = name.to_owned();
        o
    };
    let sub_node = Node::init(options("bench_sub")).await?;
    let pub_node = Node::init(options("bench_pub")).await?;

    let mut pinion_times = Vec::new();
    let mut bare_times = Vec::new();
    for round in 0..rounds {
        let topic = format!("discovery_{round}");
        let mut sub = sub_node.subscribe::<Ping>(&topic).await?;
        let start = Instant::now();
        let publisher = pub_node.advertise::<Ping>(&topic).await?;
        pinion_times
            .push(first_message(start, || publisher.publish(&Ping { seq: 0 }), &mut sub).await?);
        drop(publisher);
        drop(sub);
        bare_times.push(bare_round(round).await?);
    }
    sub_node.close().await;
    pub_node.close().await;

    let p = median(&mut pinion_times);
    let b = median(&mut bare_times);
    println!(
        "discovery: new publisher -> first message at a running subscriber ({rounds} rounds, ipc)"
    );
    println!(
        "  pinion (master push + connect): median {:>8.2} ms  max {:>8.2} ms",
        ms(p),
        ms(*pinion_times.last().unwrap_or(&p))
    );
    println!(
        "  bare PUB/SUB (no master):       median {:>8.2} ms  max {:>8.2} ms",
        ms(b),
        ms(*bare_times.last().unwrap_or(&b))
    );
    println!(
        "  ratio pinion/bare: {:.2}",
        p.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
    println!("{{\"bench\":\"discovery\",\"rounds\":{rounds},\"pinion_median_ms\":{:.3},\"bare_median_ms\":{:.3}}}", ms(p), ms(b));
    Ok(())
}

async fn first_message<F, Fut>(
    start: Instant,
    publish: F,
    sub: &mut Subscriber<Ping>,
) -> anyhow::Result<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = pinion::Result<u64>>,
{
    for _ in 0..20_000 {
        publish().await?;
        if tokio::time::timeout(Duration::from_micros(200), sub.recv())
            .await
            .is_ok()
        {
            return Ok(start.elapsed());
        }
    }
    anyhow::bail!("no message after 20000 attempts")
}

async fn bare_round(round: usize) -> anyhow::Result<Duration> {
    let dir = std::env::temp_dir().join(format!("pinion-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("bare-{round}.sock"));
    let start = Instant::now();
    let (mut publisher, endpoint) = BarePub::bind(&format!("ipc://{}", path.display())).await?;
    let mut subscriber = BareSub::connect(&endpoint, "t\0").await?;
    let frames = vec![Bytes::from_static(b"t\0"), Bytes::new(), Bytes::new()];
    for _ in 0..20_000 {
        publisher.send(frames.clone()).await?;
        if tokio::time::timeout(Duration::from_micros(200), subscriber.recv())
            .await
            .is_ok()
        {
            let took = start.elapsed();
            let _ = std::fs::remove_file(&path);
            return Ok(took);
        }
    }
    anyhow::bail!("baseline: the bare pair never delivered")
}
