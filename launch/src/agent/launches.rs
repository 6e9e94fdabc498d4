//! The launches an agent runs: starting a set of nodes under a supervisor (detached for
//! a deployed launch: its nodes outlive the agent and are adopted by the next one),
//! handing unchanged nodes over to a new version, status and stopping.

use super::protocol::{Manifest, RemoteNode};
use super::store::Store;
use crate::control::ControlCommand;
use crate::control::{LaunchReply, LaunchRequest};
use crate::identity::Identity;
use crate::logs::{LogRing, LogSink};
use crate::model::NodeSpec;
use crate::status::NodeStatus;
use crate::supervisor::{self, Detached, LaunchReport, NodeSet, PlannedNode};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A launch the agent runs.
pub(super) struct Running {
    /// The deployed version it runs, if it is a deployed launch.
    pub(super) version: Option<String>,
    /// What it runs: robot, master and nodes (a node the next version has unchanged
    /// is handed over, not restarted).
    pub(super) set: (String, String, Vec<RemoteNode>),
    pub(super) commands: mpsc::Sender<ControlCommand>,
    pub(super) ring: Arc<LogRing>,
    pub(super) task: JoinHandle<Option<LaunchReport>>,
    pub(super) finished: Option<Vec<NodeStatus>>,
}

/// Starts the nodes of a launch. With `detached` (the agent's directory: deployed
/// launches), they outlive the agent: a later agent given the very same set adopts the
/// ones still running (see [`supervisor::Detached`]) instead of starting them again.
pub(super) fn start(
    launch: &str,
    robot: String,
    master: String,
    nodes: &[RemoteNode],
    store: &Store,
    detached: Option<&Path>,
    handed: BTreeMap<String, Identity>,
) -> Result<Running, String> {
    let detached = match detached {
        Some(dir) => Some(detach(launch, &robot, &master, nodes, dir, handed)?),
        None => None,
    };
    let (robot_name, master_endpoint) = (robot.clone(), master.clone());
    let mut planned = Vec::new();
    for node in nodes {
        let program = store
            .path(&node.blob)
            .filter(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "node `{}`: blob {} is not stored; upload it first",
                    node.name, node.blob
                )
            })?;
        let spec = node.to_spec(&program).map_err(|e| {
            format!(
                "node `{}`: its parameters are not a JSON object ({e}); deploy it again from the launch file",
                node.name
            )
        })?;
        planned.push(PlannedNode {
            spec,
            program,
            runner: node.runner.clone(),
            host_id: Some(node.host_id.clone()),
        });
    }
    // The machine's health reporter runs beside the nodes: the agent's own program.
    let host = nodes.first().map(|n| n.host_id.clone());
    if let (Some(host), Ok(program)) = (host, std::env::current_exe()) {
        let name = health_node_name(&host);
        let mut spec = NodeSpec::pinion_tool(&name, &["health"], "<agent>");
        if let Some(d) = &detached {
            // Restarts and crashes of the launch's nodes, for the health report.
            let status = d.dir.join(supervisor::STATUS_FILE);
            spec.env.insert(
                "PINION_LAUNCH_STATUS".to_owned(),
                status.to_string_lossy().into_owned(),
            );
        }
        planned.push(PlannedNode {
            spec,
            program,
            runner: Vec::new(),
            host_id: Some(host),
        });
    }
    let ring = Arc::new(LogRing::default());
    let set = NodeSet {
        robot,
        master,
        nodes: planned,
        sink: LogSink::Ring(ring.clone()),
        elsewhere: Arc::default(),
        detached,
    };
    let (commands, receiver) = mpsc::channel(16);
    let id = launch.to_owned();
    let task = tokio::spawn(async move {
        match supervisor::supervise(set, std::future::pending(), receiver).await {
            Ok(report) => {
                tracing::info!(launch = %id, ending = ?report.ending, "launch ended");
                Some(report)
            }
            Err(e) => {
                tracing::error!(launch = %id, error = %e, "launch failed");
                None
            }
        }
    });
    Ok(Running {
        version: None,
        set: (robot_name, master_endpoint, nodes.to_vec()),
        commands,
        ring,
        task,
        finished: None,
    })
}

/// Replaces whatever runs for `launch` with `manifest`.
/// The directory of a deployed launch's nodes, with the processes to adopt: those an
/// earlier agent left running for this very set of nodes (same fingerprint).
pub(super) fn detach(
    launch: &str,
    robot: &str,
    master: &str,
    nodes: &[RemoteNode],
    agent_dir: &Path,
    handed: BTreeMap<String, Identity>,
) -> Result<Detached, String> {
    if launch.is_empty() || launch.starts_with('.') || launch.contains('/') {
        return Err(format!("bad launch id `{launch}`"));
    }
    let dir = agent_dir.join("launches").join(launch);
    let fingerprint = postcard::to_stdvec(&(robot, master, nodes))
        .map(|bytes| super::store::hash(&bytes))
        .map_err(|e| format!("cannot fingerprint the launch: {e}"))?;
    let file = dir.join("fingerprint");
    let same = std::fs::read_to_string(&file).is_ok_and(|f| f == fingerprint);
    let adopt = if same {
        supervisor::read_pid_table(&dir)
    } else {
        handed
    };
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, &fingerprint))
        .map_err(|e| format!("cannot keep the launch in {}: {e}", dir.display()))?;
    Ok(Detached { dir, adopt })
}

/// The name of a machine's health reporter: `health_` and its host id.
pub fn health_node_name(host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("health_{host}")
}

pub(super) async fn run_manifest(
    launch: &str,
    manifest: Manifest,
    store: &Store,
    agent_dir: &Path,
    launches: &mut HashMap<String, Running>,
) -> Result<(), String> {
    let mut handed = BTreeMap::new();
    if let Some(old) = launches.remove(launch) {
        handed = hand_over(launch, &old, &manifest).await;
        stop_launch(launch, old).await;
    }
    let version = manifest.version();
    let mut running = start(
        launch,
        manifest.robot,
        manifest.master,
        &manifest.nodes,
        store,
        Some(agent_dir),
        handed,
    )?;
    running.version = Some(version);
    launches.insert(launch.to_owned(), running);
    Ok(())
}

/// The nodes the new version runs unchanged (same program, arguments, environment,
/// parameters, against the same master), and this machine's health reporter: the old
/// supervisor lets go of them, still running, for the new one to adopt.
pub(super) async fn hand_over(
    launch: &str,
    old: &Running,
    manifest: &Manifest,
) -> BTreeMap<String, Identity> {
    let (robot, master, nodes) = &old.set;
    if *robot != manifest.robot || *master != manifest.master {
        return BTreeMap::new();
    }
    let mut unchanged: Vec<String> = manifest
        .nodes
        .iter()
        .filter(|n| nodes.contains(n))
        .map(|n| n.name.clone())
        .collect();
    if let Some(first) = nodes.first() {
        unchanged.push(health_node_name(&first.host_id));
    }
    match ask(old, LaunchRequest::Release(unchanged)).await {
        Some(LaunchReply::Released(handed)) => {
            let names: Vec<&str> = handed.iter().map(|(n, _)| n.as_str()).collect();
            tracing::info!(%launch, nodes = ?names, "unchanged nodes run on into the new version");
            handed.into_iter().collect()
        }
        _ => BTreeMap::new(),
    }
}

pub(super) async fn status(running: &mut Running) -> Vec<NodeStatus> {
    if let Some(done) = &running.finished {
        return done.clone();
    }
    if let Some(LaunchReply::Status { nodes, .. }) = ask(running, LaunchRequest::Status).await {
        return nodes;
    }
    // The supervisor ended: keep its final table.
    let finished = match (&mut running.task).await {
        Ok(Some(report)) => report.nodes,
        _ => Vec::new(),
    };
    running.finished = Some(finished.clone());
    finished
}

/// Asks a launch's supervisor; `None` if it has ended.
async fn ask(running: &Running, request: LaunchRequest) -> Option<LaunchReply> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    running.commands.send((request, tx)).await.ok()?;
    rx.await.ok()
}

pub(super) async fn stop_launch(id: &str, running: Running) {
    let _ = ask(&running, LaunchRequest::Stop).await;
    // Stops escalate to SIGKILL within each node's stop timeout; this bound is a backstop.
    if tokio::time::timeout(Duration::from_secs(120), running.task)
        .await
        .is_err()
    {
        tracing::error!(launch = %id, "launch did not stop in time");
    }
    tracing::info!(launch = %id, "launch stopped");
}
