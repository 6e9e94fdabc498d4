//! Basic messages (`std_msgs`).

use crate::Message;
use serde::{Deserialize, Serialize};

/// Time and frame of a measurement, at the start of stamped messages.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "std_msgs/Header")]
pub struct Header {
    /// When the data was taken, nanoseconds since the Unix epoch.
    pub stamp_ns: u64,
    /// Coordinate frame of the data.
    pub frame_id: String,
}

impl Header {
    /// A header stamped now, in `frame_id`.
    pub fn now(frame_id: &str) -> Self {
        Self {
            stamp_ns: crate::host::now_ns(),
            frame_id: frame_id.to_owned(),
        }
    }
}

/// A string (`std_msgs/String`).
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "std_msgs/String")]
pub struct Text {
    /// The text.
    pub data: String,
}

/// A boolean.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "std_msgs/Bool")]
pub struct Bool {
    /// The value.
    pub data: bool,
}

/// A 64-bit float.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "std_msgs/Float64")]
pub struct Float64 {
    /// The value.
    pub data: f64,
}

/// A 64-bit signed integer.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "std_msgs/Int64")]
pub struct Int64 {
    /// The value.
    pub data: i64,
}

/// A 64-bit unsigned integer.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "std_msgs/UInt64")]
pub struct UInt64 {
    /// The value.
    pub data: u64,
}
