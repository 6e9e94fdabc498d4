//! The wire protocol: every message that crosses a socket, and its encoding.
//!
//! - [`node_to_master`]: requests a node (or a tool) sends to the master, and
//!   [`master_to_node`]: the master's replies.
//! - [`control`]: requests sent to a node's control socket, by the master
//!   (graph updates, shutdown) or by peer nodes (subscriber handshake, flush acks).
//! - [`header`]: the header frame of every topic message.
//!
//! Each request travels as one frame: a postcard-encoded [`Envelope`]. Decoding
//! refuses trailing bytes and unknown protocol versions.

pub mod call;
pub mod control;
pub mod header;
pub mod master_to_node;
pub mod node_to_master;
pub mod service;

pub use master_to_node::{MasterError, MasterErrorKind, MasterReply};
pub use node_to_master::NodeToMaster;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Version of the whole wire protocol: master, control and data frames. Requests and
/// replies carry it, and peers with another version are refused with a clear error, so
/// a node of another build never reaches the data path (which carries no version).
///
/// 2: topic and header share the first data frame; payloads may span several frames.
/// 3: the header has fixed-width numbers, and the payload starts in the first frame.
/// 4: small messages may travel in batches (`transport::batch`).
/// 5: a message in shared memory costs credit only what travels the socket or the lane
///    (`transport::credit`, `shm`), and `Shm` may name a lane.
pub const PROTOCOL_VERSION: u16 = 5;

/// One request or reply on the wire, with the protocol version in front.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The request or reply itself.
    pub body: T,
}

/// Encodes `body` in an envelope of the current version.
pub fn encode<T: Serialize>(what: &'static str, body: &T) -> crate::Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Ref<'a, T> {
        version: u16,
        body: &'a T,
    }
    crate::message::encode(
        what,
        &Ref {
            version: PROTOCOL_VERSION,
            body,
        },
    )
}

/// Decodes an envelope, refusing another version or trailing bytes.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> crate::Result<T> {
    // The version is the first field: read it alone first so that a peer of another
    // version gets "wrong version" rather than a confusing decode error.
    let (version, _) = postcard::take_from_bytes::<u16>(bytes)
        .map_err(|source| crate::Error::Codec { what, source })?;
    if version != PROTOCOL_VERSION {
        return Err(crate::Error::Protocol(format!(
            "{what}: peer speaks protocol version {version}, this build speaks {PROTOCOL_VERSION}"
        )));
    }
    crate::message::decode::<Envelope<T>>(what, bytes).map(|e| e.body)
}

/// Where a node can be reached: an ipc path for peers on the same host, a tcp endpoint for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoints {
    /// `ipc://...` endpoint, used by peers with the same host id.
    pub ipc: Option<String>,
    /// `tcp://ip:port` endpoint, used by every other peer.
    pub tcp: Option<String>,
}

impl Endpoints {
    /// The endpoint a peer on host `from_host` should use to reach a node on `host`.
    pub fn pick(&self, host: &str, from_host: &str) -> Option<&str> {
        if host == from_host {
            self.ipc.as_deref().or(self.tcp.as_deref())
        } else {
            self.tcp.as_deref()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let request = NodeToMaster::ListNodes(node_to_master::ListNodes);
        let bytes = encode("test", &request).expect("encode");
        assert!(matches!(
            decode::<NodeToMaster>("test", &bytes),
            Ok(NodeToMaster::ListNodes(_))
        ));
        let mut other = bytes.clone();
        other[0] = 9;
        let err = decode::<NodeToMaster>("test", &other).expect_err("version");
        assert!(err.to_string().contains("protocol version 9"), "{err}");
        let mut trailing = bytes;
        trailing.push(0);
        assert!(decode::<NodeToMaster>("test", &trailing).is_err());
    }

    #[test]
    fn request_structs_travel_as_the_variants_did() {
        // A request struct in a newtype variant encodes as the struct variant it
        // replaced, a unit struct as the unit variant: wire protocol 4 is unchanged.
        #[derive(Serialize)]
        enum Before {
            #[allow(dead_code)]
            RegisterNode,
            #[allow(dead_code)]
            Heartbeat,
            #[allow(dead_code)]
            UnregisterNode,
            #[allow(dead_code)]
            Advertise,
            #[allow(dead_code)]
            Unadvertise,
            #[allow(dead_code)]
            Subscribe,
            #[allow(dead_code)]
            Unsubscribe,
            #[allow(dead_code)]
            AdvertiseService,
            #[allow(dead_code)]
            UnadvertiseService,
            #[allow(dead_code)]
            LookupService,
            SetParam {
                key: String,
                value_json: String,
            },
            #[allow(dead_code)]
            GetParam,
            ListParams,
        }
        let now = NodeToMaster::SetParam(node_to_master::SetParam {
            key: "a".into(),
            value_json: "1".into(),
        });
        let before = Before::SetParam {
            key: "a".into(),
            value_json: "1".into(),
        };
        assert_eq!(
            postcard::to_stdvec(&now).expect("now"),
            postcard::to_stdvec(&before).expect("before")
        );
        assert_eq!(
            postcard::to_stdvec(&NodeToMaster::ListParams(node_to_master::ListParams))
                .expect("now"),
            postcard::to_stdvec(&Before::ListParams).expect("before")
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        for len in 0..2000 {
            let bytes: Vec<u8> = (0..len % 97)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = decode::<NodeToMaster>("fuzz", &bytes);
            let _ = decode::<control::ControlRequest>("fuzz", &bytes);
            let _ = header::Header::decode(&bytes);
        }
    }
}
