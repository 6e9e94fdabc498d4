//! Heartbeats to the master, and registering again when the master restarted.

use crate::base::master_link::needs_reregistration;
use crate::base::NodeBase;
use crate::protocol::master_to_node::MasterErrorKind;
use crate::protocol::node_to_master::Heartbeat;
use crate::shutdown::StopReason;
use crate::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time between two heartbeats.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);

/// Sends heartbeats until the node shuts down.
pub(super) async fn run(base: Arc<NodeBase>) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unreachable_since: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = base.shutdown().wait() => return,
            _ = tick.tick() => {}
        }
        let seen = base.registrations();
        let reply = base.master().ask(Heartbeat(base.caller())).await;
        let register_again = match reply {
            Ok(master_session) => {
                if let Some(since) = unreachable_since.take() {
                    tracing::info!(after = ?since.elapsed(), "master reachable again");
                }
                master_session != base.master_session()
            }
            Err(Error::Master(e)) if matches!(e.kind, MasterErrorKind::Replaced { .. }) => {
                base.shutdown().trigger(StopReason::Replaced(e.message));
                return;
            }
            Err(e) if needs_reregistration(&e) => true,
            Err(e) => {
                if unreachable_since.is_none() {
                    tracing::warn!(error = %e, "master unreachable; topic data keeps flowing");
                    unreachable_since = Some(Instant::now());
                }
                false
            }
        };
        if register_again {
            tracing::info!("the master does not know this node (it restarted, or expired the node); registering again");
            match base.register_again(seen).await {
                Ok(()) => tracing::info!("registered again"),
                Err(e) => tracing::warn!(error = %e, "registering again failed; will retry"),
            }
        }
    }
}
