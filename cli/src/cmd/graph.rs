//! `pinion node list` and `pinion topic list`: read the graph from the master.

use anyhow::{bail, Context};
use pinion::base::master_link::MasterLink;
use pinion::protocol::master_to_node::{MasterErrorKind, NodeInfo};
use pinion::protocol::node_to_master::{ListNodes, ListTopics, Request};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// `pinion node ...`
#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// List the registered nodes.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Host, pid and topics of a node.
    Info {
        /// The node.
        name: String,
    },
    /// Ask a node to shut down (its launcher may start it again, by its respawn policy).
    Kill {
        /// The node.
        name: String,
    },
}

/// Sends one request to the master (`PINION_MASTER`) and waits for the reply it names.
pub fn ask<R: Request>(request: R) -> anyhow::Result<R::Reply> {
    super::runtime()?.block_on(ask_master(request))
}

/// [`ask`], inside a runtime. A refusal is an error in the master's words.
pub async fn ask_master<R: Request>(request: R) -> anyhow::Result<R::Reply> {
    let endpoint =
        std::env::var("PINION_MASTER").unwrap_or_else(|_| pinion::host::DEFAULT_MASTER.to_owned());
    let key = pinion::auth::key_from_env()?;
    let link = MasterLink::with_timeout(&endpoint, key, Duration::from_secs(2))?;
    match link.ask(request).await {
        Ok(reply) => Ok(reply),
        Err(pinion::Error::Master(e)) if e.kind == MasterErrorKind::Unauthorized => {
            bail!("the master at {endpoint} {}", e.message)
        }
        Err(pinion::Error::Master(e)) => bail!("{}", e.message),
        Err(pinion::Error::Transport(e)) => Err(anyhow::Error::new(e))
            .with_context(|| format!("cannot reach the master at {endpoint} (set PINION_MASTER)")),
        Err(e) => Err(e.into()),
    }
}

/// The registered nodes, from the master.
pub async fn nodes() -> anyhow::Result<Vec<NodeInfo>> {
    ask_master(ListNodes).await
}

/// Runs a node subcommand.
pub fn node(command: NodeCommand) -> anyhow::Result<ExitCode> {
    let nodes = ask(ListNodes)?;
    let mut out = std::io::stdout().lock();
    let find = |name: &str| {
        let found = nodes
            .iter()
            .find(|n| n.name.as_str() == name.trim_start_matches('/'))
            .cloned();
        if found.is_none() {
            let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            eprintln!(
                "error: unknown node `{name}`; registered nodes: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
        found
    };
    match command {
        NodeCommand::List { json } => {
            for n in &nodes {
                if json {
                    let row = serde_json::json!({"node": n.name.to_string(), "host": n.host, "pid": n.pid, "last_seen_ms": n.last_seen_ms});
                    writeln!(out, "{row}")?;
                } else {
                    writeln!(out, "{}\thost={}\tpid={}", n.name, n.host, n.pid)?;
                }
            }
        }
        NodeCommand::Info { name } => {
            let Some(n) = find(&name) else {
                return Ok(ExitCode::FAILURE);
            };
            writeln!(
                out,
                "node: {}\nhost: {}\npid: {}\nlast heartbeat: {} ms ago",
                n.name, n.host, n.pid, n.last_seen_ms
            )?;
            {
                let topics = ask(ListTopics)?;
                let pubs: Vec<String> = topics
                    .iter()
                    .filter(|t| t.publishers.contains(&n.name))
                    .map(|t| format!("\n  {} [{}]", t.name, t.type_info.name))
                    .collect();
                let subs: Vec<String> = topics
                    .iter()
                    .filter(|t| t.subscribers.contains(&n.name))
                    .map(|t| format!("\n  {} [{}]", t.name, t.type_info.name))
                    .collect();
                writeln!(
                    out,
                    "publications:{}\nsubscriptions:{}",
                    pubs.concat(),
                    subs.concat()
                )?;
            }
        }
        NodeCommand::Kill { name } => {
            let Some(n) = find(&name) else {
                return Ok(ExitCode::FAILURE);
            };
            let call = pinion::protocol::control::calls::Shutdown {
                reason: "pinion node kill".to_owned(),
            };
            super::runtime()?
                .block_on(super::control::ask_node(&n, call, Duration::from_secs(2)))
                .with_context(|| format!("node `{name}` did not answer"))?;
            writeln!(out, "asked `{name}` to shut down")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
