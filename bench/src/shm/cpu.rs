//! CPU per delivered image: a camera (`role shm-cam SIZE HZ COUNT`) publishes COUNT
//! images of SIZE bytes at HZ to three subscribers (`role shm-sink`), each reading
//! its images' first bytes. The camera writes only a header into each image: what is
//! measured is the middleware's work, not the drawing, which is the same either way.

use pinion::msgs::sensor::Image;
use pinion::prelude::*;
use std::time::Duration;

/// `role shm-cam SIZE HZ COUNT SUBSCRIBERS`: prints `done` after the last image.
pub(crate) async fn camera(args: &[String]) -> anyhow::Result<()> {
    let [size, hz, count, subscribers] = args else {
        anyhow::bail!("shm-cam needs SIZE HZ COUNT SUBSCRIBERS");
    };
    let (size, hz, count, subscribers): (usize, f64, u64, usize) = (
        size.parse()?,
        hz.parse()?,
        count.parse()?,
        subscribers.parse()?,
    );
    let node = Node::init(pinion::NodeOptions::from_env("shm_cam")).await?;
    let images = node.advertise::<Image>("shm/camera").await?;
    images.wait_for_subscribers(subscribers).await?;
    let mut rate = node.rate(hz);
    for n in 0..count {
        rate.tick().await;
        let data = node.loan_blob(size, |buf| buf[..8].copy_from_slice(&n.to_le_bytes()));
        images
            .publish(&Image {
                width: (size / 4) as u32,
                height: 1,
                encoding: "rgba8".to_owned(),
                step: size as u32,
                data,
                ..Default::default()
            })
            .await?;
    }
    println!("done");
    node.close().await;
    Ok(())
}

/// `role shm-sink`: prints `received N` once no image came for a second.
pub(crate) async fn sink() -> anyhow::Result<()> {
    let node = Node::init(pinion::NodeOptions::from_env("shm_sink")).await?;
    let mut images = node
        .subscribe_with::<Image>("shm/camera", SubscribeOptions::queue(4))
        .await?;
    let mut received = 0u64;
    let mut check = 0u8;
    // The first image may take a while; after it, a quiet second ends the run.
    let mut wait = Duration::from_secs(60);
    while let Ok(Some(image)) = tokio::time::timeout(wait, images.recv()).await {
        check ^= image.data[0];
        received += 1;
        wait = Duration::from_secs(1);
    }
    println!("received {received} {check}");
    // Stays until killed, so that its CPU time can be read.
    std::future::pending::<()>().await;
    Ok(())
}

/// Nanoseconds process `pid` ran, all its threads.
pub(crate) fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
