//! Health reports (`diagnostic_msgs`), shaped like ROS's: an array of statuses, each a
//! level, a name, a message and key/value pairs. Each machine's `pinion health` node
//! publishes one array a second on [`HEALTH_TOPIC`]: the machine first, then its nodes.

use super::std_msgs::Header;
use crate::Message;
use serde::{Deserialize, Serialize};

/// The topic machines report their health on (ROS's `/diagnostics`).
pub const HEALTH_TOPIC: &str = "/pinion/health";

/// One named value (`diagnostic_msgs/KeyValue`).
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[message(name = "diagnostic_msgs/KeyValue")]
pub struct KeyValue {
    /// What the value is (`cpu_temp_c`).
    pub key: String,
    /// The value, as text (`61.2`).
    pub value: String,
}

/// The state of one part of the robot (`diagnostic_msgs/DiagnosticStatus`).
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[message(name = "diagnostic_msgs/DiagnosticStatus")]
pub struct DiagnosticStatus {
    /// [`DiagnosticStatus::OK`], `WARN`, `ERROR` or `STALE`.
    pub level: u8,
    /// What it is about (`machine`, or a node's name).
    pub name: String,
    /// A summary for people; empty when all is well.
    pub message: String,
    /// Which machine (its host id).
    pub hardware_id: String,
    /// The readings.
    pub values: Vec<KeyValue>,
}

impl DiagnosticStatus {
    /// All is well.
    pub const OK: u8 = 0;
    /// Something is off.
    pub const WARN: u8 = 1;
    /// Something is wrong.
    pub const ERROR: u8 = 2;
    /// No recent report.
    pub const STALE: u8 = 3;

    /// The value of `key`, if the status has one.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }
}

/// Every status of one report (`diagnostic_msgs/DiagnosticArray`).
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "diagnostic_msgs/DiagnosticArray")]
pub struct DiagnosticArray {
    /// When the report was made.
    pub header: Header,
    /// The statuses.
    pub status: Vec<DiagnosticStatus>,
}
