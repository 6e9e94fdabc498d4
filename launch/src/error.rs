//! Why a launch failed.

use std::path::PathBuf;

/// Why a launch failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A program could not be found.
    #[error("node `{node}`: binary `{binary}` not found beside {} nor on PATH", beside.display())]
    BinaryNotFound {
        /// The node.
        node: String,
        /// The binary as written.
        binary: String,
        /// The directory searched first.
        beside: PathBuf,
    },
    /// Nodes run on other machines but no key was given to sign requests to their agents.
    #[error("nodes run on other machines: give the agents' key with --key-file or PINION_KEY_FILE (or run everything here with --local)")]
    NoKey,
    /// An agent could not start its nodes.
    #[error("remote launch failed: {0}")]
    Agents(String),
    /// A process could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// What.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The master did not come up.
    #[error("the master did not start: {0}")]
    Master(String),
}
