//! A SUB socket for one topic.

use super::{normalize, Frames, TransportError};
use std::time::Duration;
use zeromq::{Socket, SocketOptions, SocketRecv, SubSocket, ZmqMessage};

/// A SUB socket filtered on one topic prefix.
pub struct DataSubscriber {
    socket: SubSocket,
    prefix: String,
}

impl std::fmt::Debug for DataSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataSubscriber")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl DataSubscriber {
    /// A SUB socket subscribed to `prefix`; `connect_timeout` bounds each `connect`.
    pub async fn new(prefix: &str, connect_timeout: Duration) -> Result<Self, TransportError> {
        let mut options = SocketOptions::default();
        options.connect_timeout(connect_timeout);
        let mut socket = SubSocket::with_options(options);
        socket
            .subscribe(prefix)
            .await
            .map_err(|e| TransportError::Socket {
                endpoint: "sub".to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            socket,
            prefix: prefix.to_owned(),
        })
    }

    /// Connects to a publisher; fails if it cannot be reached within the connect timeout.
    pub async fn connect(&mut self, endpoint: &str) -> Result<(), TransportError> {
        let endpoint = normalize(endpoint)?;
        self.socket
            .connect(&endpoint)
            .await
            .map_err(|e| TransportError::Socket {
                endpoint,
                reason: e.to_string(),
            })
    }

    /// Waits for the next message (cancel-safe).
    pub async fn recv(&mut self) -> Result<Frames, TransportError> {
        self.socket
            .recv()
            .await
            .map(ZmqMessage::into_vec)
            .map_err(|e| TransportError::Socket {
                endpoint: self.prefix.clone(),
                reason: e.to_string(),
            })
    }
}
