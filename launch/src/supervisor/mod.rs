//! Supervises a set of nodes against one master: starts them in order (`after`), keeps
//! them up by their respawn policies, answers the control socket, and stops them:
//! shutdown request, then SIGTERM, then SIGKILL. The launcher (`crate::launcher`) and
//! the agent (`crate::agent::server`) both run their nodes through it.

mod graph;

use crate::child::OwnedChild;
use crate::control::{ControlCommand, LaunchReply, LaunchRequest};
use crate::error::LaunchError;
use crate::logs::LogSink;
use crate::model::NodeSpec;
use crate::policy::{self, Decision, Exit, History};
use crate::status::{NodeState, NodeStatus};
use graph::GraphClient;
use nix::sys::signal::Signal;
use pinion::protocol::master_to_node::NodeInfo;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How often children and the graph are looked at.
const TICK: Duration = Duration::from_millis(25);

/// How the launch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Stopped from outside (Ctrl-C, SIGTERM, `pinion launch stop`).
    Stopped,
    /// Every node ended and none is to be restarted.
    AllDone,
    /// A required node ended.
    RequiredExited(String),
}

/// The final state of every node and why the launch ended.
#[derive(Debug)]
pub struct LaunchReport {
    /// Why it ended.
    pub ending: Ending,
    /// Each node's last status.
    pub nodes: Vec<NodeStatus>,
}

/// What follows a stop asked for by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    /// Leave the node down.
    Down,
    /// Start it again at once.
    Restart,
}

/// A stop in progress: asked at `since`; SIGTERM at half the stop timeout, SIGKILL at its end.
#[derive(Debug, Clone, Copy)]
struct Stopping {
    since: Instant,
    termed: bool,
    then: AfterStop,
}

/// A node ready to be supervised: its spec and how to start it.
#[derive(Debug, Clone)]
pub struct PlannedNode {
    /// The node as the launch file gives it.
    pub spec: NodeSpec,
    /// The program, found.
    pub program: PathBuf,
    /// Program and arguments put in front (an emulator such as qemu).
    pub runner: Vec<String>,
    /// `PINION_HOST` of the node, if it must differ from this host's.
    pub host_id: Option<String>,
}

/// Nodes to supervise against one master.
#[derive(Debug, Clone)]
pub struct NodeSet {
    /// Robot name.
    pub robot: String,
    /// The master endpoint the nodes get.
    pub master: String,
    /// The nodes.
    pub nodes: Vec<PlannedNode>,
    /// Where their output goes.
    pub sink: LogSink,
    /// Status rows of nodes supervised elsewhere (agents), shown with this set's.
    pub elsewhere: Arc<Mutex<Vec<NodeStatus>>>,
}

/// One supervised node.
struct Supervised {
    spec: NodeSpec,
    program: PathBuf,
    runner: Vec<String>,
    host_id: Option<String>,
    graph_name: String,
    child: Option<OwnedChild>,
    status: NodeStatus,
    history: History,
    started: Option<Instant>,
    next_start: Option<Instant>,
    stopping: Option<Stopping>,
}

/// Supervises a set of nodes until the set ends, then stops every node.
pub async fn supervise(
    set: NodeSet,
    stop: impl std::future::Future<Output = ()>,
    mut commands: tokio::sync::mpsc::Receiver<ControlCommand>,
) -> Result<LaunchReport, LaunchError> {
    let endpoint = set.master.clone();
    let mut nodes = prepare(set.nodes);
    let mut graph = GraphClient::new(&endpoint, pinion::node::host::host_id())
        .map_err(|e| LaunchError::Master(e.to_string()))?;
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ending = loop {
        tokio::select! {
            _ = &mut stop => break Ending::Stopped,
            command = commands.recv() => {
                if let Some((request, reply)) = command {
                    if matches!(request, LaunchRequest::Stop) {
                        let _ = reply.send(LaunchReply::Ok);
                        break Ending::Stopped;
                    }
                    let answer = handle(request, &mut nodes, &mut graph, &set.robot, &endpoint, &set.elsewhere).await;
                    let _ = reply.send(answer);
                }
            }
            _ = tick.tick() => {}
        }
        escalate(&mut nodes);
        if let Some(required) = reap(&mut nodes) {
            break Ending::RequiredExited(required);
        }
        start_due(&mut nodes, &mut graph, &endpoint, &set.sink).await;
        if !nodes.is_empty() && nodes.iter().all(|n| n.status.state.is_final()) {
            break Ending::AllDone;
        }
    };
    match &ending {
        Ending::RequiredExited(name) => {
            tracing::warn!(node = %name, "required node exited; stopping the launch")
        }
        Ending::Stopped => tracing::info!("stopping the launch"),
        Ending::AllDone => tracing::info!("every node has ended"),
    }
    stop_nodes(&mut nodes, &mut graph).await;
    Ok(LaunchReport {
        ending,
        nodes: nodes.into_iter().map(|n| n.status).collect(),
    })
}

fn prepare(planned: Vec<PlannedNode>) -> Vec<Supervised> {
    planned
        .into_iter()
        .map(|p| {
            let graph_name = match &p.spec.namespace {
                Some(ns) => format!("{}/{}", ns.trim_matches('/'), p.spec.name),
                None => p.spec.name.clone(),
            };
            Supervised {
                status: NodeStatus::new(&p.spec.name, p.spec.machine.as_deref().unwrap_or("local")),
                spec: p.spec,
                program: p.program,
                runner: p.runner,
                host_id: p.host_id,
                graph_name,
                child: None,
                history: History::default(),
                started: None,
                next_start: Some(Instant::now()),
                stopping: None,
            }
        })
        .collect()
}

/// Collects exits and applies respawn policies; returns a required node that ended.
fn reap(nodes: &mut [Supervised]) -> Option<String> {
    for node in nodes.iter_mut() {
        let Some(child) = node.child.as_mut() else {
            continue;
        };
        let status = match child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(node = %node.spec.name, error = %e, "cannot wait for node");
                continue;
            }
        };
        node.child = None;
        node.status.pid = None;
        node.status.last_exit = Some(describe(status));
        if let Some(stopping) = node.stopping.take() {
            tracing::info!(node = %node.spec.name, status = %describe(status), "stopped on request");
            match stopping.then {
                AfterStop::Down => node.status.state = NodeState::Exited,
                AfterStop::Restart => {
                    node.status.restarts += 1;
                    node.next_start = Some(Instant::now());
                    node.status.state = NodeState::Backoff;
                }
            }
            continue;
        }
        let ran_for = node.started.map_or(Duration::ZERO, |s| s.elapsed());
        let exit = if status.success() {
            Exit::Success
        } else {
            Exit::Failure
        };
        tracing::info!(node = %node.spec.name, status = %describe(status), "exited");
        if node.spec.required {
            node.status.state = NodeState::Exited;
            return Some(node.spec.name.clone());
        }
        match policy::on_exit(&node.spec.respawn, &mut node.history, exit, ran_for) {
            Decision::Restart(delay) => {
                tracing::info!(node = %node.spec.name, ?delay, restarts = node.history.restarts, "respawning");
                node.status.state = NodeState::Backoff;
                node.status.restarts += 1;
                node.next_start = Some(Instant::now() + delay);
            }
            Decision::StayDown => node.status.state = NodeState::Exited,
            Decision::GiveUp => {
                tracing::warn!(node = %node.spec.name, restarts = node.history.restarts, "restart limit reached; the node stays down");
                node.status.state = NodeState::Failed;
            }
        }
    }
    None
}

/// Starts nodes whose time has come and whose `after` nodes are registered.
async fn start_due(
    nodes: &mut [Supervised],
    graph: &mut GraphClient,
    endpoint: &str,
    sink: &LogSink,
) {
    let now = Instant::now();
    let due: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].child.is_none() && nodes[i].next_start.is_some_and(|t| t <= now))
        .collect();
    if due.is_empty() {
        return;
    }
    let needs_graph = due.iter().any(|&i| !nodes[i].spec.after.is_empty());
    let registered: Vec<(String, u32)> = if needs_graph {
        match graph.nodes().await {
            Some(list) => list
                .into_iter()
                .map(|n| (n.name.to_string(), n.pid))
                .collect(),
            None => return,
        }
    } else {
        Vec::new()
    };
    for i in due {
        // A node of this set must be registered with the pid it runs as now; a node
        // supervised elsewhere (another machine) only by name.
        let ready = nodes[i].spec.after.iter().all(|dep| {
            match nodes.iter().find(|n| &n.spec.name == dep) {
                Some(n) => n.status.pid.is_some_and(|pid| {
                    registered
                        .iter()
                        .any(|(name, p)| name == &n.graph_name && *p == pid)
                }),
                None => registered.iter().any(|(name, _)| name == dep),
            }
        });
        if !ready {
            nodes[i].status.state = NodeState::Waiting;
            continue;
        }
        // The node's parameters are at the master before it starts (ROS order).
        let mut params_set = true;
        for (key, value) in &nodes[i].spec.params {
            let full = format!("{}/{key}", nodes[i].graph_name);
            params_set &= graph.set_param(&full, &value.to_string()).await;
        }
        if !params_set {
            nodes[i].status.state = NodeState::Waiting;
            continue;
        }
        let node = &mut nodes[i];
        match spawn_node(node, endpoint, sink) {
            Ok(child) => {
                tracing::info!(node = %node.spec.name, pid = child.pid(), "started");
                node.status.pid = Some(child.pid());
                node.status.state = NodeState::Running;
                node.status.since = Some(std::time::SystemTime::now());
                node.child = Some(child);
                node.started = Some(Instant::now());
                node.next_start = None;
            }
            Err(e) => {
                tracing::error!(node = %node.spec.name, error = %e, "cannot start");
                node.status.last_exit = Some(format!("cannot start: {e}"));
                let decision = policy::on_exit(
                    &node.spec.respawn,
                    &mut node.history,
                    Exit::Failure,
                    Duration::ZERO,
                );
                match decision {
                    Decision::Restart(delay) => node.next_start = Some(Instant::now() + delay),
                    _ => {
                        node.status.state = NodeState::Failed;
                        node.next_start = None;
                    }
                }
            }
        }
    }
}

fn spawn_node(node: &Supervised, endpoint: &str, sink: &LogSink) -> std::io::Result<OwnedChild> {
    let spec = &node.spec;
    let mut command = match node.runner.split_first() {
        Some((runner, runner_args)) => {
            let mut c = Command::new(runner);
            c.args(runner_args).arg(&node.program);
            c
        }
        None => Command::new(&node.program),
    };
    if let Some(host) = &node.host_id {
        command.env("PINION_HOST", host);
    }
    command
        .args(&spec.args)
        .env("PINION_MASTER", endpoint)
        .env("PINION_NODE_NAME", &node.graph_name);
    if let Some(ns) = &spec.namespace {
        command.env("PINION_NAMESPACE", ns);
    }
    if !spec.params.is_empty() {
        command.env(
            "PINION_PARAMS",
            serde_json::to_string(&spec.params).unwrap_or_default(),
        );
    }
    if !spec.remap.is_empty() {
        command.env(
            "PINION_REMAP",
            serde_json::to_string(&spec.remap).unwrap_or_default(),
        );
    }
    command.envs(&spec.env);
    OwnedChild::spawn(&spec.name, command, sink, false).map(|(child, _)| child)
}

/// Answers a control request (other than `Stop`).
async fn handle(
    request: LaunchRequest,
    nodes: &mut [Supervised],
    graph: &mut GraphClient,
    robot: &str,
    endpoint: &str,
    elsewhere: &Mutex<Vec<NodeStatus>>,
) -> LaunchReply {
    let (name, then) = match request {
        LaunchRequest::Status => {
            return LaunchReply::Status {
                robot: robot.to_owned(),
                master: endpoint.to_owned(),
                nodes: nodes
                    .iter()
                    .map(|n| n.status.clone())
                    .chain(
                        elsewhere
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .iter()
                            .cloned(),
                    )
                    .collect(),
            }
        }
        LaunchRequest::StopNode(name) => (name, AfterStop::Down),
        LaunchRequest::RestartNode(name) => (name, AfterStop::Restart),
        _ => return LaunchReply::Error("unsupported request".to_owned()),
    };
    let Some(i) = nodes.iter().position(|n| n.spec.name == name) else {
        let known: Vec<&str> = nodes.iter().map(|n| n.spec.name.as_str()).collect();
        return LaunchReply::Error(format!(
            "no node `{name}` in this launch; nodes: {}",
            known.join(", ")
        ));
    };
    if nodes[i].child.is_none() {
        if then == AfterStop::Restart {
            nodes[i].next_start = Some(Instant::now());
            nodes[i].status.state = NodeState::Backoff;
        } else {
            nodes[i].next_start = None;
            nodes[i].status.state = NodeState::Exited;
        }
        return LaunchReply::Ok;
    }
    let registered = graph.nodes().await.unwrap_or_default();
    begin_stop(&mut nodes[i], &registered, graph, then).await;
    LaunchReply::Ok
}

/// Asks a node to stop (shutdown request, or SIGTERM if it cannot be asked).
async fn begin_stop(
    node: &mut Supervised,
    registered: &[NodeInfo],
    graph: &GraphClient,
    then: AfterStop,
) {
    let Some(child) = &node.child else { return };
    node.status.state = NodeState::Stopping;
    node.next_start = None;
    let info = registered
        .iter()
        .find(|n| n.name.as_str() == node.graph_name && n.pid == child.pid());
    let asked = match info {
        Some(info) => {
            graph
                .request_shutdown(info, "stopped by the launcher")
                .await
        }
        None => false,
    };
    if !asked {
        tracing::info!(node = %node.spec.name, "not reachable as a registered node; SIGTERM");
        child.signal(Signal::SIGTERM);
    }
    node.stopping = Some(Stopping {
        since: Instant::now(),
        termed: !asked,
        then,
    });
}

/// Moves stops along: SIGTERM at half the stop timeout, SIGKILL at its end.
fn escalate(nodes: &mut [Supervised]) {
    for node in nodes.iter_mut() {
        let (Some(child), Some(stopping)) = (&node.child, node.stopping.as_mut()) else {
            continue;
        };
        let elapsed = stopping.since.elapsed();
        if elapsed >= node.spec.stop_timeout {
            tracing::warn!(node = %node.spec.name, "did not stop within {:?}; SIGKILL", node.spec.stop_timeout);
            child.signal(Signal::SIGKILL);
        } else if elapsed >= node.spec.stop_timeout / 2 && !stopping.termed {
            tracing::info!(node = %node.spec.name, "still running; SIGTERM");
            child.signal(Signal::SIGTERM);
            stopping.termed = true;
        }
    }
}

/// Stops every running node and waits until all have exited.
async fn stop_nodes(nodes: &mut [Supervised], graph: &mut GraphClient) {
    let registered = graph.nodes().await.unwrap_or_default();
    for node in nodes.iter_mut() {
        begin_stop(node, &registered, graph, AfterStop::Down).await;
    }
    while nodes.iter().any(|n| n.child.is_some()) {
        escalate(nodes);
        let _ = reap(nodes);
        tokio::time::sleep(TICK).await;
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    }
}
