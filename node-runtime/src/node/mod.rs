//! `Node`: a process's place in the graph, and the factory of everything a node
//! offers. The features build their own handles on the node's `NodeBase`; the node
//! keeps their tables (`Features`) for its control server and for `close`.

mod control;
mod heartbeat;
mod logs;

use crate::base::naming::Naming;
use crate::base::{Identity, NodeBase, Offers};
use crate::host;
use crate::message::{Message, TypeInfo};
use crate::names::NodeName;
use crate::params::table::Params;
use crate::params::ParamWatch;
use crate::protocol::node_to_master::UnregisterNode;
use crate::publisher::table::{Publishers, FLUSH_TIMEOUT};
use crate::publisher::{AdvertiseOptions, Publisher, RawPublisher};
use crate::rate::Rate;
use crate::service::table::Services;
use crate::service::{ServiceClient, ServiceServer};
use crate::shutdown::{Shutdown, StopReason};
use crate::subscriber::table::Subscriptions;
use crate::subscriber::{RawSubscriber, SubscribeOptions, Subscriber};
use crate::Result;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Settings of a node; `NodeOptions::from_env` reads the usual environment variables.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeOptions {
    /// The node's name.
    pub name: String,
    /// Master endpoint (`PINION_MASTER`).
    pub master: String,
    /// Host id (`PINION_HOST`); peers with the same host id use ipc.
    pub host: String,
    /// Namespace and remaps (`PINION_NAMESPACE`, `PINION_REMAP`).
    pub naming: Naming,
    /// The key requests to the master are signed with (`PINION_KEY_FILE`); needed when
    /// the master has one.
    pub key_file: Option<std::path::PathBuf>,
}

impl NodeOptions {
    /// Options for a node called `name`, from `PINION_MASTER`, `PINION_HOST` and
    /// `PINION_NODE_NAME` (which overrides `name`, so a launcher can rename a binary).
    pub fn from_env(name: &str) -> Self {
        let name = std::env::var("PINION_NODE_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| name.to_owned());
        Self {
            name,
            master: std::env::var("PINION_MASTER")
                .ok()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| host::DEFAULT_MASTER.to_owned()),
            host: host::host_id(),
            naming: Naming::from_env().unwrap_or_else(|e| {
                tracing::error!("{e}; ignoring the remaps");
                Naming::default()
            }),
            key_file: std::env::var_os("PINION_KEY_FILE")
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from),
        }
    }

    /// Signs requests to the master with the key in this file.
    pub fn key_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.key_file = Some(path.into());
        self
    }

    /// Uses another master endpoint.
    pub fn master(mut self, endpoint: impl Into<String>) -> Self {
        self.master = endpoint.into();
        self
    }

    /// Uses another host id.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }
}

/// The tables of what a node offers, one per feature.
#[derive(Debug, Default)]
struct Features {
    publishers: Arc<Publishers>,
    subscriptions: Arc<Subscriptions>,
    services: Arc<Services>,
    params: Arc<Params>,
}

impl Features {
    /// The tables in the order they are registered again after a master restart:
    /// what the node offers before what it asks for.
    fn offers(&self) -> Vec<Arc<dyn Offers>> {
        vec![
            self.publishers.clone(),
            self.services.clone(),
            self.params.clone(),
            self.subscriptions.clone(),
        ]
    }
}

/// A node: registered with the master, heartbeating, and the factory of publishers,
/// subscribers and rates. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> pinion::Result<()> {
/// let node = pinion::Node::init(pinion::NodeOptions::from_env("my_node")).await?;
/// assert_eq!(node.name().as_str(), "my_node");
/// node.close().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Node {
    base: Arc<NodeBase>,
    features: Arc<Features>,
}

impl Node {
    /// Binds the node's sockets, registers with the master (waiting for it if it is
    /// not up yet), and starts heartbeats. Needs a tokio runtime.
    pub async fn init(options: NodeOptions) -> Result<Self> {
        let name = NodeName::new(&options.name)?;
        let key = match &options.key_file {
            Some(path) => {
                Some(crate::auth::Key::load(path).map_err(|e| crate::Error::Setup(e.to_string()))?)
            }
            None => None,
        };
        let identity = Identity {
            name,
            host: options.host,
            master: options.master,
            key,
            naming: options.naming,
        };
        let features = Arc::new(Features::default());
        let (base, replier) = NodeBase::bind(identity, features.offers()).await?;
        let base = Arc::new(base);
        tokio::spawn(control::serve(base.clone(), features.clone(), replier));
        if let Err(e) = base.register_everything().await {
            let reason = || StopReason::Requested("registration failed".to_owned());
            base.shutdown().trigger(reason());
            base.closed().trigger(reason());
            base.remove_ipc_files();
            return Err(e);
        }
        tokio::spawn(heartbeat::run(base.clone()));
        tracing::info!(node = %base.name(), host = %base.host(), master = %base.master().endpoint(), "registered");
        let node = Self { base, features };
        logs::start_forwarding(node.clone());
        Ok(node)
    }

    /// The node's name.
    pub fn name(&self) -> &NodeName {
        self.base.name()
    }

    /// The host id of this node.
    pub fn host(&self) -> &str {
        self.base.host()
    }

    /// A [`Blob`](crate::Blob) of `len` bytes written by `fill`, made for publishing:
    /// from this node's shared memory where it can be (subscribers on this host then
    /// read it where `fill` wrote it, nothing is copied), else on the heap.
    ///
    /// Write a camera frame or a point cloud straight into it. Its slot is the
    /// node's until the blob and every copy of it sent are dropped, so hold on to few.
    ///
    /// ```no_run
    /// # async fn run(node: pinion::Node) {
    /// let pixels = node.loan_blob(640 * 480 * 3, |buf| buf.fill(0x80));
    /// assert_eq!(pixels.len(), 640 * 480 * 3);
    /// # }
    /// ```
    pub fn loan_blob(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> crate::Blob {
        let mut fill = Some(fill);
        if len >= crate::shm::SHM_FROM {
            let lent = self.base.data().loan(len, |buf| {
                if let Some(fill) = fill.take() {
                    fill(buf);
                }
            });
            if let Some(lent) = lent {
                return lent.into();
            }
        }
        let mut buf = vec![0; len];
        if let Some(fill) = fill.take() {
            fill(&mut buf);
        }
        buf.into()
    }

    /// Starts publishing `T` on `topic`.
    ///
    /// `topic` is resolved like in ROS: a remap from the launch file applies first, then
    /// the node's namespace unless the name starts with `/`.
    ///
    /// The master refuses a type that differs from the topic's; the error names both
    /// types and lists the differing fields.
    pub async fn advertise<T: Message>(&self, topic: &str) -> Result<Publisher<T>> {
        self.advertise_with(topic, AdvertiseOptions::default())
            .await
    }

    /// Starts publishing `T` on `topic` with options (latching).
    pub async fn advertise_with<T: Message>(
        &self,
        topic: &str,
        options: AdvertiseOptions,
    ) -> Result<Publisher<T>> {
        crate::publisher::advertise_typed(&self.base, &self.features.publishers, topic, options)
            .await
    }

    /// Publishes on `topic` without its type compiled in: the caller gives postcard
    /// bytes of `type_info` (as `pinion topic pub` does after checking them).
    pub async fn advertise_raw(
        &self,
        topic: &str,
        type_info: TypeInfo,
        options: AdvertiseOptions,
    ) -> Result<RawPublisher> {
        crate::publisher::advertise_raw(
            &self.base,
            &self.features.publishers,
            topic,
            type_info,
            options,
        )
        .await
    }

    /// Starts receiving `T` from `topic`, keeping up to 1000 unread messages.
    pub async fn subscribe<T: Message>(&self, topic: &str) -> Result<Subscriber<T>> {
        self.subscribe_with(topic, SubscribeOptions::default())
            .await
    }

    /// Starts receiving `T` from `topic` with options (queue length).
    pub async fn subscribe_with<T: Message>(
        &self,
        topic: &str,
        options: SubscribeOptions,
    ) -> Result<Subscriber<T>> {
        crate::subscriber::subscribe_typed(
            &self.base,
            &self.features.subscriptions,
            topic,
            &options,
        )
        .await
    }

    /// Subscribes to `topic` without its type compiled in: messages arrive as postcard
    /// bytes of `type_info` (tools use the schema the master holds to decode them).
    pub async fn subscribe_raw(
        &self,
        topic: &str,
        type_info: TypeInfo,
        options: SubscribeOptions,
    ) -> Result<RawSubscriber> {
        crate::subscriber::subscribe_raw(
            &self.base,
            &self.features.subscriptions,
            topic,
            type_info,
            &options,
        )
        .await
    }

    /// The value of parameter `key`: this node's own (`rate` means `<node name>/rate`),
    /// or global with a leading `/`. `Ok(None)` if it is not set.
    ///
    /// ```no_run
    /// # async fn run(node: pinion::Node) -> pinion::Result<()> {
    /// let rate: f64 = node.param("rate").await?.unwrap_or(10.0);
    /// # let _ = rate; Ok(()) }
    /// ```
    pub async fn param<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        crate::params::get(&self.base, key).await
    }

    /// Follows parameter `key`: its value now and every change (`pinion param set`).
    pub async fn watch_param<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<ParamWatch<T>> {
        crate::params::watch(&self.base, &self.features.params, key).await
    }

    /// Serves service `name`: each call's request goes to `handler`, whose `Ok` is the
    /// response and whose `Err` text reaches the caller. Calls are handled one at a time.
    pub async fn serve<Req, Resp, F, Fut, E>(&self, name: &str, handler: F) -> Result<ServiceServer>
    where
        Req: Message,
        Resp: Message,
        F: FnMut(Req) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Resp, E>> + Send + 'static,
        E: Display + 'static,
    {
        crate::service::serve(&self.base, &self.features.services, name, handler).await
    }

    /// Serves `name` for types known only at run time (tools, other languages): the
    /// handler takes the request's postcard bytes and gives the response's, or an error
    /// text for the caller.
    pub async fn serve_raw<F, Fut>(
        &self,
        name: &str,
        request: TypeInfo,
        response: TypeInfo,
        handler: F,
    ) -> Result<ServiceServer>
    where
        F: FnMut(Vec<u8>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::result::Result<Vec<u8>, String>> + Send + 'static,
    {
        crate::service::serve_raw(
            &self.base,
            &self.features.services,
            name,
            request,
            response,
            handler,
        )
        .await
    }

    /// A client of service `name` (looked up at the first call, and again after a failure).
    pub fn client<Req: Message, Resp: Message>(
        &self,
        name: &str,
    ) -> Result<ServiceClient<Req, Resp>> {
        crate::service::client(&self.base, name)
    }

    /// A client of service `name` whose types are known only at run time (tools use
    /// the types the master holds): it calls with postcard bytes of `request`.
    pub fn client_raw(
        &self,
        name: &str,
        request: TypeInfo,
        response: TypeInfo,
    ) -> Result<crate::service::RawServiceClient> {
        crate::service::client_raw(&self.base, name, request, response)
    }

    /// A rate of `hz` ticks per second that ends when the node shuts down.
    pub fn rate(&self, hz: f64) -> Rate {
        Rate::new(hz, self.base.shutdown().clone())
    }

    /// The node's clock: nanoseconds since the Unix epoch, the time stamps in headers use.
    ///
    /// ```no_run
    /// # fn f(node: pinion::Node) {
    /// let stamp = pinion::msgs::std_msgs::Header { stamp_ns: node.now(), frame_id: "base_link".into() };
    /// # let _ = stamp; }
    /// ```
    pub fn now(&self) -> u64 {
        host::now_ns()
    }

    /// True until the node is asked to shut down (ROS `is_ok`).
    pub fn is_ok(&self) -> bool {
        !self.base.shutdown().is_triggered()
    }

    /// Completes when the node is asked to shut down (ROS `spin`).
    pub async fn spin(&self) {
        self.base.shutdown().wait().await;
    }

    /// Asks the node to shut down: rates and subscribers end.
    pub fn request_shutdown(&self, reason: &str) {
        self.base
            .shutdown()
            .trigger(StopReason::Requested(reason.to_owned()));
    }

    /// Why the node stops, once it does.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.base.shutdown().reason()
    }

    /// Flushes every publisher, leaves the master and removes the node's socket files.
    ///
    /// Messages published before `close` reach the subscribers that were connected
    /// (each gets up to 2 s to acknowledge).
    pub async fn close(&self) {
        for task in self.base.take_retiring() {
            let _ = task.await;
        }
        // Flushed side by side, so close takes at most one flush timeout.
        let mut flushes = tokio::task::JoinSet::new();
        for publisher in self.features.publishers.all() {
            let base = self.base.clone();
            flushes.spawn(async move { publisher.flush(&base, FLUSH_TIMEOUT).await });
        }
        while flushes.join_next().await.is_some() {}
        let replaced = matches!(self.stop_reason(), Some(StopReason::Replaced(_)));
        self.base
            .shutdown()
            .trigger(StopReason::Requested("node closed".to_owned()));
        if !replaced {
            let request = UnregisterNode(self.base.caller());
            match tokio::time::timeout(Duration::from_secs(1), self.base.master().ask(request))
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "unregister not delivered"),
                Err(_) => tracing::debug!("unregister timed out"),
            }
        }
        self.base
            .closed()
            .trigger(StopReason::Requested("node closed".to_owned()));
        self.base.remove_ipc_files();
        self.features.services.remove_socket_files();
    }

    /// The shutdown flag, for the runtime.
    pub(crate) fn shutdown_flag(&self) -> &Shutdown {
        self.base.shutdown()
    }

    /// Set once the node has closed.
    fn closed_flag(&self) -> &Shutdown {
        self.base.closed()
    }
}
