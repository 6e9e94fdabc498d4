//! Maps keyed by 64-bit ids (publisher and subscriber ids), looked up once per message.
//!
//! The ids are random and the maps are filled from the master's lists, not from what
//! arrives on a data socket, so a keyed hash (std's SipHash, there against crafted keys)
//! buys nothing here and costs more than the rest of the lookup. A few shifts and
//! multiplies (the finalizer of SplitMix64) spread the bits instead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from ids to `V`.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Hashes `u64`s with the SplitMix64 finalizer: every input bit reaches every output bit.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `u64` keys; kept correct for any other key all the same.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, id: u64) {
        let mut x = self.0 ^ id;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = x ^ (x >> 31);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_in_one_bit_land_in_different_buckets() {
        let hash = |id: u64| {
            let mut h = IdHasher::default();
            h.write_u64(id);
            h.finish()
        };
        // hashbrown takes the bucket from the low bits and a tag from the top 7.
        let low: std::collections::HashSet<u64> = (0..64).map(|i| hash(1 << i) & 0xff).collect();
        assert!(low.len() > 48, "low bits spread: {}", low.len());
        let top: std::collections::HashSet<u64> = (0..64).map(|i| hash(1 << i) >> 57).collect();
        assert!(top.len() > 32, "top bits spread: {}", top.len());
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut map: IdMap<&str> = IdMap::default();
        map.insert(7, "seven");
        map.insert(u64::MAX, "max");
        assert_eq!(map.get(&7), Some(&"seven"));
        assert_eq!(map.get(&u64::MAX), Some(&"max"));
        assert_eq!(map.get(&8), None);
    }
}
