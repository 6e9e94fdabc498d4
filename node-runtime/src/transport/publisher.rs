//! The data (PUB) socket of a node.

use super::replier::bind_socket;
use super::TransportError;
use bytes::Bytes;
use zeromq::{PubSocket, Socket, SocketSend, ZmqMessage};

/// A node's PUB socket, shared by all its publishers.
///
/// The engine queues per subscriber and drops for a subscriber whose queue is full,
/// so one slow subscriber never blocks `send`.
pub struct DataPublisher {
    socket: PubSocket,
}

impl std::fmt::Debug for DataPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPublisher").finish_non_exhaustive()
    }
}

impl DataPublisher {
    /// A PUB socket with no endpoint yet.
    pub fn new() -> Self {
        Self {
            socket: PubSocket::new(),
        }
    }

    /// Binds `endpoint` and returns the endpoint actually bound.
    pub async fn bind(&mut self, endpoint: &str) -> Result<String, TransportError> {
        bind_socket(&mut self.socket, endpoint).await
    }

    /// Queues one multipart message for every matching subscriber.
    pub async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        let message = ZmqMessage::try_from(frames).map_err(|e| TransportError::Socket {
            endpoint: "pub".to_owned(),
            reason: e.to_string(),
        })?;
        self.socket
            .send(message)
            .await
            .map_err(|e| TransportError::Socket {
                endpoint: "pub".to_owned(),
                reason: e.to_string(),
            })
    }
}

impl Default for DataPublisher {
    fn default() -> Self {
        Self::new()
    }
}
