//! The task behind a subscriber: owns its data connections (one per publisher node,
//! `transport::DataSubscriber`), follows the publisher list the master sends,
//! completes each publisher's handshake, checks headers and sequence numbers, and
//! fills the subscriber's queue.

use super::{Connection, MessageInfo, SubscriberCounters, Transport};
use crate::base::NodeBase;
use crate::id_map::IdMap;
use crate::protocol::control::ControlRequest;
use crate::protocol::header::{read_lead_frame, topic_frame, FrameKind};
use crate::protocol::master_to_node::{GraphVersion, Listing, PublisherInfo};
use crate::transport::{DataSubscriber, Frames};
use crate::{Error, Result};
use bytes::Buf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// Time allowed to connect to one publisher.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How often connections that failed are tried again.
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// Least time between two confirmations sent to one publisher.
const CONFIRM_EVERY: Duration = Duration::from_millis(50);
/// How long a connected publisher may stay unconfirmed before it is greeted again: a
/// lost hello or confirmation, or a publisher slow to start (qemu, a loaded Pi), must
/// not leave the link unconfirmed for good.
const HELLO_AGAIN_AFTER: Duration = Duration::from_secs(2);

/// Most messages taken in one go before the task looks at its other work again.
const DRAIN_BATCH: usize = 64;

/// Commands to a subscription task.
#[derive(Debug)]
pub(crate) enum SubCommand {
    /// The complete current publisher list of the topic.
    Publishers(Listing<PublisherInfo>),
    /// The node was cut off from the master long enough to register again: its
    /// connections may be stalled in TCP retransmission backoff, so make them anew.
    Reconnect,
}

/// Decodes a payload and queues it; returns false if it did not decode.
pub(crate) type Sink = Box<dyn Fn(Frames, MessageInfo) -> bool + Send + Sync>;

/// Counters and connection list shared between the task and the `Subscriber`.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionStats {
    received: AtomicU64,
    gaps: AtomicU64,
    wrong_type: AtomicU64,
    malformed: AtomicU64,
    connections: Mutex<Vec<(Connection, bool)>>,
    changed: Notify,
}

impl SubscriptionStats {
    pub(crate) fn counters(&self) -> SubscriberCounters {
        SubscriberCounters {
            received: self.received.load(Ordering::Relaxed),
            dropped_queue_full: 0,
            gaps: self.gaps.load(Ordering::Relaxed),
            wrong_type: self.wrong_type.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn connections(&self) -> Vec<Connection> {
        self.lock().iter().map(|(c, _)| c.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Connection, bool)>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn is_confirmed(&self, publisher_id: u64) -> bool {
        self.lock()
            .iter()
            .any(|(c, confirmed)| c.publisher_id == publisher_id && *confirmed)
    }

    fn confirmed_count(&self) -> usize {
        self.lock()
            .iter()
            .filter(|(_, confirmed)| *confirmed)
            .count()
    }

    pub(crate) async fn wait_for_confirmed(
        &self,
        count: usize,
        shutdown: &crate::shutdown::Shutdown,
    ) -> Result<()> {
        loop {
            let notified = self.changed.notified();
            if self.confirmed_count() >= count {
                return Ok(());
            }
            tokio::select! {
                _ = notified => {}
                _ = shutdown.wait() => return Err(Error::Shutdown),
            }
        }
    }
}

/// State of one connected publisher.
struct Linked {
    info: PublisherInfo,
    last_seq: u64,
    last_confirm: Option<Instant>,
    last_hello: Instant,
    /// Its connection in the subscription's socket.
    connection: crate::transport::ConnectionId,
}

pub(crate) struct SubscriptionTask {
    pub(crate) base: Arc<NodeBase>,
    pub(crate) topic: String,
    /// What the first frame of every message on the topic starts with.
    pub(crate) topic_frame: Vec<u8>,
    pub(crate) subscriber_id: u64,
    pub(crate) schema_hash: u64,
    pub(crate) sink: Sink,
    pub(crate) stats: Arc<SubscriptionStats>,
    /// A reliable subscriber's queue: no message is taken from the publishers while it
    /// is full, so their credit runs out instead of the queue dropping.
    pub(crate) backpressure: Option<Arc<dyn crate::queue::Room>>,
    /// Bytes and messages each publisher keeps for it without credit.
    pub(crate) keep: (usize, usize),
    pub(crate) commands: mpsc::UnboundedReceiver<SubCommand>,
    pub(crate) on_end: Box<dyn FnOnce() + Send + Sync>,
}

struct State {
    socket: Option<DataSubscriber>,
    linked: IdMap<Linked>,
    /// Publishers whose endpoint is being probed in the background.
    probing: std::collections::HashSet<u64>,
    /// Publishers whose endpoint answered a probe: the engine can connect at once.
    reachable: std::collections::HashSet<u64>,
    probe_results: mpsc::UnboundedSender<(u64, bool)>,
    wanted: Vec<PublisherInfo>,
    version: Option<GraphVersion>,
    last_warning: Option<Instant>,
}

impl SubscriptionTask {
    pub(crate) async fn run(mut self) {
        let (probe_results, mut probes) = mpsc::unbounded_channel();
        let mut state = State {
            socket: None,
            linked: IdMap::default(),
            probing: Default::default(),
            reachable: Default::default(),
            probe_results,
            wanted: Vec::new(),
            version: None,
            last_warning: None,
        };
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = self.base.shutdown().clone();
        // Made once: a new shutdown future per message costs a subscription to the
        // signal and back.
        let stopped = shutdown.wait();
        tokio::pin!(stopped);
        let backpressure = self.backpressure.clone();
        loop {
            let full = backpressure.as_ref().is_some_and(|q| q.is_full());
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                command = self.commands.recv() => match command {
                    Some(SubCommand::Reconnect) => {
                        tracing::debug!(topic = %self.topic, "reconnecting after an outage");
                        state.socket = None;
                        state.linked.clear();
                        self.reconcile(&mut state).await;
                    }
                    Some(SubCommand::Publishers(list)) => {
                        if list.version.supersedes(state.version) {
                            state.version = Some(list.version);
                            state.wanted = list.items;
                            self.reconcile(&mut state).await;
                        }
                    }
                    None => break,
                },
                _ = room(&backpressure), if full => {}
                frames = recv(&mut state.socket), if !full => {
                    self.on_frames(&mut state, frames);
                    // A message out of a batch means a burst: take the rest, and what
                    // else has arrived, in one go. A lone one is sparse traffic: back to
                    // the loop without another read of the socket, which would delay
                    // whoever waits for this message on this worker.
                    if state.socket.as_ref().is_some_and(DataSubscriber::has_buffered) {
                        self.drain_ready(&mut state);
                    }
                }
                Some((publisher_id, ok)) = probes.recv() => {
                    state.probing.remove(&publisher_id);
                    if ok {
                        state.reachable.insert(publisher_id);
                        self.reconcile(&mut state).await;
                    }
                }
                _ = retry.tick() => {
                    if state.linked.len() < state.wanted.len() {
                        self.reconcile(&mut state).await;
                    }
                    self.greet_unconfirmed(&mut state);
                }
            }
        }
        (self.on_end)();
    }

    /// Brings the connections in line with the wanted publisher list.
    async fn reconcile(&self, state: &mut State) {
        let host = self.base.host();
        // Publishers that left, restarted or moved: close just their connections, so
        // that messages in flight from the others are not lost. A restarted publisher
        // gets a fresh connection below, without the engine's reconnect backoff.
        let gone: Vec<u64> = state
            .linked
            .iter()
            .filter(|(id, l)| {
                !state.wanted.iter().any(|w| {
                    w.publisher_id == **id && w.session == l.info.session && w.data == l.info.data
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            let Some(l) = state.linked.remove(&id) else {
                continue;
            };
            if !state
                .wanted
                .iter()
                .any(|w| w.publisher_id == id && w.session == l.info.session)
            {
                if let Some(ep) = l.info.control.pick(&l.info.host, host) {
                    self.base.peers().forget(ep);
                }
            }
            if let Some(socket) = state.socket.as_mut() {
                socket.disconnect(l.connection);
            }
            self.stats.lock().retain(|(c, _)| c.publisher_id != id);
        }
        if state.socket.is_none() {
            state.linked.clear();
            state.socket = match DataSubscriber::new(
                &frame_prefix(&self.topic),
                CONNECT_TIMEOUT,
                self.base.key().cloned(),
            )
            .await
            {
                Ok(s) => Some(s.keep(self.keep.0, self.keep.1)),
                Err(e) => {
                    tracing::error!(topic = %self.topic, error = %e, "cannot create subscriber socket");
                    None
                }
            };
        }
        let Some(mut socket) = state.socket.take() else {
            return;
        };
        for info in state.wanted.clone() {
            if state.linked.contains_key(&info.publisher_id) {
                continue;
            }
            let Some(endpoint) = info.data.pick(&info.host, host).map(str::to_owned) else {
                continue;
            };
            // The engine's connect waits for the peer, and this task must keep reading
            // frames meanwhile: a dead publisher the master still lists must not stall
            // the live ones. So probe in the background; connect once it answers.
            if !state.reachable.remove(&info.publisher_id) {
                if state.probing.insert(info.publisher_id) {
                    let results = state.probe_results.clone();
                    let (id, endpoint) = (info.publisher_id, endpoint.clone());
                    tokio::spawn(async move {
                        let ok = crate::transport::reachable(&endpoint, CONNECT_TIMEOUT).await;
                        let _ = results.send((id, ok));
                    });
                }
                continue;
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(&endpoint)).await {
                Ok(Ok(connection)) => {
                    tracing::debug!(topic = %self.topic, publisher = %info.node, %endpoint, "connected");
                    let transport = if endpoint.starts_with("ipc://") {
                        Transport::Ipc
                    } else {
                        Transport::Tcp
                    };
                    self.hello(&info);
                    state.linked.insert(
                        info.publisher_id,
                        Linked {
                            info: info.clone(),
                            last_seq: 0,
                            last_confirm: None,
                            last_hello: Instant::now(),
                            connection,
                        },
                    );
                    self.stats.lock().push((
                        Connection {
                            node: info.node.to_string(),
                            publisher_id: info.publisher_id,
                            transport,
                            endpoint,
                        },
                        false,
                    ));
                }
                Ok(Err(e)) => self.warn_rarely(
                    state,
                    &format!("cannot connect to {} at {endpoint}: {e}", info.node),
                ),
                Err(_) => self.warn_rarely(
                    state,
                    &format!("connecting to {} at {endpoint} timed out", info.node),
                ),
            }
        }
        state.socket = Some(socket);
        let linked = &state.linked;
        self.stats
            .lock()
            .retain(|(c, _)| linked.contains_key(&c.publisher_id));
        self.stats.changed.notify_waiters();
    }

    fn hello(&self, info: &PublisherInfo) {
        self.send_control(
            info,
            ControlRequest::Hello {
                publisher_id: info.publisher_id,
                subscriber_id: self.subscriber_id,
            },
        );
    }

    /// Greets again the publishers that have not confirmed the handshake in a while.
    fn greet_unconfirmed(&self, state: &mut State) {
        for link in state.linked.values_mut() {
            if link.last_hello.elapsed() >= HELLO_AGAIN_AFTER
                && !self.stats.is_confirmed(link.info.publisher_id)
            {
                tracing::debug!(topic = %self.topic, publisher = %link.info.node, "handshake not confirmed yet; greeting again");
                link.last_hello = Instant::now();
                self.hello(&link.info);
            }
        }
    }

    fn warn_rarely(&self, state: &mut State, what: &str) {
        if state
            .last_warning
            .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
        {
            tracing::warn!(topic = %self.topic, "{what}; will retry");
            state.last_warning = Some(Instant::now());
        }
    }

    /// Takes what else has arrived already, up to a batch, so that a burst costs one
    /// pass through the select loop rather than one per message.
    fn drain_ready(&self, state: &mut State) {
        for _ in 0..DRAIN_BATCH {
            if self.backpressure.as_ref().is_some_and(|q| q.is_full()) {
                return;
            }
            let Some(frames) = state.socket.as_mut().and_then(DataSubscriber::try_recv) else {
                return;
            };
            self.on_frames(state, frames);
        }
    }

    fn on_frames(&self, state: &mut State, mut frames: Frames) {
        let Some(first) = frames.first_mut() else {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = %self.topic, "dropped a message with no frame");
            return;
        };
        let header = match read_lead_frame(first, &self.topic_frame) {
            Ok((header, payload_at)) => {
                // What follows the header in the first frame is the start of the payload.
                first.advance(payload_at);
                header
            }
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %self.topic, error = %e, "dropped a message whose header does not decode");
                return;
            }
        };
        if header.schema_hash != self.schema_hash {
            self.stats.wrong_type.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                topic = %self.topic,
                publisher_id = header.publisher_id,
                got = format_args!("{:016x}", header.schema_hash),
                expected = format_args!("{:016x}", self.schema_hash),
                "dropped a message of the wrong type"
            );
            return;
        }
        let Some(link) = state.linked.get_mut(&header.publisher_id) else {
            // From a publisher this socket reached before a restart: not ours any more.
            return;
        };
        match header.kind {
            FrameKind::Probe { subscriber_id } if subscriber_id == self.subscriber_id => {
                self.confirm(link);
            }
            FrameKind::Probe { .. } => {}
            FrameKind::Flush { token } => {
                self.send_control(
                    &link.info,
                    ControlRequest::FlushAck {
                        publisher_id: header.publisher_id,
                        subscriber_id: self.subscriber_id,
                        token,
                    },
                );
            }
            FrameKind::Data => {
                if header.seq <= link.last_seq {
                    return; // a latched repeat already seen
                }
                if link.last_seq > 0 && header.seq > link.last_seq + 1 {
                    self.stats
                        .gaps
                        .fetch_add(header.seq - link.last_seq - 1, Ordering::Relaxed);
                }
                link.last_seq = header.seq;
                let info = MessageInfo {
                    publisher_id: header.publisher_id,
                    seq: header.seq,
                    stamp_ns: header.stamp_ns,
                };
                if (self.sink)(frames, info) {
                    self.stats.received.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(topic = %self.topic, publisher = %link.info.node, seq = header.seq, "dropped a payload that does not decode");
                }
            }
        }
    }

    /// Tells a publisher that its probes arrive. Rate-limited; the publisher stops
    /// probing once it has heard, so a lost confirmation is retried on the next probe.
    fn confirm(&self, link: &mut Linked) {
        if link
            .last_confirm
            .is_some_and(|t| t.elapsed() < CONFIRM_EVERY)
        {
            return;
        }
        link.last_confirm = Some(Instant::now());
        let base = self.base.clone();
        let stats = self.stats.clone();
        let info = link.info.clone();
        let subscriber_id = self.subscriber_id;
        let publisher_id = info.publisher_id;
        let Some(endpoint) = info
            .control
            .pick(&info.host, base.host())
            .map(str::to_owned)
        else {
            return;
        };
        tokio::spawn(async move {
            let request = ControlRequest::Confirm {
                publisher_id,
                subscriber_id,
            };
            match base.peers().request(&endpoint, &request).await {
                Ok(_) => {
                    for (c, confirmed) in stats.lock().iter_mut() {
                        if c.publisher_id == publisher_id {
                            *confirmed = true;
                        }
                    }
                    stats.changed.notify_waiters();
                }
                Err(e) => {
                    tracing::debug!(%endpoint, error = %e, "confirm not delivered; the next probe retries")
                }
            }
        });
    }

    fn send_control(&self, info: &PublisherInfo, request: ControlRequest) {
        let Some(endpoint) = info
            .control
            .pick(&info.host, self.base.host())
            .map(str::to_owned)
        else {
            return;
        };
        let base = self.base.clone();
        tokio::spawn(async move {
            if let Err(e) = base.peers().request(&endpoint, &request).await {
                tracing::debug!(%endpoint, error = %e, "control request to publisher failed");
            }
        });
    }
}

/// The next message of the subscription's connections; a connection that fails ends
/// quietly, and the publisher list decides whether to connect again.
async fn recv(socket: &mut Option<DataSubscriber>) -> Frames {
    match socket {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits until the user has drained a full reliable queue to its resume mark.
async fn room(queue: &Option<Arc<dyn crate::queue::Room>>) {
    match queue {
        Some(q) => {
            while !q.has_room() {
                q.drained().notified().await;
            }
        }
        None => std::future::pending().await,
    }
}

fn frame_prefix(topic: &str) -> String {
    String::from_utf8_lossy(&topic_frame(topic)).into_owned()
}

impl std::fmt::Debug for SubscriptionTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionTask")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}
