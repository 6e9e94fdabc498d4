//! A node's log records beyond its own stderr: every tracing event that passes the
//! `RUST_LOG` filter is also kept in a ring of recent records (answered on the control
//! socket, for `pinion logs`) and published on [`LOG_TOPIC`] (for `pinion logs -f`).
//!
//! [`capture_layer`] installs the capture; `#[pinion::main]` does it for every node.
//! Nothing is captured in a process that did not add the layer. The node publishes
//! the records (`node/logs.rs`).
//!
//! [`LOG_TOPIC`]: crate::msgs::log::LOG_TOPIC

mod capture;
mod hub;

pub(crate) use capture::without_capture;
pub use capture::{capture_layer, CaptureLayer};
pub(crate) use hub::installed as installed_hub;
pub use hub::{recent, RING_CAPACITY};
