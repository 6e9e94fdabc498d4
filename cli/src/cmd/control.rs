//! Requests from a tool to a node's control socket.

use anyhow::{bail, Context};
use pinion::protocol::call::Call;
use pinion::protocol::control::{ControlReply, ControlRequest};
use pinion::protocol::master_to_node::NodeInfo;
use pinion::protocol::{self};
use pinion::transport::Requester;
use std::time::{Duration, Instant};

/// The endpoint of `node`'s control socket as seen from this host.
pub fn endpoint(node: &NodeInfo) -> anyhow::Result<String> {
    let here = pinion::host::host_id();
    match node.control.pick(&node.host, &here) {
        Some(e) => Ok(e.to_owned()),
        None => bail!("node `{}` has no control endpoint", node.name),
    }
}

/// Makes one call on `node`'s control socket; its answer and the round-trip time. A
/// refusal is an error in the node's words; another reply, an error that says so.
pub async fn ask_node<C>(
    node: &NodeInfo,
    call: C,
    timeout: Duration,
) -> anyhow::Result<(C::Answer, Duration)>
where
    C: Call<Request = ControlRequest, Reply = ControlReply>,
{
    let endpoint = endpoint(node)?;
    let mut client = Requester::new(&endpoint, timeout)?.with_key(pinion::auth::key_from_env()?);
    let body = protocol::encode("control request", &call.request())?;
    let sent = Instant::now();
    let reply = client
        .request(body)
        .await
        .with_context(|| format!("node `{}` did not answer at {endpoint}", node.name))?;
    let rtt = sent.elapsed();
    match C::answer(protocol::decode("control reply", &reply)?) {
        Ok(answer) => Ok((answer, rtt)),
        Err(ControlReply::Error(e)) => bail!("node `{}`: {e}", node.name),
        Err(other) => bail!(
            "node `{}` answered {other:?}, which is no answer to this request (a node of another Pinion?)",
            node.name
        ),
    }
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
