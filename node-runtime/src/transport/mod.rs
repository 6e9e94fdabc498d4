//! Transport: the only module that names the `zeromq` crate.
//!
//! Every engine fact Pinion designs around is guarded here:
//! - endpoints are checked before the crate sees them (`tcp://*` is mapped to
//!   `0.0.0.0`; `ipc://*` and abstract `ipc://@name` are refused; stale ipc files are
//!   unlinked only when nobody listens on them);
//! - every request has a timeout, and a socket that failed or timed out is dropped and
//!   made anew (the REQ socket of the crate never recovers by itself);
//! - `connect` is always bounded by a timeout;
//! - a publisher's memory stays bounded when a subscriber stops reading: the data path
//!   is ROUTER/DEALER with credit-based flow control ([`credit`]), not PUB/SUB, whose
//!   per-subscriber queue has no byte limit.

pub mod batch;
pub mod credit;
mod endpoint;
pub mod guard;
mod publisher;
mod replier;
mod requester;
mod subscriber;

pub use endpoint::{normalize, prepare_ipc_path, reachable};
pub use guard::{Guard, DEFAULT_MAX_MESSAGE};
pub use publisher::{CreditGate, DataPublisher};
pub use replier::Replier;
pub use requester::Requester;
pub use subscriber::{ConnectionId, DataSubscriber};

/// A failure of a socket operation, with the endpoint it concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint string is not usable.
    #[error("bad endpoint {endpoint:?}: {reason}")]
    BadEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it is refused.
        reason: String,
    },
    /// Binding failed.
    #[error("cannot bind {endpoint}: {reason}")]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// The engine's or OS's reason.
        reason: String,
    },
    /// The peer did not answer in time.
    #[error("no answer from {endpoint} within {timeout:?} ({during}); is it running?")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The time allowed.
        timeout: std::time::Duration,
        /// What was going on.
        during: &'static str,
    },
    /// The socket failed.
    #[error("socket error talking to {endpoint}: {reason}")]
    Socket {
        /// The endpoint.
        endpoint: String,
        /// The engine's reason.
        reason: String,
    },
}

/// Frames of one received multipart message.
pub type Frames = Vec<bytes::Bytes>;

/// Options of a socket that connects: the connect timeout and, with a key, a fresh
/// connection token as its identity (what a keyed guard admits; see [`guard`]).
fn connect_options(
    timeout: std::time::Duration,
    key: Option<&crate::auth::Key>,
) -> zeromq::SocketOptions {
    let mut options = zeromq::SocketOptions::default();
    options.connect_timeout(timeout);
    if let Some(key) = key {
        let token = guard::token::make(key, crate::host::now_ms(), crate::host::random_id());
        if let Ok(identity) = zeromq::util::PeerIdentity::try_from(token) {
            options.peer_identity(identity);
        }
    }
    options
}
