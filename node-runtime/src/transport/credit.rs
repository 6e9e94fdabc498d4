//! What a subscriber connection says to a publisher's data socket: the topic prefixes it
//! wants, and credit for more. Credit-based flow control: a publisher never has more
//! than one window of bytes (or messages) on its way to one subscriber.

use bytes::Bytes;

/// Bytes a publisher may send one subscriber ahead of its credit.
pub const WINDOW_BYTES: i64 = 16 << 20;
/// Messages a publisher may send one subscriber ahead of its credit.
pub const WINDOW_MESSAGES: i64 = 20_000;
/// Bytes a subscriber connection consumes before it returns credit for them: half a
/// window. Each return wakes a task on both ends (and a reliable publisher waiting for
/// room), so returns are few; half a window still leaves the other half in flight while
/// the credit travels back.
pub const RETURN_BYTES: i64 = WINDOW_BYTES / 2;
/// Messages a subscriber connection consumes before it returns credit: half a window.
pub const RETURN_MESSAGES: i64 = WINDOW_MESSAGES / 2;

/// The largest message a subscriber connection sends (a subscription names a topic):
/// what the guard of a data socket admits.
pub const MAX_CONTROL: usize = 64 * 1024;

/// The most messages a subscriber may ask a publisher to keep for it while it has no
/// credit ([`Control::Keep`]).
pub const MAX_KEEP_MESSAGES: i64 = 100_000;
/// The most bytes a subscriber may ask a publisher to keep for it.
pub const MAX_KEEP_BYTES: i64 = 256 << 20;

const SUBSCRIBE: u8 = 1;
const CREDIT: u8 = 2;
const KEEP: u8 = 3;
const SHM: u8 = 4;
const SHM_REFUSED: u8 = 5;

/// One frame from a subscriber connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Send me messages whose first frame starts with this.
    Subscribe(Bytes),
    /// I consumed this much: you may send that much more.
    Credit {
        /// Bytes consumed.
        bytes: i64,
        /// Messages consumed.
        messages: i64,
    },
    /// While I have no credit, keep at most this much for me (the newest), and drop
    /// the rest, counting it: my queue depth and its byte cap.
    Keep {
        /// Bytes kept at most.
        bytes: i64,
        /// Messages kept at most.
        messages: i64,
    },
    /// I run on your host as process `pid` and can map your shared-memory pools: send
    /// me large frames through them (see [`crate::shm`]).
    Shm {
        /// The subscriber's process id: the publisher clears its holds when it dies.
        pid: u32,
        /// The write end of its lane for envelopes, a descriptor of process `pid`
        /// (see [`crate::shm`]); without one, envelopes come through the socket.
        lane: Option<u32>,
    },
    /// I could not map your pool after all: send me everything through the socket.
    ShmRefused,
}

/// Why a frame is not a [`Control`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed;

/// The frame for `control`.
pub fn encode(control: &Control) -> Bytes {
    match control {
        Control::Subscribe(prefix) => {
            let mut out = Vec::with_capacity(prefix.len() + 1);
            out.push(SUBSCRIBE);
            out.extend_from_slice(prefix);
            out.into()
        }
        Control::Credit { bytes, messages } => pair(CREDIT, *bytes, *messages),
        Control::Keep { bytes, messages } => pair(KEEP, *bytes, *messages),
        Control::Shm { pid, lane } => {
            let mut out = vec![SHM];
            out.extend_from_slice(&pid.to_le_bytes());
            if let Some(fd) = lane {
                out.extend_from_slice(&fd.to_le_bytes());
            }
            out.into()
        }
        Control::ShmRefused => Bytes::from_static(&[SHM_REFUSED]),
    }
}

fn pair(kind: u8, bytes: i64, messages: i64) -> Bytes {
    let mut out = Vec::with_capacity(17);
    out.push(kind);
    out.extend_from_slice(&bytes.to_le_bytes());
    out.extend_from_slice(&messages.to_le_bytes());
    out.into()
}

/// Reads a frame; refuses anything else than exactly one well-formed control.
pub fn decode(frame: &[u8]) -> Result<Control, Malformed> {
    match frame.split_first() {
        Some((&SUBSCRIBE, prefix)) => Ok(Control::Subscribe(Bytes::copy_from_slice(prefix))),
        Some((&kind @ (CREDIT | KEEP), rest)) if rest.len() == 16 => {
            let (b, m) = rest.split_at(8);
            let bytes = i64::from_le_bytes(b.try_into().map_err(|_| Malformed)?);
            let messages = i64::from_le_bytes(m.try_into().map_err(|_| Malformed)?);
            if bytes < 0 || messages < 0 {
                return Err(Malformed);
            }
            Ok(if kind == CREDIT {
                Control::Credit { bytes, messages }
            } else {
                Control::Keep { bytes, messages }
            })
        }
        Some((&SHM, rest)) => {
            let word = |b: &[u8]| b.try_into().map(u32::from_le_bytes).map_err(|_| Malformed);
            match rest.len() {
                4 => Ok(Control::Shm {
                    pid: word(rest)?,
                    lane: None,
                }),
                8 => Ok(Control::Shm {
                    pid: word(&rest[..4])?,
                    lane: Some(word(&rest[4..])?),
                }),
                _ => Err(Malformed),
            }
        }
        Some((&SHM_REFUSED, [])) => Ok(Control::ShmRefused),
        _ => Err(Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_round_trip_and_bad_frames_are_refused() {
        for c in [
            Control::Subscribe(Bytes::from_static(b"chatter\0")),
            Control::Credit {
                bytes: 123_456,
                messages: 7,
            },
            Control::Keep {
                bytes: 16 << 20,
                messages: 1000,
            },
            Control::Shm {
                pid: 4_000_000,
                lane: None,
            },
            Control::Shm {
                pid: 4_000_000,
                lane: Some(17),
            },
            Control::ShmRefused,
        ] {
            assert_eq!(decode(&encode(&c)), Ok(c));
        }
        for bad in [
            &b""[..],
            b"\x02short",
            b"\x09",
            b"\x04\x01\x02",
            b"\x04\x01\x02\x03\x04\x05",
            b"\x05\x00",
            b"\x02\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0",
        ] {
            assert_eq!(decode(bad), Err(Malformed), "{bad:?}");
        }
    }
}
