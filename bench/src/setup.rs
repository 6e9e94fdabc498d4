//! What the pub/sub figures share: the payload, the systems compared, the selection of
//! rows, and setting up nodes and bare endpoints for a transport.

use pinion::prelude::*;
use std::time::Duration;

/// A payload of some size, sent as one byte string.
#[derive(Message, Serialize, Deserialize, Clone)]
#[message(name = "bench/Payload")]
pub struct Payload {
    data: pinion::Blob,
}

impl Payload {
    /// `size` bytes of payload.
    pub fn of_size(size: usize) -> Self {
        Self {
            data: vec![7; size].into(),
        }
    }
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
    /// How many times every row is measured; each row shows its median repetition.
    pub repeat: usize,
    /// Sparse traffic in the latency figures: a pause before each round trip.
    pub gap: Option<Duration>,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            transports: vec!["ipc", "tcp"],
            subscribers: vec![1, 4],
            only: None,
            one_thread: false,
            pong_apart: false,
            repeat: 1,
            gap: None,
        }
    }
}

/// Options of a node of a figure, on `master` with host id `host`.
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

/// Publisher options of the latency figures. Reliable, as the bare PUB never drops a
/// message it has room for: with a window of two 4 MiB messages, a best-effort publisher
/// drops a ping whenever the credit for earlier ones is late, and a round trip is lost.
pub(crate) fn reliable() -> AdvertiseOptions {
    AdvertiseOptions::reliable().max_block(Duration::from_secs(5))
}

/// A subscriber handshake, bounded: a benchmark that waits for ever measures nothing.
pub(crate) async fn handshake(
    wait: impl std::future::Future<Output = pinion::Result<()>>,
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .map_err(|_| anyhow::anyhow!("subscribers not connected within 10 s"))??;
    Ok(())
}
