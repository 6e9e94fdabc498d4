//! Recordings (MCAP files): what `record` writes, `play` plays and `convert` converts.
//!
//! A topic is stored in one of two encodings:
//! - `postcard`: the messages as the robot sent them, under the schema encoding
//!   [`SCHEMA_ENCODING`] (JSON of the Pinion type, so the file describes itself). Exact
//!   and small; Pinion's own tools read it.
//! - `json`: what Foxglove opens: the messages as JSON under a JSON Schema, the standard
//!   messages as Foxglove's well-known schemas (`pinion_foxglove`). The channel's
//!   metadata keeps the Pinion type ([`TYPE_METADATA`]), so `play` turns the messages
//!   back into Pinion messages.

pub mod reader;
pub mod writer;

/// Schema encoding of Pinion types in MCAP: JSON of `pinion::TypeInfo`.
pub const SCHEMA_ENCODING: &str = "pinion-postcard-schema";
/// Message encoding of Pinion messages in MCAP.
pub const MESSAGE_ENCODING: &str = "postcard";
/// Channel metadata of a JSON channel: JSON of the Pinion type its messages came from.
pub const TYPE_METADATA: &str = "pinion.type";

/// How a recording stores messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// As the robot sent them (postcard).
    Postcard,
    /// As Foxglove reads them (JSON with JSON Schemas).
    Json,
}
