//! Supervises a set of nodes against one master: starts them in order (`after`), keeps
//! them up by their respawn policies, answers the control socket, and stops them:
//! shutdown request, then SIGTERM, then SIGKILL. The launcher (`crate::launcher`) and
//! the agent (`crate::agent::server`) both run their nodes through it.
//!
//! Every decision is made by [`machine::Machine`], a state machine without IO; this
//! module only carries its actions out (processes, signals, requests to the master)
//! and feeds it what happened.

mod graph;
pub mod machine;

use crate::child::OwnedChild;
use crate::control::{ControlCommand, LaunchReply, LaunchRequest};
use crate::error::LaunchError;
use crate::identity::Identity;
use crate::logs::LogSink;
use crate::model::NodeSpec;
use crate::status::{NodeState, NodeStatus};
use graph::GraphClient;
pub use machine::Ending;
use machine::{Action, AfterStop, Event, Machine, Signal};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How often children and the graph are looked at.
const TICK: Duration = Duration::from_millis(25);

/// The final state of every node and why the launch ended.
#[derive(Debug)]
pub struct LaunchReport {
    /// Why it ended.
    pub ending: Ending,
    /// Each node's last status.
    pub nodes: Vec<NodeStatus>,
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
    /// Nodes that outlive their supervisor (an agent's); `None`: they die with it.
    pub detached: Option<Detached>,
}

/// How an agent's nodes outlive it: their output in files and their identities in a
/// table in `dir`, so that an agent that starts again adopts them instead of starting
/// them twice.
#[derive(Debug, Clone)]
pub struct Detached {
    /// The launch's directory: output files and [`PID_TABLE`].
    pub dir: PathBuf,
    /// Processes of an earlier supervisor of this very set, by node name, to adopt.
    pub adopt: BTreeMap<String, Identity>,
}

/// The file in [`Detached::dir`] that lists the running nodes' identities.
pub const PID_TABLE: &str = "pids.json";

/// The file in [`Detached::dir`] with the status rows (restarts, how each last ended),
/// for the machine's health reporter.
pub const STATUS_FILE: &str = "status.json";

/// The identities a supervisor of the set in `dir` left, by node name.
pub fn read_pid_table(dir: &std::path::Path) -> BTreeMap<String, Identity> {
    std::fs::read(dir.join(PID_TABLE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// How one node is started, beside what the machine knows of it.
struct Program {
    program: PathBuf,
    runner: Vec<String>,
    host_id: Option<String>,
    child: Option<OwnedChild>,
    /// A process of an earlier supervisor, taken over instead of the first start.
    adopt: Option<Identity>,
}

/// What the driver holds while a set runs.
struct Driver<'a> {
    machine: Machine,
    programs: Vec<Program>,
    graph: GraphClient,
    endpoint: &'a str,
    sink: &'a LogSink,
    /// Where detached nodes keep their output and identities.
    detached_dir: Option<PathBuf>,
    ending: Option<Ending>,
    /// Nodes that could not be asked to stop (their SIGTERM is said with why).
    unasked: Vec<bool>,
    /// Nodes handed over to the next version: their stop is only a formality.
    released: Vec<bool>,
}

/// Supervises a set of nodes until the set ends, then stops every node.
pub async fn supervise(
    set: NodeSet,
    stop: impl std::future::Future<Output = ()>,
    mut commands: tokio::sync::mpsc::Receiver<ControlCommand>,
) -> Result<LaunchReport, LaunchError> {
    let endpoint = set.master.clone();
    let graph = GraphClient::new(&endpoint, pinion::host::host_id())
        .map_err(|e| LaunchError::Master(e.to_string()))?;
    let mut adopt = set
        .detached
        .as_ref()
        .map(|d| d.adopt.clone())
        .unwrap_or_default();
    let (specs, programs): (Vec<NodeSpec>, Vec<Program>) = set
        .nodes
        .into_iter()
        .map(|p| {
            let adopt = adopt.remove(&p.spec.name);
            (
                p.spec,
                Program {
                    program: p.program,
                    runner: p.runner,
                    host_id: p.host_id,
                    child: None,
                    adopt,
                },
            )
        })
        .unzip();
    let mut driver = Driver {
        machine: Machine::new(specs, "local", Instant::now()),
        programs,
        graph,
        endpoint: &endpoint,
        sink: &set.sink,
        detached_dir: set.detached.as_ref().map(|d| d.dir.clone()),
        ending: None,
        unasked: Vec::new(),
        released: Vec::new(),
    };
    driver.unasked = vec![false; driver.programs.len()];
    driver.released = vec![false; driver.programs.len()];
    tokio::pin!(stop);
    let mut stopped = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut events = VecDeque::from([Event::Tick]);
    loop {
        driver.run(&mut events).await;
        if driver.machine.is_finished() {
            break;
        }
        tokio::select! {
            _ = &mut stop, if !stopped => {
                stopped = true;
                events.push_back(Event::StopAll);
            }
            command = commands.recv() => {
                if let Some((request, reply)) = command {
                    let answer = driver.command(request, &set.robot, &set.elsewhere, &mut events);
                    let _ = reply.send(answer);
                }
            }
            _ = tick.tick() => {
                driver.reap(&mut events);
                events.push_back(Event::Tick);
            }
        }
    }
    Ok(LaunchReport {
        ending: driver.ending.unwrap_or(Ending::Stopped),
        nodes: driver.machine.status(),
    })
}

impl Driver<'_> {
    /// Feeds the machine every queued event, and carries out what it decides.
    async fn run(&mut self, events: &mut VecDeque<Event>) {
        while let Some(event) = events.pop_front() {
            let exited = match &event {
                Event::Exited { node, .. } => Some(*node),
                _ => None,
            };
            let was_stopping = exited.is_some_and(|n| self.state(n) == NodeState::Stopping);
            let changes_pids = matches!(event, Event::Exited { .. } | Event::Spawned { .. });
            let actions = self.machine.handle(event, Instant::now());
            if let Some(node) = exited {
                self.log_exit(node, was_stopping);
            }
            if changes_pids {
                self.write_pid_table();
            }
            for action in actions {
                if let Some(event) = self.carry_out(action).await {
                    events.push_back(event);
                }
            }
        }
    }

    fn state(&self, node: usize) -> NodeState {
        self.machine
            .status()
            .get(node)
            .map_or(NodeState::Exited, |s| s.state)
    }

    fn name(&self, node: usize) -> String {
        self.machine
            .node(node)
            .map(|(spec, _)| spec.name.clone())
            .unwrap_or_default()
    }

    /// Says what an exit led to.
    fn log_exit(&self, node: usize, was_stopping: bool) {
        let status = self.machine.status();
        let Some(row) = status.get(node) else { return };
        let how = row.last_exit.as_deref().unwrap_or("ended");
        if was_stopping {
            tracing::info!(node = %row.name, status = %how, "stopped on request");
            return;
        }
        tracing::info!(node = %row.name, status = %how, "exited");
        match row.state {
            NodeState::Backoff => {
                tracing::info!(node = %row.name, restarts = row.restarts, "respawning")
            }
            NodeState::Failed => tracing::warn!(
                node = %row.name,
                restarts = row.restarts,
                "restart limit reached; the node stays down"
            ),
            _ => {}
        }
    }

    /// Carries out one action; what happened, if the machine must hear of it.
    async fn carry_out(&mut self, action: Action) -> Option<Event> {
        match action {
            Action::QueryGraph => Some(Event::Graph(self.graph.nodes().await.map(|list| {
                list.into_iter()
                    .map(|n| (n.name.to_string(), n.pid))
                    .collect()
            }))),
            Action::SetParams(node) => {
                let (spec, graph_name) = self.machine.node(node)?;
                let params: Vec<(String, String)> = spec
                    .params
                    .iter()
                    .map(|(key, value)| (format!("{graph_name}/{key}"), value.to_string()))
                    .collect();
                let mut ok = true;
                for (key, value) in params {
                    ok &= self.graph.set_param(&key, &value).await;
                }
                Some(Event::ParamsSet { node, ok })
            }
            Action::Spawn(node) => Some(self.spawn(node)),
            Action::AskShutdown(node) if self.released.get(node) == Some(&true) => {
                Some(Event::Exited {
                    node,
                    success: true,
                    how: "handed over to the next version, still running".to_owned(),
                })
            }
            Action::AskShutdown(node) => {
                let asked = self.ask_shutdown(node).await;
                if !asked {
                    tracing::info!(node = %self.name(node), "not reachable as a registered node; SIGTERM");
                }
                Some(Event::Asked { node, asked })
            }
            Action::Signal(node, signal) => {
                let child = self.programs.get(node)?.child.as_ref()?;
                match signal {
                    Signal::Term => {
                        // Not asked: said already, with why.
                        let said = self.unasked.get_mut(node).is_some_and(std::mem::take);
                        if !said {
                            tracing::info!(node = %self.name(node), "still running; SIGTERM");
                        }
                        child.signal(nix::sys::signal::Signal::SIGTERM);
                    }
                    Signal::Kill => {
                        let timeout = self.machine.node(node).map(|(s, _)| s.stop_timeout);
                        tracing::warn!(node = %self.name(node), "did not stop within {:?}; SIGKILL", timeout.unwrap_or_default());
                        child.signal(nix::sys::signal::Signal::SIGKILL);
                    }
                }
                None
            }
            Action::Finish(ending) => {
                match &ending {
                    Ending::RequiredExited(name) => {
                        tracing::warn!(node = %name, "required node exited; stopping the launch")
                    }
                    Ending::Stopped => tracing::info!("the launch is stopped"),
                    Ending::AllDone => tracing::info!("every node has ended"),
                }
                self.ending = Some(ending);
                None
            }
        }
    }

    /// Asks a node to shut down through its control socket, as registered with the
    /// pid it runs as; whether it took the request.
    async fn ask_shutdown(&mut self, node: usize) -> bool {
        let (Some((_, graph_name)), Some(pid)) = (
            self.machine.node(node),
            self.programs
                .get(node)
                .and_then(|p| p.child.as_ref())
                .map(OwnedChild::pid),
        ) else {
            return false;
        };
        let graph_name = graph_name.to_owned();
        let registered = self.graph.nodes().await.unwrap_or_default();
        let asked = match registered
            .iter()
            .find(|n| n.name.as_str() == graph_name && n.pid == pid)
        {
            Some(info) => {
                self.graph
                    .request_shutdown(info, "stopped by the launcher")
                    .await
            }
            None => false,
        };
        if let Some(flag) = self.unasked.get_mut(node) {
            *flag = !asked;
        }
        asked
    }

    /// Keeps the running nodes' identities where a later supervisor finds them.
    fn write_pid_table(&self) {
        let Some(dir) = &self.detached_dir else {
            return;
        };
        let table: BTreeMap<String, Identity> = self
            .programs
            .iter()
            .enumerate()
            .filter_map(|(node, p)| Some((self.name(node), p.child.as_ref()?.identity()?)))
            .collect();
        let status = self.machine.status();
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            for (file, bytes) in [
                (PID_TABLE, serde_json::to_vec(&table)?),
                (STATUS_FILE, serde_json::to_vec(&status)?),
            ] {
                let tmp = dir.join(format!("{file}.tmp"));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, dir.join(file))?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot keep the nodes' pids: a restarted agent will start them again");
        }
    }

    fn spawn(&mut self, node: usize) -> Event {
        let adopted = match (
            self.programs.get_mut(node).and_then(|p| p.adopt.take()),
            &self.detached_dir,
        ) {
            (Some(who), Some(dir)) => OwnedChild::adopt(&self.name(node), who, self.sink, dir),
            _ => None,
        };
        if let Some(child) = adopted {
            let pid = child.pid();
            tracing::info!(node = %self.name(node), pid, "adopted: it kept running while no agent was here");
            if let Some(program) = self.programs.get_mut(node) {
                program.child = Some(child);
            }
            return Event::Spawned { node, pid };
        }
        match self.start(node) {
            Ok(child) => {
                let pid = child.pid();
                tracing::info!(node = %self.name(node), pid, "started");
                if let Some(program) = self.programs.get_mut(node) {
                    program.child = Some(child);
                }
                Event::Spawned { node, pid }
            }
            Err(error) => {
                tracing::error!(node = %self.name(node), %error, "cannot start");
                Event::SpawnFailed { node, error }
            }
        }
    }

    /// Starts one node's process with its environment.
    fn start(&self, node: usize) -> Result<OwnedChild, String> {
        let (Some((spec, graph_name)), Some(program)) =
            (self.machine.node(node), self.programs.get(node))
        else {
            return Err("no such node".to_owned());
        };
        // An emulator first (a machine's runner), then a script's interpreter.
        let front: Vec<String> = program
            .runner
            .iter()
            .cloned()
            .chain(spec.interpreter())
            .collect();
        let mut command = match front.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&program.program);
                c
            }
            None => Command::new(&program.program),
        };
        if let Some(host) = &program.host_id {
            command.env("PINION_HOST", host);
        }
        command
            .args(&spec.args)
            .env("PINION_MASTER", self.endpoint)
            .env("PINION_NODE_NAME", graph_name);
        if let Some(ns) = &spec.namespace {
            command.env("PINION_NAMESPACE", ns);
        }
        if !spec.params.is_empty() {
            command.env("PINION_PARAMS", as_json("PINION_PARAMS", &spec.params)?);
        }
        if !spec.remap.is_empty() {
            command.env("PINION_REMAP", as_json("PINION_REMAP", &spec.remap)?);
        }
        command.envs(&spec.env);
        match &self.detached_dir {
            Some(dir) => OwnedChild::spawn_detached(&spec.name, command, self.sink, dir),
            None => OwnedChild::spawn(&spec.name, command, self.sink, false).map(|(c, _)| c),
        }
        .map_err(|e| e.to_string())
    }

    /// Collects exits.
    fn reap(&mut self, events: &mut VecDeque<Event>) {
        for (node, program) in self.programs.iter_mut().enumerate() {
            let Some(child) = program.child.as_mut() else {
                continue;
            };
            match child.try_wait() {
                Ok(Some(exit)) => {
                    program.child = None;
                    events.push_back(Event::Exited {
                        node,
                        success: exit.success,
                        how: exit.how,
                    });
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(node, error = %e, "cannot wait for node"),
            }
        }
    }

    /// Lets go of running detached nodes without stopping them: who they are, for the
    /// supervisor that takes them over.
    fn release(&mut self, names: &[String], events: &mut VecDeque<Event>) -> LaunchReply {
        if self.detached_dir.is_none() {
            return LaunchReply::Error("only a detached set hands its nodes over".to_owned());
        }
        let mut handed = Vec::new();
        for name in names {
            let Some(node) = self.machine.find(name) else {
                continue;
            };
            let Some(program) = self.programs.get_mut(node) else {
                continue;
            };
            // Dropping a detached child leaves the process alone.
            let Some(who) = program.child.take().and_then(|c| c.identity()) else {
                continue;
            };
            if let Some(flag) = self.released.get_mut(node) {
                *flag = true;
            }
            handed.push((name.clone(), who));
            events.push_back(Event::Stop {
                node,
                then: AfterStop::Down,
            });
        }
        LaunchReply::Released(handed)
    }

    /// Answers a control request; a stop or restart goes to the machine as an event.
    fn command(
        &mut self,
        request: LaunchRequest,
        robot: &str,
        elsewhere: &Mutex<Vec<NodeStatus>>,
        events: &mut VecDeque<Event>,
    ) -> LaunchReply {
        let (name, then) = match request {
            LaunchRequest::Status => {
                return LaunchReply::Status {
                    robot: robot.to_owned(),
                    master: self.endpoint.to_owned(),
                    nodes: self
                        .machine
                        .status()
                        .into_iter()
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
            LaunchRequest::Stop => {
                events.push_back(Event::StopAll);
                return LaunchReply::Ok;
            }
            LaunchRequest::Release(names) => return self.release(&names, events),
            LaunchRequest::StopNode(name) => (name, AfterStop::Down),
            LaunchRequest::RestartNode(name) => (name, AfterStop::Restart),
        };
        match self.machine.find(&name) {
            Some(node) => {
                events.push_back(Event::Stop { node, then });
                LaunchReply::Ok
            }
            None => LaunchReply::Error(format!(
                "no node `{name}` in this launch; nodes: {}",
                self.machine.names().join(", ")
            )),
        }
    }
}

/// A value passed to a node as JSON in its environment variable `var`; a failure is an
/// error that names the variable, never an empty variable.
fn as_json(var: &str, value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("cannot pass {var}: {e}"))
}
