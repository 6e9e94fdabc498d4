//! Is a version that was just switched to healthy? Every node of the launch must be
//! running on its machine, registered with the master under its pid, and advertising
//! every topic its code publishes (its manifest, where its program has one) by the
//! launch file's `health_deadline`, and then stay so, with no exit and no restart, for
//! `steady_for`. A node that exits or restarts in that time fails the check at once,
//! without waiting for the deadline.
//!
//! What the check saw of a failing node (its state, how it last ended, its last output
//! lines from its agent) goes into [`Unhealthy`], for the person who deployed.

use crate::agent::auth::Key;
use crate::agent::client::AgentClient;
use crate::agent::protocol::calls;
use crate::model::LaunchFile;
use crate::remote::{agent_of, by_machine, launch_id};
use crate::status::{NodeState, NodeStatus};
use pinion::base::master_link::MasterLink;
use pinion::protocol::master_to_node::TopicSummary;
use pinion::protocol::node_to_master::{ListNodes, ListTopics};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// How long one agent or master request may take during the check.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the machines are looked at.
const POLL: Duration = Duration::from_millis(250);
/// Output lines kept per failing node.
pub const LAST_LINES: usize = 12;
/// Requests for output per machine at most (each returns up to 2000 lines).
const MAX_LOG_REQUESTS: usize = 64;

/// A node that kept the new version from being healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedNode {
    /// The machine it runs on.
    pub machine: String,
    /// Its name in the launch file.
    pub node: String,
    /// What was wrong, for people.
    pub reason: String,
    /// Its last lines of output (stdout and stderr), oldest first.
    pub last_lines: Vec<String>,
}

/// Why a version is not healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhealthy {
    /// The nodes at fault (at least one).
    pub failed: Vec<FailedNode>,
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, node) in self.failed.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "node `{}` on `{}`: {}",
                node.node, node.machine, node.reason
            )?;
            if node.last_lines.is_empty() {
                write!(f, "\n    (it printed nothing)")?;
            }
            for line in &node.last_lines {
                write!(f, "\n    | {line}")?;
            }
        }
        Ok(())
    }
}

/// One node the check waits for.
#[derive(Debug)]
struct Expected {
    machine: String,
    /// Its name in the launch file (and in the agent's status).
    name: String,
    /// Its name at the master; `None` for the master itself.
    graph_name: Option<String>,
    /// The topics its code publishes, as named in the graph.
    publishes: Vec<String>,
}

/// The topics each node's code publishes (from the manifests of the programs that have
/// one), by node name, as named in the graph.
pub type Publications = BTreeMap<String, Vec<String>>;

/// Waits until the version that `file` describes runs healthy on every machine, or
/// says which nodes keep it from that.
pub async fn until_healthy(
    file: &LaunchFile,
    master: &str,
    key: &Key,
    publications: &Publications,
) -> Result<(), Unhealthy> {
    let spec = file.deploy;
    let id = launch_id(file);
    let mut expected: Vec<Expected> = by_machine(file)
        .into_iter()
        .flat_map(|(machine, nodes)| {
            nodes.into_iter().map(move |n| Expected {
                machine: machine.clone(),
                name: n.name.clone(),
                graph_name: Some(n.graph_name()),
                publishes: publications.get(&n.name).cloned().unwrap_or_default(),
            })
        })
        .collect();
    if let Some(machine) = &file.master.machine {
        expected.push(Expected {
            machine: machine.clone(),
            name: "master".to_owned(),
            graph_name: None,
            publishes: Vec::new(),
        });
    }
    let mut agents = BTreeMap::new();
    for e in &expected {
        if agents.contains_key(&e.machine) {
            continue;
        }
        let client = agent_of(file, &e.machine)
            .ok()
            .and_then(|(_, endpoint)| AgentClient::new(endpoint, key.clone(), ASK_TIMEOUT).ok());
        if let Some(client) = client {
            agents.insert(e.machine.clone(), client);
        }
    }
    let master_key = pinion::auth::key_from_env().ok().flatten();
    let master_link = MasterLink::with_timeout(master, master_key, ASK_TIMEOUT).ok();

    let deadline = Instant::now() + spec.health_deadline;
    let mut steady_since: Option<Instant> = None;
    loop {
        let rows = statuses(&mut agents, &id).await;
        let (registered, topics) = match &master_link {
            Some(link) => (
                link.ask(ListNodes).await.ok(),
                link.ask(ListTopics).await.unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let mut broken = Vec::new();
        let mut waiting = Vec::new();
        for e in &expected {
            let row = rows.get(&(e.machine.clone(), e.name.clone()));
            match judge(e, row, registered.as_deref(), &topics) {
                Judgement::Up => {}
                Judgement::NotYet(reason) => waiting.push((e, reason)),
                Judgement::Broken(reason) => broken.push((e, reason)),
            }
        }
        let now = Instant::now();
        if !broken.is_empty() {
            return Err(report(&mut agents, &id, broken).await);
        }
        if waiting.is_empty() {
            let since = *steady_since.get_or_insert(now);
            if now - since >= spec.steady_for {
                return Ok(());
            }
        } else {
            // Steady means steady from the moment every node is up.
            steady_since = None;
            if now >= deadline {
                let waited = format!(" after {:?}", spec.health_deadline);
                let late = waiting
                    .into_iter()
                    .map(|(e, reason)| (e, format!("{reason}{waited}")))
                    .collect();
                return Err(report(&mut agents, &id, late).await);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

enum Judgement {
    Up,
    NotYet(String),
    Broken(String),
}

fn judge(
    e: &Expected,
    row: Option<&NodeStatus>,
    registered: Option<&[pinion::protocol::master_to_node::NodeInfo]>,
    topics: &[TopicSummary],
) -> Judgement {
    let Some(row) = row else {
        return Judgement::NotYet(format!("its agent on `{}` did not report it", e.machine));
    };
    let how = row.last_exit.as_deref().unwrap_or("ended");
    if row.restarts > 0 {
        let times = if row.restarts == 1 { "time" } else { "times" };
        return Judgement::Broken(format!(
            "restarted {} {times} since the switch (last run: {how})",
            row.restarts
        ));
    }
    match row.state {
        NodeState::Running => {}
        // A node that did its work and ended, and is not to be restarted.
        NodeState::Exited if how == "exit code 0" => return Judgement::Up,
        NodeState::Failed | NodeState::Exited | NodeState::Backoff => {
            return Judgement::Broken(format!("not running ({how})"));
        }
        NodeState::Waiting | NodeState::Stopping => {
            return Judgement::NotYet(format!("not running ({:?})", row.state).to_lowercase());
        }
    }
    let (Some(graph_name), Some(pid)) = (&e.graph_name, row.pid) else {
        return Judgement::Up;
    };
    let Some(registered) = registered else {
        return Judgement::NotYet("the master did not answer".to_owned());
    };
    if !registered
        .iter()
        .any(|n| n.name.as_str() == graph_name && n.pid == pid)
    {
        return Judgement::NotYet(format!(
            "running (pid {pid}) but not registered with the master as `{graph_name}`"
        ));
    }
    let silent: Vec<&str> = e
        .publishes
        .iter()
        .filter(|topic| {
            !topics.iter().any(|t| {
                t.name.as_str().trim_start_matches('/') == topic.trim_start_matches('/')
                    && t.publishers.iter().any(|p| p.as_str() == graph_name)
            })
        })
        .map(String::as_str)
        .collect();
    if silent.is_empty() {
        Judgement::Up
    } else {
        Judgement::NotYet(format!(
            "registered, but does not publish {} (its code does)",
            silent
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Every machine's status rows, by (machine, node); machines that do not answer are left out.
async fn statuses(
    agents: &mut BTreeMap<String, AgentClient>,
    id: &str,
) -> BTreeMap<(String, String), NodeStatus> {
    let mut rows = BTreeMap::new();
    for (machine, client) in agents.iter_mut() {
        let call = calls::Status {
            launch: id.to_owned(),
        };
        if let Ok(list) = client.ask(call).await {
            for row in list {
                rows.insert((machine.clone(), row.name.clone()), row);
            }
        }
    }
    rows
}

/// The failing nodes with their last output lines.
async fn report(
    agents: &mut BTreeMap<String, AgentClient>,
    id: &str,
    nodes: Vec<(&Expected, String)>,
) -> Unhealthy {
    let mut failed = Vec::new();
    for (e, reason) in nodes {
        let last_lines = match agents.get_mut(&e.machine) {
            Some(client) => last_lines(client, id, &e.name).await,
            None => Vec::new(),
        };
        failed.push(FailedNode {
            machine: e.machine.clone(),
            node: e.name.clone(),
            reason,
            last_lines,
        });
    }
    Unhealthy { failed }
}

/// The last [`LAST_LINES`] lines `node` printed in this version (its agent keeps each
/// version's output from the switch on).
async fn last_lines(client: &mut AgentClient, id: &str, node: &str) -> Vec<String> {
    let mut kept = VecDeque::with_capacity(LAST_LINES);
    let mut after = 0;
    for _ in 0..MAX_LOG_REQUESTS {
        let call = calls::Logs {
            launch: id.to_owned(),
            after,
        };
        let Ok(lines) = client.ask(call).await else {
            break;
        };
        let Some(last) = lines.last() else {
            break;
        };
        after = last.seq;
        for line in lines.into_iter().filter(|l| l.node == node) {
            if kept.len() == LAST_LINES {
                kept.pop_front();
            }
            kept.push_back(line.text);
        }
    }
    kept.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinion::names::{NodeName, TopicName};
    use pinion::protocol::master_to_node::NodeInfo;
    use pinion::Message;

    #[test]
    fn a_node_is_up_once_running_registered_under_its_pid_and_publishing() {
        let e = Expected {
            machine: "pi".to_owned(),
            name: "odometry".to_owned(),
            graph_name: Some("odometry".to_owned()),
            publishes: vec!["odom".to_owned()],
        };
        let row = NodeStatus {
            name: "odometry".to_owned(),
            machine: "local".to_owned(),
            pid: Some(42),
            state: NodeState::Running,
            restarts: 0,
            since: None,
            last_exit: None,
        };
        let node = |pid| NodeInfo {
            name: NodeName::new("odometry").expect("name"),
            host: "pi".to_owned(),
            pid,
            session: 1,
            last_seen_ms: 0,
            control: pinion::protocol::Endpoints {
                ipc: None,
                tcp: None,
            },
        };
        let odom = TopicSummary {
            name: TopicName::new("odom").expect("name"),
            type_info: pinion::msgs::nav::Odometry::type_info(),
            publishers: vec![NodeName::new("odometry").expect("name")],
            subscribers: Vec::new(),
        };
        let verdict = |row: &NodeStatus, nodes: &[NodeInfo], topics: &[TopicSummary]| match judge(
            &e,
            Some(row),
            Some(nodes),
            topics,
        ) {
            Judgement::Up => "up".to_owned(),
            Judgement::NotYet(why) => format!("not yet: {why}"),
            Judgement::Broken(why) => format!("broken: {why}"),
        };
        assert_eq!(
            verdict(&row, &[node(42)], std::slice::from_ref(&odom)),
            "up"
        );
        let stale = verdict(&row, &[node(7)], std::slice::from_ref(&odom));
        assert!(
            stale.contains("not registered"),
            "another pid is an old process: {stale}"
        );
        let silent = verdict(&row, &[node(42)], &[]);
        assert!(silent.contains("does not publish `odom`"), "{silent}");
        let crashed = NodeStatus {
            restarts: 1,
            last_exit: Some("exit code 2".to_owned()),
            ..row.clone()
        };
        let broken = verdict(&crashed, &[node(42)], &[odom]);
        assert!(broken.starts_with("broken: restarted 1 time"), "{broken}");
    }
}
