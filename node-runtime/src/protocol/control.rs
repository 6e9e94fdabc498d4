//! Requests to a node's control socket.

use super::master_to_node::{Listing, PublisherInfo, SubscriberInfo};
use super::Endpoints;
use crate::msgs::log::Log;
use crate::names::TopicName;
use serde::{Deserialize, Serialize};

/// A request to a node's control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControlRequest {
    /// From the master: the complete current publisher list of a topic this node subscribes to.
    PublisherUpdate {
        /// The topic.
        topic: TopicName,
        /// Every current publisher.
        publishers: Listing<PublisherInfo>,
    },
    /// From the master: the complete current subscriber list of a topic this node publishes.
    SubscriberUpdate {
        /// The topic.
        topic: TopicName,
        /// Every current subscriber.
        subscribers: Listing<SubscriberInfo>,
    },
    /// From the master or a launcher: stop this node.
    Shutdown {
        /// Why, for the node's log and exit message.
        reason: String,
        /// True when a newer node took this node's name.
        replaced: bool,
        /// The session of the node meant. A node of another session refuses it: a
        /// newer process can answer at the endpoint of the one meant (a tcp port used
        /// again), and must not stop for it. `None`: whichever node answers.
        session: Option<u64>,
    },
    /// From a subscriber that just connected: send probes so it can see its subscription work.
    Hello {
        /// The publisher addressed.
        publisher_id: u64,
        /// The subscriber.
        subscriber_id: u64,
    },
    /// From a subscriber that received a probe: it now receives this publisher's messages.
    Confirm {
        /// The publisher addressed.
        publisher_id: u64,
        /// The subscriber.
        subscriber_id: u64,
    },
    /// From a subscriber that received a flush marker: everything before it arrived.
    FlushAck {
        /// The publisher addressed.
        publisher_id: u64,
        /// The subscriber.
        subscriber_id: u64,
        /// The flush marker's token.
        token: u64,
    },
    /// From the master: a watched parameter changed.
    ParamUpdate {
        /// Key.
        key: String,
        /// New value, as JSON text.
        value_json: String,
    },
    /// Are you there?
    Ping,
    /// From `pinion logs`: the node's kept log records numbered above `after_seq`.
    RecentLogs {
        /// Only records with a higher sequence number.
        after_seq: u64,
        /// At most this many (the newest).
        max: u32,
    },
    /// From `pinion doctor`: who and where are you, and what does your clock say?
    Identify,
    /// From the master: a watched parameter was deleted.
    ParamDeleted {
        /// Key.
        key: String,
    },
    /// From `pinion topic info`: how many messages of this topic did your subscribers
    /// not get from you (dropped past their keep)?
    Dropped {
        /// The topic.
        topic: TopicName,
    },
}

/// What a node says of itself to `pinion doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// Host id (same host id means ipc).
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// The node's wall clock when it answered, nanoseconds since the Unix epoch.
    pub clock_ns: u64,
    /// Tells machines apart: nodes with the same host id must share this, or their
    /// ipc endpoints cannot reach each other.
    pub machine: String,
    /// Its data endpoints.
    pub data: Endpoints,
}

/// The reply of a node's control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlReply {
    /// Done.
    Ok,
    /// Refused, with a reason.
    Error(String),
    /// The answer to `RecentLogs`, oldest first.
    Logs(Vec<Log>),
    /// The answer to `Identify`.
    Identity(NodeIdentity),
    /// The answer to `Dropped`.
    Dropped(u64),
}

/// What tools ask a node's control socket, each with the answer it names (the master's
/// notices and the peers' handshakes are answered `Ok` and need no answer of their own).
pub mod calls {
    use super::{ControlReply, ControlRequest, Log, NodeIdentity, TopicName};

    /// Who and where are you, and what does your clock say? (`pinion doctor`)
    #[derive(Debug, Clone, Copy)]
    pub struct Identify;

    /// The log records the node keeps, numbered above `after_seq`, at most `max`.
    #[derive(Debug, Clone, Copy)]
    pub struct RecentLogs {
        /// Only records with a higher sequence number.
        pub after_seq: u64,
        /// At most this many (the newest).
        pub max: u32,
    }

    /// Stop, for this reason.
    #[derive(Debug, Clone)]
    pub struct Shutdown {
        /// Why, for the node's log and exit message.
        pub reason: String,
    }

    /// Are you there?
    #[derive(Debug, Clone, Copy)]
    pub struct Ping;

    /// Messages of `topic` the node's subscribers did not get from it.
    #[derive(Debug, Clone)]
    pub struct Dropped {
        /// The topic.
        pub topic: TopicName,
    }

    crate::calls! { ControlRequest => ControlReply;
        Identify => NodeIdentity: |_| ControlRequest::Identify, ControlReply::Identity(identity) => identity;
        RecentLogs => Vec<Log>: |c| ControlRequest::RecentLogs { after_seq: c.after_seq, max: c.max }, ControlReply::Logs(records) => records;
        Shutdown => (): |c| ControlRequest::Shutdown { reason: c.reason, replaced: false, session: None }, ControlReply::Ok => ();
        Ping => (): |_| ControlRequest::Ping, ControlReply::Ok => ();
        Dropped => u64: |c| ControlRequest::Dropped { topic: c.topic }, ControlReply::Dropped(n) => n;
    }
}
