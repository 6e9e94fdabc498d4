//! # Pinion in Foxglove
//!
//! Foxglove (and its open fork Lichtblick) shows a robot live over the Foxglove
//! WebSocket protocol and opens MCAP files. This crate makes a Pinion graph one of its
//! data sources with no message packages installed anywhere, because the master holds
//! every topic's schema:
//!
//! - [`Bridge`]: a WebSocket server (the Foxglove SDK's) that advertises every topic of
//!   the graph, subscribes to a topic while a client wants it, takes messages that
//!   clients publish, and lets clients call services and read and set parameters.
//! - [`Transcoder`]: what a topic's messages become on the way out: Foxglove's
//!   well-known schemas for the standard messages that its 3D, image and map panels draw
//!   ([`wellknown`]), and for any other type its JSON form with a JSON Schema generated
//!   from its postcard schema (`pinion::json`). Recordings use the same.

#![warn(missing_docs)]

mod bridge;
mod transcode;
pub mod wellknown;

pub use bridge::{Bridge, BridgeError, BridgeOptions};
pub use transcode::{TranscodeError, Transcoder};
