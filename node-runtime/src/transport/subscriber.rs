//! A subscriber's side of the data path for one topic: one DEALER connection per
//! publisher node, each returning credit as the messages it brought are consumed.
//!
//! The connections are polled by whoever awaits [`DataSubscriber::recv`] (the
//! subscription task), not by tasks of their own: a message reaches the subscription
//! without a hop between tasks.

use super::batch;
use super::credit::{self, Control};
use super::{connect_options, normalize, Frames, TransportError};
use crate::auth::Key;
use crate::shm;
use futures::future::FutureExt;
use futures::stream::{BoxStream, StreamExt};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// What one connection consumed since it last returned credit.
#[derive(Debug, Default)]
struct Consumed {
    bytes: i64,
    messages: i64,
}

/// One publisher connection.
struct Connection {
    id: ConnectionId,
    endpoint: String,
    /// What it receives; dropping it drops the socket.
    frames: BoxStream<'static, Frames>,
    /// The rest of a batch it brought.
    batch: std::vec::IntoIter<Frames>,
    consumed: Consumed,
    credit: mpsc::UnboundedSender<Control>,
    writer: JoinHandle<()>,
    /// The publisher's pools, on this host (ipc) and while they can be mapped.
    pools: Option<shm::Inbound>,
}

impl Connection {
    /// Counts what it delivered, and returns credit for it half a window at a time.
    fn consumed(&mut self, frames: &Frames) {
        // Frames in a publisher's slots count as if they had come through the socket:
        // the publisher charged them so.
        self.consumed.bytes +=
            frames.iter().map(|f| f.len() as i64).sum::<i64>() + shm::pooled_len(frames);
        self.consumed.messages += 1;
        if self.consumed.bytes >= credit::RETURN_BYTES
            || self.consumed.messages >= credit::RETURN_MESSAGES
        {
            let consumed = std::mem::take(&mut self.consumed);
            let _ = self.credit.send(Control::Credit {
                bytes: consumed.bytes,
                messages: consumed.messages,
            });
        }
    }
}

impl Connection {
    /// The message an envelope wraps, its large frames in the publisher's slots. If the
    /// pool cannot be mapped, the publisher is told to use the socket from now on, and
    /// the message is dropped.
    fn open_pooled(&mut self, frames: Frames) -> Option<Frames> {
        let error = match self.pools.as_mut().map(|pools| pools.open(frames)) {
            Some(Ok(frames)) => return Some(frames),
            Some(Err(e)) => e.to_string(),
            None => "shared memory is off here".to_owned(),
        };
        if self.pools.take().is_some() {
            tracing::warn!(
                endpoint = %self.endpoint,
                "cannot read the publisher's shared memory ({error}); asking for the socket instead"
            );
            let _ = self.credit.send(Control::ShmRefused);
        }
        None
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

/// Names one publisher connection of a [`DataSubscriber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(u64);

/// The connections of one topic subscription, filtered on one topic prefix.
pub struct DataSubscriber {
    prefix: String,
    connect_timeout: Duration,
    key: Option<Key>,
    /// Polled in turn, starting after the one that delivered last, so that a busy
    /// publisher cannot starve the others.
    connections: Vec<Connection>,
    next_id: u64,
    /// Where the next poll starts.
    next_turn: usize,
    /// Bytes and messages each publisher keeps for it without credit (none: 0).
    keep: (i64, i64),
}

impl std::fmt::Debug for DataSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints: Vec<&str> = self
            .connections
            .iter()
            .map(|c| c.endpoint.as_str())
            .collect();
        f.debug_struct("DataSubscriber")
            .field("prefix", &self.prefix)
            .field("connections", &endpoints)
            .finish()
    }
}

impl DataSubscriber {
    /// A subscription to `prefix` with no connection yet; `connect_timeout` bounds each
    /// `connect`; with a key, each connection proves it holds it.
    pub async fn new(
        prefix: &str,
        connect_timeout: Duration,
        key: Option<Key>,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            prefix: prefix.to_owned(),
            connect_timeout,
            key,
            connections: Vec::new(),
            next_id: 0,
            next_turn: 0,
            keep: (0, 0),
        })
    }

    /// Asks each publisher to keep at most `bytes` and `messages` for it while a
    /// connection has no credit (see [`Control::Keep`]).
    pub fn keep(mut self, bytes: usize, messages: usize) -> Self {
        let clamp = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.keep = (clamp(bytes), clamp(messages));
        self
    }

    /// Connects to a publisher's data socket and subscribes; fails if it cannot be
    /// reached within the connect timeout.
    pub async fn connect(&mut self, endpoint: &str) -> Result<ConnectionId, TransportError> {
        let endpoint = normalize(endpoint)?;
        let failed = |reason: String| TransportError::Socket {
            endpoint: endpoint.clone(),
            reason,
        };
        let options = connect_options(self.connect_timeout, self.key.as_ref());
        let mut socket = DealerSocket::with_options(options);
        socket
            .connect(&endpoint)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let subscribe =
            credit::encode(&Control::Subscribe(self.prefix.clone().into_bytes().into()));
        socket
            .send(ZmqMessage::from(subscribe))
            .await
            .map_err(|e| failed(e.to_string()))?;
        if self.keep != (0, 0) {
            let (bytes, messages) = self.keep;
            socket
                .send(ZmqMessage::from(credit::encode(&Control::Keep {
                    bytes,
                    messages,
                })))
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        // On this host, large frames may come through the publisher's pools.
        let pooled = endpoint.starts_with("ipc://") && shm::pool_bytes() > 0;
        if pooled {
            socket
                .send(ZmqMessage::from(credit::encode(&Control::Shm {
                    pid: std::process::id(),
                })))
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        let (mut send, recv) = socket.split();

        let id = ConnectionId(self.next_id);
        self.next_id += 1;
        // Boxed: the stream moves its state in and out of a future per message.
        let frames = futures::stream::unfold(Box::new(recv), |mut recv| async move {
            match recv.recv().await {
                Ok(message) => Some((message.into_vec(), recv)),
                Err(e) => {
                    // The stream ends; the publisher list decides whether to connect anew.
                    tracing::debug!(error = %e, "data connection closed");
                    None
                }
            }
        });
        let (credit, mut credits) = mpsc::unbounded_channel::<Control>();
        let writer = tokio::spawn(async move {
            while let Some(control) = credits.recv().await {
                if send
                    .send(ZmqMessage::from(credit::encode(&control)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        self.connections.push(Connection {
            id,
            endpoint,
            frames: frames.boxed(),
            batch: Vec::new().into_iter(),
            consumed: Consumed::default(),
            credit,
            writer,
            pools: pooled.then(shm::Inbound::default),
        });
        Ok(id)
    }

    /// Closes one publisher connection; the others go on undisturbed. What it delivered
    /// but `recv` has not returned yet is dropped with it.
    pub fn disconnect(&mut self, id: ConnectionId) {
        self.connections.retain(|c| c.id != id);
    }

    /// Waits for the next message from any connection (cancel-safe: a message is taken
    /// only when it is returned). With no open connection, waits for ever.
    pub async fn recv(&mut self) -> Frames {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Whether messages of a batch that arrived are still to be taken: `try_recv` then
    /// returns one without reading a socket.
    pub fn has_buffered(&self) -> bool {
        self.connections.iter().any(|c| c.batch.len() > 0)
    }

    /// The next message if one has arrived already; never waits. Lets a caller drain
    /// what is ready in one go instead of one wake-up per message.
    pub fn try_recv(&mut self) -> Option<Frames> {
        self.recv().now_or_never()
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Frames> {
        let mut tried = 0;
        while tried < self.connections.len() {
            let turn = (self.next_turn + tried) % self.connections.len();
            let connection = &mut self.connections[turn];
            let frames = match connection.batch.next() {
                Some(frames) => Some(frames),
                None => match connection.frames.poll_next_unpin(cx) {
                    Poll::Ready(Some(frames)) if batch::is_batch(&frames) => {
                        match batch::unpack(frames) {
                            Ok(messages) => {
                                let mut messages = messages.into_iter();
                                let first = messages.next();
                                connection.batch = messages;
                                first
                            }
                            // Delivered as it is, to be counted as malformed.
                            Err(frames) => Some(frames),
                        }
                    }
                    Poll::Ready(Some(frames)) => Some(frames),
                    Poll::Ready(None) => {
                        // Closed by the peer: forget it, and look at the one that took
                        // its place.
                        drop(self.connections.swap_remove(turn));
                        continue;
                    }
                    Poll::Pending => None,
                },
            };
            match frames {
                Some(frames) => {
                    connection.consumed(&frames);
                    let frames = if shm::is_envelope(&frames) {
                        match connection.open_pooled(frames) {
                            Some(frames) => frames,
                            // Dropped (the subscriber sees a gap): look again.
                            None => continue,
                        }
                    } else {
                        frames
                    };
                    self.next_turn = turn + 1;
                    return Poll::Ready(frames);
                }
                None => tried += 1,
            }
        }
        Poll::Pending
    }
}
