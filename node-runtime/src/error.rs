//! The error type of the node runtime.

use crate::names::NameError;
use crate::protocol::MasterError;

/// Everything that can go wrong in a node, as a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A node or topic name did not pass validation.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The master refused a request; the message says why.
    #[error("master refused the request: {0}")]
    Master(#[from] MasterError),
    /// Talking to the master or to a peer failed or timed out.
    #[error("{0}")]
    Transport(#[from] crate::transport::TransportError),
    /// A message, header or request could not be encoded or decoded.
    #[error("codec error in {what}: {source}")]
    Codec {
        /// What was being encoded or decoded.
        what: &'static str,
        /// The postcard error.
        #[source]
        source: postcard::Error,
    },
    /// A peer answered with something the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The node is shutting down; the operation was abandoned.
    #[error("the node is shutting down")]
    Shutdown,
    /// Another node registered with this node's name; this one must exit (ROS 1 behaviour).
    #[error("node name {name} was taken over by a newer node ({by}); this instance stops")]
    Replaced {
        /// The contested name.
        name: String,
        /// Who took it (host and pid).
        by: String,
    },
    /// Setting up the node failed (runtime, sockets, environment).
    #[error("node setup failed: {0}")]
    Setup(String),
    /// A service call failed.
    #[error("service `{name}`: {message}")]
    Service {
        /// The service.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A parameter's value does not fit the type asked for.
    #[error("parameter `{key}`: {message}")]
    Param {
        /// The full key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A message larger than the robot's largest (`PINION_MAX_MESSAGE`, default 64 MiB):
    /// not sent, since every receiver would refuse it.
    #[error("topic `{topic}`: a message of {size} bytes is larger than the robot's limit of {limit} bytes (PINION_MAX_MESSAGE)")]
    TooLarge {
        /// The topic.
        topic: String,
        /// Its encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An operation did not finish in the time allowed.
    #[error("timed out after {0:?} while {1}")]
    Timeout(std::time::Duration, &'static str),
}

/// The result type of the node runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;
