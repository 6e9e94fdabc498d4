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
    /// A message from the socket that waits for lane records sent before it.
    held: Option<Frames>,
    /// Messages taken from the socket so far (a batch's one by one).
    received: u64,
    /// The lane the publisher writes envelopes to (on this host, with pools on).
    lane: Option<shm::Lane>,
    consumed: Consumed,
    credit: mpsc::UnboundedSender<Control>,
    writer: JoinHandle<()>,
    /// The publisher's pools, on this host (ipc) and while they can be mapped.
    pools: Option<shm::Inbound>,
}

impl Connection {
    /// Counts what it delivered, and returns credit for it half a window at a time.
    fn consumed(&mut self, frames: &Frames) {
        // Frames in a publisher's slots are not counted (their envelope is): the
        // publisher charged only what travelled.
        self.consumed.bytes += frames.iter().map(|f| f.len() as i64).sum::<i64>();
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

/// Turns of [`Connection::poll_next`] before it lets other tasks run: each turn
/// takes a message or reads the pipe, so this is never reached but by a flood.
const MAX_TURNS: usize = 64;

impl Connection {
    /// The next message, in the order the publisher sent it, whether through the
    /// socket or the lane (see [`crate::shm`]); `Ready(None)` once the socket closed.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frames>> {
        for _ in 0..MAX_TURNS {
            if let Some(frames) = self
                .lane
                .as_mut()
                .and_then(|l| l.next_before(self.received))
            {
                return Poll::Ready(Some(frames));
            }
            if self.held.is_none() {
                self.held = match self.batch.next() {
                    Some(frames) => Some(frames),
                    None => match self.frames.poll_next_unpin(cx) {
                        Poll::Ready(Some(frames)) if batch::is_batch(&frames) => {
                            match batch::unpack(frames) {
                                Ok(messages) => {
                                    self.batch = messages.into_iter();
                                    self.batch.next()
                                }
                                // Delivered as it is, to be counted as malformed.
                                Err(frames) => Some(frames),
                            }
                        }
                        Poll::Ready(Some(frames)) => Some(frames),
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => None,
                    },
                };
            }
            match (self.lane.as_mut(), self.held.take()) {
                (Some(lane), Some(held)) => {
                    // What the publisher wrote to the lane before it sent this message
                    // is in the pipe by now: it goes first.
                    if let Err(e) = lane.drain() {
                        self.lane_failed(&e);
                    } else if lane.has_before(self.received) {
                        self.held = Some(held);
                        continue;
                    }
                    self.received += 1;
                    return Poll::Ready(Some(held));
                }
                (None, Some(held)) => {
                    self.received += 1;
                    return Poll::Ready(Some(held));
                }
                (Some(lane), None) => match lane.poll_read(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => self.lane_failed(&e),
                    Poll::Pending => return Poll::Pending,
                },
                (None, None) => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Whether a message is here already, to be taken without reading a socket.
    fn buffered(&self) -> bool {
        self.batch.len() > 0
            || self.held.is_some()
            || self
                .lane
                .as_ref()
                .is_some_and(|l| l.has_before(self.received))
    }

    /// The lane stopped reading: the publisher's next write to it fails, and it sends
    /// envelopes through the socket from then on.
    fn lane_failed(&self, error: &shm::ShmError) {
        tracing::warn!(
            endpoint = %self.endpoint,
            "{error}; large messages come through the socket's envelopes from now on"
        );
    }

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
        let lane = pooled
            .then(|| {
                shm::Lane::new()
                    .inspect_err(|e| {
                        tracing::warn!("{e}; large messages come through the socket's envelopes")
                    })
                    .ok()
            })
            .flatten();
        if pooled {
            socket
                .send(ZmqMessage::from(credit::encode(&Control::Shm {
                    pid: std::process::id(),
                    lane: lane.as_ref().map(shm::Lane::fd),
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
            held: None,
            received: 0,
            lane,
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
        self.connections.iter().any(Connection::buffered)
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
            match connection.poll_next(cx) {
                Poll::Ready(Some(frames)) => {
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
                Poll::Ready(None) => {
                    // Closed by the peer: forget it, and look at the one that took its
                    // place.
                    drop(self.connections.swap_remove(turn));
                }
                Poll::Pending => tried += 1,
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
#[path = "subscriber_order_tests.rs"]
mod order_tests;
