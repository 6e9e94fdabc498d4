//! Messages shared by the example nodes.

use pinion::prelude::*;

pub mod rover;

/// The message of the talker/listener pair.
#[derive(Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[message(name = "demo/Chatter")]
pub struct Chatter {
    /// Counts from 0.
    pub seq: u64,
    /// Free text.
    pub text: String,
}
