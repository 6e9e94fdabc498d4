//! The first frame of a topic message: topic, header, and the start of the payload.
//!
//! A topic message is `[topic + "\0" + header + payload...]`, then more payload frames if
//! the payload has large blobs (see `crate::segments`). The NUL ends the topic so that
//! prefix matching is exact (`chatter` never receives `chatter2`). Topic, header and a
//! small payload share one frame because each frame costs the engine an encode and a
//! decode per message.
//!
//! The header's numbers have a fixed width, so a data header always takes
//! [`DATA_HEADER_LEN`] bytes: a publisher encodes the payload behind a reserved gap and
//! writes the header (sequence number, send time) into the gap when it sends.

use serde::{Deserialize, Serialize};

/// What a frame on a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FrameKind {
    /// A message; the payload is the postcard encoding of the topic's type.
    Data,
    /// A probe for one subscriber's handshake; the payload is empty.
    Probe {
        /// The subscriber the probe is for.
        #[serde(with = "postcard::fixint::le")]
        subscriber_id: u64,
    },
    /// A flush marker: every subscriber that sees it acknowledges; the payload is empty.
    Flush {
        /// Token to acknowledge.
        #[serde(with = "postcard::fixint::le")]
        token: u64,
    },
}

/// The header of every message on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What this message is.
    pub kind: FrameKind,
    /// Schema hash of the payload type.
    #[serde(with = "postcard::fixint::le")]
    pub schema_hash: u64,
    /// Id of the publisher.
    #[serde(with = "postcard::fixint::le")]
    pub publisher_id: u64,
    /// Sequence number of the last data message of this publisher (starts at 1).
    #[serde(with = "postcard::fixint::le")]
    pub seq: u64,
    /// Send time, nanoseconds since the Unix epoch.
    #[serde(with = "postcard::fixint::le")]
    pub stamp_ns: u64,
}

/// The encoded length of every [`FrameKind::Data`] header: the kind's tag and four
/// fixed-width numbers.
pub const DATA_HEADER_LEN: usize = 1 + 4 * 8;

/// The longest encoded header: the tag, a number of the kind, and four numbers.
const MAX_HEADER_LEN: usize = DATA_HEADER_LEN + 8;

impl Header {
    /// Encodes the header.
    pub fn encode(&self) -> crate::Result<Vec<u8>> {
        crate::message::encode("message header", self)
    }

    /// Decodes a header, refusing trailing bytes.
    pub fn decode(bytes: &[u8]) -> crate::Result<Self> {
        crate::message::decode("message header", bytes)
    }

    /// Writes the header at the start of `out`; returns the bytes written.
    pub fn write(&self, out: &mut [u8]) -> crate::Result<usize> {
        postcard::to_slice(self, out)
            .map(|written| written.len())
            .map_err(|source| crate::Error::Codec {
                what: "message header",
                source,
            })
    }
}

/// A first frame with no payload: `topic_frame` (from [`topic_frame`]) and the header.
pub fn lead_frame(topic_frame: &[u8], header: &Header) -> crate::Result<Vec<u8>> {
    let mut buffer = [0u8; MAX_HEADER_LEN];
    let len = header.write(&mut buffer)?;
    let mut frame = Vec::with_capacity(topic_frame.len() + len);
    frame.extend_from_slice(topic_frame);
    frame.extend_from_slice(&buffer[..len]);
    Ok(frame)
}

/// The header of a first frame that starts with `topic_frame`, and where the payload
/// starts in the frame.
pub fn read_lead_frame(frame: &[u8], topic_frame: &[u8]) -> crate::Result<(Header, usize)> {
    let codec = |what, source| crate::Error::Codec { what, source };
    let Some(rest) = frame.strip_prefix(topic_frame) else {
        return Err(codec(
            "message topic",
            postcard::Error::DeserializeBadEncoding,
        ));
    };
    let (header, payload) =
        postcard::take_from_bytes::<Header>(rest).map_err(|e| codec("message header", e))?;
    Ok((header, frame.len() - payload.len()))
}

/// The topic part of the first frame of every message on `topic`: what subscribers
/// match on.
pub fn topic_frame(topic: &str) -> Vec<u8> {
    let mut frame = Vec::with_capacity(topic.len() + 1);
    frame.extend_from_slice(topic.as_bytes());
    frame.push(0);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: FrameKind, n: u64) -> Header {
        Header {
            kind,
            schema_hash: n,
            publisher_id: n,
            seq: n,
            stamp_ns: n,
        }
    }

    #[test]
    fn a_data_header_has_one_length_whatever_its_numbers() {
        for n in [0, 1, 300, u64::MAX] {
            let bytes = header(FrameKind::Data, n).encode().expect("encode");
            assert_eq!(bytes.len(), DATA_HEADER_LEN, "{n}");
        }
        let probe = header(FrameKind::Probe { subscriber_id: 1 }, u64::MAX);
        assert_eq!(probe.encode().expect("encode").len(), MAX_HEADER_LEN);
    }

    #[test]
    fn the_lead_frame_says_where_the_payload_starts() {
        let topic = topic_frame("chatter");
        let sent = header(FrameKind::Flush { token: 9 }, 77);
        let mut frame = lead_frame(&topic, &sent).expect("lead");
        frame.extend_from_slice(b"payload");
        let (got, at) = read_lead_frame(&frame, &topic).expect("read");
        assert_eq!(got, sent);
        assert_eq!(&frame[at..], b"payload");
        assert!(read_lead_frame(&frame, &topic_frame("chatter2")).is_err());
        assert!(read_lead_frame(&frame[..topic.len() + 5], &topic).is_err());
    }
}
