//! Why a launch failed, and the errors of talking to other machines that a launch and
//! a deploy share: a leaf, so that every module can name them.

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
    /// Another machine's nodes could not be started.
    #[error("remote launch failed: {0}")]
    Remote(#[from] RemoteError),
    /// Nodes run on other machines, and they cannot reach the master.
    #[error("the master listens on {endpoint}, which other machines cannot reach: {fix}")]
    MasterUnreachable {
        /// The master's endpoint.
        endpoint: String,
        /// What to change.
        fix: &'static str,
    },
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

impl RemoteError {
    /// The error of `machine`'s agent.
    pub fn agent(machine: &str) -> impl Fn(AgentError) -> Self + '_ {
        move |source| Self::Agent {
            machine: machine.to_owned(),
            source: Box::new(source),
        }
    }
}

/// Why shipping to or starting on another machine failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A node names a machine the file does not define.
    #[error(
        "machine `{machine}` is not defined: add a [machines.{machine}] table to the launch file"
    )]
    UnknownMachine {
        /// The machine.
        machine: String,
    },
    /// A machine that runs nodes names no agent.
    #[error("machine `{machine}` has no `agent` endpoint: start `pinion agent` there and set [machines.{machine}] agent = \"tcp://<address>:<port>\"")]
    NoAgent {
        /// The machine.
        machine: String,
    },
    /// A node's program is not built for its machine.
    #[error("node `{node}`: no `{binary}` built for {target} in {}: build it (`cargo build --target {target}`, or `pinion deploy` builds it)", dir.display())]
    NoProgram {
        /// The node.
        node: String,
        /// The binary as written.
        binary: String,
        /// The machine's target triple.
        target: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// A program could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The program.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A node's parameters could not be written as JSON.
    #[error("node `{node}`: its parameters cannot be sent as JSON: {source}")]
    Params {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The agent stopped taking an upload's parts.
    #[error("agent {endpoint}: storing {} stopped at byte {have} of {size}; run again to send the rest", path.display())]
    UploadStalled {
        /// The agent.
        endpoint: String,
        /// The program.
        path: PathBuf,
        /// What the agent holds.
        have: u64,
        /// The program's size.
        size: u64,
    },
    /// A machine's agent failed a request.
    #[error("machine `{machine}`: {source}")]
    Agent {
        /// The machine.
        machine: String,
        /// What went wrong.
        #[source]
        source: Box<AgentError>,
    },
}

/// Why a request to an agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The endpoint is not one Pinion can connect to.
    #[error("agent {endpoint}: {source} (an agent endpoint looks like tcp://pi1.local:7447)")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was refused.
        #[source]
        source: pinion::transport::TransportError,
    },
    /// The request could not be encoded, or the reply decoded.
    #[error("agent {endpoint}: {source}")]
    Codec {
        /// The agent.
        endpoint: String,
        /// What did not encode or decode.
        #[source]
        source: pinion::Error,
    },
    /// The agent did not answer.
    #[error("agent {endpoint}: {source}; is `pinion agent` running on that machine, reachable from here, and started with the same key?")]
    Unreachable {
        /// The agent.
        endpoint: String,
        /// What the transport saw.
        #[source]
        source: pinion::transport::TransportError,
    },
    /// The agent answered with a refusal or a failure of its own.
    #[error("agent {endpoint}: {message}")]
    Refused {
        /// The agent.
        endpoint: String,
        /// What it said.
        message: String,
    },
    /// The agent answered something that is no answer to the request.
    #[error("agent {endpoint} answered {reply}, which is no answer to this request (an agent of another Pinion version? update it with the same build)")]
    WrongReply {
        /// The agent.
        endpoint: String,
        /// The reply, as debug text.
        reply: String,
    },
}
