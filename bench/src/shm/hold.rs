//! `pinion-bench role shm-hold TOPIC KEEP`: a subscriber of images that holds on to the
//! last KEEP it received (as a viewer or a recorder with a queue does) and prints, per
//! image, whether it came through the publisher's shared memory: `got N pooled` or
//! `got N socket`. The crash tests of shared memory kill and stop these.

use pinion::msgs::sensor::Image;
use pinion::prelude::*;
use std::collections::VecDeque;
use std::io::Write;

/// Address ranges of the shared-memory pools this process maps, read from
/// `/proc/self/maps` (a pool is a memory file named `pinion-pool`).
#[derive(Debug, Default)]
pub(crate) struct PoolMaps(Vec<std::ops::Range<usize>>);

impl PoolMaps {
    fn read() -> Self {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        Self(
            maps.lines()
                .filter(|l| l.contains("pinion-pool"))
                .filter_map(|l| {
                    let (start, end) = l.split_whitespace().next()?.split_once('-')?;
                    let start = usize::from_str_radix(start, 16).ok()?;
                    let end = usize::from_str_radix(end, 16).ok()?;
                    Some(start..end)
                })
                .collect(),
        )
    }

    /// Whether `bytes` lie in a pool's mapping (read again if they lie in none known).
    pub(crate) fn pooled(&mut self, bytes: &[u8]) -> bool {
        let at = bytes.as_ptr() as usize;
        if !self.0.iter().any(|r| r.contains(&at)) {
            *self = Self::read();
        }
        self.0.iter().any(|r| r.contains(&at))
    }
}

pub(crate) async fn role(args: &[String]) -> anyhow::Result<()> {
    let (Some(topic), Some(keep)) = (args.first(), args.get(1)) else {
        anyhow::bail!("shm-hold needs TOPIC KEEP");
    };
    let keep: usize = keep.parse()?;
    let node = Node::init(pinion::NodeOptions::from_env("shm_hold")).await?;
    let mut images = node
        .subscribe_with::<Image>(topic, SubscribeOptions::queue(4))
        .await?;
    let mut held = VecDeque::new();
    let mut maps = PoolMaps::default();
    let mut out = std::io::stdout();
    let mut n = 0u64;
    while let Some(image) = images.recv().await {
        n += 1;
        let how = if maps.pooled(&image.data) {
            "pooled"
        } else {
            "socket"
        };
        writeln!(out, "got {n} {how}")?;
        out.flush()?;
        held.push_back(image);
        while held.len() > keep {
            held.pop_front();
        }
    }
    node.close().await;
    Ok(())
}
