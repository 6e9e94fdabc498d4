//! The master's replies.

use super::Endpoints;
use crate::message::TypeInfo;
use crate::names::{NodeName, TopicName};
use serde::{Deserialize, Serialize};

/// One publisher of a topic, as subscribers need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherInfo {
    /// Publishing node.
    pub node: NodeName,
    /// Its host id.
    pub host: String,
    /// The node's session (a restart changes it).
    pub session: u64,
    /// Publisher id.
    pub publisher_id: u64,
    /// Where its data socket is.
    pub data: Endpoints,
    /// Where its control socket is (for the subscriber handshake).
    pub control: Endpoints,
    /// Whether it is latched.
    pub latched: bool,
}

/// One subscriber of a topic, as publishers need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberInfo {
    /// Subscribing node.
    pub node: NodeName,
    /// Subscriber id.
    pub subscriber_id: u64,
}

/// When a list was made: lists from the same master run are ordered by `counter`.
///
/// Replies and notices travel on different sockets and can overtake each other, so a
/// node keeps the newest list it has seen and ignores older ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GraphVersion {
    /// The master run that made the list.
    pub master_session: u64,
    /// Graph changes that run had seen when it made the list.
    pub counter: u64,
}

impl GraphVersion {
    /// Whether a list of this version may replace one of version `current`.
    pub fn supersedes(&self, current: Option<GraphVersion>) -> bool {
        match current {
            None => true,
            Some(c) => self.master_session != c.master_session || self.counter >= c.counter,
        }
    }
}

/// A complete list at one graph version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing<T> {
    /// When the list was made.
    pub version: GraphVersion,
    /// Every item.
    pub items: Vec<T>,
}

/// A service and its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Serving node.
    pub node: NodeName,
    /// Its host id.
    pub host: String,
    /// The service's socket.
    pub endpoints: Endpoints,
}

/// A registered node, as tools show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Name.
    pub name: NodeName,
    /// Host id.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Session.
    pub session: u64,
    /// Milliseconds since its last heartbeat.
    pub last_seen_ms: u64,
    /// Its control socket (shutdown requests, pings).
    pub control: Endpoints,
}

/// A topic, as tools show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSummary {
    /// Name.
    pub name: TopicName,
    /// Its type.
    pub type_info: TypeInfo,
    /// Publishing nodes.
    pub publishers: Vec<NodeName>,
    /// Subscribing nodes.
    pub subscribers: Vec<NodeName>,
}

/// A served service, as tools see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Name.
    pub name: TopicName,
    /// The serving node.
    pub node: NodeName,
    /// Request type.
    pub request: TypeInfo,
    /// Response type.
    pub response: TypeInfo,
}

/// A reply from the master.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MasterReply {
    /// Done.
    Ok,
    /// Registered; `master_session` identifies this run of the master.
    Registered {
        /// Random id of this master run; a change means the master restarted.
        master_session: u64,
    },
    /// Heartbeat seen.
    Alive {
        /// Random id of this master run.
        master_session: u64,
    },
    /// The current publishers of a topic just subscribed to.
    Publishers(Listing<PublisherInfo>),
    /// The current subscribers of a topic just advertised.
    Subscribers(Listing<SubscriberInfo>),
    /// Where a service is served.
    Service(ServiceInfo),
    /// One parameter's value (JSON text), if it is set.
    Param(Option<String>),
    /// Parameters and their values (JSON text).
    Params(Vec<(String, String)>),
    /// Registered nodes.
    Nodes(Vec<NodeInfo>),
    /// Known topics.
    Topics(Vec<TopicSummary>),
    /// The request was refused.
    Error(MasterError),
    /// Served services.
    Services(Vec<ServiceSummary>),
}

/// Why the master refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MasterErrorKind {
    /// The request could not be decoded.
    Malformed,
    /// The caller is not registered (the master restarted, or the node expired): register again.
    UnknownNode,
    /// The caller's name was taken by a newer node; it must exit.
    Replaced {
        /// Host and pid of the newer node.
        by: String,
    },
    /// The topic has another type.
    TypeMismatch {
        /// The topic.
        topic: TopicName,
        /// The type the topic has.
        existing: Box<TypeInfo>,
        /// The type that was offered.
        offered: Box<TypeInfo>,
        /// Field-by-field differences.
        differences: Vec<String>,
    },
    /// No node serves the service.
    NoService,
    /// Anything else that was invalid.
    Invalid,
    /// The master has a key and the request was not signed with it (or was stale or
    /// replayed).
    Unauthorized,
    /// A limit of the master would be passed (the message names it and what to do).
    LimitReached,
}

/// A refusal, with a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct MasterError {
    /// What kind of refusal.
    pub kind: MasterErrorKind,
    /// What happened, where, and what to do.
    pub message: String,
}

impl MasterError {
    /// A type-mismatch refusal of a topic whose message names both types and lists the
    /// differences.
    pub fn type_mismatch(topic: &TopicName, existing: &TypeInfo, offered: &TypeInfo) -> Self {
        Self::type_mismatch_of("topic", "", topic, existing, offered)
    }

    /// [`Self::type_mismatch`] for a service's request or response (`part`).
    pub fn service_type_mismatch(
        part: &str,
        service: &TopicName,
        existing: &TypeInfo,
        offered: &TypeInfo,
    ) -> Self {
        let prefix = format!("service {part} type: ");
        Self::type_mismatch_of("service", &prefix, service, existing, offered)
    }

    fn type_mismatch_of(
        what: &str,
        prefix: &str,
        name: &TopicName,
        existing: &TypeInfo,
        offered: &TypeInfo,
    ) -> Self {
        let differences = crate::schema_diff::differences(&existing.schema, &offered.schema);
        let mut message = format!(
            "{prefix}{what} `{name}` has type `{}` (hash {:016x}) but `{}` (hash {:016x}) was offered",
            existing.name, existing.hash, offered.name, offered.hash
        );
        if differences.is_empty() {
            message.push_str("; the schemas have equal shapes but different hashes");
        } else {
            message.push_str(&format!("; differences ({what} type vs offered):"));
            for d in &differences {
                message.push_str("\n  - ");
                message.push_str(d);
            }
        }
        message.push_str(&format!(
            "\n  {:<14}{}\n  offered type: {}",
            format!("{what} type:"),
            existing.schema,
            offered.schema
        ));
        Self {
            kind: MasterErrorKind::TypeMismatch {
                topic: name.clone(),
                existing: Box::new(existing.clone()),
                offered: Box::new(offered.clone()),
                differences,
            },
            message,
        }
    }

    /// A refusal of another kind.
    pub fn new(kind: MasterErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}
