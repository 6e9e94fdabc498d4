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

/// Request of the `add_two_ints` service.
#[derive(Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[message(name = "demo/AddTwoIntsRequest")]
pub struct AddTwoIntsRequest {
    /// First term.
    pub a: i64,
    /// Second term.
    pub b: i64,
}

/// Response of the `add_two_ints` service.
#[derive(Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[message(name = "demo/AddTwoIntsResponse")]
pub struct AddTwoIntsResponse {
    /// a + b.
    pub sum: i64,
}
