//! Frames on a service socket.

use serde::{Deserialize, Serialize};

/// A call: the types the client means, and the encoded request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceCall {
    /// Schema hash of the request type.
    pub request_hash: u64,
    /// Schema hash of the response type the client expects.
    pub response_hash: u64,
    /// The encoded request.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// The answer to a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ServiceAnswer {
    /// The encoded response.
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The handler failed, or the call was refused; the text says why.
    Err(String),
}
