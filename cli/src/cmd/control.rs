//! Requests from a tool to a node's control socket.

use anyhow::{bail, Context};
use pinion::protocol::control::{ControlReply, ControlRequest};
use pinion::protocol::master_to_node::NodeInfo;
use pinion::protocol::node_to_master::ListNodes;
use pinion::protocol::{self};
use pinion::transport::Requester;
use std::time::{Duration, Instant};

/// The registered nodes, from the master.
pub async fn nodes() -> anyhow::Result<Vec<NodeInfo>> {
    super::graph::ask_master(ListNodes).await
}

/// The endpoint of `node`'s control socket as seen from this host.
pub fn endpoint(node: &NodeInfo) -> anyhow::Result<String> {
    let here = pinion::node::host::host_id();
    match node.control.pick(&node.host, &here) {
        Some(e) => Ok(e.to_owned()),
        None => bail!("node `{}` has no control endpoint", node.name),
    }
}

/// Sends one request to `node`'s control socket; the reply and the round-trip time.
pub async fn ask_node(
    node: &NodeInfo,
    request: &ControlRequest,
    timeout: Duration,
) -> anyhow::Result<(ControlReply, Duration)> {
    let endpoint = endpoint(node)?;
    let mut client = Requester::new(&endpoint, timeout)?.with_key(pinion::auth::key_from_env()?);
    let body = protocol::encode("control request", request)?;
    let sent = Instant::now();
    let reply = client
        .request(body)
        .await
        .with_context(|| format!("node `{}` did not answer at {endpoint}", node.name))?;
    let rtt = sent.elapsed();
    Ok((protocol::decode("control reply", &reply)?, rtt))
}

/// The node called `name`, or an error that lists the registered ones.
pub fn find<'a>(nodes: &'a [NodeInfo], name: &str) -> anyhow::Result<&'a NodeInfo> {
    let wanted = name.trim_start_matches('/');
    if let Some(n) = nodes.iter().find(|n| n.name.as_str() == wanted) {
        return Ok(n);
    }
    let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    bail!(
        "unknown node `{name}`; registered nodes: {}",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )
}
