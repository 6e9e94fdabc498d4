//! The header frame of a topic message.
//!
//! A topic message is `[topic + "\0" + header, payload...]`: the first frame is the topic,
//! a NUL, then the header; the payload is one frame or more (see `crate::segments`). The
//! NUL ends the topic so that prefix matching is exact (`chatter` never receives
//! `chatter2`). Topic and header share a frame because each frame costs the engine an
//! encode and a decode per message.

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
        subscriber_id: u64,
    },
    /// A flush marker: every subscriber that sees it acknowledges; the payload is empty.
    Flush {
        /// Token to acknowledge.
        token: u64,
    },
}

/// The header of every frame on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What this frame is.
    pub kind: FrameKind,
    /// Schema hash of the payload type.
    pub schema_hash: u64,
    /// Id of the publisher.
    pub publisher_id: u64,
    /// Sequence number of the last data message of this publisher (starts at 1).
    pub seq: u64,
    /// Send time, nanoseconds since the Unix epoch.
    pub stamp_ns: u64,
}

impl Header {
    /// Encodes the header.
    pub fn encode(&self) -> crate::Result<Vec<u8>> {
        crate::message::encode("message header", self)
    }

    /// Decodes a header, refusing trailing bytes.
    pub fn decode(bytes: &[u8]) -> crate::Result<Self> {
        crate::message::decode("message header", bytes)
    }
}

/// The first frame of a message: `topic_frame` (from [`topic_frame`]) and the header.
pub fn lead_frame(topic_frame: &[u8], header: &Header) -> crate::Result<Vec<u8>> {
    // Encoded on the stack first, so that the frame is allocated at its exact size: a
    // buffer with spare capacity costs the byte-string type one more allocation.
    let mut buffer = [0u8; MAX_HEADER];
    let encoded =
        postcard::to_slice(header, &mut buffer).map_err(|source| crate::Error::Codec {
            what: "message header",
            source,
        })?;
    let mut frame = Vec::with_capacity(topic_frame.len() + encoded.len());
    frame.extend_from_slice(topic_frame);
    frame.extend_from_slice(encoded);
    Ok(frame)
}

/// The longest encoded header: the kind (a tag and a varint) and four varint `u64`s.
const MAX_HEADER: usize = 64;

/// The header of a first frame that starts with `topic_frame`.
pub fn read_lead_frame(frame: &[u8], topic_frame: &[u8]) -> crate::Result<Header> {
    match frame.strip_prefix(topic_frame) {
        Some(header) => Header::decode(header),
        None => Err(crate::Error::Codec {
            what: "message topic",
            source: postcard::Error::DeserializeBadEncoding,
        }),
    }
}

/// The topic part of the first frame of every message on `topic`: what subscribers
/// match on.
pub fn topic_frame(topic: &str) -> Vec<u8> {
    let mut frame = Vec::with_capacity(topic.len() + 1);
    frame.extend_from_slice(topic.as_bytes());
    frame.push(0);
    frame
}
