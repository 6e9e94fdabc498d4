//! Requests between a launcher and an agent. Every request travels signed
//! ([`super::auth::Signed`]); replies are plain.

use crate::logs::LogLine;
use crate::model::{Location, NodeSpec, Respawn, RespawnPolicy};
use crate::status::NodeStatus;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// A request to an agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AgentRequest {
    /// Are you there, and who are you?
    Ping,
    /// Which of these blobs (SHA-256 hex) are missing, and how much of each is held?
    MissingBlobs(Vec<String>),
    /// Store the part of a blob that starts at `offset` (at most [`BLOB_PART`] bytes).
    PutBlobPart {
        /// Its SHA-256 in hex.
        hash: String,
        /// The whole blob's length.
        size: u64,
        /// Where this part starts: where the upload stands on the agent.
        offset: u64,
        /// The part's bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Start (or replace) the nodes of a launch on this machine.
    Start {
        /// Launch id.
        launch: String,
        /// Robot name.
        robot: String,
        /// Master endpoint for the nodes.
        master: String,
        /// The nodes.
        nodes: Vec<RemoteNode>,
    },
    /// Install a new version of a launch (the current one is kept as previous) and run it.
    Deploy {
        /// Launch id.
        launch: String,
        /// What to run.
        manifest: Manifest,
    },
    /// Go back to the previous version of a deployed launch and run it.
    Rollback {
        /// Launch id.
        launch: String,
    },
    /// Stop the nodes of a launch.
    Stop {
        /// Launch id.
        launch: String,
    },
    /// Status of a launch's nodes.
    Status {
        /// Launch id.
        launch: String,
    },
    /// Output lines of a launch's nodes after `after`.
    Logs {
        /// Launch id.
        launch: String,
        /// Last sequence number already seen.
        after: u64,
    },
    /// Become the `pinion` program stored as `blob` (a new build), keeping every node
    /// running: the agent answers, then executes it in its own place.
    Upgrade {
        /// SHA-256 of the new program.
        blob: String,
    },
}

/// An agent's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AgentReply {
    /// Answer to `Ping`.
    Pong {
        /// The agent's host id.
        host_id: String,
        /// Its version.
        version: String,
    },
    /// Missing blobs.
    Missing(Vec<MissingBlob>),
    /// A part was stored: the upload stands at `have` bytes, or is complete.
    Stored {
        /// Bytes held.
        have: u64,
        /// The blob is whole and stored.
        complete: bool,
    },
    /// Done.
    Ok,
    /// A version is installed and running.
    Deployed {
        /// The running version.
        version: String,
        /// The version kept for rollback.
        previous: Option<String>,
    },
    /// Nothing to roll back on this machine: it runs `version`, as before.
    Unchanged {
        /// The running version.
        version: String,
    },
    /// Node status rows.
    Status(Vec<NodeStatus>),
    /// Output lines.
    Logs(Vec<LogLine>),
    /// Refused or failed.
    Error(String),
}

/// Bytes of one part of a blob upload. Every request, uploads included, is buffered
/// whole before its signature is checked, so parts keep that small.
pub const BLOB_PART: usize = 4 << 20;

/// A blob an agent does not hold whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingBlob {
    /// Its SHA-256 in hex.
    pub hash: String,
    /// Bytes of it held from an upload that was cut off: send from there.
    pub have: u64,
}

/// A node as an agent needs it: the spec with its program given as a blob hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteNode {
    /// Name.
    pub name: String,
    /// SHA-256 of the program.
    pub blob: String,
    /// Machine name (for status).
    pub machine: String,
    /// Host id the node gets.
    pub host_id: String,
    /// Runner prefix.
    pub runner: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<(String, String)>,
    /// Parameters as a JSON object text.
    pub params_json: String,
    /// Remaps.
    pub remap: Vec<(String, String)>,
    /// Namespace.
    pub namespace: Option<String>,
    /// 0 never, 1 on-failure, 2 always.
    pub respawn: u8,
    /// First respawn delay, ms.
    pub respawn_delay_ms: u64,
    /// Largest respawn delay, ms.
    pub respawn_max_delay_ms: u64,
    /// Restart limit.
    pub max_restarts: Option<u32>,
    /// Required.
    pub required: bool,
    /// Start after these nodes.
    pub after: Vec<String>,
    /// Stop timeout, ms.
    pub stop_timeout_ms: u64,
    /// The program that runs the blob (a script's interpreter), if any.
    pub interpreter: Vec<String>,
}

impl RemoteNode {
    /// The wire form of a spec, whose program is the blob `blob`.
    pub fn from_spec(
        spec: &NodeSpec,
        blob: String,
        host_id: String,
        runner: Vec<String>,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            name: spec.name.clone(),
            blob,
            machine: spec.machine.clone().unwrap_or_default(),
            host_id,
            runner,
            args: spec.args.clone(),
            env: spec.env.clone().into_iter().collect(),
            params_json: serde_json::to_string(&spec.params)?,
            remap: spec.remap.clone().into_iter().collect(),
            namespace: spec.namespace.clone(),
            respawn: match spec.respawn.policy {
                RespawnPolicy::Never => 0,
                RespawnPolicy::OnFailure => 1,
                RespawnPolicy::Always => 2,
            },
            respawn_delay_ms: spec.respawn.delay.as_millis() as u64,
            respawn_max_delay_ms: spec.respawn.max_delay.as_millis() as u64,
            max_restarts: spec.respawn.max_restarts,
            required: spec.required,
            after: spec.after.clone(),
            stop_timeout_ms: spec.stop_timeout.as_millis() as u64,
            // Decided here: on the agent the program is a blob without its file name.
            interpreter: spec.interpreter(),
        })
    }

    /// The spec again, with the program at `program`; fails if the parameters are not
    /// a JSON object.
    pub fn to_spec(&self, program: &std::path::Path) -> Result<NodeSpec, serde_json::Error> {
        Ok(NodeSpec {
            name: self.name.clone(),
            binary: program.display().to_string(),
            machine: Some(self.machine.clone()).filter(|m| !m.is_empty()),
            args: self.args.clone(),
            env: self.env.iter().cloned().collect(),
            params: serde_json::from_str(&self.params_json)?,
            remap: self.remap.iter().cloned().collect(),
            namespace: self.namespace.clone(),
            interpreter: Some(self.interpreter.clone()),
            respawn: Respawn {
                policy: match self.respawn {
                    1 => RespawnPolicy::OnFailure,
                    2 => RespawnPolicy::Always,
                    _ => RespawnPolicy::Never,
                },
                delay: Duration::from_millis(self.respawn_delay_ms),
                max_delay: Duration::from_millis(self.respawn_max_delay_ms),
                max_restarts: self.max_restarts,
            },
            required: self.required,
            after: self.after.clone(),
            stop_timeout: Duration::from_millis(self.stop_timeout_ms),
            at: Location {
                file: PathBuf::from("<agent>"),
                line: 1,
                column: 1,
            },
        })
    }
}

/// Everything an agent needs to run its part of a launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Robot name.
    pub robot: String,
    /// Master endpoint for the nodes.
    pub master: String,
    /// The nodes.
    pub nodes: Vec<RemoteNode>,
}

impl Manifest {
    /// A short id of this exact manifest (binaries and settings).
    pub fn version(&self) -> String {
        let bytes = postcard::to_stdvec(self).unwrap_or_default();
        super::store::hash(&bytes)[..12].to_owned()
    }
}

/// What a launcher asks an agent, each with the answer it names.
pub mod calls {
    use super::{AgentReply, AgentRequest, Manifest, MissingBlob, RemoteNode};
    use crate::logs::LogLine;
    use crate::status::NodeStatus;

    /// Are you there, and who are you? Answered with the agent's host id and version.
    #[derive(Debug, Clone, Copy)]
    pub struct Ping;

    /// Which of these blobs are missing, and how much of each is held?
    #[derive(Debug, Clone)]
    pub struct MissingBlobs(pub Vec<String>);

    /// One part of a blob; answered with the bytes held and whether the blob is whole.
    #[derive(Debug, Clone)]
    pub struct PutBlobPart {
        /// Its SHA-256 in hex.
        pub hash: String,
        /// The whole blob's length.
        pub size: u64,
        /// Where this part starts.
        pub offset: u64,
        /// The part's bytes.
        pub bytes: Vec<u8>,
    }

    /// Start (or replace) the nodes of a launch.
    #[derive(Debug, Clone)]
    pub struct Start {
        /// Launch id.
        pub launch: String,
        /// Robot name.
        pub robot: String,
        /// Master endpoint for the nodes.
        pub master: String,
        /// The nodes.
        pub nodes: Vec<RemoteNode>,
    }

    /// Install and run a new version; answered with it and the version kept before it.
    #[derive(Debug, Clone)]
    pub struct Deploy {
        /// Launch id.
        pub launch: String,
        /// What to run.
        pub manifest: Manifest,
    }

    /// Go back one version.
    #[derive(Debug, Clone)]
    pub struct Rollback {
        /// Launch id.
        pub launch: String,
    }

    /// What a rollback did on one machine.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum RolledBack {
        /// It runs `version` now, `previous` kept.
        To {
            /// The running version.
            version: String,
            /// The version kept for another rollback.
            previous: Option<String>,
        },
        /// Nothing to go back to: it runs `version`, as before.
        Unchanged {
            /// The running version.
            version: String,
        },
    }

    /// Stop the nodes of a launch.
    #[derive(Debug, Clone)]
    pub struct Stop {
        /// Launch id.
        pub launch: String,
    }

    /// The status rows of a launch's nodes.
    #[derive(Debug, Clone)]
    pub struct Status {
        /// Launch id.
        pub launch: String,
    }

    /// Become a new build of `pinion`; answered with what the agent does.
    #[derive(Debug, Clone)]
    pub struct Upgrade {
        /// SHA-256 of the new program, stored on the agent.
        pub blob: String,
    }

    /// Output lines of a launch's nodes after `after`.
    #[derive(Debug, Clone)]
    pub struct Logs {
        /// Launch id.
        pub launch: String,
        /// Last sequence number already seen.
        pub after: u64,
    }

    pinion::calls! { AgentRequest => AgentReply;
        Ping => (String, String): |_| AgentRequest::Ping,
            AgentReply::Pong { host_id, version } => (host_id, version);
        MissingBlobs => Vec<MissingBlob>: |c| AgentRequest::MissingBlobs(c.0),
            AgentReply::Missing(blobs) => blobs;
        PutBlobPart => (u64, bool): |c| AgentRequest::PutBlobPart { hash: c.hash, size: c.size, offset: c.offset, bytes: c.bytes },
            AgentReply::Stored { have, complete } => (have, complete);
        Start => (): |c| AgentRequest::Start { launch: c.launch, robot: c.robot, master: c.master, nodes: c.nodes },
            AgentReply::Ok => ();
        Deploy => (String, Option<String>): |c| AgentRequest::Deploy { launch: c.launch, manifest: c.manifest },
            AgentReply::Deployed { version, previous } => (version, previous);
        Stop => (): |c| AgentRequest::Stop { launch: c.launch },
            AgentReply::Ok => ();
        Status => Vec<NodeStatus>: |c| AgentRequest::Status { launch: c.launch },
            AgentReply::Status(rows) => rows;
        Logs => Vec<LogLine>: |c| AgentRequest::Logs { launch: c.launch, after: c.after },
            AgentReply::Logs(lines) => lines;
    }

    /// What an agent does with an upgrade.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Upgraded {
        /// It becomes the new build now.
        Restarting,
        /// It already is that build.
        AlreadyThisBuild,
        /// It does not hold the new build: ship it, then ask again.
        NeedsBlob,
    }

    impl pinion::protocol::call::Call for Upgrade {
        type Request = AgentRequest;
        type Reply = AgentReply;
        type Answer = Upgraded;
        fn request(self) -> AgentRequest {
            AgentRequest::Upgrade { blob: self.blob }
        }
        fn answer(reply: AgentReply) -> Result<Upgraded, AgentReply> {
            match reply {
                AgentReply::Ok => Ok(Upgraded::Restarting),
                AgentReply::Unchanged { .. } => Ok(Upgraded::AlreadyThisBuild),
                AgentReply::Missing(_) => Ok(Upgraded::NeedsBlob),
                other => Err(other),
            }
        }
    }

    impl pinion::protocol::call::Call for Rollback {
        type Request = AgentRequest;
        type Reply = AgentReply;
        type Answer = RolledBack;
        fn request(self) -> AgentRequest {
            AgentRequest::Rollback {
                launch: self.launch,
            }
        }
        fn answer(reply: AgentReply) -> Result<RolledBack, AgentReply> {
            match reply {
                AgentReply::Deployed { version, previous } => {
                    Ok(RolledBack::To { version, previous })
                }
                AgentReply::Unchanged { version } => Ok(RolledBack::Unchanged { version }),
                other => Err(other),
            }
        }
    }
}
