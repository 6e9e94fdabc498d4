//! What a publisher shares with the node's control server: the handshake with each
//! subscriber (probe until confirmed), the master's subscriber list, latching, and
//! flushing.

use super::AdvertiseOptions;
use crate::base::NodeBase;
use crate::names::TopicName;
use crate::protocol::header::{lead_frame, topic_frame, FrameKind, Header, DATA_HEADER_LEN};
use crate::protocol::master_to_node::{GraphVersion, Listing, SubscriberInfo};
use crate::segments::Led;
use crate::{Error, Result};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
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

/// A publisher's state, shared by its handle, the node's control server (handshakes,
/// subscriber lists, flush acknowledgements) and its probing tasks.
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
            publisher_id: crate::host::random_id(),
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
            stamp_ns: crate::host::now_ns(),
        }
    }

    /// The gap a data message's payload is encoded behind, for its topic and header.
    pub(crate) fn lead_len(&self) -> usize {
        self.topic_frame.len() + DATA_HEADER_LEN
    }

    /// Sends a message with no payload: a probe or a flush marker.
    async fn send_marker(&self, base: &NodeBase, kind: FrameKind) -> Result<()> {
        let seq = self.seq.load(Ordering::Relaxed);
        let lead = lead_frame(&self.topic_frame, &self.header(kind, seq))?;
        let mut frames = Vec::with_capacity(2);
        frames.push(Bytes::from(lead));
        self.send(base, frames).await
    }

    /// Sends `frames` on the node's data socket: the first starts with the topic and the
    /// header.
    async fn send(&self, base: &NodeBase, frames: Vec<Bytes>) -> Result<()> {
        base.data().send(frames).await.map_err(Error::from)
    }

    /// Sends a payload encoded behind a gap of [`Self::lead_len`] bytes as the next
    /// data message: the topic and the header are written into the gap.
    pub(crate) async fn publish_led(&self, base: &NodeBase, led: Led) -> Result<u64> {
        let size = led.first.len() + led.frames.iter().map(Bytes::len).sum::<usize>();
        if size > self.max_message {
            return Err(Error::TooLarge {
                topic: self.topic.to_string(),
                size,
                limit: self.max_message,
            });
        }
        if let Some(max_block) = self.reliable {
            let stalled = base.credit().wait(&self.topic_frame, max_block).await;
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
        self.send(base, frames).await?;
        Ok(seq)
    }

    /// Number of subscribers the master lists (0 until the first list arrives).
    /// Messages its connected subscribers did not get from this node: dropped.
    pub(crate) fn dropped(&self, base: &NodeBase) -> u64 {
        base.data().dropped(&self.topic_frame)
    }

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
    pub(crate) fn on_hello(self: &Arc<Self>, base: &Arc<NodeBase>, subscriber_id: u64) {
        if !self.state().probing.insert(subscriber_id) {
            return;
        }
        let this = self.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + PROBE_FOR;
            while tokio::time::Instant::now() < deadline && !base.shutdown().is_triggered() {
                if !this.state().probing.contains(&subscriber_id) {
                    return;
                }
                let sent = this
                    .send_marker(&base, FrameKind::Probe { subscriber_id })
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
    pub(crate) async fn on_confirm(&self, base: &NodeBase, subscriber_id: u64) {
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
            if let Err(e) = self.send(base, frames).await {
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
    pub(crate) async fn wait_for_subscribers(&self, base: &NodeBase, count: usize) -> Result<()> {
        loop {
            let notified = self.changed.notified();
            if self.subscriber_count() >= count {
                return Ok(());
            }
            tokio::select! {
                _ = notified => {}
                _ = base.shutdown().wait() => return Err(Error::Shutdown),
            }
        }
    }

    /// Waits until every confirmed subscriber acknowledged a flush marker sent after
    /// the last message, or `timeout` passes. Returns the subscribers that did not answer.
    pub(crate) async fn flush(&self, base: &NodeBase, timeout: Duration) -> Result<usize> {
        let expected: HashSet<u64> = live_confirmed(&self.state()).copied().collect();
        if expected.is_empty() {
            return Ok(0);
        }
        let token = crate::host::random_id();
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
            self.send_marker(base, FrameKind::Flush { token }).await?;
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
