//! Messages of any type as JSON, through their postcard schema: what tools and bridges
//! use when the type is not compiled in (the master holds every topic's schema).
//!
//! The JSON form of a message is what `serde_json` makes of the Rust value, with one
//! difference: byte strings (`Blob`, `serde_bytes`) are base64 strings, as the Foxglove
//! WebSocket protocol and MCAP JSON channels expect. Floats that are not finite (NaN,
//! infinities) become `null`, as `serde_json` writes them. [`json_schema`] describes
//! exactly this form, so a decoded message always validates against its schema.
//!
//! ```
//! use pinion::prelude::*;
//!
//! #[derive(Message, Serialize, Deserialize)]
//! struct Chatter { seq: u64, text: String }
//!
//! let info = Chatter::type_info();
//! let bytes = pinion::message::encode("chatter", &Chatter { seq: 7, text: "hi".into() })?;
//! let value = pinion::json::decode(&info, &bytes)?;
//! assert_eq!(value, serde_json::json!({"seq": 7, "text": "hi"}));
//! assert_eq!(pinion::json::encode(&info, &value)?, bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod schema;

pub use decode::decode;
pub use encode::encode;
pub use schema::json_schema;

/// Why bytes did not decode, or JSON did not encode, by a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` {problem}")]
pub struct JsonError {
    /// Where: the type's name, then `.field[3]::Variant` down to the place.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl JsonError {
    pub(crate) fn new(path: &str, problem: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}

#[cfg(test)]
mod tests;
