//! The shared state of a running node and the bookkeeping of its publishers and subscribers.

use super::master_link::MasterLink;
use super::peers::Peers;
use crate::message::TypeInfo;
use crate::names::{NodeName, TopicName};
use crate::protocol::node_to_master::{
    Advertise, Subscribe, Unadvertise, UnadvertiseService, Unsubscribe, WatchParams,
};
use crate::protocol::node_to_master::{Caller, NodeRegistration};
use crate::protocol::Endpoints;
use crate::publisher::PublisherShared;
use crate::shutdown::Shutdown;
use crate::subscription::SubCommand;
use crate::transport::DataPublisher;
use crate::Result;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a retiring publisher waits for its subscribers' flush acknowledgements.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// A local subscription, as the node needs to know it.
#[derive(Debug, Clone)]
pub(crate) struct LocalSubscription {
    pub(crate) topic: TopicName,
    pub(crate) type_info: TypeInfo,
    pub(crate) commands: mpsc::UnboundedSender<SubCommand>,
}

/// Everything a node's tasks share.
#[derive(Debug)]
pub(crate) struct NodeInner {
    pub(crate) name: NodeName,
    pub(crate) session: u64,
    pub(crate) host: String,
    pub(crate) control: Endpoints,
    pub(crate) data_endpoints: Endpoints,
    /// The node's data socket, shared by its publishers.
    pub(crate) data: DataPublisher,
    /// Where reliable publishers wait for their subscribers' credit.
    pub(crate) credit: crate::transport::CreditGate,
    pub(crate) master: MasterLink,
    pub(crate) master_session: AtomicU64,
    pub(crate) peers: Peers,
    pub(crate) shutdown: Shutdown,
    /// Set when `close` is done: the control server serves until then, so flush
    /// acknowledgements still arrive while the node shuts down.
    pub(crate) closed: Shutdown,
    pub(crate) publishers: Mutex<HashMap<u64, Arc<PublisherShared>>>,
    pub(crate) subscriptions: Mutex<HashMap<u64, LocalSubscription>>,
    pub(crate) retiring: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) ipc_files: Vec<PathBuf>,
    pub(crate) naming: super::naming::Naming,
    /// Address tcp sockets are bound on.
    pub(crate) tcp_ip: std::net::IpAddr,
    /// Served services: name -> (request type, response type, endpoints, ipc file).
    pub(crate) services: Mutex<HashMap<TopicName, (TypeInfo, TypeInfo, Endpoints, PathBuf)>>,
    /// Watched parameters: full key -> latest value (JSON text).
    pub(crate) params: Mutex<HashMap<String, crate::params::ParamSlot>>,
    /// Counts completed registrations; a request refused as unknown knows from it
    /// whether someone registered again since it was sent.
    pub(crate) registrations: AtomicU64,
    /// Held while registering everything again, so that it happens once at a time.
    pub(crate) registering: tokio::sync::Mutex<()>,
}

/// How many times one request is retried after registering again: the master would
/// have to restart that often while the request is in flight.
const REREGISTER_TRIES: usize = 5;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NodeInner {
    pub(crate) fn caller(&self) -> Caller {
        Caller {
            node: self.name.clone(),
            session: self.session,
        }
    }

    pub(crate) fn registration(&self) -> NodeRegistration {
        NodeRegistration {
            name: self.name.clone(),
            session: self.session,
            host: self.host.clone(),
            pid: std::process::id(),
            control: self.control.clone(),
            data: self.data_endpoints.clone(),
        }
    }

    pub(crate) fn publisher(&self, publisher_id: u64) -> Option<Arc<PublisherShared>> {
        lock(&self.publishers).get(&publisher_id).cloned()
    }

    pub(crate) fn publishers_of(&self, topic: &TopicName) -> Vec<Arc<PublisherShared>> {
        lock(&self.publishers)
            .values()
            .filter(|p| &p.topic == topic)
            .cloned()
            .collect()
    }

    pub(crate) fn all_publishers(&self) -> Vec<Arc<PublisherShared>> {
        lock(&self.publishers).values().cloned().collect()
    }

    pub(crate) fn add_publisher(&self, shared: Arc<PublisherShared>) {
        lock(&self.publishers).insert(shared.publisher_id, shared);
    }

    pub(crate) fn remove_publisher(&self, publisher_id: u64) {
        lock(&self.publishers).remove(&publisher_id);
    }

    pub(crate) fn add_subscription(&self, subscriber_id: u64, sub: LocalSubscription) {
        lock(&self.subscriptions).insert(subscriber_id, sub);
    }

    pub(crate) fn subscriptions_of(&self, topic: &TopicName) -> Vec<LocalSubscription> {
        lock(&self.subscriptions)
            .values()
            .filter(|s| &s.topic == topic)
            .cloned()
            .collect()
    }

    pub(crate) fn all_subscriptions(&self) -> Vec<(u64, LocalSubscription)> {
        lock(&self.subscriptions)
            .iter()
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    /// A dropped publisher: flush what it sent, then withdraw it from the master.
    pub(crate) fn forget_publisher(self: &Arc<Self>, shared: &Arc<PublisherShared>) {
        let node = self.clone();
        let shared = shared.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            lock(&self.publishers).remove(&shared.publisher_id);
            return;
        };
        let task = runtime.spawn(async move {
            // After `close` (or a stop) the node flushed already and its subscribers may
            // be gone: flushing again would only keep its sockets alive for the timeout.
            if !node.closed.is_triggered() {
                if let Err(e) = shared.flush(&node, FLUSH_TIMEOUT).await {
                    tracing::warn!(topic = %shared.topic, error = %e, "flush failed");
                }
            }
            lock(&node.publishers).remove(&shared.publisher_id);
            if !node.shutdown.is_triggered() {
                let request = Unadvertise {
                    caller: node.caller(),
                    topic: shared.topic.clone(),
                    publisher_id: shared.publisher_id,
                };
                if let Err(e) = node.master.ask(request).await {
                    tracing::debug!(error = %e, "unadvertise not delivered; the master expires it");
                }
            }
        });
        lock(&self.retiring).push(task);
    }

    /// A dropped subscriber: withdraw it from the master.
    pub(crate) fn forget_subscriber(self: &Arc<Self>, topic: &TopicName, subscriber_id: u64) {
        lock(&self.subscriptions).remove(&subscriber_id);
        if self.shutdown.is_triggered() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let node = self.clone();
        let request = Unsubscribe {
            caller: self.caller(),
            topic: topic.clone(),
            subscriber_id,
        };
        let task = runtime.spawn(async move {
            if let Err(e) = node.master.ask(request).await {
                tracing::debug!(error = %e, "unsubscribe not delivered; the master expires it");
            }
        });
        lock(&self.retiring).push(task);
    }

    /// A dropped service server: withdraw it from the master and remove its socket file.
    pub(crate) fn forget_service(self: &Arc<Self>, name: &TopicName) {
        if let Some((_, _, _, path)) = lock(&self.services).remove(name) {
            let _ = std::fs::remove_file(path);
        }
        if self.shutdown.is_triggered() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let node = self.clone();
        let request = UnadvertiseService {
            caller: self.caller(),
            name: name.clone(),
        };
        let task = runtime.spawn(async move {
            if let Err(e) = node.master.ask(request).await {
                tracing::debug!(error = %e, "unadvertise service not delivered; the master expires it");
            }
        });
        lock(&self.retiring).push(task);
    }

    /// Records a watched parameter's value (from the master).
    pub(crate) fn set_param_value(&self, key: &str, value: Option<String>) {
        if let Some(slot) = lock(&self.params).get(key) {
            slot.set(value);
        }
    }

    /// Asks the master to report changes of `keys`, and records their current values.
    pub(crate) async fn watch_params_at_master(&self, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let request = WatchParams {
            caller: self.caller(),
            keys: keys.clone(),
        };
        let values = self
            .master
            .ask_until_answered(request, &self.shutdown)
            .await?;
        for key in keys {
            let value = values
                .iter()
                .find(|(k, _)| k == &key)
                .map(|(_, v)| v.clone());
            self.set_param_value(&key, value);
        }
        Ok(())
    }

    /// Takes the tasks of retiring publishers and subscribers, to wait for them.
    pub(crate) fn take_retiring(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *lock(&self.retiring))
    }

    /// Runs `op`, a request on behalf of this node; when the master refuses it as
    /// unknown (it restarted, or expired the node), registers everything again and
    /// runs it again, so that the refusal never reaches user code.
    pub(crate) async fn registered<T, F, Fut>(self: &Arc<Self>, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut tries = 0;
        loop {
            let seen = self.registrations.load(Ordering::Acquire);
            match op().await {
                Err(e)
                    if super::master_link::needs_reregistration(&e) && tries < REREGISTER_TRIES =>
                {
                    tries += 1;
                    tracing::info!("the master does not know this node (it restarted, or expired the node); registering again");
                    self.register_again(seen).await?;
                }
                other => return other,
            }
        }
    }

    /// Registers everything again, unless someone did since registration `seen`; one
    /// at a time.
    pub(crate) async fn register_again(self: &Arc<Self>, seen: u64) -> Result<()> {
        let _one_at_a_time = self.registering.lock().await;
        if self.registrations.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        self.register_everything().await
    }

    /// Registers the node and everything it offers again (after a master restart).
    pub(crate) async fn register_everything(self: &Arc<Self>) -> Result<()> {
        let master_session = self
            .master
            .ask_until_answered(self.registration(), &self.shutdown)
            .await?;
        self.master_session.store(master_session, Ordering::Relaxed);
        self.registrations.fetch_add(1, Ordering::AcqRel);
        for publisher in self.all_publishers() {
            if let Err(e) = self.advertise_to_master(&publisher).await {
                tracing::error!(topic = %publisher.topic, error = %e, "could not advertise again");
            }
        }
        let services: Vec<_> = lock(&self.services)
            .iter()
            .map(|(n, (rq, rs, ep, _))| (n.clone(), rq.clone(), rs.clone(), ep.clone()))
            .collect();
        for (name, request, response, endpoints) in services {
            let advertise =
                crate::service::advertise_request(self, &name, request, response, endpoints);
            if let Err(e) = self
                .master
                .ask_until_answered(advertise, &self.shutdown)
                .await
            {
                tracing::error!(service = %name, error = %e, "could not advertise the service again");
            }
        }
        let watched: Vec<String> = lock(&self.params).keys().cloned().collect();
        if let Err(e) = self.watch_params_at_master(watched).await {
            tracing::error!(error = %e, "could not watch parameters again");
        }
        for (subscriber_id, sub) in self.all_subscriptions() {
            // Registering again means the node was cut off: make fresh connections.
            let _ = sub.commands.send(SubCommand::Reconnect);
            if let Err(e) = self.subscribe_to_master(subscriber_id, &sub).await {
                tracing::error!(topic = %sub.topic, error = %e, "could not subscribe again");
            }
        }
        Ok(())
    }

    pub(crate) async fn advertise_to_master(&self, publisher: &Arc<PublisherShared>) -> Result<()> {
        let request = Advertise {
            caller: self.caller(),
            topic: publisher.topic.clone(),
            type_info: publisher.type_info.clone(),
            publisher_id: publisher.publisher_id,
            latched: publisher.latched,
        };
        let list = self
            .master
            .ask_until_answered(request, &self.shutdown)
            .await?;
        publisher.on_subscribers(&list);
        Ok(())
    }

    pub(crate) async fn subscribe_to_master(
        &self,
        subscriber_id: u64,
        sub: &LocalSubscription,
    ) -> Result<()> {
        let request = Subscribe {
            caller: self.caller(),
            topic: sub.topic.clone(),
            type_info: sub.type_info.clone(),
            subscriber_id,
        };
        let list = self
            .master
            .ask_until_answered(request, &self.shutdown)
            .await?;
        let _ = sub.commands.send(SubCommand::Publishers(list));
        Ok(())
    }

    /// Removes this process's ipc socket files.
    pub(crate) fn remove_ipc_files(&self) {
        for path in &self.ipc_files {
            let _ = std::fs::remove_file(path);
        }
        for (_, _, _, path) in lock(&self.services).values() {
            let _ = std::fs::remove_file(path);
        }
    }
}
