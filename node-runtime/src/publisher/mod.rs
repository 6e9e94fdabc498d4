//! Publishers: [`Publisher<T>`] sends typed messages on a topic, [`RawPublisher`] bytes
//! of a type known at run time. The feature owns its state (`shared.rs`: handshakes,
//! latching, flushing) and its table of the node's publishers (`table.rs`).

pub(crate) mod shared;
pub(crate) mod table;

use crate::base::NodeBase;
use crate::message::{Message, TypeInfo};
use crate::names::TopicName;
use crate::segments::Led;
use crate::Result;
use bytes::Bytes;
use shared::PublisherShared;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use table::Publishers;

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

/// Advertises `type_info` on `topic` (resolved already) and returns the live
/// advertisement; the master refuses a type other than the topic's.
async fn advertise(
    base: &Arc<NodeBase>,
    table: &Arc<Publishers>,
    topic: TopicName,
    type_info: TypeInfo,
    options: &AdvertiseOptions,
) -> Result<Advertised> {
    let shared = Arc::new(PublisherShared::new(topic, type_info, options));
    // Known before the master answers, so that no subscriber update is missed.
    table.add(shared.clone());
    if let Err(e) = base
        .registered(|| table::advertise_at_master(base, &shared))
        .await
    {
        table.remove(shared.publisher_id);
        return Err(e);
    }
    Ok(Advertised {
        shared,
        base: base.clone(),
        table: table.clone(),
    })
}

/// Starts publishing `T` on `topic`.
pub(crate) async fn advertise_typed<T: Message>(
    base: &Arc<NodeBase>,
    table: &Arc<Publishers>,
    topic: &str,
    options: AdvertiseOptions,
) -> Result<Publisher<T>> {
    let topic = base.resolve(topic)?;
    let handle = advertise(base, table, topic, T::type_info(), &options).await?;
    Ok(Publisher {
        handle,
        _type: PhantomData,
    })
}

/// Starts publishing bytes of `type_info` on `topic`.
pub(crate) async fn advertise_raw(
    base: &Arc<NodeBase>,
    table: &Arc<Publishers>,
    topic: &str,
    type_info: TypeInfo,
    options: AdvertiseOptions,
) -> Result<RawPublisher> {
    let topic = base.resolve(topic)?;
    let handle = advertise(base, table, topic, type_info, &options).await?;
    Ok(RawPublisher { handle })
}

/// A live advertisement: withdrawn (after a flush) when dropped.
#[derive(Debug)]
struct Advertised {
    shared: Arc<PublisherShared>,
    base: Arc<NodeBase>,
    table: Arc<Publishers>,
}

impl Drop for Advertised {
    fn drop(&mut self) {
        self.table.forget(&self.base, &self.shared);
    }
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
    handle: Advertised,
    _type: PhantomData<fn(T)>,
}

impl<T: Message> Publisher<T> {
    /// Sends one message to every current subscriber. Returns its sequence number.
    pub async fn publish(&self, message: &T) -> Result<u64> {
        let led =
            crate::segments::encode_led("message payload", message, self.handle.shared.lead_len())?;
        self.handle.shared.publish_led(&self.handle.base, led).await
    }

    /// The topic.
    pub fn topic(&self) -> &TopicName {
        &self.handle.shared.topic
    }

    /// Subscribers that completed their handshake and still run.
    pub fn subscriber_count(&self) -> usize {
        self.handle.shared.subscriber_count()
    }

    /// Waits until at least `count` subscribers receive this publisher's messages.
    ///
    /// A message published after this returns reaches them. Ends with
    /// `Error::Shutdown` if the node stops first.
    pub async fn wait_for_subscribers(&self, count: usize) -> Result<()> {
        self.handle
            .shared
            .wait_for_subscribers(&self.handle.base, count)
            .await
    }

    /// Waits until every connected subscriber has received all messages published so far,
    /// or `timeout` passes. Returns how many subscribers did not confirm in time.
    ///
    /// The node flushes every publisher by itself when it shuts down.
    pub async fn flush(&self, timeout: Duration) -> Result<usize> {
        self.handle.shared.flush(&self.handle.base, timeout).await
    }

    /// Messages that connected subscribers did not get from this node (each counted
    /// once per subscriber that missed it): a burst came faster than a connection
    /// carried it, past what its subscriber asked to keep
    /// ([`crate::SubscribeOptions::keep_bytes`] and its queue depth).
    pub fn dropped(&self) -> u64 {
        self.handle.shared.dropped(&self.handle.base)
    }
}

/// Publishes postcard bytes on a topic whose type is known only at run time.
#[derive(Debug)]
pub struct RawPublisher {
    handle: Advertised,
}

impl RawPublisher {
    /// Sends one message, already encoded with postcard as the topic's type.
    pub async fn publish_bytes(&self, payload: Vec<u8>) -> Result<u64> {
        let led = Led::of_bytes(self.handle.shared.lead_len(), payload);
        self.handle.shared.publish_led(&self.handle.base, led).await
    }

    /// Sends one message given as frames whose concatenation is its postcard bytes
    /// (as [`crate::segments::encode`] makes them): the frames after the first are
    /// sent as they are, not copied.
    pub async fn publish_frames(&self, frames: Vec<Bytes>) -> Result<u64> {
        let led = Led::of_frames(self.handle.shared.lead_len(), frames);
        self.handle.shared.publish_led(&self.handle.base, led).await
    }

    /// Waits until at least `count` subscribers receive this publisher's messages.
    pub async fn wait_for_subscribers(&self, count: usize) -> Result<()> {
        self.handle
            .shared
            .wait_for_subscribers(&self.handle.base, count)
            .await
    }

    /// Subscribers the master lists for the topic (connected or not yet).
    pub fn registered_subscribers(&self) -> usize {
        self.handle.shared.registered_count()
    }

    /// Messages of this topic that connected subscribers did not get from this node
    /// (each counted once per subscriber it missed): they came faster than the
    /// connection carried them and past what the subscriber asked the node to keep.
    pub fn dropped(&self) -> u64 {
        self.handle.shared.dropped(&self.handle.base)
    }
}
