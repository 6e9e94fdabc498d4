//! The data socket of a node: a ROUTER that sends each subscriber only what its credit allows.
//!
//! The engine's PUB socket queues without a byte limit for a subscriber that stopped
//! reading, so one frozen process or dead Wi-Fi link grows the publisher without bound.
//! Here each subscriber connection (a DEALER, see [`super::DataSubscriber`]) says which
//! topic prefixes it wants and returns credit as it consumes. The publisher sends to a
//! subscriber only while it has credit and drops (counts) that subscriber's messages
//! otherwise, so what waits for one subscriber is bounded by [`credit::WINDOW_BYTES`],
//! and the other subscribers are not slowed.

use super::credit::{self, Control};
use super::replier::bind_socket;
use super::TransportError;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use zeromq::{RouterSendHalf, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// One subscriber connection.
#[derive(Debug)]
struct Peer {
    /// Frame-0 prefixes it subscribed to.
    prefixes: Vec<Bytes>,
    /// Bytes it may still be sent.
    bytes: i64,
    /// Messages it may still be sent.
    messages: i64,
}

type Peers = Arc<Mutex<HashMap<Bytes, Peer>>>;

enum State {
    /// Binding: nothing is read or sent yet.
    Binding(RouterSocket),
    /// Running: a task reads subscriptions and credit.
    Running {
        send: RouterSendHalf,
        reader: tokio::task::JoinHandle<()>,
    },
    /// Between the two (only while switching).
    Switching,
}

/// A node's data socket, shared by all its publishers.
pub struct DataPublisher {
    state: State,
    peers: Peers,
    dropped: u64,
}

impl std::fmt::Debug for DataPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPublisher")
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl DataPublisher {
    /// A data socket with no endpoint yet.
    pub fn new() -> Self {
        Self {
            state: State::Binding(RouterSocket::new()),
            peers: Arc::default(),
            dropped: 0,
        }
    }

    /// Binds `endpoint` and returns the endpoint actually bound. Only before the first `send`.
    pub async fn bind(&mut self, endpoint: &str) -> Result<String, TransportError> {
        match &mut self.state {
            State::Binding(socket) => bind_socket(socket, endpoint).await,
            _ => Err(TransportError::Bind {
                endpoint: endpoint.to_owned(),
                reason: "the data socket already runs".to_owned(),
            }),
        }
    }

    /// Starts reading subscriptions and credit (done by the first `send` otherwise).
    pub fn start(&mut self) {
        if let State::Binding(_) = self.state {
            let State::Binding(socket) = std::mem::replace(&mut self.state, State::Switching)
            else {
                return;
            };
            let (send, recv) = socket.split();
            let reader = tokio::spawn(read_peers(recv, self.peers.clone()));
            self.state = State::Running { send, reader };
        }
    }

    /// Messages not sent to some subscriber because it had no credit, since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sends one multipart message (frame 0 is the topic) to every subscriber of a
    /// matching prefix that has credit for it. Never waits for a slow subscriber.
    pub async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        self.start();
        let Some(topic) = frames.first().cloned() else {
            return Err(TransportError::Socket {
                endpoint: "data".to_owned(),
                reason: "a message needs at least one frame".to_owned(),
            });
        };
        let size = frames.iter().map(|f| f.len() as i64).sum::<i64>();
        let targets: Vec<Bytes> = {
            let Ok(mut peers) = self.peers.lock() else {
                return Ok(());
            };
            let mut targets = Vec::new();
            for (id, peer) in peers.iter_mut() {
                if !peer.prefixes.iter().any(|p| topic.starts_with(p)) {
                    continue;
                }
                // Credit above zero lets one message through even if it is larger
                // than the whole window.
                if peer.bytes > 0 && peer.messages > 0 {
                    peer.bytes -= size;
                    peer.messages -= 1;
                    targets.push(id.clone());
                } else {
                    self.dropped += 1;
                }
            }
            targets
        };
        let State::Running { send, .. } = &mut self.state else {
            return Ok(());
        };
        for id in targets {
            let mut parts = Vec::with_capacity(frames.len() + 1);
            parts.push(id.clone());
            parts.extend(frames.iter().cloned());
            let Ok(message) = ZmqMessage::try_from(parts) else {
                continue;
            };
            if send.send(message).await.is_err() {
                // Gone: it subscribes again (with a new identity) if it comes back.
                if let Ok(mut peers) = self.peers.lock() {
                    peers.remove(&id);
                }
            }
        }
        Ok(())
    }
}

impl Drop for DataPublisher {
    fn drop(&mut self) {
        if let State::Running { reader, .. } = &self.state {
            reader.abort();
        }
    }
}

impl Default for DataPublisher {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads what subscriber connections say: their prefixes and their credit.
async fn read_peers(mut recv: zeromq::RouterRecvHalf, peers: Peers) {
    loop {
        let message = match recv.recv().await {
            Ok(m) => m,
            Err(e) => {
                // Not expected while the socket lives; do not spin on it.
                tracing::warn!(error = %e, "data socket receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut frames = message.into_vec().into_iter();
        let (Some(id), Some(body)) = (frames.next(), frames.next()) else {
            continue;
        };
        let Ok(control) = credit::decode(&body) else {
            tracing::debug!("ignored a malformed frame from a subscriber connection");
            continue;
        };
        let Ok(mut peers) = peers.lock() else {
            return;
        };
        match control {
            Control::Subscribe(prefix) => {
                let peer = peers.entry(id).or_insert(Peer {
                    prefixes: Vec::new(),
                    bytes: credit::WINDOW_BYTES,
                    messages: credit::WINDOW_MESSAGES,
                });
                if !peer.prefixes.contains(&prefix) {
                    peer.prefixes.push(prefix);
                }
            }
            Control::Credit { bytes, messages } => {
                if let Some(peer) = peers.get_mut(&id) {
                    peer.bytes = (peer.bytes + bytes).min(credit::WINDOW_BYTES);
                    peer.messages = (peer.messages + messages).min(credit::WINDOW_MESSAGES);
                }
            }
        }
    }
}
