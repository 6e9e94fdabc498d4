//! The baselines: the bare `zeromq` crate doing the same socket work without Pinion.
//! The one place outside `node-runtime/src/transport/` that names the crate, on purpose.

use bytes::Bytes;
use std::time::Duration;
use zeromq::{PubSocket, Socket, SocketOptions, SocketRecv, SocketSend, SubSocket, ZmqMessage};

/// A bare PUB socket.
pub struct BarePub(PubSocket);

/// A bare SUB socket.
pub struct BareSub(SubSocket);

impl BarePub {
    /// Binds `endpoint`; returns the socket and the endpoint bound.
    pub async fn bind(endpoint: &str) -> anyhow::Result<(Self, String)> {
        let mut socket = PubSocket::new();
        let bound = socket.bind(endpoint).await?.to_string();
        Ok((Self(socket), bound))
    }

    /// Sends one multipart message.
    pub async fn send(&mut self, frames: Vec<Bytes>) -> anyhow::Result<()> {
        let message = ZmqMessage::try_from(frames).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.0.send(message).await?;
        Ok(())
    }
}

impl BareSub {
    /// Connects to `endpoint`, subscribed to `prefix`.
    pub async fn connect(endpoint: &str, prefix: &str) -> anyhow::Result<Self> {
        let mut options = SocketOptions::default();
        options.connect_timeout(Duration::from_secs(5));
        let mut socket = SubSocket::with_options(options);
        socket.subscribe(prefix).await?;
        socket.connect(endpoint).await?;
        Ok(Self(socket))
    }

    /// Receives one multipart message.
    pub async fn recv(&mut self) -> anyhow::Result<Vec<Bytes>> {
        Ok(self.0.recv().await?.into_vec())
    }
}
