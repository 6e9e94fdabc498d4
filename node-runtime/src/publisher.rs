//! `Publisher<T>`: sends typed messages on a topic.

use crate::message::Message;
use crate::names::TopicName;
use crate::node::NodeInner;
use crate::protocol::header::{lead_frame, topic_frame, FrameKind, Header, DATA_HEADER_LEN};
use crate::protocol::master_to_node::{GraphVersion, Listing, SubscriberInfo};
use crate::segments::Led;
use crate::{Error, Result};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// How often a publisher repeats a probe while a subscriber's handshake is open.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// How long a publisher probes for one subscriber before giving up.
const PROBE_FOR: Duration = Duration::from_secs(3);
/// How often a flush marker is repeated while acknowledgements are missing.
const FLUSH_REPEAT: Duration = Duration::from_millis(100);

/// How long a reliable publisher waits, by default, for a subscriber with no room.
const DEFAULT_MAX_BLOCK: Duration = Duration::from_millis(500);

/// Options of `Node::advertise_with`.
///
/// By default a publisher never waits: a subscriber more than a window behind (16 MiB or
/// 20 000 messages) misses messages, counted as gaps on its side, like ROS 2's best
/// effort. A reliable publisher waits for room instead, so subscribers that keep up
/// lose nothing and a fast publisher is slowed to its slowest subscriber, like ROS 2's
/// reliable: one that gives no room within [`max_block`](Self::max_block) is skipped
/// until it catches up again.
///
/// ```
/// # use pinion::AdvertiseOptions;
/// # use std::time::Duration;
/// let options = AdvertiseOptions::reliable().max_block(Duration::from_millis(100));
/// assert!(options.latch().latched);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AdvertiseOptions {
    /// Late subscribers receive the last message (ROS `latch`).
    pub latched: bool,
    /// Reliable: `publish` waits up to this long for room at each subscriber.
    pub reliable: Option<Duration>,
}

impl AdvertiseOptions {
    /// Latched: a new subscriber receives the last message at once.
    pub fn latched() -> Self {
        Self::default().latch()
    }

    /// Reliable: `publish` waits for room at every subscriber that keeps up.
    pub fn reliable() -> Self {
        Self {
            reliable: Some(DEFAULT_MAX_BLOCK),
            ..Self::default()
        }
    }

    /// These options, latched.
    pub fn latch(mut self) -> Self {
        self.latched = true;
        self
    }

    /// These options, reliable with `max_block` as the longest wait for one subscriber
    /// before it is skipped (until it catches up).
    pub fn max_block(mut self, max_block: Duration) -> Self {
        self.reliable = Some(max_block);
        self
    }
}

/// Publisher state shared with the node's control server.
#[derive(Debug)]
pub(crate) struct PublisherShared {
    pub(crate) topic: TopicName,
    pub(crate) publisher_id: u64,
    pub(crate) schema_hash: u64,
    pub(crate) latched: bool,
    reliable: Option<Duration>,
    pub(crate) type_info: crate::message::TypeInfo,
    topic_frame: Bytes,
    /// The robot's largest message (`limits::max_message`): larger ones are refused.
    max_message: usize,
    seq: AtomicU64,
    state: Mutex<PubState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct PubState {
    /// Last data message as sent (lead frame included), kept for latched topics.
    last: Option<Vec<Bytes>>,
    /// Subscribers whose handshake completed: they receive this publisher's messages.
    confirmed: HashSet<u64>,
    /// Subscribers the master lists for the topic; `None` until the first list arrives.
    registered: Option<HashSet<u64>>,
    /// Version of the list in `registered`.
    registered_version: Option<GraphVersion>,
    /// Open handshakes.
    probing: HashSet<u64>,
    /// Acknowledgements received, by flush token.
    flush_acks: HashMap<u64, HashSet<u64>>,
}

impl PublisherShared {
    pub(crate) fn new(
        topic: TopicName,
        type_info: crate::message::TypeInfo,
        options: &AdvertiseOptions,
    ) -> Self {
        Self {
            topic_frame: Bytes::from(topic_frame(topic.as_str())),
            topic,
            publisher_id: crate::node::host::random_id(),
            schema_hash: type_info.hash,
            type_info,
            latched: options.latched,
            reliable: options.reliable,
            max_message: crate::limits::max_message(),
            seq: AtomicU64::new(0),
            state: Mutex::new(PubState::default()),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, PubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn header(&self, kind: FrameKind, seq: u64) -> Header {
        Header {
            kind,
            schema_hash: self.schema_hash,
            publisher_id: self.publisher_id,
            seq,
            stamp_ns: crate::node::host::now_ns(),
        }
    }

    /// The gap a data message's payload is encoded behind, for its topic and header.
    pub(crate) fn lead_len(&self) -> usize {
        self.topic_frame.len() + DATA_HEADER_LEN
    }

    /// Sends a message with no payload: a probe or a flush marker.
    async fn send_marker(&self, node: &NodeInner, kind: FrameKind) -> Result<()> {
        let seq = self.seq.load(Ordering::Relaxed);
        let lead = lead_frame(&self.topic_frame, &self.header(kind, seq))?;
        let mut frames = Vec::with_capacity(2);
        frames.push(Bytes::from(lead));
        self.send(node, frames).await
    }

    /// Sends `frames` on the node's data socket: the first starts with the topic and the
    /// header.
    async fn send(&self, node: &NodeInner, frames: Vec<Bytes>) -> Result<()> {
        node.data.send(frames).await.map_err(Error::from)
    }

    /// Sends a payload encoded behind a gap of [`Self::lead_len`] bytes as the next
    /// data message: the topic and the header are written into the gap.
    pub(crate) async fn publish_led(&self, node: &NodeInner, led: Led) -> Result<u64> {
        let size = led.first.len() + led.frames.iter().map(Bytes::len).sum::<usize>();
        if size > self.max_message {
            return Err(Error::TooLarge {
                topic: self.topic.to_string(),
                size,
                limit: self.max_message,
            });
        }
        if let Some(max_block) = self.reliable {
            let stalled = node.credit.wait(&self.topic_frame, max_block).await;
            if stalled > 0 {
                tracing::warn!(topic = %self.topic, stalled, ?max_block, "subscribers gave no room in time: skipped until they catch up");
            }
        }
        let Led {
            mut first,
            mut frames,
        } = led;
        let Some((topic, header)) = first
            .get_mut(..self.lead_len())
            .map(|lead| lead.split_at_mut(self.topic_frame.len()))
        else {
            // Not from `encode_led` with `lead_len`: the header does not fit.
            return Err(Error::Codec {
                what: "message header",
                source: postcard::Error::SerializeBufferFull,
            });
        };
        topic.copy_from_slice(&self.topic_frame);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.header(FrameKind::Data, seq).write(header)?;
        match frames.first_mut() {
            Some(slot) => *slot = Bytes::from(first),
            None => frames.push(Bytes::from(first)),
        }
        if self.latched {
            self.state().last = Some(frames.clone());
        }
        self.send(node, frames).await?;
        Ok(seq)
    }

    /// Number of subscribers the master lists (0 until the first list arrives).
    pub(crate) fn registered_count(&self) -> usize {
        self.state().registered.as_ref().map_or(0, HashSet::len)
    }

    /// Number of subscribers that completed the handshake and are still registered.
    pub(crate) fn subscriber_count(&self) -> usize {
        let state = self.state();
        live_confirmed(&state).count()
    }

    /// A subscriber connected, or greets again because it has not seen a probe: probe
    /// it until it confirms. Also when it is confirmed here already, since its side may
    /// have lost the confirmation's answer.
    pub(crate) fn on_hello(self: &Arc<Self>, node: &Arc<NodeInner>, subscriber_id: u64) {
        if !self.state().probing.insert(subscriber_id) {
            return;
        }
        let this = self.clone();
        let node = node.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + PROBE_FOR;
            while tokio::time::Instant::now() < deadline && !node.shutdown.is_triggered() {
                if !this.state().probing.contains(&subscriber_id) {
                    return;
                }
                let sent = this
                    .send_marker(&node, FrameKind::Probe { subscriber_id })
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(topic = %this.topic, error = %e, "probe not sent");
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
            this.state().probing.remove(&subscriber_id);
            tracing::debug!(topic = %this.topic, subscriber_id, "handshake not confirmed");
        });
    }

    /// A subscriber saw a probe: it receives this publisher now.
    pub(crate) async fn on_confirm(&self, node: &NodeInner, subscriber_id: u64) {
        let latched = {
            let mut state = self.state();
            state.probing.remove(&subscriber_id);
            let new = state.confirmed.insert(subscriber_id);
            if new && self.latched {
                state.last.clone()
            } else {
                None
            }
        };
        self.changed.notify_waiters();
        tracing::debug!(topic = %self.topic, subscriber_id, "subscriber confirmed");
        if let Some(frames) = latched {
            // Subscribers drop repeats by sequence number, so resending to all is safe.
            if let Err(e) = self.send(node, frames).await {
                tracing::warn!(topic = %self.topic, error = %e, "latched message not resent");
            }
        }
    }

    /// The master's current subscriber list: forget confirmed subscribers that left.
    pub(crate) fn on_subscribers(&self, subscribers: &Listing<SubscriberInfo>) {
        let ids: HashSet<u64> = subscribers
            .items
            .iter()
            .map(|s: &SubscriberInfo| s.subscriber_id)
            .collect();
        {
            let mut state = self.state();
            if !subscribers.version.supersedes(state.registered_version) {
                return;
            }
            state.registered_version = Some(subscribers.version);
            // A confirmation can overtake the master's list that first names its
            // subscriber: forget only subscribers that were listed before and left.
            if let Some(previous) = state.registered.take() {
                state
                    .confirmed
                    .retain(|id| ids.contains(id) || !previous.contains(id));
            }
            state.registered = Some(ids);
        }
        self.changed.notify_waiters();
    }

    pub(crate) fn on_flush_ack(&self, subscriber_id: u64, token: u64) {
        if let Some(acks) = self.state().flush_acks.get_mut(&token) {
            acks.insert(subscriber_id);
        }
        self.changed.notify_waiters();
    }

    /// Waits until `count` subscribers are confirmed, or the node stops.
    pub(crate) async fn wait_for_subscribers(&self, node: &NodeInner, count: usize) -> Result<()> {
        loop {
            let notified = self.changed.notified();
            if self.subscriber_count() >= count {
                return Ok(());
            }
            tokio::select! {
                _ = notified => {}
                _ = node.shutdown.wait() => return Err(Error::Shutdown),
            }
        }
    }

    /// Waits until every confirmed subscriber acknowledged a flush marker sent after
    /// the last message, or `timeout` passes. Returns the subscribers that did not answer.
    pub(crate) async fn flush(&self, node: &NodeInner, timeout: Duration) -> Result<usize> {
        let expected: HashSet<u64> = live_confirmed(&self.state()).copied().collect();
        if expected.is_empty() {
            return Ok(0);
        }
        let token = crate::node::host::random_id();
        self.state().flush_acks.insert(token, HashSet::new());
        let deadline = tokio::time::Instant::now() + timeout;
        let missing = loop {
            let notified = self.changed.notified();
            let missing = {
                let state = self.state();
                let acks = state.flush_acks.get(&token);
                expected
                    .iter()
                    .filter(|id| acks.is_none_or(|a| !a.contains(id)))
                    .filter(|id| live_confirmed(&state).any(|c| c == *id))
                    .count()
            };
            if missing == 0 || tokio::time::Instant::now() >= deadline {
                break missing;
            }
            self.send_marker(node, FrameKind::Flush { token }).await?;
            let _ = tokio::time::timeout(
                FLUSH_REPEAT.min(deadline - tokio::time::Instant::now()),
                notified,
            )
            .await;
        };
        self.state().flush_acks.remove(&token);
        if missing > 0 {
            tracing::warn!(topic = %self.topic, missing, "flush: some subscribers did not acknowledge");
        }
        Ok(missing)
    }
}

fn live_confirmed(state: &PubState) -> impl Iterator<Item = &u64> {
    state
        .confirmed
        .iter()
        .filter(|id| state.registered.as_ref().is_none_or(|r| r.contains(id)))
}

/// Sends messages of type `T` on one topic. Dropping it withdraws the advertisement.
///
/// ```no_run
/// # use pinion::prelude::*;
/// # #[derive(Message, Serialize, Deserialize)] struct Chatter { seq: u64 }
/// # async fn run(node: Node) -> pinion::Result<()> {
/// let chatter = node.advertise::<Chatter>("chatter").await?;
/// chatter.wait_for_subscribers(1).await?;
/// chatter.publish(&Chatter { seq: 1 }).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Publisher<T: Message> {
    pub(crate) shared: Arc<PublisherShared>,
    pub(crate) node: Arc<NodeInner>,
    pub(crate) _type: PhantomData<fn(T)>,
}

impl<T: Message> Publisher<T> {
    /// Sends one message to every current subscriber. Returns its sequence number.
    pub async fn publish(&self, message: &T) -> Result<u64> {
        let led = crate::segments::encode_led("message payload", message, self.shared.lead_len())?;
        self.shared.publish_led(&self.node, led).await
    }

    /// The topic.
    pub fn topic(&self) -> &TopicName {
        &self.shared.topic
    }

    /// Subscribers that completed their handshake and still run.
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscriber_count()
    }

    /// Waits until at least `count` subscribers receive this publisher's messages.
    ///
    /// A message published after this returns reaches them. Ends with
    /// `Error::Shutdown` if the node stops first.
    pub async fn wait_for_subscribers(&self, count: usize) -> Result<()> {
        self.shared.wait_for_subscribers(&self.node, count).await
    }

    /// Waits until every connected subscriber has received all messages published so far,
    /// or `timeout` passes. Returns how many subscribers did not confirm in time.
    ///
    /// The node flushes every publisher by itself when it shuts down.
    pub async fn flush(&self, timeout: Duration) -> Result<usize> {
        self.shared.flush(&self.node, timeout).await
    }
}

impl<T: Message> Drop for Publisher<T> {
    fn drop(&mut self) {
        self.node.forget_publisher(&self.shared);
    }
}

/// Publishes postcard bytes on a topic whose type is known only at run time.
#[derive(Debug)]
pub struct RawPublisher {
    pub(crate) shared: Arc<PublisherShared>,
    pub(crate) node: Arc<NodeInner>,
}

impl RawPublisher {
    /// Sends one message, already encoded with postcard as the topic's type.
    pub async fn publish_bytes(&self, payload: Vec<u8>) -> Result<u64> {
        let led = Led::of_bytes(self.shared.lead_len(), payload);
        self.shared.publish_led(&self.node, led).await
    }

    /// Waits until at least `count` subscribers receive this publisher's messages.
    pub async fn wait_for_subscribers(&self, count: usize) -> Result<()> {
        self.shared.wait_for_subscribers(&self.node, count).await
    }

    /// Subscribers the master lists for the topic (connected or not yet).
    pub fn registered_subscribers(&self) -> usize {
        self.shared.registered_count()
    }
}

impl Drop for RawPublisher {
    fn drop(&mut self) {
        self.node.forget_publisher(&self.shared);
    }
}
