//! `pinion health`: a node that reports its machine's health on
//! [`pinion::msgs::diagnostic::HEALTH_TOPIC`], once a period: the machine first (CPU
//! temperature, the Pi's throttling and under-voltage flags, load, memory, disk space,
//! SD-card writes), then every node the master lists on this host (CPU and resident
//! memory). Readings past a threshold raise the status's level and a warning in the log.
//! Every agent runs one beside the nodes of each launch it supervises.

pub mod readings;
mod report;

use pinion::msgs::diagnostic::{DiagnosticArray, HEALTH_TOPIC};
use pinion::msgs::std_msgs::Header;
use pinion::{Node, NodeOptions};
use readings::Sources;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pinion health`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time between reports.
    #[arg(long, default_value = "1s", value_parser = pinion_launch::model::parse_duration)]
    period: Duration,
    /// The node's name (default: `health_` and the host id).
    #[arg(long)]
    name: Option<String>,
}

/// Runs until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let host = pinion::host::host_id();
        let name = args
            .name
            .unwrap_or_else(|| pinion_launch::agent::server::health_node_name(&host));
        let node = Node::init(NodeOptions::from_env(&name)).await?;
        let publisher = node.advertise::<DiagnosticArray>(HEALTH_TOPIC).await?;
        let master = pinion::base::master_link::MasterLink::from_env(Duration::from_secs(1))?;
        let sources = Sources::from_env();
        let mut reporter = report::Reporter::new(host);
        let mut rate = node.rate(1.0 / args.period.as_secs_f64().max(0.01));
        let stop = super::termination();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                tick = rate.tick() => if tick.is_none() { break },
            }
            let nodes = master
                .ask(pinion::protocol::node_to_master::ListNodes)
                .await
                .unwrap_or_default();
            let topics = master
                .ask(pinion::protocol::node_to_master::ListTopics)
                .await
                .unwrap_or_default();
            let dropped = dropped_by_node(&nodes, &topics, reporter.host()).await;
            let status = reporter.report(&sources, &nodes, &dropped);
            let array = DiagnosticArray {
                header: Header::now(""),
                status,
            };
            if let Err(e) = publisher.publish(&array).await {
                tracing::warn!(error = %e, "cannot publish the health report");
            }
        }
        node.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// How long a node of this host has to say what it dropped.
const ASK_DROPPED: Duration = Duration::from_millis(300);

/// For each node of this host that publishes, the messages its subscribers did not get
/// from it, over all its topics (asked of the node; one that does not answer is left
/// out).
async fn dropped_by_node(
    nodes: &[pinion::protocol::master_to_node::NodeInfo],
    topics: &[pinion::protocol::master_to_node::TopicSummary],
    host: &str,
) -> std::collections::HashMap<String, u64> {
    use pinion::protocol::control::calls::Dropped;
    let mut out = std::collections::HashMap::new();
    for node in nodes.iter().filter(|n| n.host == host) {
        for topic in topics.iter().filter(|t| t.publishers.contains(&node.name)) {
            let call = Dropped {
                topic: topic.name.clone(),
            };
            if let Ok((n, _)) = super::control::ask_node(node, call, ASK_DROPPED).await {
                *out.entry(node.name.to_string()).or_insert(0) += n;
            }
        }
    }
    out
}
