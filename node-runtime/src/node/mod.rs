//! `Node`: a process's place in the graph.

pub(crate) mod control;
pub(crate) mod heartbeat;
pub use crate::host;
pub(crate) mod inner;
pub mod master_link;
pub mod naming;
pub(crate) mod peers;

pub(crate) use inner::NodeInner;

use crate::message::Message;
use crate::names::NodeName;
use crate::protocol::node_to_master::{GetParam, UnregisterNode};
use crate::protocol::Endpoints;
use crate::publisher::{AdvertiseOptions, Publisher, PublisherShared};
use crate::queue::KeepLast;
use crate::rate::Rate;
use crate::shutdown::{Shutdown, StopReason};
use crate::subscriber::{SubscribeOptions, Subscriber};
use crate::subscription::{SubscriptionStats, SubscriptionTask};
use crate::transport::{DataPublisher, Guard, Replier};
use crate::{Error, Result};
use bytes::Bytes;
use inner::LocalSubscription;
use master_link::MasterLink;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;
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
    pub naming: naming::Naming,
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
            naming: naming::Naming::from_env().unwrap_or_else(|e| {
                tracing::error!("{e}; ignoring the remaps");
                naming::Naming::default()
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
    inner: Arc<NodeInner>,
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
        let master = MasterLink::new(&options.master, key.clone())?;
        let ip = host::advertised_ip(master.endpoint());
        let ctl_path = host::ipc_path(name.as_str(), "ctl");
        let data_path = host::ipc_path(name.as_str(), "data");

        let mut replier = Replier::new(
            Guard::new("control", crate::limits::MAX_CONTROL_MESSAGE).keyed(key.clone()),
        );
        let control = Endpoints {
            ipc: Some(
                replier
                    .bind(&format!("ipc://{}", ctl_path.display()))
                    .await?,
            ),
            tcp: Some(replier.bind(&format!("tcp://{}", tcp_host(ip))).await?),
        };
        let mut data = DataPublisher::new(key.clone());
        let data_endpoints = Endpoints {
            ipc: Some(data.bind(&format!("ipc://{}", data_path.display())).await?),
            tcp: Some(data.bind(&format!("tcp://{}", tcp_host(ip))).await?),
        };
        data.start();
        let credit = data.credit_gate();

        let inner = Arc::new(NodeInner {
            name,
            session: host::random_id(),
            host: options.host,
            control,
            data_endpoints,
            data,
            credit,
            master,
            master_session: AtomicU64::new(0),
            peers: peers::Peers::new(key.clone()),
            shutdown: Shutdown::new(),
            closed: Shutdown::new(),
            publishers: Default::default(),
            subscriptions: Default::default(),
            retiring: Default::default(),
            ipc_files: vec![ctl_path, data_path],
            naming: options.naming,
            params: Default::default(),
            registrations: AtomicU64::new(0),
            registering: tokio::sync::Mutex::new(()),
            tcp_ip: ip,
            services: Default::default(),
        });
        tokio::spawn(control::serve(inner.clone(), replier));
        if let Err(e) = inner.register_everything().await {
            inner
                .shutdown
                .trigger(StopReason::Requested("registration failed".to_owned()));
            inner
                .closed
                .trigger(StopReason::Requested("registration failed".to_owned()));
            inner.remove_ipc_files();
            return Err(e);
        }
        tokio::spawn(heartbeat::run(inner.clone()));
        tracing::info!(node = %inner.name, host = %inner.host, master = %inner.master.endpoint(), "registered");
        let node = Self { inner };
        crate::logs::start_forwarding(node.clone(), node.inner.closed.clone());
        Ok(node)
    }

    /// The node's name.
    pub fn name(&self) -> &NodeName {
        &self.inner.name
    }

    /// The host id of this node.
    pub fn host(&self) -> &str {
        &self.inner.host
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
        let topic = self.inner.naming.resolve(topic)?;
        let shared = Arc::new(PublisherShared::new(topic, T::type_info(), &options));
        // Known before the master answers, so that no subscriber update is missed.
        self.inner.add_publisher(shared.clone());
        if let Err(e) = self
            .inner
            .registered(|| self.inner.advertise_to_master(&shared))
            .await
        {
            self.inner.remove_publisher(shared.publisher_id);
            return Err(e);
        }
        Ok(Publisher {
            shared,
            node: self.inner.clone(),
            _type: PhantomData,
        })
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
        let decode = Box::new(|frames: Vec<Bytes>| {
            crate::segments::decode_owned::<T>("message payload", frames).ok()
        });
        let core = self
            .start_subscription(topic, T::type_info(), &options, decode)
            .await?;
        Ok(Subscriber {
            core,
            _type: PhantomData,
        })
    }

    /// Subscribes to `topic` without its type compiled in: messages arrive as postcard
    /// bytes of `type_info` (tools use the schema the master holds to decode them).
    pub async fn subscribe_raw(
        &self,
        topic: &str,
        type_info: crate::TypeInfo,
        options: SubscribeOptions,
    ) -> Result<crate::subscriber::RawSubscriber> {
        let decode = Box::new(|frames: Vec<Bytes>| Some(crate::segments::join(&frames).to_vec()));
        let core = self
            .start_subscription(topic, type_info, &options, decode)
            .await?;
        Ok(crate::subscriber::RawSubscriber { core })
    }

    async fn start_subscription<I: Send + 'static>(
        &self,
        topic: &str,
        type_info: crate::TypeInfo,
        options: &SubscribeOptions,
        decode: Decoder<I>,
    ) -> Result<crate::subscriber::SubscriberCore<I>> {
        let topic = self.inner.naming.resolve(topic)?;
        let subscriber_id = host::random_id();
        let queue = Arc::new(KeepLast::new(options.queue));
        let stats = Arc::new(SubscriptionStats::default());
        let (commands, receiver) = tokio::sync::mpsc::unbounded_channel();
        let sink_queue = queue.clone();
        let end_queue = queue.clone();
        let task = SubscriptionTask {
            node: self.inner.clone(),
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
            commands: receiver,
            on_end: Box::new(move || end_queue.close()),
        };
        let local = LocalSubscription {
            topic: topic.clone(),
            type_info,
            commands: commands.clone(),
        };
        // Known before the master answers, so that no publisher update is missed.
        self.inner.add_subscription(subscriber_id, local.clone());
        if let Err(e) = self
            .inner
            .registered(|| self.inner.subscribe_to_master(subscriber_id, &local))
            .await
        {
            self.inner.forget_subscriber(&topic, subscriber_id);
            return Err(e);
        }
        tokio::spawn(task.run());
        Ok(crate::subscriber::SubscriberCore {
            topic,
            subscriber_id,
            queue,
            stats,
            node: self.inner.clone(),
            _commands: commands,
        })
    }

    /// Publishes on `topic` without its type compiled in: the caller gives postcard
    /// bytes of `type_info` (as `pinion topic pub` does after checking them).
    pub async fn advertise_raw(
        &self,
        topic: &str,
        type_info: crate::TypeInfo,
        options: AdvertiseOptions,
    ) -> Result<crate::publisher::RawPublisher> {
        let topic = self.inner.naming.resolve(topic)?;
        let shared = Arc::new(PublisherShared::new(topic, type_info, &options));
        self.inner.add_publisher(shared.clone());
        if let Err(e) = self
            .inner
            .registered(|| self.inner.advertise_to_master(&shared))
            .await
        {
            self.inner.remove_publisher(shared.publisher_id);
            return Err(e);
        }
        Ok(crate::publisher::RawPublisher {
            shared,
            node: self.inner.clone(),
        })
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
        let key = crate::params::resolve_key(self.inner.name.as_str(), key);
        let value = self
            .inner
            .master
            .ask_until_answered(GetParam { key: key.clone() }, &self.inner.shutdown)
            .await?;
        value
            .map(|json| crate::params::decode(&key, &json))
            .transpose()
    }

    /// Follows parameter `key`: its value now and every change (`pinion param set`).
    pub async fn watch_param<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<crate::params::ParamWatch<T>> {
        let key = crate::params::resolve_key(self.inner.name.as_str(), key);
        let (mut rx, mut changes) = {
            let mut params = self
                .inner
                .params
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            params
                .entry(key.clone())
                .or_insert_with(crate::params::ParamSlot::new)
                .subscribe()
        };
        self.inner
            .registered(|| self.inner.watch_params_at_master(vec![key.clone()]))
            .await?;
        // The value now is `current()`; `changed()` waits for the next one.
        rx.borrow_and_update();
        while changes.try_recv().is_ok() {}
        Ok(crate::params::ParamWatch {
            key,
            rx,
            changes,
            shutdown: self.inner.shutdown.clone(),
            _type: PhantomData,
        })
    }

    /// Serves service `name`: each call's request goes to `handler`, whose `Ok` is the
    /// response and whose `Err` text reaches the caller. Calls are handled one at a time.
    pub async fn serve<Req, Resp, F, Fut, E>(
        &self,
        name: &str,
        handler: F,
    ) -> Result<crate::service::ServiceServer>
    where
        Req: Message,
        Resp: Message,
        F: FnMut(Req) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::result::Result<Resp, E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        let name = self.inner.naming.resolve(name)?;
        let path = host::ipc_path(
            self.inner.name.as_str(),
            &format!("srv-{}", name.as_str().replace('/', "_")),
        );
        let mut replier = Replier::new(
            Guard::new("service", crate::limits::max_message())
                .keyed(self.inner.master.key().cloned()),
        );
        let endpoints = Endpoints {
            ipc: Some(replier.bind(&format!("ipc://{}", path.display())).await?),
            tcp: Some(
                replier
                    .bind(&format!("tcp://{}", tcp_host(self.inner.tcp_ip)))
                    .await?,
            ),
        };
        self.inner
            .services
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                name.clone(),
                (
                    Req::type_info(),
                    Resp::type_info(),
                    endpoints.clone(),
                    path.clone(),
                ),
            );
        let advertise = crate::service::advertise_request(
            &self.inner,
            &name,
            Req::type_info(),
            Resp::type_info(),
            endpoints,
        );
        if let Err(e) = self
            .inner
            .registered(|| {
                self.inner
                    .master
                    .ask_until_answered(advertise.clone(), &self.inner.shutdown)
            })
            .await
        {
            self.inner
                .services
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&name);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let task = tokio::spawn(crate::service::serve_loop::<Req, Resp, F, Fut, E>(
            replier,
            name.clone(),
            handler,
        ));
        Ok(crate::service::ServiceServer {
            name,
            node: self.inner.clone(),
            task,
        })
    }

    /// A client of service `name` (looked up at the first call, and again after a failure).
    pub fn client<Req: Message, Resp: Message>(
        &self,
        name: &str,
    ) -> Result<crate::service::ServiceClient<Req, Resp>> {
        Ok(crate::service::ServiceClient {
            name: self.inner.naming.resolve(name)?,
            node: self.inner.clone(),
            link: tokio::sync::Mutex::new(None),
            _types: PhantomData,
        })
    }

    /// A rate of `hz` ticks per second that ends when the node shuts down.
    pub fn rate(&self, hz: f64) -> Rate {
        Rate::new(hz, self.inner.shutdown.clone())
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
        !self.inner.shutdown.is_triggered()
    }

    /// Completes when the node is asked to shut down (ROS `spin`).
    pub async fn spin(&self) {
        self.inner.shutdown.wait().await;
    }

    /// Asks the node to shut down: rates and subscribers end.
    pub fn request_shutdown(&self, reason: &str) {
        self.inner
            .shutdown
            .trigger(StopReason::Requested(reason.to_owned()));
    }

    /// Why the node stops, once it does.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.inner.shutdown.reason()
    }

    /// Flushes every publisher, leaves the master and removes the node's socket files.
    ///
    /// Messages published before `close` reach the subscribers that were connected
    /// (each gets up to 2 s to acknowledge).
    pub async fn close(&self) {
        for task in self.inner.take_retiring() {
            let _ = task.await;
        }
        // Flushed side by side, so close takes at most one flush timeout.
        let mut flushes = tokio::task::JoinSet::new();
        for publisher in self.inner.all_publishers() {
            let node = self.inner.clone();
            flushes.spawn(async move { publisher.flush(&node, inner::FLUSH_TIMEOUT).await });
        }
        while flushes.join_next().await.is_some() {}
        let replaced = matches!(self.inner.shutdown.reason(), Some(StopReason::Replaced(_)));
        self.inner
            .shutdown
            .trigger(StopReason::Requested("node closed".to_owned()));
        if !replaced {
            let request = UnregisterNode(self.inner.caller());
            match tokio::time::timeout(Duration::from_secs(1), self.inner.master.ask(request)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "unregister not delivered"),
                Err(_) => tracing::debug!("unregister timed out"),
            }
        }
        self.inner
            .closed
            .trigger(StopReason::Requested("node closed".to_owned()));
        self.inner.remove_ipc_files();
    }

    /// The shutdown flag, for the runtime.
    pub(crate) fn shutdown_flag(&self) -> &Shutdown {
        &self.inner.shutdown
    }
}

/// Turns a payload into a subscriber's item (`None`: it does not decode).
type Decoder<I> = Box<dyn Fn(Vec<Bytes>) -> Option<I> + Send + Sync>;

fn tcp_host(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("{v4}:0"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:0"),
    }
}

impl From<StopReason> for Error {
    fn from(reason: StopReason) -> Self {
        match reason {
            StopReason::Replaced(by) => Error::Replaced {
                name: String::new(),
                by,
            },
            StopReason::Requested(_) => Error::Shutdown,
        }
    }
}
