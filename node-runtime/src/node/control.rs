//! The node's control server: graph updates from the master, handshakes from peers.

use super::Features;
use crate::base::NodeBase;
use crate::protocol::control::{ControlReply, ControlRequest, NodeIdentity};
use crate::protocol::{self};
use crate::shutdown::StopReason;
use crate::transport::Replier;
use std::sync::Arc;

/// Serves control requests until the node shuts down.
pub(super) async fn serve(base: Arc<NodeBase>, features: Arc<Features>, mut replier: Replier) {
    loop {
        let frames = tokio::select! {
            _ = base.closed().wait() => break,
            frames = replier.recv() => frames,
        };
        let reply = match frames {
            Ok(frames) if frames.len() == 1 => {
                match protocol::decode::<ControlRequest>("control request", &frames[0]) {
                    Ok(request) => handle(&base, &features, request).await,
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

async fn handle(
    base: &Arc<NodeBase>,
    features: &Features,
    request: ControlRequest,
) -> ControlReply {
    match request {
        ControlRequest::PublisherUpdate { topic, publishers } => {
            features.subscriptions.on_publishers(&topic, &publishers);
            ControlReply::Ok
        }
        ControlRequest::SubscriberUpdate { topic, subscribers } => {
            for publisher in features.publishers.of(&topic) {
                publisher.on_subscribers(&subscribers);
            }
            ControlReply::Ok
        }
        ControlRequest::Shutdown {
            reason,
            replaced,
            session,
        } => {
            if let Some(session) = session.filter(|&s| s != base.session()) {
                tracing::warn!(
                    %reason,
                    "ignored a shutdown meant for session {session:016x} (this is {:016x})",
                    base.session()
                );
                return ControlReply::Error(format!(
                    "this node is session {:016x}, not {session:016x}",
                    base.session()
                ));
            }
            if replaced {
                tracing::warn!(%reason, "shutdown requested");
            } else {
                tracing::info!(%reason, "shutdown requested");
            }
            base.shutdown().trigger(if replaced {
                StopReason::Replaced(reason)
            } else {
                StopReason::Requested(reason)
            });
            ControlReply::Ok
        }
        ControlRequest::Hello {
            publisher_id,
            subscriber_id,
        } => match features.publishers.get(publisher_id) {
            Some(p) => {
                p.on_hello(base, subscriber_id);
                ControlReply::Ok
            }
            None => ControlReply::Error(format!("no publisher {publisher_id:016x} here")),
        },
        ControlRequest::Confirm {
            publisher_id,
            subscriber_id,
        } => match features.publishers.get(publisher_id) {
            Some(p) => {
                p.on_confirm(base, subscriber_id).await;
                ControlReply::Ok
            }
            None => ControlReply::Error(format!("no publisher {publisher_id:016x} here")),
        },
        ControlRequest::FlushAck {
            publisher_id,
            subscriber_id,
            token,
        } => {
            if let Some(p) = features.publishers.get(publisher_id) {
                p.on_flush_ack(subscriber_id, token);
            }
            ControlReply::Ok
        }
        ControlRequest::ParamUpdate { key, value_json } => {
            features.params.set(&key, Some(value_json));
            ControlReply::Ok
        }
        ControlRequest::ParamDeleted { key } => {
            features.params.set(&key, None);
            ControlReply::Ok
        }
        ControlRequest::Ping => ControlReply::Ok,
        ControlRequest::Dropped { topic } => ControlReply::Dropped(
            base.data()
                .dropped(&crate::protocol::header::topic_frame(topic.as_str())),
        ),
        ControlRequest::RecentLogs { after_seq, max } => {
            let mut records = crate::logs::recent(after_seq, max as usize);
            for r in &mut records {
                r.node = base.name().to_string();
                r.host = base.host().to_owned();
            }
            ControlReply::Logs(records)
        }
        ControlRequest::Identify => ControlReply::Identity(NodeIdentity {
            host: base.host().to_owned(),
            pid: std::process::id(),
            clock_ns: crate::host::now_ns(),
            machine: crate::host::machine_fingerprint(),
            data: base.data_endpoints().clone(),
        }),
    }
}
