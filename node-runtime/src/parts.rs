//! What `#[derive(Node)]` builds on: a struct whose fields are a node's publishers,
//! subscribers, parameters and service clients, created together from a [`Node`](struct@crate::Node), with
//! a [`Manifest`] that tools read without running the node (`--pinion-manifest`).
//!
//! ```no_run
//! use pinion::prelude::*;
//! use pinion::msgs::geometry::Twist;
//! use pinion::msgs::nav::Odometry;
//! use pinion::params::ParamWatch;
//!
//! #[derive(Node)]
//! struct Follower {
//!     #[pinion(subscribe = "odom", queue = 10)]
//!     odom: Subscriber<Odometry>,
//!     #[pinion(publish = "cmd_vel")]
//!     cmd_vel: Publisher<Twist>,
//!     #[pinion(param = "speed")]
//!     speed: ParamWatch<f64>,
//! }
//!
//! #[pinion::main]
//! async fn main(node: Node, mut io: Follower) -> pinion::Result<()> {
//!     while let Some(_odom) = io.odom.recv().await {
//!         let speed = io.speed.current()?.unwrap_or(0.2);
//!         let mut twist = Twist::default();
//!         twist.linear.x = speed;
//!         io.cmd_vel.publish(&twist).await?;
//!     }
//!     # let _ = node;
//!     Ok(())
//! }
//! ```
//!
//! The derive writes, for the struct above, `impl NodeParts for Follower` whose `create`
//! calls `node.subscribe_with::<Odometry>("odom", queue 10)`, `node.advertise::<Twist>("cmd_vel")`
//! and `node.watch_param::<f64>("speed")`, and whose `manifest` lists the same names and
//! types. A field's type must match its attribute: `publish` needs a `Publisher<T>`,
//! `subscribe` a `Subscriber<T>`, `param` a `ParamWatch<T>`, `client` a `ServiceClient<Req, Resp>`.

use crate::message::{Message, TypeInfo};
use crate::params::ParamWatch;
use crate::publisher::{AdvertiseOptions, Publisher};
use crate::service::ServiceClient;
use crate::subscriber::{SubscribeOptions, Subscriber};
use crate::{Node, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// A topic in a manifest, by the name the node's code uses (before remaps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicUse {
    /// The topic as written in the code.
    pub topic: String,
    /// Its type.
    pub type_info: TypeInfo,
}

/// A service in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUse {
    /// The service as written in the code.
    pub name: String,
    /// Request type.
    pub request: TypeInfo,
    /// Response type.
    pub response: TypeInfo,
}

/// What a node publishes, subscribes, serves, calls and reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Topics published.
    pub publishes: Vec<TopicUse>,
    /// Topics subscribed.
    pub subscribes: Vec<TopicUse>,
    /// Services served.
    pub serves: Vec<ServiceUse>,
    /// Services called.
    pub calls: Vec<ServiceUse>,
    /// Parameters read (keys as written in the code).
    pub params: Vec<String>,
}

/// A struct of a node's parts; written by `#[derive(Node)]`.
pub trait NodeParts: Sized + Send {
    /// What the parts publish, subscribe, call and read.
    fn manifest() -> Manifest;
    /// Creates every part from `node`.
    fn create(node: &Node) -> impl Future<Output = Result<Self>> + Send;
}

/// A field made by `#[pinion(publish = "...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `publish` field",
    label = "a #[pinion(publish = \"..\")] field must be a `Publisher<T>`"
)]
pub trait PublishField: Sized {
    /// The message type.
    fn type_info() -> TypeInfo;
    /// Advertises the topic.
    fn create(node: &Node, topic: &str, latched: bool)
        -> impl Future<Output = Result<Self>> + Send;
}

impl<T: Message> PublishField for Publisher<T> {
    fn type_info() -> TypeInfo {
        T::type_info()
    }
    fn create(
        node: &Node,
        topic: &str,
        latched: bool,
    ) -> impl Future<Output = Result<Self>> + Send {
        let options = if latched {
            AdvertiseOptions::latched()
        } else {
            AdvertiseOptions::default()
        };
        node.advertise_with::<T>(topic, options)
    }
}

/// A field made by `#[pinion(subscribe = "...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `subscribe` field",
    label = "a #[pinion(subscribe = \"..\")] field must be a `Subscriber<T>`"
)]
pub trait SubscribeField: Sized {
    /// The message type.
    fn type_info() -> TypeInfo;
    /// Subscribes to the topic.
    fn create(
        node: &Node,
        topic: &str,
        queue: Option<usize>,
    ) -> impl Future<Output = Result<Self>> + Send;
}

impl<T: Message> SubscribeField for Subscriber<T> {
    fn type_info() -> TypeInfo {
        T::type_info()
    }
    fn create(
        node: &Node,
        topic: &str,
        queue: Option<usize>,
    ) -> impl Future<Output = Result<Self>> + Send {
        let options = queue.map(SubscribeOptions::queue).unwrap_or_default();
        node.subscribe_with::<T>(topic, options)
    }
}

/// A field made by `#[pinion(param = "...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `param` field",
    label = "a #[pinion(param = \"..\")] field must be a `ParamWatch<T>`"
)]
pub trait ParamField: Sized {
    /// Starts watching the parameter.
    fn create(node: &Node, key: &str) -> impl Future<Output = Result<Self>> + Send;
}

impl<T: DeserializeOwned + Send + 'static> ParamField for ParamWatch<T> {
    fn create(node: &Node, key: &str) -> impl Future<Output = Result<Self>> + Send {
        node.watch_param::<T>(key)
    }
}

/// A field made by `#[pinion(client = "...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `client` field",
    label = "a #[pinion(client = \"..\")] field must be a `ServiceClient<Req, Resp>`"
)]
pub trait ClientField: Sized {
    /// Request and response types.
    fn types() -> (TypeInfo, TypeInfo);
    /// Makes the client.
    fn create(node: &Node, name: &str) -> Result<Self>;
}

impl<Req: Message, Resp: Message> ClientField for ServiceClient<Req, Resp> {
    fn types() -> (TypeInfo, TypeInfo) {
        (Req::type_info(), Resp::type_info())
    }
    fn create(node: &Node, name: &str) -> Result<Self> {
        node.client::<Req, Resp>(name)
    }
}
