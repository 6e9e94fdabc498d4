//! Subscribers: [`Subscriber<T>`] receives typed messages from every publisher of a
//! topic, [`RawSubscriber`] bytes of a type known at run time. The feature owns the
//! task that fills a subscriber's queue (`task.rs`) and its table of the node's
//! subscriptions (`table.rs`).

pub(crate) mod table;
pub(crate) mod task;

use crate::base::NodeBase;
use crate::message::{Message, TypeInfo};
use crate::names::TopicName;
use crate::queue::KeepLast;
use crate::transport::Frames;
use crate::Result;
use std::marker::PhantomData;
use std::sync::Arc;
use table::{LocalSubscription, Subscriptions};
use task::{SubCommand, SubscriptionStats, SubscriptionTask};
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
    /// What each publisher keeps for this subscriber while the connection has no
    /// credit (a burst faster than the socket carries it): at most `queue` messages and
    /// this many bytes, the newest; what does not fit is dropped, and counted by the
    /// publisher ([`crate::Publisher::dropped`]).
    pub keep_bytes: usize,
}

/// The default of [`SubscribeOptions::keep_bytes`]: with the 16 MiB of a connection's
/// window, 32 messages of 1 MiB reach a subscriber of a burst however fast it comes,
/// while a stopped subscriber costs each publisher at most 32 MiB.
pub const DEFAULT_KEEP_BYTES: usize = 16 << 20;

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            queue: DEFAULT_QUEUE,
            reliable: false,
            keep_bytes: DEFAULT_KEEP_BYTES,
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

    /// These options, with each publisher keeping at most `bytes` for this subscriber
    /// in a burst (see [`SubscribeOptions::keep_bytes`]).
    pub fn keep_bytes(mut self, bytes: usize) -> Self {
        self.keep_bytes = bytes;
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
struct SubscriberCore<I> {
    topic: TopicName,
    subscriber_id: u64,
    queue: Arc<KeepLast<(I, MessageInfo)>>,
    stats: Arc<SubscriptionStats>,
    base: Arc<NodeBase>,
    table: Arc<Subscriptions>,
    _commands: mpsc::UnboundedSender<SubCommand>,
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
        self.table
            .forget(&self.base, &self.topic, self.subscriber_id);
    }
}

/// Receives postcard bytes of a topic whose type is known only at run time.
#[derive(Debug)]
pub struct RawSubscriber {
    core: SubscriberCore<Frames>,
}

impl RawSubscriber {
    /// The next message's bytes and where they came from; `None` once the node stops.
    pub async fn recv(&mut self) -> Option<(Vec<u8>, MessageInfo)> {
        let (frames, info) = self.core.queue.recv().await?;
        Some((frames.concat(), info))
    }

    /// The next message as it arrived, in frames whose concatenation is its bytes
    /// (large byte strings in frames of their own, see [`crate::segments`]), without
    /// a copy; `None` once the node stops.
    pub async fn recv_frames(&mut self) -> Option<(Frames, MessageInfo)> {
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
    core: SubscriberCore<T>,
    _type: PhantomData<fn() -> T>,
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
    pub async fn wait_for_publishers(&self, count: usize) -> Result<()> {
        self.core
            .stats
            .wait_for_confirmed(count, self.core.base.shutdown())
            .await
    }
}

/// Turns a payload into a subscriber's item (`None`: it does not decode).
type Decoder<I> = Box<dyn Fn(Frames) -> Option<I> + Send + Sync>;

/// Starts receiving `T` from `topic`.
pub(crate) async fn subscribe_typed<T: Message>(
    base: &Arc<NodeBase>,
    table: &Arc<Subscriptions>,
    topic: &str,
    options: &SubscribeOptions,
) -> Result<Subscriber<T>> {
    let decode = Box::new(|frames: Frames| {
        crate::segments::decode_owned::<T>("message payload", frames).ok()
    });
    let core = subscribe(base, table, topic, T::type_info(), options, decode).await?;
    Ok(Subscriber {
        core,
        _type: PhantomData,
    })
}

/// Starts receiving postcard bytes of `type_info` from `topic`.
pub(crate) async fn subscribe_raw(
    base: &Arc<NodeBase>,
    table: &Arc<Subscriptions>,
    topic: &str,
    type_info: TypeInfo,
    options: &SubscribeOptions,
) -> Result<RawSubscriber> {
    let decode = Box::new(|frames: Frames| Some(frames));
    let core = subscribe(base, table, topic, type_info, options, decode).await?;
    Ok(RawSubscriber { core })
}

/// Subscribes at the master and starts the task that fills the queue.
async fn subscribe<I: Send + 'static>(
    base: &Arc<NodeBase>,
    table: &Arc<Subscriptions>,
    topic: &str,
    type_info: TypeInfo,
    options: &SubscribeOptions,
    decode: Decoder<I>,
) -> Result<SubscriberCore<I>> {
    let topic = base.resolve(topic)?;
    let subscriber_id = crate::host::random_id();
    let queue = Arc::new(KeepLast::new(options.queue));
    let stats = Arc::new(SubscriptionStats::default());
    let (commands, receiver) = mpsc::unbounded_channel();
    let sink_queue = queue.clone();
    let end_queue = queue.clone();
    let task = SubscriptionTask {
        base: base.clone(),
        topic: topic.to_string(),
        topic_frame: crate::protocol::header::topic_frame(topic.as_str()),
        subscriber_id,
        schema_hash: type_info.hash,
        sink: Box::new(move |bytes, info| match decode(bytes) {
            Some(message) => {
                sink_queue.push((message, info));
                true
            }
            None => false,
        }),
        stats: stats.clone(),
        backpressure: options
            .reliable
            .then(|| queue.clone() as Arc<dyn crate::queue::Room>),
        keep: (options.keep_bytes, options.queue),
        commands: receiver,
        on_end: Box::new(move || end_queue.close()),
    };
    let local = LocalSubscription {
        topic: topic.clone(),
        type_info,
        commands: commands.clone(),
    };
    // Known before the master answers, so that no publisher update is missed.
    table.add(subscriber_id, local.clone());
    if let Err(e) = base
        .registered(|| table::subscribe_at_master(base, subscriber_id, &local))
        .await
    {
        table.forget(base, &topic, subscriber_id);
        return Err(e);
    }
    tokio::spawn(task.run());
    Ok(SubscriberCore {
        topic,
        subscriber_id,
        queue,
        stats,
        base: base.clone(),
        table: table.clone(),
        _commands: commands,
    })
}
