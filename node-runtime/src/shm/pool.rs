//! A publisher's pool: a sealed memory file (`memfd`) cut into slots, with a hold cell
//! per slot and holder.
//!
//! The file has no name in any file system: subscribers open it through the
//! publisher's `/proc/PID/fd/FD`, and the kernel frees it when the last process that
//! maps or holds it is gone, however it ended. Nothing is ever left in `/dev/shm`.
//!
//! The protocol of the cells (see `layout.rs`): only the publisher claims a slot, and
//! only a free one (every cell 0), under its own lock; it sets its own cell while it
//! writes, then the cell of each subscriber connection it sends the slot to, before it
//! sends. A subscriber clears its cell when the last buffer pointing into the slot is
//! dropped; the publisher clears cells of messages it did not send after all, and of
//! connections whose process is gone.

use super::layout::{Geometry, HOLDERS};
use super::region::Region;
use super::ShmError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// The value of the publisher's own cell while it holds a slot.
pub(crate) const OWN: u32 = 1;

/// Names a pool for subscribers: where to open it and how to recognise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PoolRef {
    /// The publisher's process.
    pub(crate) pid: u32,
    /// The pool's descriptor in that process.
    pub(crate) fd: u32,
    /// The pool's random id, also in its header.
    pub(crate) uid: u64,
}

/// A pool made by this process.
#[derive(Debug)]
pub(crate) struct Pool {
    file: OwnedFd,
    /// This process (asked once: each envelope names it).
    pid: u32,
    uid: u64,
    geometry: Geometry,
    region: Region,
}

impl Pool {
    /// Makes a sealed memory file of `geometry`'s size and maps it.
    pub(crate) fn create(geometry: Geometry) -> Result<Self, ShmError> {
        use nix::fcntl::{fcntl, FcntlArg, SealFlag};
        use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
        let os = |what: &'static str| move |e: nix::Error| ShmError::Os(what, e);
        let file = memfd_create(
            c"pinion-pool",
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )
        .map_err(os("memfd_create"))?;
        let len = geometry.file_len();
        nix::unistd::ftruncate(
            &file,
            nix::libc::off_t::try_from(len).unwrap_or(i64::MAX as _),
        )
        .map_err(os("ftruncate"))?;
        // Nobody may shrink it under a mapping (a fault), grow it, or unseal it.
        fcntl(
            file.as_raw_fd(),
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL,
            ),
        )
        .map_err(os("sealing"))?;
        let region = Region::map(&file, 0, len, true).map_err(os("mmap"))?;
        let uid = crate::host::random_id();
        let header = geometry.header(uid);
        region.fill(0, header.len(), |h| h.copy_from_slice(&header));
        Ok(Self {
            file,
            pid: std::process::id(),
            uid,
            geometry,
            region,
        })
    }

    pub(crate) fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Where subscribers find it.
    pub(crate) fn reference(&self) -> PoolRef {
        PoolRef {
            pid: self.pid,
            fd: self.file.as_raw_fd() as u32,
            uid: self.uid,
        }
    }

    pub(crate) fn uid(&self) -> u64 {
        self.uid
    }

    /// The cell of `holder` for `slot`.
    pub(crate) fn cell(&self, slot: usize, holder: usize) -> &AtomicU32 {
        let cells = self
            .region
            .atomics(self.geometry.cell(slot, holder), 1)
            .filter(|_| slot < self.geometry.slots && holder < HOLDERS);
        match cells {
            Some([cell]) => cell,
            // Callers index within the geometry; a cell outside it is a bug here.
            _ => unreachable!("hold cell {slot}/{holder} outside the pool"),
        }
    }

    fn cells_of(&self, slot: usize) -> &[AtomicU32] {
        self.region
            .atomics(self.geometry.cell(slot, 0), HOLDERS)
            .unwrap_or(&[])
    }

    /// Whether nobody holds `slot`.
    pub(crate) fn is_free(&self, slot: usize) -> bool {
        self.cells_of(slot)
            .iter()
            .all(|c| c.load(Ordering::Acquire) == 0)
    }

    /// Whether nobody holds any slot.
    pub(crate) fn is_idle(&self) -> bool {
        (0..self.geometry.slots).all(|s| self.is_free(s))
    }

    /// Claims a free slot for writing, looking from `start` on; its own cell is set.
    pub(crate) fn claim(&self, start: usize) -> Option<usize> {
        let slots = self.geometry.slots;
        (0..slots).map(|i| (start + i) % slots).find(|&slot| {
            self.is_free(slot)
                && self
                    .cell(slot, 0)
                    .compare_exchange(0, OWN, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
        })
    }

    /// Lets go of the publisher's own hold of `slot`.
    pub(crate) fn release_own(&self, slot: usize) {
        self.cell(slot, 0).store(0, Ordering::Release);
    }

    /// Clears `holder`'s cell of `slot` if it still holds `epoch` there.
    pub(crate) fn release(&self, slot: usize, holder: usize, epoch: u32) {
        let _ =
            self.cell(slot, holder)
                .compare_exchange(epoch, 0, Ordering::AcqRel, Ordering::Acquire);
    }

    /// How many slots `holder` holds under `epoch`.
    pub(crate) fn held_by(&self, holder: usize, epoch: u32) -> usize {
        (0..self.geometry.slots)
            .filter(|&s| self.cell(s, holder).load(Ordering::Acquire) == epoch)
            .count()
    }

    /// Clears every cell `holder` holds under `epoch` (its process is gone).
    pub(crate) fn release_all(&self, holder: usize, epoch: u32) {
        for slot in 0..self.geometry.slots {
            self.release(slot, holder, epoch);
        }
    }

    /// Byte offset of `slot` in the file.
    fn slot_at(&self, slot: usize) -> usize {
        self.geometry.data_offset() + slot * self.geometry.slot_size
    }

    /// Writes `bytes` at the start of a slot this process claimed.
    pub(crate) fn write(&self, slot: usize, bytes: &[u8]) -> bool {
        self.fill(slot, bytes.len(), |s| s.copy_from_slice(bytes))
    }

    /// Lends `len` bytes of a claimed slot to `fill`.
    pub(crate) fn fill(&self, slot: usize, len: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        len <= self.geometry.slot_size && self.region.fill(self.slot_at(slot), len, fill)
    }

    /// `len` bytes of `slot` from `offset`.
    pub(crate) fn bytes(&self, slot: usize, offset: usize, len: usize) -> Option<&[u8]> {
        if slot >= self.geometry.slots || offset.checked_add(len)? > self.geometry.slot_size {
            return None;
        }
        self.region.bytes(self.slot_at(slot) + offset, len)
    }

    /// The slot and offset of `bytes` if they lie within one slot of this pool.
    pub(crate) fn locate(&self, bytes: &[u8]) -> Option<(usize, usize)> {
        let range = self.region.address_range();
        let start = bytes.as_ptr() as usize;
        let data = range.start + self.geometry.data_offset();
        if start < data || start + bytes.len() > range.end {
            return None;
        }
        let slot = (start - data) / self.geometry.slot_size;
        let offset = (start - data) % self.geometry.slot_size;
        (offset + bytes.len() <= self.geometry.slot_size).then_some((slot, offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_claimed_once_and_free_again_when_every_holder_lets_go() {
        let pool =
            Pool::create(Geometry::for_frame(1 << 16, 1 << 17).expect("fits")).expect("pool");
        let a = pool.claim(0).expect("first");
        let b = pool.claim(0).expect("second");
        assert_ne!(a, b);
        assert_eq!(pool.claim(0), None, "two slots only");
        pool.cell(a, 5).store(9, Ordering::Release);
        pool.release_own(a);
        assert_eq!(pool.claim(0), None, "holder 5 still holds it");
        pool.release(a, 5, 8);
        assert_eq!(pool.held_by(5, 9), 1, "another epoch does not release it");
        pool.release(a, 5, 9);
        assert_eq!(pool.claim(0), Some(a));
    }

    #[test]
    fn bytes_written_read_back_and_are_located() {
        let pool =
            Pool::create(Geometry::for_frame(1 << 16, 1 << 18).expect("fits")).expect("pool");
        let slot = pool.claim(1).expect("slot");
        assert!(pool.write(slot, b"hello"));
        let bytes = pool.bytes(slot, 1, 3).expect("in range");
        assert_eq!(bytes, b"ell");
        assert_eq!(pool.locate(bytes), Some((slot, 1)));
        assert_eq!(pool.locate(b"elsewhere"), None);
        assert!(pool.bytes(slot, 1 << 16, 1).is_none());
        assert!(!pool.write(slot, &vec![0; (1 << 16) + 1]));
    }
}
