//! The node's control server: graph updates from the master, handshakes from peers.

use super::inner::NodeInner;
use crate::protocol::control::{ControlReply, ControlRequest, NodeIdentity};
use crate::protocol::{self};
use crate::shutdown::StopReason;
use crate::subscription::SubCommand;
use crate::transport::Replier;
use std::sync::Arc;

/// Serves control requests until the node shuts down.
pub(crate) async fn serve(node: Arc<NodeInner>, mut replier: Replier) {
    loop {
        let frames = tokio::select! {
            _ = node.closed.wait() => break,
            frames = replier.recv() => frames,
        };
        let reply = match frames {
            Ok(frames) if frames.len() == 1 => {
                match protocol::decode::<ControlRequest>("control request", &frames[0]) {
                    Ok(request) => handle(&node, request).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "malformed control request");
                        ControlReply::Error(e.to_string())
                    }
                }
            }
            Ok(frames) => {
                tracing::warn!(
                    frames = frames.len(),
                    "control request with a wrong frame count"
                );
                ControlReply::Error(format!("expected 1 frame, got {}", frames.len()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket receive failed");
                continue;
            }
        };
        let body = match protocol::encode("control reply", &reply) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode control reply");
                continue;
            }
        };
        if let Err(e) = replier.send(body).await {
            tracing::debug!(error = %e, "control reply not sent");
        }
    }
}

async fn handle(node: &Arc<NodeInner>, request: ControlRequest) -> ControlReply {
    match request {
        ControlRequest::PublisherUpdate { topic, publishers } => {
            for sub in node.subscriptions_of(&topic) {
                let _ = sub
                    .commands
                    .send(SubCommand::Publishers(publishers.clone()));
            }
            ControlReply::Ok
        }
        ControlRequest::SubscriberUpdate { topic, subscribers } => {
            for publisher in node.publishers_of(&topic) {
                publisher.on_subscribers(&subscribers);
            }
            ControlReply::Ok
        }
        ControlRequest::Shutdown { reason, replaced } => {
            if replaced {
                tracing::warn!(%reason, "shutdown requested");
            } else {
                tracing::info!(%reason, "shutdown requested");
            }
            node.shutdown.trigger(if replaced {
                StopReason::Replaced(reason)
            } else {
                StopReason::Requested(reason)
            });
            ControlReply::Ok
        }
        ControlRequest::Hello {
            publisher_id,
            subscriber_id,
        } => match node.publisher(publisher_id) {
            Some(p) => {
                p.on_hello(node, subscriber_id);
                ControlReply::Ok
            }
            None => ControlReply::Error(format!("no publisher {publisher_id:016x} here")),
        },
        ControlRequest::Confirm {
            publisher_id,
            subscriber_id,
        } => match node.publisher(publisher_id) {
            Some(p) => {
                p.on_confirm(node, subscriber_id).await;
                ControlReply::Ok
            }
            None => ControlReply::Error(format!("no publisher {publisher_id:016x} here")),
        },
        ControlRequest::FlushAck {
            publisher_id,
            subscriber_id,
            token,
        } => {
            if let Some(p) = node.publisher(publisher_id) {
                p.on_flush_ack(subscriber_id, token);
            }
            ControlReply::Ok
        }
        ControlRequest::ParamUpdate { key, value_json } => {
            node.set_param_value(&key, Some(value_json));
            ControlReply::Ok
        }
        ControlRequest::ParamDeleted { key } => {
            node.set_param_value(&key, None);
            ControlReply::Ok
        }
        ControlRequest::Ping => ControlReply::Ok,
        ControlRequest::RecentLogs { after_seq, max } => {
            let mut records = crate::logs::recent(after_seq, max as usize);
            for r in &mut records {
                r.node = node.name.to_string();
                r.host.clone_from(&node.host);
            }
            ControlReply::Logs(records)
        }
        ControlRequest::Identify => ControlReply::Identity(NodeIdentity {
            host: node.host.clone(),
            pid: std::process::id(),
            clock_ns: super::host::now_ns(),
            machine: super::host::machine_fingerprint(),
            data: node.data_endpoints.clone(),
        }),
    }
}
