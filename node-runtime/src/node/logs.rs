//! Publishing a node's captured log records (`crate::logs`) on the log topic.

use super::Node;
use crate::logs::{installed_hub, without_capture};
use crate::msgs::log::{Log, LOG_TOPIC};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::broadcast::error::RecvError;

/// Starts publishing this process's records as `node`, until the node has closed.
/// Does nothing in a process that does not capture its logs.
pub(super) fn start_forwarding(node: Node) {
    let Some(hub) = installed_hub() else {
        return;
    };
    let mut live = hub.subscribe();
    let closed = node.closed_flag().clone();
    tokio::spawn(async move {
        let publisher = match Unlogged(Box::pin(node.advertise::<Log>(LOG_TOPIC))).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "log records stay local: cannot advertise {LOG_TOPIC}");
                return;
            }
        };
        let (name, host) = (node.name().to_string(), node.host().to_owned());
        drop(node);
        loop {
            let record = tokio::select! {
                _ = closed.wait() => break,
                record = live.recv() => record,
            };
            match record {
                Ok(mut record) => {
                    record.node.clone_from(&name);
                    record.host.clone_from(&host);
                    // A failed publish has been logged by the publisher; keep going.
                    let _ = Unlogged(Box::pin(publisher.publish(&record))).await;
                }
                // The records are still in the ring; the topic skips them.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// A future whose own log events are not captured (they would be published again).
struct Unlogged<F>(Pin<Box<F>>);

impl<F: Future> Future for Unlogged<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        without_capture(|| self.0.as_mut().poll(cx))
    }
}
