//! The launcher's control socket: `pinion launch status|stop|restart FILE` talk to a
//! running launcher through it. Its ipc path follows from the launch file's path.

use crate::status::NodeStatus;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A request to a running launcher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LaunchRequest {
    /// The status table.
    Status,
    /// Stop the whole launch.
    Stop,
    /// Stop one node and leave it down.
    StopNode(String),
    /// Stop one node and start it again at once.
    RestartNode(String),
    /// Stop supervising these running nodes without stopping them, and say who they
    /// are: the next version of a deployed launch takes them over (a detached set only).
    Release(Vec<String>),
}

/// A running launcher's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LaunchReply {
    /// Done.
    Ok,
    /// The status table.
    Status {
        /// Robot name.
        robot: String,
        /// Master endpoint.
        master: String,
        /// One row per node.
        nodes: Vec<NodeStatus>,
    },
    /// The released nodes, by name, with who they are.
    Released(Vec<(String, crate::identity::Identity)>),
    /// Refused.
    Error(String),
}

/// The control socket path of the launch of `file` (the same for every launcher of it).
pub fn socket_path(file: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    pinion::host::runtime_dir().join(format!("launch-{hash:016x}.sock"))
}

/// Why the control socket could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the launch control socket {}: {reason}", path.display())]
pub struct ControlError {
    /// The socket path.
    pub path: PathBuf,
    /// Why (another launcher of the same file runs, for one).
    pub reason: String,
}

/// Binds the control socket of the launch of `file`. Fails if a launcher of the same
/// file already runs.
pub async fn bind(file: &Path) -> Result<pinion::transport::Replier, ControlError> {
    let path = socket_path(file);
    let mut replier = pinion::transport::Replier::new(pinion::transport::Guard::new(
        "launch control",
        pinion::limits::MAX_CONTROL_MESSAGE,
    ));
    match replier.bind(&format!("ipc://{}", path.display())).await {
        Ok(_) => Ok(replier),
        Err(e) => {
            let reason = if e.to_string().contains("another process is listening") {
                "a launcher of this file is already running (see `pinion launch status`)".to_owned()
            } else {
                e.to_string()
            };
            Err(ControlError { path, reason })
        }
    }
}

/// Serves control requests by handing them to the supervisor.
pub async fn serve(
    mut replier: pinion::transport::Replier,
    supervisor: tokio::sync::mpsc::Sender<ControlCommand>,
) {
    loop {
        let frames = match replier.recv().await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "launch control receive failed");
                continue;
            }
        };
        let reply = match frames.as_slice() {
            [one] => match pinion::protocol::decode::<LaunchRequest>("launch request", one) {
                Ok(request) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    if supervisor.send((request, tx)).await.is_err() {
                        LaunchReply::Error("the launch is ending".to_owned())
                    } else {
                        rx.await.unwrap_or_else(|_| {
                            LaunchReply::Error("the launch is ending".to_owned())
                        })
                    }
                }
                Err(e) => LaunchReply::Error(format!("malformed request: {e}")),
            },
            _ => LaunchReply::Error("expected one frame".to_owned()),
        };
        let Ok(body) = pinion::protocol::encode("launch reply", &reply) else {
            continue;
        };
        if let Err(e) = replier.send(body).await {
            tracing::debug!(error = %e, "launch control reply not sent");
        }
    }
}

/// Why a request to a running launcher failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No launcher of the file listens here.
    #[error("no launch of {} is running here (no launcher listens on {}); start one with `pinion launch {}`", file.display(), socket.display(), file.display())]
    NotRunning {
        /// The launch file.
        file: PathBuf,
        /// The launcher's socket.
        socket: PathBuf,
    },
    /// The launcher did not answer.
    #[error("the launcher of {} does not answer: {source}", file.display())]
    NoAnswer {
        /// The launch file.
        file: PathBuf,
        /// What the transport saw.
        #[source]
        source: pinion::transport::TransportError,
    },
    /// The request did not encode, or the answer did not decode.
    #[error("the launcher of {}: {source}", file.display())]
    Codec {
        /// The launch file.
        file: PathBuf,
        /// What did not encode or decode.
        #[source]
        source: pinion::Error,
    },
}

/// Sends one request to the running launcher of `file`.
pub async fn request(file: &Path, request: &LaunchRequest) -> Result<LaunchReply, RequestError> {
    let path = socket_path(file);
    // A launcher killed with SIGKILL leaves its socket file behind: ask the kernel
    // whether anyone listens before the engine spends its connect timeout on it.
    if std::os::unix::net::UnixStream::connect(&path).is_err() {
        return Err(RequestError::NotRunning {
            file: file.to_owned(),
            socket: path,
        });
    }
    let no_answer = |source| RequestError::NoAnswer {
        file: file.to_owned(),
        source,
    };
    let codec = |source| RequestError::Codec {
        file: file.to_owned(),
        source,
    };
    let endpoint = format!("ipc://{}", path.display());
    let mut client =
        pinion::transport::Requester::new(&endpoint, std::time::Duration::from_secs(10))
            .map_err(no_answer)?;
    let body = pinion::protocol::encode("launch request", request).map_err(codec)?;
    let reply = client.request(body).await.map_err(no_answer)?;
    pinion::protocol::decode("launch reply", &reply).map_err(codec)
}

/// A command from the control socket, with where to answer.
pub type ControlCommand = (LaunchRequest, tokio::sync::oneshot::Sender<LaunchReply>);
