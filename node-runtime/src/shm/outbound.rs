//! A data socket's side of the pools: which frames of a message go through a slot,
//! and what each subscriber connection on this host is sent instead of them.

use super::envelope::{self, Entry, Envelope};
use super::layout::Geometry;
use super::pool::Pool;
use super::readers::{Holder, Readers};
use super::SHM_FROM;
use bytes::Bytes;
use std::sync::Arc;

/// The pools of one data socket and the connections they send to.
#[derive(Debug)]
pub(crate) struct Outbound {
    /// The most bytes of slots this socket may hold (0: no pools).
    pool_bytes: usize,
    /// The pool in use last; older ones stay until nobody holds any of their slots.
    pools: Vec<Arc<Pool>>,
    readers: Readers,
}

/// A message whose large frames are in slots, ready to be sent to connections.
#[derive(Debug)]
pub(crate) struct Staged {
    pool: Arc<Pool>,
    entries: Vec<Entry>,
    /// Slots written for this message: the publisher holds them until it is sent.
    written: Vec<usize>,
    /// The message with the frames in slots left empty.
    stripped: Vec<Bytes>,
    /// The most slots one connection may hold.
    share: usize,
}

impl Outbound {
    /// Pools of at most `pool_bytes` bytes (0: none).
    pub(crate) fn new(pool_bytes: usize) -> Self {
        Self {
            pool_bytes,
            pools: Vec::new(),
            readers: Readers::default(),
        }
    }

    /// Whether pools are used at all.
    pub(crate) fn enabled(&self) -> bool {
        self.pool_bytes > 0
    }

    /// A holder for a new connection of process `pid` on this host.
    pub(crate) fn register(&mut self, pid: u32) -> Option<Holder> {
        self.readers.register(pid, &self.pools)
    }

    /// The connection of `holder` closed.
    pub(crate) fn forget(&mut self, holder: Holder) {
        self.readers.forget(holder);
        // Killed, most often: then what it held is free at once.
        self.readers.reclaim(&self.pools);
    }

    /// The connection of `holder` could not map a pool.
    pub(crate) fn refused(&mut self, holder: Holder) {
        self.readers.refused(holder, &self.pools);
    }

    /// Whether any frame of `frames` would go through a slot.
    pub(crate) fn wants(&self, frames: &[Bytes]) -> bool {
        self.enabled() && frames.iter().skip(1).any(|f| f.len() >= SHM_FROM)
    }

    /// Puts the large frames of `frames` in slots (those already in a slot of the
    /// current pool, lent by [`Outbound::loan`], stay where they are); `None` if there
    /// are none, or no pool has room: then the message goes through the socket.
    pub(crate) fn stage(&mut self, frames: &[Bytes]) -> Option<Staged> {
        let large: Vec<usize> = (1..frames.len())
            .filter(|&i| frames[i].len() >= SHM_FROM)
            .take(envelope::MAX_ENTRIES)
            .collect();
        let largest = large.iter().map(|&i| frames[i].len()).max()?;
        let pool = self.pool_for(largest)?;
        let mut staged = Staged {
            pool: pool.clone(),
            entries: Vec::with_capacity(large.len()),
            written: Vec::new(),
            stripped: frames.to_vec(),
            // Shares leave a share over for the publisher's own writes and loans.
            share: (pool.geometry().slots / (self.readers.active() + 1)).max(1),
        };
        for &i in &large {
            let frame = &frames[i];
            let (slot, offset) = match pool.locate(frame) {
                Some(lent) => lent,
                None => {
                    let slot = self.claim(&pool)?;
                    staged.written.push(slot);
                    if !pool.write(slot, frame) {
                        return None;
                    }
                    (slot, 0)
                }
            };
            staged.entries.push(Entry {
                frame: i as u16,
                slot: slot as u32,
                offset: offset as u32,
                len: frame.len() as u32,
            });
            staged.stripped[i] = Bytes::new();
        }
        Some(staged)
    }

    /// Claims a free slot of `pool`, reclaiming the cells of dead holders if none is.
    /// The lowest free one: slots used again soon are in memory already, in this
    /// process and in the subscribers' (a slot first touched costs a page fault per
    /// page on each side, which at 1 MiB took longer than the copy it saves).
    fn claim(&mut self, pool: &Pool) -> Option<usize> {
        pool.claim(0).or_else(|| {
            self.readers.reclaim(&self.pools);
            pool.claim(0)
        })
    }

    /// The pool for frames of up to `len` bytes: the current one if its slots are
    /// large enough, else a new one (slots only grow), the idle old ones dropped.
    fn pool_for(&mut self, len: usize) -> Option<Arc<Pool>> {
        if let Some(pool) = self.pools.last() {
            if pool.geometry().slot_size >= len {
                return Some(pool.clone());
            }
        }
        let geometry = Geometry::for_frame(len, self.pool_bytes)?;
        let pool = match Pool::create(geometry) {
            Ok(pool) => Arc::new(pool),
            Err(e) => {
                tracing::warn!("no shared memory pool ({e}); large messages go through the socket");
                self.pool_bytes = 0;
                return None;
            }
        };
        self.pools
            .retain(|p| Arc::strong_count(p) > 1 || !p.is_idle());
        self.pools.push(pool.clone());
        Some(pool)
    }

    /// Whether `frame` lies in a slot of these pools (a lent buffer).
    fn lent(&self, frame: &[u8]) -> bool {
        self.pools.iter().any(|p| p.locate(frame).is_some())
    }

    /// Whether a frame of `frames` lies in a slot of these pools.
    pub(crate) fn lends(&self, frames: &[Bytes]) -> bool {
        frames.iter().any(|f| self.lent(f))
    }

    /// `frames` with every frame that lies in a slot copied out of it.
    pub(crate) fn unlend(&self, frames: &[Bytes]) -> Vec<Bytes> {
        frames
            .iter()
            .map(|f| {
                if self.lent(f) {
                    Bytes::copy_from_slice(f)
                } else {
                    f.clone()
                }
            })
            .collect()
    }

    /// Lets go of the slots of a message that was not sent after all (dropped from a
    /// connection's queue, or its connection closed first).
    pub(crate) fn discard(&self, frames: &[Bytes]) {
        if !envelope::is_envelope(frames) {
            return;
        }
        let Ok(envelope) = Envelope::decode(&frames[0]) else {
            return;
        };
        if let Some(pool) = self.pools.iter().find(|p| p.uid() == envelope.pool.uid) {
            for e in &envelope.entries {
                pool.release(e.slot as usize, envelope.holder.into(), envelope.epoch);
            }
        }
    }

    /// Lends a slot of `len` bytes, filled by `fill`: a buffer that a message then
    /// sends without a copy. `None` if pools are off, `len` does not fit one, or no
    /// slot is free.
    pub(crate) fn loan(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) -> Option<Bytes> {
        let pool = self.pool_for(len.max(SHM_FROM))?;
        let slot = self.claim(&pool)?;
        if !pool.fill(slot, len, fill) {
            pool.release_own(slot);
            return None;
        }
        Some(Bytes::from_owner(Lent { pool, slot, len }))
    }
}

/// A slot lent to a buffer: the publisher's own hold, let go when the buffer is dropped.
#[derive(Debug)]
struct Lent {
    pool: Arc<Pool>,
    slot: usize,
    len: usize,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        self.pool.bytes(self.slot, 0, self.len).unwrap_or(&[])
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.pool.release_own(self.slot);
    }
}

impl Staged {
    /// The message for the connection of `holder`, its slots held for it; `None`
    /// (send it through the socket) if the connection holds its share of the pool
    /// already (the slots over the connections and the publisher: a subscriber that
    /// holds on to many messages starves neither the others nor the publisher), or
    /// holds one of these slots already (a lent buffer sent twice).
    pub(crate) fn deliver(&self, holder: Holder) -> Option<Vec<Bytes>> {
        use std::sync::atomic::Ordering;
        let index = usize::from(holder.index);
        if self.entries.iter().any(|e| {
            self.pool
                .cell(e.slot as usize, index)
                .load(Ordering::Acquire)
                != 0
        }) {
            return None;
        }
        if self.pool.held_by(index, holder.epoch) + self.entries.len() > self.share {
            return None;
        }
        for e in &self.entries {
            self.pool
                .cell(e.slot as usize, index)
                .store(holder.epoch, Ordering::Release);
        }
        let envelope = Envelope {
            pool: self.pool.reference(),
            holder: holder.index,
            epoch: holder.epoch,
            entries: self.entries.clone(),
        };
        let mut frames = Vec::with_capacity(self.stripped.len() + 2);
        frames.push(envelope.encode());
        frames.extend(self.stripped.iter().cloned());
        Some(frames)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for &slot in &self.written {
            self.pool.release_own(slot);
        }
    }
}
