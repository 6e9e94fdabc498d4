//! The graph as a plain value. No IO: the server feeds it requests and the time.

use params::ParamStore;
use pinion::protocol::control::ControlRequest;
use pinion::protocol::master_to_node::{
    GraphVersion, Listing, MasterError, MasterErrorKind, MasterReply, NodeInfo, PublisherInfo,
    ServiceSummary, SubscriberInfo, TopicSummary,
};
use pinion::protocol::node_to_master::{Caller, NodeRegistration, NodeToMaster, Request};
use pinion::{NodeName, TopicName, TypeInfo};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// How many replaced nodes are remembered, to tell them they were replaced.
const TOMBSTONES: usize = 256;

/// A request the server must deliver to a node's control socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The node to tell (its registration holds host and control endpoints).
    pub to: NodeRegistration,
    /// What to tell it.
    pub request: NoticeKind,
}

/// What a notice says; a thin copy of the control requests the master sends.
#[derive(Debug, Clone, PartialEq)]
pub enum NoticeKind {
    /// The current publishers of a topic.
    Publishers(TopicName, Listing<PublisherInfo>),
    /// The current subscribers of a topic.
    Subscribers(TopicName, Listing<SubscriberInfo>),
    /// Stop: a newer node took your name. Only the node of `session` obeys.
    Replaced {
        /// Who took it.
        reason: String,
        /// The session of the node replaced.
        session: u64,
    },
    /// A watched parameter changed: key, value (JSON text), or `None` once deleted.
    Param(String, Option<String>),
}

impl NoticeKind {
    /// The control request to send.
    pub fn to_request(&self) -> ControlRequest {
        match self {
            NoticeKind::Publishers(topic, publishers) => ControlRequest::PublisherUpdate {
                topic: topic.clone(),
                publishers: publishers.clone(),
            },
            NoticeKind::Subscribers(topic, subscribers) => ControlRequest::SubscriberUpdate {
                topic: topic.clone(),
                subscribers: subscribers.clone(),
            },
            NoticeKind::Replaced { reason, session } => ControlRequest::Shutdown {
                reason: reason.clone(),
                replaced: true,
                session: Some(*session),
            },
            NoticeKind::Param(key, Some(value_json)) => ControlRequest::ParamUpdate {
                key: key.clone(),
                value_json: value_json.clone(),
            },
            NoticeKind::Param(key, None) => ControlRequest::ParamDeleted { key: key.clone() },
        }
    }

    /// Key under which a newer notice replaces an older queued one; `None` for notices
    /// that are each delivered, in order. A list of publishers or subscribers is whole,
    /// so only the newest matters; every parameter change is delivered.
    pub fn coalesce_key(&self) -> Option<(u8, Option<&TopicName>)> {
        match self {
            NoticeKind::Publishers(t, _) => Some((0, Some(t))),
            NoticeKind::Subscribers(t, _) => Some((1, Some(t))),
            NoticeKind::Replaced { .. } => Some((2, None)),
            NoticeKind::Param(..) => None,
        }
    }
}

/// The reply to a request and the notices it causes.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The reply for the caller.
    pub reply: MasterReply,
    /// Notices for other nodes.
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone)]
struct NodeEntry {
    registration: NodeRegistration,
    last_seen: Instant,
}

#[derive(Debug, Clone, Default)]
struct TopicEntry {
    type_info: Option<TypeInfo>,
    publishers: BTreeMap<u64, (NodeName, bool)>,
    subscribers: BTreeMap<u64, NodeName>,
}

impl TopicEntry {
    fn is_empty(&self) -> bool {
        self.publishers.is_empty() && self.subscribers.is_empty()
    }
}

/// The graph: nodes, topics, publishers and subscribers.
#[derive(Debug, Clone)]
pub struct Registry {
    master_session: u64,
    /// Counts graph changes; every list carries it.
    changes: u64,
    expiry: Duration,
    nodes: BTreeMap<NodeName, NodeEntry>,
    topics: BTreeMap<TopicName, TopicEntry>,
    tombstones: VecDeque<(NodeName, u64, String)>,
    params: ParamStore,
    services: BTreeMap<TopicName, ServiceEntry>,
}

#[derive(Debug, Clone)]
struct ServiceEntry {
    node: NodeName,
    request: TypeInfo,
    response: TypeInfo,
    endpoints: pinion::protocol::Endpoints,
}

impl Registry {
    /// An empty graph. Nodes silent for longer than `expiry` are removed.
    pub fn new(master_session: u64, expiry: Duration) -> Self {
        Self {
            master_session,
            changes: 0,
            expiry,
            nodes: BTreeMap::new(),
            topics: BTreeMap::new(),
            tombstones: VecDeque::new(),
            params: ParamStore::new(params::ParamLimits::default()),
            services: BTreeMap::new(),
        }
    }

    /// Number of registered nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Answers one request at time `now`.
    pub fn handle(&mut self, request: NodeToMaster, now: Instant) -> Outcome {
        let mut notices = Vec::new();
        self.changes += 1;
        let reply = self.apply(request, now, &mut notices);
        Outcome { reply, notices }
    }

    /// Answers one request: each kind in a handler of its own (`registry/handlers.rs`),
    /// which returns the reply its request names. The match is exhaustive: a request
    /// without a handler does not compile.
    fn apply(
        &mut self,
        request: NodeToMaster,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) -> MasterReply {
        use pinion::protocol::node_to_master as q;
        match request {
            NodeToMaster::RegisterNode(r) => {
                answer::<q::RegisterNode>(Ok(self.on_register(r, now, notices)))
            }
            NodeToMaster::Heartbeat(r) => answer::<q::Heartbeat>(self.on_heartbeat(r, now)),
            NodeToMaster::UnregisterNode(r) => {
                answer::<q::UnregisterNode>(self.on_unregister(r, now, notices))
            }
            NodeToMaster::Advertise(r) => {
                answer::<q::Advertise>(self.on_advertise(r, now, notices))
            }
            NodeToMaster::Unadvertise(r) => {
                answer::<q::Unadvertise>(self.on_unadvertise(r, now, notices))
            }
            NodeToMaster::Subscribe(r) => {
                answer::<q::Subscribe>(self.on_subscribe(r, now, notices))
            }
            NodeToMaster::Unsubscribe(r) => {
                answer::<q::Unsubscribe>(self.on_unsubscribe(r, now, notices))
            }
            NodeToMaster::AdvertiseService(r) => {
                answer::<q::AdvertiseService>(self.on_advertise_service(r, now))
            }
            NodeToMaster::UnadvertiseService(r) => {
                answer::<q::UnadvertiseService>(self.on_unadvertise_service(r, now))
            }
            NodeToMaster::LookupService(r) => answer::<q::LookupService>(self.on_lookup_service(r)),
            NodeToMaster::SetParam(r) => answer::<q::SetParam>(self.on_set_param(r, notices)),
            NodeToMaster::DeleteParam(r) => {
                answer::<q::DeleteParam>(self.on_delete_param(r, notices))
            }
            NodeToMaster::GetParam(r) => {
                answer::<q::GetParam>(Ok(self.params.get(&r.key).cloned()))
            }
            NodeToMaster::ListParams(q::ListParams) => answer::<q::ListParams>(Ok(self
                .params
                .all()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())),
            NodeToMaster::WatchParams(r) => answer::<q::WatchParams>(self.on_watch_params(r, now)),
            NodeToMaster::ListNodes(q::ListNodes) => {
                answer::<q::ListNodes>(Ok(self.node_list(now)))
            }
            NodeToMaster::ListTopics(q::ListTopics) => {
                answer::<q::ListTopics>(Ok(self.topic_list()))
            }
            NodeToMaster::ListServices(q::ListServices) => {
                answer::<q::ListServices>(Ok(self.service_list()))
            }
        }
    }

    /// Removes nodes whose last heartbeat is older than the expiry; returns their names.
    pub fn expire(&mut self, now: Instant, notices: &mut Vec<Notice>) -> Vec<NodeName> {
        self.changes += 1;
        let expired: Vec<NodeName> = self
            .nodes
            .iter()
            .filter(|(_, n)| now.saturating_duration_since(n.last_seen) > self.expiry)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &expired {
            self.remove_node(name, notices);
        }
        expired
    }

    fn register(
        &mut self,
        registration: NodeRegistration,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) {
        let name = registration.name.clone();
        if let Some(old) = self.nodes.get(&name) {
            if old.registration.session != registration.session {
                let by = format!(
                    "a newer `{name}` registered from host {} pid {}",
                    registration.host, registration.pid
                );
                notices.push(Notice {
                    to: old.registration.clone(),
                    request: NoticeKind::Replaced {
                        reason: by.clone(),
                        session: old.registration.session,
                    },
                });
                self.tombstones
                    .push_back((name.clone(), old.registration.session, by));
                if self.tombstones.len() > TOMBSTONES {
                    self.tombstones.pop_front();
                }
                self.remove_node(&name, notices);
            }
        }
        self.nodes.insert(
            name,
            NodeEntry {
                registration,
                last_seen: now,
            },
        );
    }

    /// Checks that the caller is the registered node of that name, and notes it alive.
    fn check(&mut self, caller: &Caller, now: Instant) -> Result<(), MasterError> {
        if let Some(entry) = self.nodes.get_mut(&caller.node) {
            if entry.registration.session == caller.session {
                entry.last_seen = now;
                return Ok(());
            }
        }
        if let Some((_, _, by)) = self
            .tombstones
            .iter()
            .find(|(n, s, _)| n == &caller.node && *s == caller.session)
        {
            return Err(MasterError::new(
                MasterErrorKind::Replaced { by: by.clone() },
                by.clone(),
            ));
        }
        Err(MasterError::new(
            MasterErrorKind::UnknownNode,
            format!(
                "node `{}` is not registered with this master; register again",
                caller.node
            ),
        ))
    }

    fn check_type(&self, topic: &TopicName, offered: &TypeInfo) -> Result<(), MasterError> {
        if !offered.is_consistent() {
            return Err(MasterError::new(
                MasterErrorKind::Invalid,
                format!(
                    "type `{}` offered for `{topic}` has a hash that does not match its schema",
                    offered.name
                ),
            ));
        }
        match self.topics.get(topic).and_then(|t| t.type_info.as_ref()) {
            Some(existing) if existing.hash != offered.hash => {
                Err(MasterError::type_mismatch(topic, existing, offered))
            }
            _ => Ok(()),
        }
    }

    /// Notices of a parameter change (`None`: deleted) for the nodes watching it.
    fn tell_watchers(
        &self,
        watchers: Vec<NodeName>,
        key: &str,
        value_json: Option<String>,
        notices: &mut Vec<Notice>,
    ) {
        for node in watchers {
            if let Some(n) = self.nodes.get(&node) {
                notices.push(Notice {
                    to: n.registration.clone(),
                    request: NoticeKind::Param(key.to_owned(), value_json.clone()),
                });
            }
        }
    }

    /// The parameters, to be kept in a file.
    pub fn params(&self) -> &std::collections::BTreeMap<String, String> {
        self.params.all()
    }

    /// Takes parameters read back from a file; returns the refusals of those left out.
    pub fn load_params(
        &mut self,
        values: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<String> {
        self.params.load(values)
    }

    fn remove_node(&mut self, name: &NodeName, notices: &mut Vec<Notice>) {
        self.nodes.remove(name);
        self.services.retain(|_, s| &s.node != name);
        self.params.forget(name);
        let mut lost_publishers = Vec::new();
        let mut lost_subscribers = Vec::new();
        for (topic, entry) in self.topics.iter_mut() {
            let before = (entry.publishers.len(), entry.subscribers.len());
            entry.publishers.retain(|_, (n, _)| n != name);
            entry.subscribers.retain(|_, n| n != name);
            if entry.publishers.len() != before.0 {
                lost_publishers.push(topic.clone());
            }
            if entry.subscribers.len() != before.1 {
                lost_subscribers.push(topic.clone());
            }
        }
        for topic in &lost_publishers {
            self.notify_subscribers(topic, notices);
        }
        for topic in &lost_subscribers {
            self.notify_publishers(topic, notices);
        }
        self.topics.retain(|_, entry| !entry.is_empty());
    }

    fn drop_if_empty(&mut self, topic: &TopicName) {
        if self.topics.get(topic).is_some_and(TopicEntry::is_empty) {
            self.topics.remove(topic);
        }
    }

    fn notify_subscribers(&self, topic: &TopicName, notices: &mut Vec<Notice>) {
        let Some(entry) = self.topics.get(topic) else {
            return;
        };
        let list = self.publisher_list(topic);
        let nodes: BTreeSet<&NodeName> = entry.subscribers.values().collect();
        for node in nodes {
            if let Some(n) = self.nodes.get(node) {
                notices.push(Notice {
                    to: n.registration.clone(),
                    request: NoticeKind::Publishers(topic.clone(), list.clone()),
                });
            }
        }
    }

    fn notify_publishers(&self, topic: &TopicName, notices: &mut Vec<Notice>) {
        let Some(entry) = self.topics.get(topic) else {
            return;
        };
        let list = self.subscriber_list(topic);
        let nodes: BTreeSet<&NodeName> = entry.publishers.values().map(|(n, _)| n).collect();
        for node in nodes {
            if let Some(n) = self.nodes.get(node) {
                notices.push(Notice {
                    to: n.registration.clone(),
                    request: NoticeKind::Subscribers(topic.clone(), list.clone()),
                });
            }
        }
    }

    fn version(&self) -> GraphVersion {
        GraphVersion {
            master_session: self.master_session,
            counter: self.changes,
        }
    }

    fn publisher_list(&self, topic: &TopicName) -> Listing<PublisherInfo> {
        Listing {
            version: self.version(),
            items: self.publishers_of(topic),
        }
    }

    fn subscriber_list(&self, topic: &TopicName) -> Listing<SubscriberInfo> {
        Listing {
            version: self.version(),
            items: self.subscribers_of(topic),
        }
    }

    fn publishers_of(&self, topic: &TopicName) -> Vec<PublisherInfo> {
        let Some(entry) = self.topics.get(topic) else {
            return Vec::new();
        };
        entry
            .publishers
            .iter()
            .filter_map(|(id, (node, latched))| {
                let n = &self.nodes.get(node)?.registration;
                Some(PublisherInfo {
                    node: node.clone(),
                    host: n.host.clone(),
                    session: n.session,
                    publisher_id: *id,
                    data: n.data.clone(),
                    control: n.control.clone(),
                    latched: *latched,
                })
            })
            .collect()
    }

    fn subscribers_of(&self, topic: &TopicName) -> Vec<SubscriberInfo> {
        let Some(entry) = self.topics.get(topic) else {
            return Vec::new();
        };
        entry
            .subscribers
            .iter()
            .map(|(id, node)| SubscriberInfo {
                node: node.clone(),
                subscriber_id: *id,
            })
            .collect()
    }

    fn node_list(&self, now: Instant) -> Vec<NodeInfo> {
        self.nodes
            .values()
            .map(|n| NodeInfo {
                name: n.registration.name.clone(),
                host: n.registration.host.clone(),
                pid: n.registration.pid,
                session: n.registration.session,
                last_seen_ms: now.saturating_duration_since(n.last_seen).as_millis() as u64,
                control: n.registration.control.clone(),
            })
            .collect()
    }

    fn service_list(&self) -> Vec<ServiceSummary> {
        self.services
            .iter()
            .map(|(name, s)| ServiceSummary {
                name: name.clone(),
                node: s.node.clone(),
                request: s.request.clone(),
                response: s.response.clone(),
            })
            .collect()
    }

    fn topic_list(&self) -> Vec<TopicSummary> {
        self.topics
            .iter()
            .filter_map(|(name, entry)| {
                let dedup = |it: Vec<NodeName>| -> Vec<NodeName> {
                    it.into_iter()
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect()
                };
                Some(TopicSummary {
                    name: name.clone(),
                    type_info: entry.type_info.clone()?,
                    publishers: dedup(entry.publishers.values().map(|(n, _)| n.clone()).collect()),
                    subscribers: dedup(entry.subscribers.values().cloned().collect()),
                })
            })
            .collect()
    }
}

/// A service's request and response types against the ones a caller means.
fn service_types_match(
    name: &TopicName,
    entry: &ServiceEntry,
    request: &TypeInfo,
    response: &TypeInfo,
) -> Result<(), MasterError> {
    for (what, existing, offered) in [
        ("request", &entry.request, request),
        ("response", &entry.response, response),
    ] {
        if existing.hash != offered.hash {
            return Err(MasterError::service_type_mismatch(
                what, name, existing, offered,
            ));
        }
    }
    Ok(())
}

mod handlers;
mod params;

/// The reply of a handler, as it travels.
fn answer<Q: Request>(result: Result<Q::Reply, MasterError>) -> MasterReply {
    match result {
        Ok(reply) => Q::wrap(reply),
        Err(e) => MasterReply::Error(e),
    }
}

#[cfg(test)]
mod tests;
