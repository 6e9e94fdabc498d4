//! Brings up the master and the nodes of a launch file on this host, and stops them.

use crate::child::OwnedChild;
use crate::model::{LaunchFile, NodeSpec};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Time a node gets between SIGTERM and SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Time the master gets to print its endpoint.
const MASTER_START_TIMEOUT: Duration = Duration::from_secs(10);

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

/// How the launch ended.
#[derive(Debug)]
pub struct LaunchReport {
    /// Each node's exit status (`None` if it had to be killed or could not be waited for).
    pub exits: Vec<(String, Option<ExitStatus>)>,
    /// Whether the launch was stopped by a signal rather than by its nodes ending.
    pub interrupted: bool,
}

/// Everything the supervisor needs besides the file.
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    /// The `pinion` executable (started as `pinion master`).
    pub pinion_exe: PathBuf,
    /// Where node binaries are looked for first.
    pub bin_dir: PathBuf,
}

/// Runs a launch until every node has exited or `stop` completes, then stops the rest.
pub async fn run(
    file: &LaunchFile,
    settings: &LaunchSettings,
    stop: impl std::future::Future<Output = ()>,
) -> Result<LaunchReport, LaunchError> {
    let programs = file
        .nodes
        .iter()
        .map(|n| resolve(n, &settings.bin_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut master, endpoint) = start_master(file, settings).await?;
    tracing::info!(robot = %file.robot, master = %endpoint, "master up");

    let mut nodes = Vec::new();
    for (spec, program) in file.nodes.iter().zip(programs) {
        let mut command = Command::new(&program);
        command
            .args(&spec.args)
            .envs(&spec.env)
            .env("PINION_MASTER", &endpoint)
            .env("PINION_NODE_NAME", &spec.name);
        match OwnedChild::spawn(&spec.name, command, true) {
            Ok((child, _)) => {
                tracing::info!(node = %spec.name, pid = child.pid(), "started");
                nodes.push(child);
            }
            Err(source) => {
                stop_all(&mut nodes).await;
                stop_child(&mut master).await;
                return Err(LaunchError::Spawn {
                    what: format!("node `{}` ({})", spec.name, program.display()),
                    source,
                });
            }
        }
    }

    let mut exits: Vec<(String, Option<ExitStatus>)> = Vec::new();
    tokio::pin!(stop);
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    let interrupted = loop {
        tokio::select! {
            _ = &mut stop => break true,
            _ = poll.tick() => {
                nodes.retain_mut(|child| match child.try_wait() {
                    Ok(Some(status)) => {
                        tracing::info!(node = child.name(), %status, "exited");
                        exits.push((child.name().to_owned(), Some(status)));
                        false
                    }
                    Ok(None) => true,
                    Err(_) => {
                        exits.push((child.name().to_owned(), None));
                        false
                    }
                });
                if nodes.is_empty() {
                    break false;
                }
            }
        }
    };
    for (name, status) in stop_all(&mut nodes).await {
        exits.push((name, status));
    }
    stop_child(&mut master).await;
    Ok(LaunchReport { exits, interrupted })
}

/// Starts `pinion master` and reads the endpoint it prints.
async fn start_master(
    file: &LaunchFile,
    settings: &LaunchSettings,
) -> Result<(OwnedChild, String), LaunchError> {
    let mut command = Command::new(&settings.pinion_exe);
    command.arg("master").arg("--bind").arg(&file.master.bind);
    let (mut child, stdout) =
        OwnedChild::spawn("master", command, false).map_err(|source| LaunchError::Spawn {
            what: format!("the master ({})", settings.pinion_exe.display()),
            source,
        })?;
    let Some(stdout) = stdout else {
        return Err(LaunchError::Master("no output".to_owned()));
    };
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(MASTER_START_TIMEOUT, lines.next_line()).await;
    let endpoint = match first {
        Ok(Ok(Some(line))) => line.strip_prefix("PINION_MASTER=").map(str::to_owned),
        _ => None,
    };
    let Some(endpoint) = endpoint else {
        stop_child(&mut child).await;
        return Err(LaunchError::Master(format!(
            "it printed no endpoint (bind {})",
            file.master.bind
        )));
    };
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, endpoint))
}

/// Finds a node's program: a path as written, else beside `pinion`, else on PATH.
pub fn resolve(spec: &NodeSpec, bin_dir: &Path) -> Result<PathBuf, LaunchError> {
    let written = Path::new(&spec.binary);
    if written.components().count() > 1 {
        return if written.is_file() {
            Ok(written.to_owned())
        } else {
            Err(LaunchError::BinaryNotFound {
                node: spec.name.clone(),
                binary: spec.binary.clone(),
                beside: bin_dir.to_owned(),
            })
        };
    }
    let beside = bin_dir.join(&spec.binary);
    if beside.is_file() {
        return Ok(beside);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&spec.binary))
        .find(|p| p.is_file())
        .ok_or_else(|| LaunchError::BinaryNotFound {
            node: spec.name.clone(),
            binary: spec.binary.clone(),
            beside: bin_dir.to_owned(),
        })
}

/// Stops every node: SIGTERM to all, then SIGKILL to those still running after the timeout.
async fn stop_all(nodes: &mut Vec<OwnedChild>) -> Vec<(String, Option<ExitStatus>)> {
    for child in nodes.iter() {
        child.signal(Signal::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    let mut exits = Vec::new();
    for mut child in nodes.drain(..) {
        let status = wait_or_kill(&mut child, deadline).await;
        exits.push((child.name().to_owned(), status));
    }
    exits
}

/// SIGTERM, wait up to the stop timeout, then SIGKILL.
async fn stop_child(child: &mut OwnedChild) -> Option<ExitStatus> {
    child.signal(Signal::SIGTERM);
    wait_or_kill(child, tokio::time::Instant::now() + STOP_TIMEOUT).await
}

/// Waits for the child until `deadline`, then SIGKILLs it.
async fn wait_or_kill(
    child: &mut OwnedChild,
    deadline: tokio::time::Instant,
) -> Option<ExitStatus> {
    match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            tracing::warn!(
                node = child.name(),
                "did not stop within {STOP_TIMEOUT:?}; killing"
            );
            child.signal(Signal::SIGKILL);
            child.wait().await.ok()
        }
    }
}
