//! The status of supervised nodes, as `pinion launch status` shows it.

use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// Where a supervised node is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    /// Waiting for its `after` nodes.
    Waiting,
    /// Running.
    Running,
    /// Exited; waiting for its respawn delay.
    Backoff,
    /// Being stopped.
    Stopping,
    /// Exited and not to be restarted.
    Exited,
    /// Used up its restarts, or could not be started.
    Failed,
}

impl NodeState {
    /// Whether nothing more will happen to the node.
    pub fn is_final(self) -> bool {
        matches!(self, NodeState::Exited | NodeState::Failed)
    }
}

/// One row of the status table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// Machine it runs on.
    pub machine: String,
    /// Process id while it runs.
    pub pid: Option<u32>,
    /// State.
    pub state: NodeState,
    /// Restarts so far.
    pub restarts: u32,
    /// Since when it runs.
    pub since: Option<SystemTime>,
    /// How its last run ended.
    pub last_exit: Option<String>,
}

impl NodeStatus {
    pub(crate) fn new(name: &str, machine: &str) -> Self {
        Self {
            name: name.to_owned(),
            machine: machine.to_owned(),
            pid: None,
            state: NodeState::Waiting,
            restarts: 0,
            since: None,
            last_exit: None,
        }
    }
}
