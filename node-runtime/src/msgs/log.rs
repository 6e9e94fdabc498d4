//! Log records (`pinion_msgs/Log`), what nodes publish on [`LOG_TOPIC`] and keep for
//! `pinion logs`.

use crate::Message;
use serde::{Deserialize, Serialize};

/// The topic every node started by `#[pinion::main]` publishes its log records on
/// (ROS's `/rosout`).
pub const LOG_TOPIC: &str = "/pinion/log";

/// How severe a record is.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[message(name = "pinion_msgs/LogLevel")]
pub enum Level {
    /// Very detailed.
    Trace,
    /// For developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something is off, the node carries on.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The level's name as `RUST_LOG` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Ok(Level::Trace),
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" => Ok(Level::Error),
            other => Err(format!(
                "unknown log level `{other}` (trace, debug, info, warn, error)"
            )),
        }
    }
}

/// One log event of a node. Shown as `HH:MM:SS.mmm LEVEL [node@host] text` (UTC).
#[derive(Message, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[message(name = "pinion_msgs/Log")]
pub struct Log {
    /// Number of the record in its process, from 1: tells repeats apart.
    pub seq: u64,
    /// When it happened, nanoseconds since the Unix epoch (the node's clock).
    pub stamp_ns: u64,
    /// Severity.
    pub level: Level,
    /// The node that logged it.
    pub node: String,
    /// The node's host id.
    pub host: String,
    /// The node's process id (a restarted node numbers its records anew).
    pub pid: u32,
    /// The module that logged it.
    pub target: String,
    /// The message, followed by the event's fields as `key=value`.
    pub text: String,
}

impl std::fmt::Display for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.stamp_ns / 1_000_000_000;
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let millis = (self.stamp_ns / 1_000_000) % 1000;
        write!(
            f,
            "{h:02}:{m:02}:{s:02}.{millis:03} {:<5} [{}@{}] {}",
            self.level.as_str().to_ascii_uppercase(),
            self.node,
            self.host,
            self.text
        )
    }
}
