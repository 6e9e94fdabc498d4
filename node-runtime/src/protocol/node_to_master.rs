//! Requests to the master.

use super::Endpoints;
use crate::message::TypeInfo;
use crate::names::{NodeName, TopicName};
use serde::{Deserialize, Serialize};

/// A node as it registers itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistration {
    /// The node's name.
    pub name: NodeName,
    /// Random id of this run of the node; a restarted node has a new one.
    pub session: u64,
    /// Host id (`PINION_HOST`, else the hostname): same host id means ipc.
    pub host: String,
    /// Process id on its host.
    pub pid: u32,
    /// The node's control socket (graph updates, handshakes, shutdown).
    pub control: Endpoints,
    /// The node's data (PUB) socket.
    pub data: Endpoints,
}

/// Who is asking: a node name and the session of its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The node's name.
    pub node: NodeName,
    /// The session it registered with.
    pub session: u64,
}

/// A request to the master.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NodeToMaster {
    /// Register a node; a node of the same name is replaced (newest wins).
    RegisterNode(NodeRegistration),
    /// I am alive.
    Heartbeat(Caller),
    /// I am leaving.
    UnregisterNode(Caller),
    /// I publish `topic` with this type.
    Advertise {
        /// Who.
        caller: Caller,
        /// The topic.
        topic: TopicName,
        /// Type name, schema and hash.
        type_info: TypeInfo,
        /// Random id of this publisher.
        publisher_id: u64,
        /// Whether late subscribers receive the last message.
        latched: bool,
    },
    /// I stop publishing.
    Unadvertise {
        /// Who.
        caller: Caller,
        /// The topic.
        topic: TopicName,
        /// Which publisher.
        publisher_id: u64,
    },
    /// I subscribe to `topic` with this type; the reply lists the publishers.
    Subscribe {
        /// Who.
        caller: Caller,
        /// The topic.
        topic: TopicName,
        /// Type name, schema and hash.
        type_info: TypeInfo,
        /// Random id of this subscriber.
        subscriber_id: u64,
    },
    /// I stop subscribing.
    Unsubscribe {
        /// Who.
        caller: Caller,
        /// The topic.
        topic: TopicName,
        /// Which subscriber.
        subscriber_id: u64,
    },
    /// I serve this service.
    AdvertiseService {
        /// Who.
        caller: Caller,
        /// Service name.
        name: TopicName,
        /// Request type.
        request: TypeInfo,
        /// Response type.
        response: TypeInfo,
        /// Where the service's socket is.
        endpoints: super::Endpoints,
    },
    /// I stop serving this service.
    UnadvertiseService {
        /// Who.
        caller: Caller,
        /// Service name.
        name: TopicName,
    },
    /// Where is this service? The types are checked against the server's.
    LookupService {
        /// Service name.
        name: TopicName,
        /// Request type the client sends.
        request: TypeInfo,
        /// Response type the client expects.
        response: TypeInfo,
    },
    /// Set a parameter (JSON text); nodes watching it are told.
    SetParam {
        /// Key, such as `talker/rate` (a node's own parameters live under its name).
        key: String,
        /// The value, as JSON text.
        value_json: String,
    },
    /// Read a parameter.
    GetParam {
        /// Key.
        key: String,
    },
    /// All parameters.
    ListParams,
    /// Tell me when these parameters change; the reply holds their current values.
    WatchParams {
        /// Who.
        caller: Caller,
        /// Keys.
        keys: Vec<String>,
    },
    /// The registered nodes.
    ListNodes,
    /// The known topics.
    ListTopics,
    /// Remove a parameter; nodes watching it are told.
    DeleteParam {
        /// Key.
        key: String,
    },
}
