//! `pinion node list` and `pinion topic list`: read the graph from the master.

use anyhow::{bail, Context};
use pinion::protocol::{self, MasterReply, NodeToMaster};
use pinion::transport::Requester;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// `pinion node ...`
#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// List the registered nodes.
    List,
}

/// `pinion topic ...`
#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// List the topics with their types.
    List,
}

pub fn ask(request: &NodeToMaster) -> anyhow::Result<MasterReply> {
    let endpoint = std::env::var("PINION_MASTER")
        .unwrap_or_else(|_| pinion::node::host::DEFAULT_MASTER.to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut requester = Requester::new(&endpoint, Duration::from_secs(2))?;
        let reply = requester
            .request(protocol::encode("request", request)?)
            .await
            .with_context(|| {
                format!("cannot reach the master at {endpoint} (set PINION_MASTER)")
            })?;
        Ok(protocol::decode::<MasterReply>("reply", &reply)?)
    })
}

/// Runs a node subcommand.
pub fn node(command: NodeCommand) -> anyhow::Result<ExitCode> {
    match command {
        NodeCommand::List => match ask(&NodeToMaster::ListNodes)? {
            MasterReply::Nodes(nodes) => {
                let mut out = std::io::stdout().lock();
                for n in nodes {
                    writeln!(out, "{}\thost={}\tpid={}", n.name, n.host, n.pid)?;
                }
                Ok(ExitCode::SUCCESS)
            }
            other => bail!("unexpected reply from the master: {other:?}"),
        },
    }
}

/// Runs a topic subcommand.
pub fn topic(command: TopicCommand) -> anyhow::Result<ExitCode> {
    match command {
        TopicCommand::List => match ask(&NodeToMaster::ListTopics)? {
            MasterReply::Topics(topics) => {
                let mut out = std::io::stdout().lock();
                for t in topics {
                    writeln!(
                        out,
                        "{}\t{}\tpublishers={}\tsubscribers={}",
                        t.name,
                        t.type_info.name,
                        t.publishers.len(),
                        t.subscribers.len()
                    )?;
                }
                Ok(ExitCode::SUCCESS)
            }
            other => bail!("unexpected reply from the master: {other:?}"),
        },
    }
}
