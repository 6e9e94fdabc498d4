//! `Subscriber<T>`: receives typed messages from every publisher of a topic.

use crate::message::Message;
use crate::names::TopicName;
use crate::node::NodeInner;
use crate::queue::KeepLast;
use crate::subscription::{SubCommand, SubscriptionStats};
use std::marker::PhantomData;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Default number of messages a subscriber keeps while user code is busy.
pub const DEFAULT_QUEUE: usize = 1000;

/// Options of `Node::subscribe_with`.
///
/// By default a full queue drops its oldest message (ROS `queue_size`, ROS 2 keep-last).
/// A reliable subscriber stops taking messages from its publishers instead while its
/// queue is full: they see no room, and reliable publishers wait for it (ROS 2
/// keep-all), so nothing is lost between a reliable publisher and a reliable subscriber
/// that keeps up on average.
///
/// ```
/// # use pinion::SubscribeOptions;
/// let options = SubscribeOptions::queue(100).reliable();
/// assert!(options.reliable && options.queue == 100);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// Keep at most this many unread messages.
    pub queue: usize,
    /// With a full queue, wait (and let publishers see no room) instead of dropping
    /// the oldest message.
    pub reliable: bool,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            queue: DEFAULT_QUEUE,
            reliable: false,
        }
    }
}

impl SubscribeOptions {
    /// Keep at most `queue` unread messages (ROS `queue_size`).
    pub fn queue(queue: usize) -> Self {
        Self {
            queue,
            ..Self::default()
        }
    }

    /// These options, reliable: a full queue holds the publishers back instead of
    /// dropping.
    pub fn reliable(mut self) -> Self {
        self.reliable = true;
        self
    }
}

/// Where a received message came from and when it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The publisher's id.
    pub publisher_id: u64,
    /// The publisher's sequence number for this message (from 1).
    pub seq: u64,
    /// Send time, nanoseconds since the Unix epoch.
    pub stamp_ns: u64,
}

/// How data reaches this subscriber from one publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Unix domain socket: same host id.
    Ipc,
    /// TCP: another host id.
    Tcp,
}

/// One live connection to a publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The publishing node.
    pub node: String,
    /// The publisher's id.
    pub publisher_id: u64,
    /// ipc or tcp.
    pub transport: Transport,
    /// The endpoint connected to.
    pub endpoint: String,
}

/// Counters of a subscriber; everything that went wrong is counted here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriberCounters {
    /// Messages delivered into the queue.
    pub received: u64,
    /// Messages dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Messages missing from publishers' sequences (lost before they arrived).
    pub gaps: u64,
    /// Frames with a schema hash other than the topic's.
    pub wrong_type: u64,
    /// Frames whose header or payload did not decode.
    pub malformed: u64,
}

/// The parts every subscriber has, whatever its items are.
#[derive(Debug)]
pub(crate) struct SubscriberCore<I> {
    pub(crate) topic: TopicName,
    pub(crate) subscriber_id: u64,
    pub(crate) queue: Arc<KeepLast<(I, MessageInfo)>>,
    pub(crate) stats: Arc<SubscriptionStats>,
    pub(crate) node: Arc<NodeInner>,
    pub(crate) _commands: mpsc::UnboundedSender<SubCommand>,
}

impl<I> SubscriberCore<I> {
    fn counters(&self) -> SubscriberCounters {
        let mut c = self.stats.counters();
        c.dropped_queue_full = self.queue.dropped();
        c
    }
}

impl<I> Drop for SubscriberCore<I> {
    fn drop(&mut self) {
        self.queue.close();
        self.node.forget_subscriber(&self.topic, self.subscriber_id);
    }
}

/// Receives postcard bytes of a topic whose type is known only at run time.
#[derive(Debug)]
pub struct RawSubscriber {
    pub(crate) core: SubscriberCore<Vec<u8>>,
}

impl RawSubscriber {
    /// The next message's bytes and where they came from; `None` once the node stops.
    pub async fn recv(&mut self) -> Option<(Vec<u8>, MessageInfo)> {
        self.core.queue.recv().await
    }

    /// What was received, dropped and refused so far.
    pub fn counters(&self) -> SubscriberCounters {
        self.core.counters()
    }
}

/// Receives messages of type `T` from every publisher of a topic.
///
/// ```no_run
/// # use pinion::prelude::*;
/// # #[derive(Message, Serialize, Deserialize)] struct Chatter { seq: u64 }
/// # async fn run(node: Node) -> pinion::Result<()> {
/// let mut chatter = node.subscribe::<Chatter>("chatter").await?;
/// while let Some(msg) = chatter.recv().await {     // None once the node shuts down
///     println!("seq={}", msg.seq);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscriber<T: Message> {
    pub(crate) core: SubscriberCore<T>,
    pub(crate) _type: PhantomData<fn() -> T>,
}

impl<T: Message> Subscriber<T> {
    /// The next message; `None` once the node shuts down and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        self.recv_with_info().await.map(|(m, _)| m)
    }

    /// The next message with where it came from.
    pub async fn recv_with_info(&mut self) -> Option<(T, MessageInfo)> {
        self.core.queue.recv().await
    }

    /// A waiting message, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.core.queue.try_recv().map(|(m, _)| m)
    }

    /// The topic.
    pub fn topic(&self) -> &TopicName {
        &self.core.topic
    }

    /// The publishers this subscriber is connected to, and over what.
    pub fn connections(&self) -> Vec<Connection> {
        self.core.stats.connections()
    }

    /// What was received, dropped and refused so far.
    pub fn counters(&self) -> SubscriberCounters {
        self.core.counters()
    }

    /// Waits until at least `count` publishers are confirmed connected, or the node stops.
    pub async fn wait_for_publishers(&self, count: usize) -> crate::Result<()> {
        self.core
            .stats
            .wait_for_confirmed(count, &self.core.node.shutdown)
            .await
    }
}
