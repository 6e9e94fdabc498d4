//! The layout of a pool file, which publisher and subscribers must agree on.
//!
//! ```text
//! 0   magic "PINSHM" 0 1
//! 8   uid (u64, random per pool: tells a pool from any other file at that path)
//! 16  slots (u32)
//! 20  slot size (u32, a multiple of ALIGN)
//! 24  holders per slot (u32, HOLDERS)
//! 28  zero
//! 32  hold cells: slots x HOLDERS atomic u32, slot-major
//! ..  (padding to ALIGN)
//! D   data: slots x slot size
//! ```
//!
//! A hold cell is 0 while free. Cell 0 of a slot is the publisher's own (writing or
//! lending it out); cell h > 0 holds the epoch of the subscriber connection registered
//! as holder h while that connection holds the slot. A slot is free when all its cells
//! are 0.

use super::ShmError;

/// Identifies a pool file.
pub(crate) const MAGIC: [u8; 8] = *b"PINSHM\x00\x01";
/// Bytes before the hold cells.
pub(crate) const HEADER: usize = 32;
/// Hold cells per slot: the publisher's own and 63 subscriber connections.
pub(crate) const HOLDERS: usize = 64;
/// Data and slot sizes are multiples of this: the largest page size of the systems
/// Pinion runs on (64 KiB pages on some arm64 kernels, 16 KiB on the Pi 5's).
pub(crate) const ALIGN: usize = 64 << 10;
/// The most slots of one pool.
pub(crate) const MAX_SLOTS: usize = 1024;

/// How a pool is cut up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Number of slots.
    pub(crate) slots: usize,
    /// Bytes per slot.
    pub(crate) slot_size: usize,
}

impl Geometry {
    /// Slots for frames of up to `len` bytes in a pool of at most `pool` bytes: slots
    /// of a power of two of at least [`ALIGN`], at least two of them; `None` if a pool
    /// that small cannot hold two.
    pub(crate) fn for_frame(len: usize, pool: usize) -> Option<Self> {
        let slot_size = len.max(ALIGN).checked_next_power_of_two()?;
        let slots = (pool / slot_size).min(MAX_SLOTS);
        (slots >= 2 && slot_size <= u32::MAX as usize).then_some(Self { slots, slot_size })
    }

    /// Byte offset of the hold cell of `holder` for `slot`.
    pub(crate) fn cell(&self, slot: usize, holder: usize) -> usize {
        HEADER + (slot * HOLDERS + holder) * 4
    }

    /// Bytes of header and cells (mapped writable by subscribers).
    pub(crate) fn control_len(&self) -> usize {
        HEADER + self.slots * HOLDERS * 4
    }

    /// Where the data starts.
    pub(crate) fn data_offset(&self) -> usize {
        self.control_len().div_ceil(ALIGN) * ALIGN
    }

    /// Bytes of the slots.
    pub(crate) fn data_len(&self) -> usize {
        self.slots * self.slot_size
    }

    /// Size of the whole file.
    pub(crate) fn file_len(&self) -> usize {
        self.data_offset() + self.data_len()
    }

    /// The header of a pool with this geometry.
    pub(crate) fn header(&self, uid: u64) -> [u8; HEADER] {
        let mut out = [0u8; HEADER];
        out[..8].copy_from_slice(&MAGIC);
        out[8..16].copy_from_slice(&uid.to_le_bytes());
        out[16..20].copy_from_slice(&(self.slots as u32).to_le_bytes());
        out[20..24].copy_from_slice(&(self.slot_size as u32).to_le_bytes());
        out[24..28].copy_from_slice(&(HOLDERS as u32).to_le_bytes());
        out
    }

    /// Reads a header; refuses anything that is not a pool of this layout with the
    /// expected uid, or whose geometry does not fit `file_len`.
    pub(crate) fn parse(header: &[u8], uid: u64, file_len: usize) -> Result<Self, ShmError> {
        let bad = |why: &'static str| Err(ShmError::NotAPool(why));
        if header.len() < HEADER || header[..8] != MAGIC {
            return bad("no pool header");
        }
        let word = |at: usize| -> u32 {
            let mut w = [0u8; 4];
            w.copy_from_slice(&header[at..at + 4]);
            u32::from_le_bytes(w)
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&header[8..16]);
        if u64::from_le_bytes(id) != uid {
            return bad("another pool (uid differs)");
        }
        if word(24) as usize != HOLDERS {
            return bad("another number of holders per slot");
        }
        let geometry = Self {
            slots: word(16) as usize,
            slot_size: word(20) as usize,
        };
        if geometry.slots == 0
            || geometry.slots > MAX_SLOTS
            || geometry.slot_size == 0
            || geometry.slot_size % ALIGN != 0
            || geometry.data_len() > super::MAX_POOL_BYTES
            || geometry.file_len() != file_len
        {
            return bad("geometry does not match the file");
        }
        Ok(geometry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_powers_of_two_and_at_least_two_fit() {
        let g = Geometry::for_frame(1 << 20, 64 << 20).expect("fits");
        assert_eq!((g.slots, g.slot_size), (64, 1 << 20));
        let g = Geometry::for_frame(3 << 20, 64 << 20).expect("fits");
        assert_eq!((g.slots, g.slot_size), (16, 4 << 20));
        let g = Geometry::for_frame(1000, 64 << 20).expect("fits");
        assert_eq!((g.slots, g.slot_size), (1024, ALIGN));
        assert_eq!(Geometry::for_frame(40 << 20, 64 << 20), None);
        assert_eq!(g.data_offset() % ALIGN, 0);
        assert!(g.data_offset() >= g.control_len());
    }

    #[test]
    fn a_header_reads_back_and_a_wrong_one_is_refused() {
        let g = Geometry::for_frame(1 << 20, 8 << 20).expect("fits");
        let header = g.header(42);
        assert_eq!(Geometry::parse(&header, 42, g.file_len()).ok(), Some(g));
        assert!(Geometry::parse(&header, 43, g.file_len()).is_err());
        assert!(Geometry::parse(&header, 42, g.file_len() - 1).is_err());
        assert!(Geometry::parse(&header[..10], 42, g.file_len()).is_err());
        let mut bad = header;
        bad[20] = 1;
        assert!(Geometry::parse(&bad, 42, g.file_len()).is_err());
        // A pool larger than any subscriber maps, however consistent.
        let huge = Geometry {
            slots: 4,
            slot_size: 1 << 30,
        };
        assert!(Geometry::parse(&huge.header(42), 42, huge.file_len()).is_err());
    }
}
