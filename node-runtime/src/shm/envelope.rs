//! The frame that says which frames of a message lie in a pool.
//!
//! A message sent through a pool travels as `[envelope, frame 0, frame 1, ...]` where
//! each frame named by the envelope is sent empty and lies in a slot instead:
//!
//! ```text
//! 0   ENVELOPE (1; batches start with 0, topics with neither)
//! 1   pid u32, fd u32, uid u64      the pool (see pool::PoolRef)
//! 17  holder u8, epoch u32          the receiving connection's hold cells
//! 22  count u8
//! 23  count x (frame u16, slot u32, offset u32, len u32)
//! ```

use super::pool::PoolRef;
use super::ShmError;

/// First byte of an envelope.
pub(crate) const ENVELOPE: u8 = 1;
const HEAD: usize = 23;
const ENTRY: usize = 14;
/// The most frames of one message that go through a pool.
pub(crate) const MAX_ENTRIES: usize = 32;

/// One frame in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its index in the message (0 is the topic frame, never in a slot).
    pub(crate) frame: u16,
    pub(crate) slot: u32,
    pub(crate) offset: u32,
    pub(crate) len: u32,
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) pool: PoolRef,
    pub(crate) holder: u8,
    pub(crate) epoch: u32,
    pub(crate) entries: Vec<Entry>,
}

/// Whether a received message is wrapped in an envelope.
pub(crate) fn is_envelope(frames: &[bytes::Bytes]) -> bool {
    frames.first().and_then(|f| f.first()) == Some(&ENVELOPE)
}

impl Envelope {
    /// The envelope frame.
    pub(crate) fn encode(&self) -> bytes::Bytes {
        let mut out = Vec::with_capacity(HEAD + ENTRY * self.entries.len());
        out.push(ENVELOPE);
        out.extend_from_slice(&self.pool.pid.to_le_bytes());
        out.extend_from_slice(&self.pool.fd.to_le_bytes());
        out.extend_from_slice(&self.pool.uid.to_le_bytes());
        out.push(self.holder);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.push(self.entries.len() as u8);
        for e in &self.entries {
            out.extend_from_slice(&e.frame.to_le_bytes());
            out.extend_from_slice(&e.slot.to_le_bytes());
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.len.to_le_bytes());
        }
        out.into()
    }

    /// Reads an envelope frame; refuses one of the wrong length or with more entries
    /// than [`MAX_ENTRIES`].
    pub(crate) fn decode(frame: &[u8]) -> Result<Self, ShmError> {
        let bad = Err(ShmError::BadEnvelope);
        if frame.len() < HEAD || frame[0] != ENVELOPE {
            return bad;
        }
        let count = frame[22] as usize;
        if count > MAX_ENTRIES || frame.len() != HEAD + ENTRY * count {
            return bad;
        }
        let u16_at = |at: usize| u16::from_le_bytes([frame[at], frame[at + 1]]);
        let u32_at = |at: usize| {
            u32::from_le_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]])
        };
        let mut uid = [0u8; 8];
        uid.copy_from_slice(&frame[9..17]);
        let entries = (0..count)
            .map(|i| {
                let at = HEAD + i * ENTRY;
                Entry {
                    frame: u16_at(at),
                    slot: u32_at(at + 2),
                    offset: u32_at(at + 6),
                    len: u32_at(at + 10),
                }
            })
            .collect();
        Ok(Self {
            pool: PoolRef {
                pid: u32_at(1),
                fd: u32_at(5),
                uid: u64::from_le_bytes(uid),
            },
            holder: frame[17],
            epoch: u32_at(18),
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_and_a_cut_or_padded_one_is_refused() {
        let envelope = Envelope {
            pool: PoolRef {
                pid: 77,
                fd: 9,
                uid: u64::MAX - 3,
            },
            holder: 5,
            epoch: 123_456,
            entries: vec![
                Entry {
                    frame: 1,
                    slot: 3,
                    offset: 0,
                    len: 1 << 20,
                },
                Entry {
                    frame: 3,
                    slot: 4,
                    offset: 16,
                    len: 9,
                },
            ],
        };
        let frame = envelope.encode();
        assert!(is_envelope(std::slice::from_ref(&frame)));
        assert_eq!(Envelope::decode(&frame).ok(), Some(envelope));
        assert!(Envelope::decode(&frame[..frame.len() - 1]).is_err());
        let mut padded = frame.to_vec();
        padded.push(0);
        assert!(Envelope::decode(&padded).is_err());
        let mut many = frame[..HEAD].to_vec();
        many[22] = 200;
        many.resize(HEAD + 200 * ENTRY, 0);
        assert!(Envelope::decode(&many).is_err());
    }
}
