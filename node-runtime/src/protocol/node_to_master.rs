//! Requests to the master.

use super::master_to_node::{
    Listing, MasterReply, NodeInfo, PublisherInfo, ServiceInfo, ServiceSummary, SubscriberInfo,
    TopicSummary,
};
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

/// A request to the master that names its reply: a caller gets that reply or a typed
/// error, and the master answers each request in a handler of its own (the registry
/// matches [`NodeToMaster`] exhaustively, so a new request does not compile without one).
pub trait Request: Into<NodeToMaster> {
    /// What the master answers.
    type Reply;
    /// The reply as it travels.
    fn wrap(reply: Self::Reply) -> MasterReply;
    /// The reply taken out of what the master sent; `Err` with it when it is another.
    fn unwrap(reply: MasterReply) -> Result<Self::Reply, MasterReply>;
}

/// Declares a request struct's place in [`NodeToMaster`] and its reply.
macro_rules! request {
    ($request:ident => $reply:ty, $wrap:expr, $pattern:pat => $value:expr) => {
        impl From<$request> for NodeToMaster {
            fn from(request: $request) -> Self {
                NodeToMaster::$request(request)
            }
        }
        impl Request for $request {
            type Reply = $reply;
            fn wrap(reply: $reply) -> MasterReply {
                #[allow(clippy::redundant_closure_call)]
                ($wrap)(reply)
            }
            fn unwrap(reply: MasterReply) -> Result<$reply, MasterReply> {
                match reply {
                    $pattern => Ok($value),
                    other => Err(other),
                }
            }
        }
    };
    ($request:ident => ()) => {
        request!($request => (), |()| MasterReply::Ok, MasterReply::Ok => ());
    };
}

/// Register a node; a node of the same name is replaced (newest wins). The reply is the
/// master's session: a change means the master restarted.
pub type RegisterNode = NodeRegistration;

/// I am alive. The reply is the master's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat(pub Caller);

/// I am leaving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnregisterNode(pub Caller);

/// I publish `topic` with this type; the reply lists its subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advertise {
    /// Who.
    pub caller: Caller,
    /// The topic.
    pub topic: TopicName,
    /// Type name, schema and hash.
    pub type_info: TypeInfo,
    /// Random id of this publisher.
    pub publisher_id: u64,
    /// Whether late subscribers receive the last message.
    pub latched: bool,
}

/// I stop publishing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unadvertise {
    /// Who.
    pub caller: Caller,
    /// The topic.
    pub topic: TopicName,
    /// Which publisher.
    pub publisher_id: u64,
}

/// I subscribe to `topic` with this type; the reply lists the publishers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscribe {
    /// Who.
    pub caller: Caller,
    /// The topic.
    pub topic: TopicName,
    /// Type name, schema and hash.
    pub type_info: TypeInfo,
    /// Random id of this subscriber.
    pub subscriber_id: u64,
}

/// I stop subscribing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unsubscribe {
    /// Who.
    pub caller: Caller,
    /// The topic.
    pub topic: TopicName,
    /// Which subscriber.
    pub subscriber_id: u64,
}

/// I serve this service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvertiseService {
    /// Who.
    pub caller: Caller,
    /// Service name.
    pub name: TopicName,
    /// Request type.
    pub request: TypeInfo,
    /// Response type.
    pub response: TypeInfo,
    /// Where the service's socket is.
    pub endpoints: super::Endpoints,
}

/// I stop serving this service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnadvertiseService {
    /// Who.
    pub caller: Caller,
    /// Service name.
    pub name: TopicName,
}

/// Where is this service? The types are checked against the server's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LookupService {
    /// Service name.
    pub name: TopicName,
    /// Request type the client sends.
    pub request: TypeInfo,
    /// Response type the client expects.
    pub response: TypeInfo,
}

/// Set a parameter (JSON text); nodes watching it are told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetParam {
    /// Key, such as `talker/rate` (a node's own parameters live under its name).
    pub key: String,
    /// The value, as JSON text.
    pub value_json: String,
}

/// Read a parameter: its value (JSON text), if set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetParam {
    /// Key.
    pub key: String,
}

/// All parameters and their values (JSON text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListParams;

/// Tell me when these parameters change; the reply holds their current values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchParams {
    /// Who.
    pub caller: Caller,
    /// Keys.
    pub keys: Vec<String>,
}

/// The registered nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListNodes;

/// The known topics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListTopics;

/// The served services, with their types.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListServices;

/// Remove a parameter; nodes watching it are told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteParam {
    /// Key.
    pub key: String,
}

/// A request to the master, as it travels. Each variant holds a request struct of the
/// same name, which says what the master answers ([`Request`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NodeToMaster {
    /// See [`RegisterNode`].
    RegisterNode(RegisterNode),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat),
    /// See [`UnregisterNode`].
    UnregisterNode(UnregisterNode),
    /// See [`Advertise`].
    Advertise(Advertise),
    /// See [`Unadvertise`].
    Unadvertise(Unadvertise),
    /// See [`Subscribe`].
    Subscribe(Subscribe),
    /// See [`Unsubscribe`].
    Unsubscribe(Unsubscribe),
    /// See [`AdvertiseService`].
    AdvertiseService(AdvertiseService),
    /// See [`UnadvertiseService`].
    UnadvertiseService(UnadvertiseService),
    /// See [`LookupService`].
    LookupService(LookupService),
    /// See [`SetParam`].
    SetParam(SetParam),
    /// See [`GetParam`].
    GetParam(GetParam),
    /// See [`ListParams`].
    ListParams(ListParams),
    /// See [`WatchParams`].
    WatchParams(WatchParams),
    /// See [`ListNodes`].
    ListNodes(ListNodes),
    /// See [`ListTopics`].
    ListTopics(ListTopics),
    /// See [`DeleteParam`].
    DeleteParam(DeleteParam),
    /// See [`ListServices`].
    ListServices(ListServices),
}

request!(
    RegisterNode => u64,
    |master_session| MasterReply::Registered { master_session },
    MasterReply::Registered { master_session } => master_session
);
request!(
    Heartbeat => u64,
    |master_session| MasterReply::Alive { master_session },
    MasterReply::Alive { master_session } => master_session
);
request!(UnregisterNode => ());
request!(
    Advertise => Listing<SubscriberInfo>,
    MasterReply::Subscribers,
    MasterReply::Subscribers(list) => list
);
request!(Unadvertise => ());
request!(
    Subscribe => Listing<PublisherInfo>,
    MasterReply::Publishers,
    MasterReply::Publishers(list) => list
);
request!(Unsubscribe => ());
request!(AdvertiseService => ());
request!(UnadvertiseService => ());
request!(
    LookupService => ServiceInfo,
    MasterReply::Service,
    MasterReply::Service(info) => info
);
request!(SetParam => ());
request!(
    GetParam => Option<String>,
    MasterReply::Param,
    MasterReply::Param(value) => value
);
request!(
    ListParams => Vec<(String, String)>,
    MasterReply::Params,
    MasterReply::Params(values) => values
);
request!(
    WatchParams => Vec<(String, String)>,
    MasterReply::Params,
    MasterReply::Params(values) => values
);
request!(
    ListNodes => Vec<NodeInfo>,
    MasterReply::Nodes,
    MasterReply::Nodes(nodes) => nodes
);
request!(
    ListTopics => Vec<TopicSummary>,
    MasterReply::Topics,
    MasterReply::Topics(topics) => topics
);
request!(DeleteParam => ());
request!(
    ListServices => Vec<ServiceSummary>,
    MasterReply::Services,
    MasterReply::Services(services) => services
);
