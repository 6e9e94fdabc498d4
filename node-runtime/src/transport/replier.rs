//! Request/reply server.

use super::guard::{self, Guard, Guarded};
use super::{normalize, prepare_ipc_path, Frames, TransportError};
use std::path::Path;
use std::time::Duration;
use zeromq::{RepSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// How long a reply may take to be handed to the engine. The engine's REP `send` waits,
/// holding that peer's entry locked, while the peer's outgoing queue is full; a peer
/// that stopped reading must not stop the whole server.
const REPLY_WITHIN: Duration = Duration::from_secs(1);

/// A REP server bound on one or more endpoints. Each `recv` must be followed by one `send`.
pub struct Replier {
    socket: RepSocket,
    endpoints: Vec<String>,
    guard: Guard,
    guards: Vec<Guarded>,
}

impl std::fmt::Debug for Replier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replier")
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl Replier {
    /// A server with no endpoint yet; its tcp endpoints admit what `guard` allows.
    pub fn new(guard: Guard) -> Self {
        Self {
            socket: RepSocket::new(),
            endpoints: Vec::new(),
            guard,
            guards: Vec::new(),
        }
    }

    /// Binds `endpoint` and returns the endpoint actually bound (port 0 resolved).
    pub async fn bind(&mut self, endpoint: &str) -> Result<String, TransportError> {
        let (bound, guarded) = bind_socket(&mut self.socket, endpoint, &self.guard).await?;
        self.guards.extend(guarded);
        self.endpoints.push(bound.clone());
        Ok(bound)
    }

    /// Waits for the next request.
    pub async fn recv(&mut self) -> Result<Frames, TransportError> {
        self.socket
            .recv()
            .await
            .map(ZmqMessage::into_vec)
            .map_err(|e| TransportError::Socket {
                endpoint: self.endpoints.join(", "),
                reason: e.to_string(),
            })
    }

    /// Replies to the last request; gives up (and drops the reply) after [`REPLY_WITHIN`].
    pub async fn send(&mut self, body: Vec<u8>) -> Result<(), TransportError> {
        let failed = |reason: String| TransportError::Socket {
            endpoint: self.endpoints.join(", "),
            reason,
        };
        match tokio::time::timeout(REPLY_WITHIN, self.socket.send(ZmqMessage::from(body))).await {
            Ok(sent) => sent.map_err(|e| failed(e.to_string())),
            Err(_) => Err(failed(format!(
                "the requester took no reply within {REPLY_WITHIN:?}; dropped"
            ))),
        }
    }
}

/// Binds any engine socket on a checked endpoint and returns the bound endpoint: tcp
/// behind a guard (returned with it), ipc directly.
pub(super) async fn bind_socket<S: Socket>(
    socket: &mut S,
    endpoint: &str,
    guard: &Guard,
) -> Result<(String, Option<Guarded>), TransportError> {
    let endpoint = normalize(endpoint)?;
    match endpoint.strip_prefix("ipc://") {
        Some(path) => prepare_ipc_path(Path::new(path))?,
        None if guard::bypassed() => {
            tracing::warn!(%endpoint, "bound without a guard (benchmark)");
        }
        None => {
            let (bound, guarded) = guard::bind(socket, &endpoint, guard).await?;
            return Ok((bound, Some(guarded)));
        }
    }
    socket
        .bind(&endpoint)
        .await
        .map(|bound| (bound.to_string(), None))
        .map_err(|e| TransportError::Bind {
            endpoint,
            reason: e.to_string(),
        })
}
