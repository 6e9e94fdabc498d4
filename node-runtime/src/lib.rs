//! # Pinion node runtime
//!
//! The library every Pinion node links against: typed publish/subscribe over ZeroMQ,
//! registered with a master that keeps the graph.
//!
//! ```no_run
//! use pinion::prelude::*;
//!
//! #[derive(Message, Serialize, Deserialize, Debug)]
//! struct Chatter { seq: u64, text: String }
//!
//! #[pinion::main]
//! async fn main(node: Node) -> pinion::Result<()> {
//!     let chatter = node.advertise::<Chatter>("chatter").await?;
//!     let mut rate = node.rate(10.0);
//!     while let Some(seq) = rate.tick().await {
//!         chatter.publish(&Chatter { seq, text: "hello".into() }).await?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Map of the crate
//! - [`Node`] (`node/`): registration, heartbeats, re-registration after a master
//!   restart, the control socket, and the factory of everything below.
//! - [`Publisher`] (`publisher.rs`) and [`Subscriber`] (`subscriber.rs`, with its task in
//!   `subscription.rs` and its keep-last queue in `queue.rs`).
//! - [`Message`] (`message.rs`): type name, postcard schema and hash; `schema_diff.rs`
//!   explains mismatches field by field.
//! - [`protocol`]: every message on the wire. [`transport`]: the only code that names the
//!   ZeroMQ engine.
//! - `runtime.rs`: what `#[pinion::main]` runs (logging, signals, clean shutdown);
//!   [`alloc`]: the heap allocator it installs.

// The derives name the runtime as `::pinion`, also inside this crate (for `msgs`).
extern crate self as pinion;

pub mod alloc;
pub mod auth;
mod blob;
pub mod error;
pub mod host;
mod id_map;
pub mod limits;
pub mod logs;
pub mod message;
pub mod msgs;
pub mod names;
pub mod node;
pub mod params;
pub mod parts;
pub mod protocol;
pub mod publisher;
pub mod queue;
pub mod rate;
pub mod runtime;
pub mod schema_diff;
pub mod segments;
pub mod service;
pub mod shutdown;
pub mod subscriber;
mod subscription;
pub mod transport;

pub use blob::Blob;
pub use error::{Error, Result};
pub use message::{Message, TypeInfo};
pub use names::{NodeName, TopicName};
pub use node::{Node, NodeOptions};
pub use pinion_macros::{main, Message, Node};
pub use publisher::{AdvertiseOptions, Publisher};
pub use rate::Rate;
/// For byte-string fields of messages: `#[serde(with = "pinion::serde_bytes")]`.
pub use serde_bytes;
pub use subscriber::{SubscribeOptions, Subscriber};

/// What a node file usually needs: `use pinion::prelude::*;`.
pub mod prelude {
    pub use crate::params::ParamWatch;
    pub use crate::service::ServiceClient;
    pub use crate::{
        AdvertiseOptions, Message, Node, Publisher, Rate, SubscribeOptions, Subscriber,
    };
    pub use serde::{Deserialize, Serialize};
}

/// Items the macros' generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::parts::{
        ClientField, Manifest, NodeParts, ParamField, PublishField, ServiceUse, SubscribeField,
        TopicUse,
    };
    pub use crate::runtime::{run_main, run_main_with_parts};
    pub use postcard_schema::schema::{
        DataModelType, DataModelVariant, NamedType, NamedValue, NamedVariant,
    };
    pub use postcard_schema::Schema;
    pub use serde::de::DeserializeOwned;
    pub use serde::Serialize;
}
