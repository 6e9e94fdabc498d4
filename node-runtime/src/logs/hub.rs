//! The process-wide store of captured records: a ring of the newest ones and a
//! broadcast to the node that publishes them.

use crate::msgs::log::Log;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::broadcast;

/// How many records a process keeps for `pinion logs`.
pub const RING_CAPACITY: usize = 500;

/// How many records may wait for the publisher before the oldest are dropped.
const LIVE_CAPACITY: usize = 1024;

pub(crate) struct Hub {
    ring: Mutex<VecDeque<Log>>,
    live: broadcast::Sender<Log>,
    seq: AtomicU64,
}

static HUB: OnceLock<Hub> = OnceLock::new();

/// The hub, created on first use (by the capture layer).
pub(crate) fn install() -> &'static Hub {
    HUB.get_or_init(|| Hub {
        ring: Mutex::new(VecDeque::with_capacity(RING_CAPACITY)),
        live: broadcast::channel(LIVE_CAPACITY).0,
        seq: AtomicU64::new(0),
    })
}

/// The hub, if this process captures its logs.
pub(crate) fn installed() -> Option<&'static Hub> {
    HUB.get()
}

impl Hub {
    /// Numbers a record, keeps it and offers it to the publisher. Never blocks for long
    /// and never fails: a full ring drops its oldest record.
    pub(crate) fn push(&self, mut record: Log) {
        record.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut ring) = self.ring.lock() {
            if ring.len() == RING_CAPACITY {
                ring.pop_front();
            }
            ring.push_back(record.clone());
        }
        // No receiver (no node yet) is fine: the ring has it.
        let _ = self.live.send(record);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Log> {
        self.live.subscribe()
    }
}

/// This process's records with a sequence number above `after_seq`, oldest first, at most
/// `max` (the newest ones when there are more). Empty when the process captures nothing.
pub fn recent(after_seq: u64, max: usize) -> Vec<Log> {
    let Some(hub) = installed() else {
        return Vec::new();
    };
    let Ok(ring) = hub.ring.lock() else {
        return Vec::new();
    };
    let newer: Vec<&Log> = ring.iter().filter(|r| r.seq > after_seq).collect();
    let skip = newer.len().saturating_sub(max);
    newer.into_iter().skip(skip).cloned().collect()
}
