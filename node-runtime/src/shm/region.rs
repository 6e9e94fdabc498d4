//! A shared mapping of a memory file: the only code in Pinion that touches raw memory.
//!
//! Everything else sees a [`Region`] through bounds-checked methods: atomic words (the
//! pool's hold cells, shared with other processes) and byte ranges (the slots).

#![allow(unsafe_code)]

use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

/// A `MAP_SHARED` mapping of `len` bytes of a file, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain shared memory; every access from this type is either
// atomic (hold cells) or a copy of bytes whose slot the caller owns by the pool's
// protocol (see `pool.rs`), so sharing it between threads is as safe as between
// processes.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `len` bytes of `file` from `offset` (a multiple of the page size), for
    /// reading and, if `writable`, writing.
    pub(crate) fn map(
        file: impl AsFd,
        offset: usize,
        len: usize,
        writable: bool,
    ) -> Result<Self, nix::Error> {
        use nix::sys::mman::{mmap, MapFlags, ProtFlags};
        let length = NonZeroUsize::new(len).ok_or(nix::Error::EINVAL)?;
        let offset = nix::libc::off_t::try_from(offset).map_err(|_| nix::Error::EOVERFLOW)?;
        let prot = if writable {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        } else {
            ProtFlags::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (no address given) aliases no
        // Rust object; the file is sealed against shrinking by whoever made it (the
        // pool checks the seals before mapping a file it did not make), so no access
        // within `len` can fault.
        let ptr = unsafe { mmap(None, length, prot, MapFlags::MAP_SHARED, file, offset)? };
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The region's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `count` atomic words from byte `at` (a multiple of 4), if they lie in the region.
    pub(crate) fn atomics(&self, at: usize, count: usize) -> Option<&[AtomicU32]> {
        let end = count.checked_mul(4)?.checked_add(at)?;
        if end > self.len || at % 4 != 0 {
            return None;
        }
        // SAFETY: in bounds (checked above) and aligned (the mapping is page-aligned
        // and `at` a multiple of 4); `AtomicU32` has the size and alignment of `u32`,
        // and any bit pattern is a valid one. The words may change under us from
        // another process, which is what atomics are for. The slice lives no longer
        // than `&self`, so no longer than the mapping.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at).cast(), count) })
    }

    /// `len` bytes from `at`, if they lie in the region.
    ///
    /// Whoever writes a slot does so only while no reader holds it (the pool's hold
    /// cells), so the bytes do not change while a holder reads them.
    pub(crate) fn bytes(&self, at: usize, len: usize) -> Option<&[u8]> {
        let end = at.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: in bounds (checked above); memory of a mapping is initialised (zero
        // or written before), and lives as long as `&self`.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) })
    }

    /// Lends `len` bytes from `at` for writing to `fill`; false if they are not in the
    /// region. Only for a writable region, and only for bytes of a slot the caller
    /// claimed: no reader holds it, and nobody else writes it (see `pool.rs`).
    pub(crate) fn fill(&self, at: usize, len: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        let Some(end) = at.checked_add(len) else {
            return false;
        };
        if end > self.len {
            return false;
        }
        // SAFETY: in bounds (checked above). The pool's protocol makes the claimed
        // slot this caller's alone while it fills it: no holder reads it and no other
        // claim covers it, so the exclusive borrow aliases nothing. It ends with
        // `fill`, before anything may read the slot.
        let slice = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(at), len) };
        fill(slice);
        true
    }

    /// Where the region starts and ends in this process's memory, to tell whether a
    /// buffer lies in it.
    pub(crate) fn address_range(&self) -> std::ops::Range<usize> {
        let start = self.ptr.as_ptr() as usize;
        start..start + self.len
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `map` with this address and length, and every
        // borrow of it ended with the borrows of `self`.
        let _ = unsafe { nix::sys::mman::munmap(self.ptr.cast(), self.len) };
    }
}
