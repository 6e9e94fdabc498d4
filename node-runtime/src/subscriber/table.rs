//! The node's subscriptions: found by topic for the control server, withdrawn when
//! dropped, subscribed again (on fresh connections) when the master forgot the node.

use super::task::SubCommand;
use crate::base::{NodeBase, Offers, OffersFuture};
use crate::message::TypeInfo;
use crate::names::TopicName;
use crate::protocol::master_to_node::{Listing, PublisherInfo};
use crate::protocol::node_to_master::{Subscribe, Unsubscribe};
use crate::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::mpsc;

/// A subscription, as the node needs to know it.
#[derive(Debug, Clone)]
pub(crate) struct LocalSubscription {
    pub(crate) topic: TopicName,
    pub(crate) type_info: TypeInfo,
    pub(crate) commands: mpsc::UnboundedSender<SubCommand>,
}

/// The subscriptions of a node, by subscriber id.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    by_id: Mutex<HashMap<u64, LocalSubscription>>,
}

impl Subscriptions {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, LocalSubscription>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a subscription, before the master hears of it, so that no publisher list
    /// sent in between is missed.
    pub(crate) fn add(&self, subscriber_id: u64, subscription: LocalSubscription) {
        self.lock().insert(subscriber_id, subscription);
    }

    /// Hands the master's current publisher list of `topic` to its subscriptions.
    pub(crate) fn on_publishers(&self, topic: &TopicName, publishers: &Listing<PublisherInfo>) {
        let of_topic: Vec<LocalSubscription> = self
            .lock()
            .values()
            .filter(|s| &s.topic == topic)
            .cloned()
            .collect();
        for subscription in of_topic {
            let _ = subscription
                .commands
                .send(SubCommand::Publishers(publishers.clone()));
        }
    }

    /// A dropped subscriber (or one the master refused): withdraw it from the master.
    pub(crate) fn forget(&self, base: &Arc<NodeBase>, topic: &TopicName, subscriber_id: u64) {
        self.lock().remove(&subscriber_id);
        if base.shutdown().is_triggered() {
            return;
        }
        let request = Unsubscribe {
            caller: base.caller(),
            topic: topic.clone(),
            subscriber_id,
        };
        let owner = base.clone();
        base.retire(async move {
            if let Err(e) = owner.master().ask(request).await {
                tracing::debug!(error = %e, "unsubscribe not delivered; the master expires it");
            }
        });
    }
}

/// Subscribes at the master and hands the subscription the publisher list the master
/// answers with.
pub(crate) async fn subscribe_at_master(
    base: &NodeBase,
    subscriber_id: u64,
    subscription: &LocalSubscription,
) -> Result<()> {
    let request = Subscribe {
        caller: base.caller(),
        topic: subscription.topic.clone(),
        type_info: subscription.type_info.clone(),
        subscriber_id,
    };
    let list = base
        .master()
        .ask_until_answered(request, base.shutdown())
        .await?;
    let _ = subscription.commands.send(SubCommand::Publishers(list));
    Ok(())
}

impl Offers for Subscriptions {
    fn register_again<'a>(&'a self, base: &'a NodeBase) -> OffersFuture<'a> {
        Box::pin(async move {
            let all: Vec<(u64, LocalSubscription)> =
                self.lock().iter().map(|(id, s)| (*id, s.clone())).collect();
            for (subscriber_id, subscription) in all {
                // Registering again means the node was cut off: make fresh connections.
                let _ = subscription.commands.send(SubCommand::Reconnect);
                if let Err(e) = subscribe_at_master(base, subscriber_id, &subscription).await {
                    tracing::error!(topic = %subscription.topic, error = %e, "could not subscribe again");
                }
            }
        })
    }
}
