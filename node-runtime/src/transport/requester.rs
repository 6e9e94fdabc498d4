//! Request/reply client with a timeout on every request (the zguide's Lazy Pirate).

use super::{connect_options, normalize, TransportError};
use crate::auth::Key;
use bytes::Bytes;
use std::time::Duration;
use zeromq::{ReqSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// A REQ client that survives dead, slow and restarted servers.
///
/// The engine's REQ socket never reconnects and is unusable after a failed receive,
/// so on any error or timeout the socket is dropped and the next request makes a new one.
pub struct Requester {
    endpoint: String,
    timeout: Duration,
    socket: Option<ReqSocket>,
    key: Option<Key>,
}

impl std::fmt::Debug for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requester")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("connected", &self.socket.is_some())
            .finish()
    }
}

impl Requester {
    /// A client for `endpoint`; nothing connects until the first request.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, TransportError> {
        Ok(Self {
            endpoint: normalize(endpoint)?,
            timeout,
            socket: None,
            key: None,
        })
    }

    /// With a key, every connection proves it holds it (what a keyed guard admits).
    pub fn with_key(mut self, key: Option<Key>) -> Self {
        self.key = key;
        self
    }

    /// The server's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request frame and waits for the one-frame reply, within the timeout.
    pub async fn request(&mut self, body: Vec<u8>) -> Result<Bytes, TransportError> {
        self.request_frames(vec![Bytes::from(body)]).await
    }

    /// Sends a multipart request and waits for the one-frame reply, within the timeout.
    pub async fn request_frames(&mut self, frames: Vec<Bytes>) -> Result<Bytes, TransportError> {
        let result = tokio::time::timeout(self.timeout, self.exchange(frames)).await;
        match result {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.socket = None;
                Err(e)
            }
            Err(_) => {
                self.socket = None;
                Err(TransportError::Timeout {
                    endpoint: self.endpoint.clone(),
                    timeout: self.timeout,
                    during: "request",
                })
            }
        }
    }

    async fn exchange(&mut self, frames: Vec<Bytes>) -> Result<Bytes, TransportError> {
        let endpoint = self.endpoint.clone();
        let fail = |e: zeromq::ZmqError| TransportError::Socket {
            endpoint: endpoint.clone(),
            reason: e.to_string(),
        };
        if self.socket.is_none() {
            let options = connect_options(self.timeout, self.key.as_ref());
            let mut socket = ReqSocket::with_options(options);
            socket.connect(&self.endpoint).await.map_err(|e| {
                // What the engine says when the peer closes during the handshake, as a
                // keyed guard does to a connection without the key.
                let closed_in_handshake =
                    matches!(&e, zeromq::ZmqError::Other(m) if *m == "No reply from server");
                let mut error = fail(e);
                if let (TransportError::Socket { reason, .. }, true, None) =
                    (&mut error, closed_in_handshake, &self.key)
                {
                    reason.push_str(
                        " (closed during the handshake: a robot with a key admits only peers that hold it; set PINION_KEY_FILE)",
                    );
                }
                error
            })?;
            self.socket = Some(socket);
        }
        let Some(socket) = self.socket.as_mut() else {
            return Err(TransportError::Socket {
                endpoint,
                reason: "no socket".to_owned(),
            });
        };
        let message = ZmqMessage::try_from(frames).map_err(|e| TransportError::Socket {
            endpoint: endpoint.clone(),
            reason: e.to_string(),
        })?;
        socket.send(message).await.map_err(fail)?;
        let reply = socket.recv().await.map_err(fail)?;
        let mut frames = reply.into_vec();
        if frames.len() != 1 {
            return Err(TransportError::Socket {
                endpoint,
                reason: format!("expected a one-frame reply, got {} frames", frames.len()),
            });
        }
        Ok(frames.pop().unwrap_or_default())
    }
}
