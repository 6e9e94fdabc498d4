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
//! ## What a node uses
//! - [`Node`](struct@Node): registration with the master, and the factory of publishers,
//!   subscribers, services, parameters and rates.
//! - [`Publisher`] and [`AdvertiseOptions`]; [`Subscriber`] and [`SubscribeOptions`].
//! - [`Message`]: type name, postcard schema and hash, written by `#[derive(Message)]`;
//!   [`msgs`]: standard messages; [`Blob`]: byte payloads shared, not copied.
//! - [`service`]: typed request/response calls; [`params`]: parameters; [`Rate`].
//! - [`json`]: messages of any type as JSON by their schema, with its JSON Schema.
//! - `#[pinion::main]`, `#[derive(Node)]` (what it builds on: [`parts`]),
//!   `#[derive(Message)]`; [`alloc`]: the heap allocator `#[pinion::main]` installs.
//!
//! The rest (the wire protocol, the transport, the runtime's plumbing) is shared with
//! Pinion's own tools and hidden here; `ARCHITECTURE.md` maps it.

#![warn(missing_docs)]

// The derives name the runtime as `::pinion`, also inside this crate (for `msgs`).
extern crate self as pinion;

pub mod alloc;
mod blob;
pub mod error;
pub mod json;
pub mod message;
pub mod msgs;
pub mod names;
pub mod params;
pub mod parts;
pub mod publisher;
pub mod rate;
pub mod service;
pub mod subscriber;

// Plumbing the sibling crates (master, launcher, tools) share with the runtime; not
// part of what a node author uses, so left out of the documentation.
#[doc(hidden)]
pub mod auth;
#[doc(hidden)]
pub mod base;
#[doc(hidden)]
pub mod host;
mod id_map;
#[doc(hidden)]
pub mod limits;
#[doc(hidden)]
pub mod logs;
mod node;
#[doc(hidden)]
pub mod protocol;
#[doc(hidden)]
pub mod queue;
#[doc(hidden)]
pub mod runtime;
#[doc(hidden)]
pub mod schema_diff;
#[doc(hidden)]
pub mod segments;
#[doc(hidden)]
pub mod shm;
#[doc(hidden)]
pub mod shutdown;
#[doc(hidden)]
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
    pub use crate::runtime::{
        run_main, run_main_with_parts, Main, OnMainThread, OnWorker, Plain, WithParts,
    };
    pub use postcard_schema::schema::{
        DataModelType, DataModelVariant, NamedType, NamedValue, NamedVariant,
    };
    pub use postcard_schema::Schema;
    pub use serde::de::DeserializeOwned;
    pub use serde::Serialize;
}
