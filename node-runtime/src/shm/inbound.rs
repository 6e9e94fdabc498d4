//! A subscriber connection's side of the pools: maps a publisher's pool on first
//! sight and turns each frame an envelope names into a buffer pointing into the slot.
//! The buffer clears the connection's hold cell when its last reference is dropped.

use super::envelope::{Entry, Envelope};
use super::layout::{Geometry, HEADER, HOLDERS};
use super::pool::PoolRef;
use super::region::Region;
use super::ShmError;
use bytes::Bytes;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Pools one connection keeps mapped; the oldest is let go past this (its buffers
/// keep it mapped while they live).
const KEPT: usize = 8;

/// A publisher's pool, mapped here.
#[derive(Debug)]
struct Mapped {
    pool: PoolRef,
    geometry: Geometry,
    /// Header and hold cells, writable.
    control: Region,
    /// The slots, read-only.
    data: Region,
}

impl Mapped {
    fn open(pool: PoolRef) -> Result<Self, ShmError> {
        use nix::fcntl::{fcntl, FcntlArg, SealFlag};
        let path = format!("/proc/{}/fd/{}", pool.pid, pool.fd);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| ShmError::Open(path.clone(), e))?;
        let seals = fcntl(file.as_raw_fd(), FcntlArg::F_GET_SEALS)
            .map_err(|e| ShmError::Os("F_GET_SEALS", e))?;
        let needed = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
        if !SealFlag::from_bits_truncate(seals).contains(needed) {
            return Err(ShmError::NotAPool("not sealed against resizing"));
        }
        let len = file
            .metadata()
            .map_err(|e| ShmError::Open(path.clone(), e))?
            .len();
        let len = usize::try_from(len).map_err(|_| ShmError::NotAPool("too large"))?;
        let head = Region::map(&file, 0, HEADER.min(len).max(1), false)
            .map_err(|e| ShmError::Os("mmap", e))?;
        let geometry = Geometry::parse(head.bytes(0, head.len()).unwrap_or(&[]), pool.uid, len)?;
        drop(head);
        let control = Region::map(&file, 0, geometry.control_len(), true)
            .map_err(|e| ShmError::Os("mmap", e))?;
        let data = Region::map(&file, geometry.data_offset(), geometry.data_len(), false)
            .map_err(|e| ShmError::Os("mmap", e))?;
        Ok(Self {
            pool,
            geometry,
            control,
            data,
        })
    }

    fn release(&self, slot: usize, holder: usize, epoch: u32) {
        if let Some([cell]) = self.control.atomics(self.geometry.cell(slot, holder), 1) {
            let _ = cell.compare_exchange(epoch, 0, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    fn fits(&self, e: &Entry) -> bool {
        (e.slot as usize) < self.geometry.slots
            && (e.offset as usize).saturating_add(e.len as usize) <= self.geometry.slot_size
    }
}

/// A frame in a slot, held for one connection.
#[derive(Debug)]
struct Held {
    mapped: Arc<Mapped>,
    at: usize,
    len: usize,
    slot: usize,
    holder: usize,
    epoch: u32,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        self.mapped.data.bytes(self.at, self.len).unwrap_or(&[])
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.mapped.release(self.slot, self.holder, self.epoch);
    }
}

/// The pools one subscriber connection has mapped.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    mapped: Vec<Arc<Mapped>>,
}

impl Inbound {
    /// The message an envelope wraps, its frames in slots shared, not copied. On an
    /// error, the cells the envelope named are cleared where the pool could be mapped.
    pub(crate) fn open(&mut self, mut frames: Vec<Bytes>) -> Result<Vec<Bytes>, ShmError> {
        let envelope = Envelope::decode(frames.first().map_or(&[][..], |f| &f[..]))?;
        frames.remove(0);
        let holder = usize::from(envelope.holder);
        if holder == 0 || holder >= HOLDERS {
            return Err(ShmError::BadEnvelope);
        }
        let mapped = self.mapping(envelope.pool)?;
        let valid = envelope.entries.iter().all(|e| {
            mapped.fits(e)
                && frames
                    .get(usize::from(e.frame))
                    .is_some_and(|f| f.is_empty() && e.frame > 0)
        });
        if !valid {
            for e in &envelope.entries {
                if mapped.fits(e) {
                    mapped.release(e.slot as usize, holder, envelope.epoch);
                }
            }
            return Err(ShmError::BadEnvelope);
        }
        for e in &envelope.entries {
            let slot = e.slot as usize;
            frames[usize::from(e.frame)] = Bytes::from_owner(Held {
                mapped: mapped.clone(),
                at: slot * mapped.geometry.slot_size + e.offset as usize,
                len: e.len as usize,
                slot,
                holder,
                epoch: envelope.epoch,
            });
        }
        Ok(frames)
    }

    fn mapping(&mut self, pool: PoolRef) -> Result<Arc<Mapped>, ShmError> {
        if let Some(m) = self.mapped.iter().find(|m| m.pool == pool) {
            return Ok(m.clone());
        }
        let mapped = Arc::new(Mapped::open(pool)?);
        if self.mapped.len() >= KEPT {
            self.mapped.remove(0);
        }
        self.mapped.push(mapped.clone());
        Ok(mapped)
    }
}
