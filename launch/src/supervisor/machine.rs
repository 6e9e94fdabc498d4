//! What the supervisor decides, as a state machine without IO: events in (time passed,
//! a process started or exited, the master's list of nodes, a command), actions out
//! (start a process, set its parameters, ask it to stop, signal it, ask the master, end).
//! It reads no clock (the time comes with each event) and touches no process, so every
//! policy (respawn, backoff, restart limits, required nodes, start order, stop
//! escalation) is tested as a plain value. The driver that carries the actions out is
//! `super::supervise`.

use crate::model::NodeSpec;
use crate::policy::{self, Decision, Exit, History};
use crate::status::{NodeState, NodeStatus};
use std::time::{Duration, Instant, SystemTime};

/// A signal the supervisor sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop.
    Term,
    /// SIGKILL: stop now.
    Kill,
}

/// How a set of nodes ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Stopped from outside (Ctrl-C, SIGTERM, `pinion launch stop`).
    Stopped,
    /// Every node ended and none is to be restarted.
    AllDone,
    /// A required node ended.
    RequiredExited(String),
}

/// What follows a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    /// Leave the node down.
    Down,
    /// Start it again at once.
    Restart,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Time passed: starts that are due, stops that take too long.
    Tick,
    /// The nodes registered with the master (name in the graph, pid), as asked for by
    /// [`Action::QueryGraph`]; `None` if the master did not answer.
    Graph(Option<Vec<(String, u32)>>),
    /// The node's parameters were set at the master (or not).
    ParamsSet {
        /// The node.
        node: usize,
        /// Whether the master took them all.
        ok: bool,
    },
    /// The node's process started.
    Spawned {
        /// The node.
        node: usize,
        /// Its process id.
        pid: u32,
    },
    /// The node's process could not be started.
    SpawnFailed {
        /// The node.
        node: usize,
        /// Why.
        error: String,
    },
    /// The node's process ended.
    Exited {
        /// The node.
        node: usize,
        /// Exit code 0.
        success: bool,
        /// How it ended, for people (`exit code 3`, `killed by signal 9`).
        how: String,
    },
    /// The node was (or could not be) asked to shut down through its control socket.
    Asked {
        /// The node.
        node: usize,
        /// Whether it took the request.
        asked: bool,
    },
    /// Stop one node, then leave it down or start it again.
    Stop {
        /// The node.
        node: usize,
        /// What follows.
        then: AfterStop,
    },
    /// Stop every node and end the set.
    StopAll,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ask the master which nodes are registered, and answer with [`Event::Graph`].
    QueryGraph,
    /// Set the node's parameters at the master ([`Event::ParamsSet`]).
    SetParams(usize),
    /// Start the node's process ([`Event::Spawned`] or [`Event::SpawnFailed`]).
    Spawn(usize),
    /// Ask the node to shut down through its control socket ([`Event::Asked`]).
    AskShutdown(usize),
    /// Signal the node's process.
    Signal(usize, Signal),
    /// Every node is down: the set is over.
    Finish(Ending),
}

/// Where one node is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    /// Not running; starts at the given time (if any).
    Down { start_at: Option<Instant> },
    /// Its parameters are being set, then it starts.
    Preparing,
    /// Being started.
    Spawning,
    /// Running.
    Up { pid: u32, since: Instant },
    /// Being stopped.
    Stopping {
        pid: u32,
        since: Instant,
        started: Instant,
        termed: bool,
        killed: bool,
        then: AfterStop,
    },
}

/// One supervised node.
#[derive(Debug, Clone)]
struct Slot {
    spec: NodeSpec,
    /// Its name in the graph (namespace included).
    graph_name: String,
    run: Run,
    history: History,
    status: NodeStatus,
}

/// The decisions of one node set.
#[derive(Debug, Clone)]
pub struct Machine {
    slots: Vec<Slot>,
    /// Set once the set is ending: nothing starts any more.
    ending: Option<Ending>,
    /// A graph query is out.
    querying: bool,
    finished: bool,
}

impl Machine {
    /// A set of nodes, all due to start at `now` (in the order of their `after`).
    pub fn new(specs: Vec<NodeSpec>, machine: &str, now: Instant) -> Self {
        let slots = specs
            .into_iter()
            .map(|spec| Slot {
                graph_name: spec.graph_name(),
                status: NodeStatus::new(&spec.name, spec.machine.as_deref().unwrap_or(machine)),
                spec,
                run: Run::Down {
                    start_at: Some(now),
                },
                history: History::default(),
            })
            .collect();
        Self {
            slots,
            ending: None,
            querying: false,
            finished: false,
        }
    }

    /// The status row of every node.
    pub fn status(&self) -> Vec<NodeStatus> {
        self.slots.iter().map(|s| s.status.clone()).collect()
    }

    /// The node called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.spec.name == name)
    }

    /// The node's spec and name in the graph.
    pub fn node(&self, node: usize) -> Option<(&NodeSpec, &str)> {
        self.slots
            .get(node)
            .map(|s| (&s.spec, s.graph_name.as_str()))
    }

    /// Names of the nodes, in order.
    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.spec.name.as_str()).collect()
    }

    /// Process ids of the nodes that run, by node.
    pub fn running(&self) -> Vec<(usize, u32)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.run {
                Run::Up { pid, .. } | Run::Stopping { pid, .. } => Some((i, pid)),
                _ => None,
            })
            .collect()
    }

    /// Takes an event at `now`; what the driver must do next.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Tick => {
                self.escalate(now, &mut actions);
                self.start_due(now, &mut actions);
            }
            Event::Graph(registered) => {
                self.querying = false;
                if let Some(registered) = registered {
                    self.start_ready(&registered, now, &mut actions);
                }
            }
            Event::ParamsSet { node, ok } => self.params_set(node, ok, now, &mut actions),
            Event::Spawned { node, pid } => self.spawned(node, pid, now, &mut actions),
            Event::SpawnFailed { node, error } => self.spawn_failed(node, error, now),
            Event::Exited { node, success, how } => {
                self.exited(node, success, how, now, &mut actions)
            }
            Event::Asked { node, asked } => {
                if let Some(Slot {
                    run: Run::Stopping { termed, .. },
                    ..
                }) = self.slots.get_mut(node)
                {
                    if !asked && !*termed {
                        *termed = true;
                        actions.push(Action::Signal(node, Signal::Term));
                    }
                }
            }
            Event::Stop { node, then } => self.stop(node, then, now, &mut actions),
            Event::StopAll => self.end(Ending::Stopped, now, &mut actions),
        }
        self.finish_if_over(&mut actions);
        actions
    }

    /// Whether the set is over (the driver stops after [`Action::Finish`]).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn start_due(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.ending.is_some() || self.querying {
            return;
        }
        let due: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.run, Run::Down { start_at: Some(t) } if t <= now))
            .map(|(i, _)| i)
            .collect();
        if due.is_empty() {
            return;
        }
        if due.iter().any(|&i| !self.slots[i].spec.after.is_empty()) {
            // Who is registered decides which may start.
            self.querying = true;
            actions.push(Action::QueryGraph);
        } else {
            self.start_ready(&[], now, actions);
        }
    }

    /// Starts the due nodes whose `after` nodes are registered: a node of this set with
    /// the pid it runs as now, a node supervised elsewhere by name.
    fn start_ready(
        &mut self,
        registered: &[(String, u32)],
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        if self.ending.is_some() {
            return;
        }
        for i in 0..self.slots.len() {
            let Run::Down { start_at: Some(at) } = self.slots[i].run else {
                continue;
            };
            if at > now {
                continue;
            }
            let ready = self.slots[i].spec.after.iter().all(|dep| {
                match self.slots.iter().find(|s| &s.spec.name == dep) {
                    Some(s) => match s.run {
                        Run::Up { pid, .. } => registered
                            .iter()
                            .any(|(name, p)| name == &s.graph_name && *p == pid),
                        _ => false,
                    },
                    None => registered.iter().any(|(name, _)| name == dep),
                }
            });
            let slot = &mut self.slots[i];
            if !ready {
                slot.status.state = NodeState::Waiting;
                continue;
            }
            if slot.spec.params.is_empty() {
                slot.run = Run::Spawning;
                actions.push(Action::Spawn(i));
            } else {
                // Its parameters are at the master before it starts (ROS order).
                slot.run = Run::Preparing;
                actions.push(Action::SetParams(i));
            }
        }
    }

    fn params_set(&mut self, node: usize, ok: bool, now: Instant, actions: &mut Vec<Action>) {
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        if slot.run != Run::Preparing {
            return;
        }
        if ok && self.ending.is_none() {
            slot.run = Run::Spawning;
            actions.push(Action::Spawn(node));
        } else {
            // The master did not take them: try again at the next tick.
            slot.status.state = NodeState::Waiting;
            slot.run = Run::Down {
                start_at: self.ending.is_none().then_some(now),
            };
        }
    }

    fn spawned(&mut self, node: usize, pid: u32, now: Instant, actions: &mut Vec<Action>) {
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        slot.run = Run::Up { pid, since: now };
        slot.status.pid = Some(pid);
        slot.status.state = NodeState::Running;
        slot.status.since = Some(SystemTime::now());
        if self.ending.is_some() {
            // Started while the set ended: it goes at once.
            self.stop(node, AfterStop::Down, now, actions);
        }
    }

    fn spawn_failed(&mut self, node: usize, error: String, now: Instant) {
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        slot.status.last_exit = Some(format!("cannot start: {error}"));
        match policy::on_exit(
            &slot.spec.respawn,
            &mut slot.history,
            Exit::Failure,
            Duration::ZERO,
        ) {
            Decision::Restart(delay) => {
                slot.status.state = NodeState::Backoff;
                slot.run = Run::Down {
                    start_at: Some(now + delay),
                };
            }
            Decision::StayDown | Decision::GiveUp => {
                slot.status.state = NodeState::Failed;
                slot.run = Run::Down { start_at: None };
            }
        }
    }

    fn exited(
        &mut self,
        node: usize,
        success: bool,
        how: String,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        slot.status.pid = None;
        slot.status.last_exit = Some(how);
        let started = match slot.run {
            Run::Stopping { then, .. } => {
                // Stopped on request: what follows was said with the request.
                match (then, self.ending.is_some()) {
                    (AfterStop::Restart, false) => {
                        slot.status.restarts += 1;
                        slot.status.state = NodeState::Backoff;
                        slot.run = Run::Down {
                            start_at: Some(now),
                        };
                    }
                    _ => {
                        slot.status.state = NodeState::Exited;
                        slot.run = Run::Down { start_at: None };
                    }
                }
                return;
            }
            Run::Up { since, .. } => since,
            _ => now,
        };
        slot.run = Run::Down { start_at: None };
        if self.ending.is_some() {
            slot.status.state = NodeState::Exited;
            return;
        }
        if slot.spec.required {
            slot.status.state = NodeState::Exited;
            let name = slot.spec.name.clone();
            self.end(Ending::RequiredExited(name), now, actions);
            return;
        }
        let exit = if success {
            Exit::Success
        } else {
            Exit::Failure
        };
        match policy::on_exit(&slot.spec.respawn, &mut slot.history, exit, now - started) {
            Decision::Restart(delay) => {
                slot.status.state = NodeState::Backoff;
                slot.status.restarts += 1;
                slot.run = Run::Down {
                    start_at: Some(now + delay),
                };
            }
            Decision::StayDown => slot.status.state = NodeState::Exited,
            Decision::GiveUp => slot.status.state = NodeState::Failed,
        }
    }

    fn stop(&mut self, node: usize, then: AfterStop, now: Instant, actions: &mut Vec<Action>) {
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        match slot.run {
            Run::Up { pid, since } => {
                slot.status.state = NodeState::Stopping;
                slot.run = Run::Stopping {
                    pid,
                    since: now,
                    started: since,
                    termed: false,
                    killed: false,
                    then,
                };
                actions.push(Action::AskShutdown(node));
            }
            Run::Stopping { .. } => {}
            Run::Down { .. } | Run::Preparing | Run::Spawning => match then {
                AfterStop::Restart => {
                    slot.status.state = NodeState::Backoff;
                    slot.run = Run::Down {
                        start_at: Some(now),
                    };
                }
                AfterStop::Down => {
                    slot.status.state = NodeState::Exited;
                    slot.run = Run::Down { start_at: None };
                }
            },
        }
    }

    /// The set ends: nothing starts any more, every running node is asked to stop.
    fn end(&mut self, ending: Ending, now: Instant, actions: &mut Vec<Action>) {
        if self.ending.is_some() {
            return;
        }
        self.ending = Some(ending);
        for i in 0..self.slots.len() {
            match self.slots[i].run {
                Run::Up { .. } => self.stop(i, AfterStop::Down, now, actions),
                Run::Down { .. } | Run::Preparing => {
                    let slot = &mut self.slots[i];
                    slot.run = Run::Down { start_at: None };
                    if !slot.status.state.is_final() {
                        slot.status.state = NodeState::Exited;
                    }
                }
                // A process being started is stopped once it reports in.
                Run::Spawning | Run::Stopping { .. } => {}
            }
        }
    }

    /// SIGTERM at half the stop timeout, SIGKILL at its end.
    fn escalate(&mut self, now: Instant, actions: &mut Vec<Action>) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Run::Stopping {
                since,
                termed,
                killed,
                ..
            } = &mut slot.run
            else {
                continue;
            };
            let elapsed = now - *since;
            if elapsed >= slot.spec.stop_timeout && !*killed {
                *killed = true;
                actions.push(Action::Signal(i, Signal::Kill));
            } else if elapsed >= slot.spec.stop_timeout / 2 && !*termed {
                *termed = true;
                actions.push(Action::Signal(i, Signal::Term));
            }
        }
    }

    fn finish_if_over(&mut self, actions: &mut Vec<Action>) {
        if self.finished {
            return;
        }
        let all_down = self.slots.iter().all(|s| matches!(s.run, Run::Down { .. }));
        let ending = match &self.ending {
            Some(ending) if all_down => Some(ending.clone()),
            None if !self.slots.is_empty()
                && self.slots.iter().all(|s| s.status.state.is_final()) =>
            {
                Some(Ending::AllDone)
            }
            _ => None,
        };
        if let Some(ending) = ending {
            self.ending = Some(ending.clone());
            self.finished = true;
            actions.push(Action::Finish(ending));
        }
    }
}

#[cfg(test)]
mod tests;
