//! A subscriber's side of the data path for one topic: one DEALER connection per
//! publisher node, each returning credit as the messages it brought are consumed.
//!
//! The connections are polled by whoever awaits [`DataSubscriber::recv`] (the
//! subscription task), not by tasks of their own: a message reaches the subscription
//! without a hop between tasks.

use super::credit::{self, Control};
use super::{normalize, Frames, TransportError};
use futures::stream::{BoxStream, SelectAll, StreamExt};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

/// What one connection consumed since it last returned credit.
#[derive(Debug, Default)]
struct Consumed {
    bytes: i64,
    messages: i64,
}

/// One publisher connection.
struct Connection {
    endpoint: String,
    consumed: Consumed,
    credit: mpsc::UnboundedSender<Control>,
    writer: JoinHandle<()>,
    /// Dropped to end the connection's stream (and with it the socket).
    _stop: oneshot::Sender<()>,
}

/// Names one publisher connection of a [`DataSubscriber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(u64);

/// The connections of one topic subscription, filtered on one topic prefix.
pub struct DataSubscriber {
    prefix: String,
    connect_timeout: Duration,
    connections: HashMap<ConnectionId, Connection>,
    next_id: u64,
    /// What every connection receives, tagged with its id.
    incoming: SelectAll<BoxStream<'static, (ConnectionId, Frames)>>,
}

impl std::fmt::Debug for DataSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints: Vec<&str> = self
            .connections
            .values()
            .map(|c| c.endpoint.as_str())
            .collect();
        f.debug_struct("DataSubscriber")
            .field("prefix", &self.prefix)
            .field("connections", &endpoints)
            .finish()
    }
}

impl DataSubscriber {
    /// A subscription to `prefix` with no connection yet; `connect_timeout` bounds each `connect`.
    pub async fn new(prefix: &str, connect_timeout: Duration) -> Result<Self, TransportError> {
        Ok(Self {
            prefix: prefix.to_owned(),
            connect_timeout,
            connections: HashMap::new(),
            next_id: 0,
            incoming: SelectAll::new(),
        })
    }

    /// Connects to a publisher's data socket and subscribes; fails if it cannot be
    /// reached within the connect timeout.
    pub async fn connect(&mut self, endpoint: &str) -> Result<ConnectionId, TransportError> {
        let endpoint = normalize(endpoint)?;
        let failed = |reason: String| TransportError::Socket {
            endpoint: endpoint.clone(),
            reason,
        };
        let mut options = SocketOptions::default();
        options.connect_timeout(self.connect_timeout);
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
        let (mut send, recv) = socket.split();

        let id = ConnectionId(self.next_id);
        self.next_id += 1;
        let (stop, stopped) = oneshot::channel::<()>();
        let frames = futures::stream::unfold(recv, move |mut recv| async move {
            match recv.recv().await {
                Ok(message) => Some(((id, message.into_vec()), recv)),
                Err(e) => {
                    // The stream ends; the publisher list decides whether to connect anew.
                    tracing::debug!(error = %e, "data connection closed");
                    None
                }
            }
        })
        // Ends when `disconnect` drops the sender; the stream, and with it the socket,
        // is then dropped.
        .take_until(stopped);
        self.incoming.push(frames.boxed());
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
        self.connections.insert(
            id,
            Connection {
                endpoint,
                consumed: Consumed::default(),
                credit,
                writer,
                _stop: stop,
            },
        );
        Ok(id)
    }

    /// Closes one publisher connection; the others go on undisturbed. What it delivered
    /// but `recv` has not returned yet is dropped with it.
    pub fn disconnect(&mut self, id: ConnectionId) {
        if let Some(c) = self.connections.remove(&id) {
            c.writer.abort();
        }
    }

    /// Waits for the next message from any connection (cancel-safe: a message is taken
    /// only when it is returned). With no open connection, waits for ever.
    pub async fn recv(&mut self) -> Frames {
        let Some((id, frames)) = self.incoming.next().await else {
            return std::future::pending().await;
        };
        if let Some(c) = self.connections.get_mut(&id) {
            c.consumed.bytes += frames.iter().map(|f| f.len() as i64).sum::<i64>();
            c.consumed.messages += 1;
            if c.consumed.bytes >= credit::WINDOW_BYTES / 4
                || c.consumed.messages >= credit::WINDOW_MESSAGES / 4
            {
                let consumed = std::mem::take(&mut c.consumed);
                let _ = c.credit.send(Control::Credit {
                    bytes: consumed.bytes,
                    messages: consumed.messages,
                });
            }
        }
        frames
    }
}

impl Drop for DataSubscriber {
    fn drop(&mut self) {
        for c in self.connections.values() {
            c.writer.abort();
        }
    }
}
