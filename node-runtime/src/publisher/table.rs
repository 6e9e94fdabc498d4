//! The node's publishers: found by id and topic for the control server, withdrawn when
//! dropped, advertised again when the master forgot the node.

use super::shared::PublisherShared;
use crate::base::{NodeBase, Offers, OffersFuture};
use crate::names::TopicName;
use crate::protocol::node_to_master::{Advertise, Unadvertise};
use crate::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a retiring publisher waits for its subscribers' flush acknowledgements.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The publishers of a node, by id.
#[derive(Debug, Default)]
pub(crate) struct Publishers {
    by_id: Mutex<HashMap<u64, Arc<PublisherShared>>>,
}

impl Publishers {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<PublisherShared>>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The publisher with this id.
    pub(crate) fn get(&self, publisher_id: u64) -> Option<Arc<PublisherShared>> {
        self.lock().get(&publisher_id).cloned()
    }

    /// The publishers of `topic`.
    pub(crate) fn of(&self, topic: &TopicName) -> Vec<Arc<PublisherShared>> {
        self.lock()
            .values()
            .filter(|p| &p.topic == topic)
            .cloned()
            .collect()
    }

    /// Every publisher.
    pub(crate) fn all(&self) -> Vec<Arc<PublisherShared>> {
        self.lock().values().cloned().collect()
    }

    /// Adds a publisher, before the master hears of it, so that no subscriber list
    /// sent in between is missed.
    pub(crate) fn add(&self, shared: Arc<PublisherShared>) {
        self.lock().insert(shared.publisher_id, shared);
    }

    /// Removes a publisher the master refused.
    pub(crate) fn remove(&self, publisher_id: u64) {
        self.lock().remove(&publisher_id);
    }

    /// A dropped publisher: flush what it sent, then withdraw it from the master.
    pub(crate) fn forget(self: &Arc<Self>, base: &Arc<NodeBase>, shared: &Arc<PublisherShared>) {
        if tokio::runtime::Handle::try_current().is_err() {
            self.remove(shared.publisher_id);
            return;
        }
        let work = {
            let (table, base, shared) = (self.clone(), base.clone(), shared.clone());
            async move {
                // After `close` (or a stop) the node flushed already and its subscribers may
                // be gone: flushing again would only keep its sockets alive for the timeout.
                if !base.closed().is_triggered() {
                    if let Err(e) = shared.flush(&base, FLUSH_TIMEOUT).await {
                        tracing::warn!(topic = %shared.topic, error = %e, "flush failed");
                    }
                }
                table.remove(shared.publisher_id);
                if !base.shutdown().is_triggered() {
                    let request = Unadvertise {
                        caller: base.caller(),
                        topic: shared.topic.clone(),
                        publisher_id: shared.publisher_id,
                    };
                    if let Err(e) = base.master().ask(request).await {
                        tracing::debug!(error = %e, "unadvertise not delivered; the master expires it");
                    }
                }
            }
        };
        base.retire(work);
    }
}

/// Advertises `publisher` at the master and hands it the subscriber list the master
/// answers with.
pub(crate) async fn advertise_at_master(
    base: &NodeBase,
    publisher: &PublisherShared,
) -> Result<()> {
    let request = Advertise {
        caller: base.caller(),
        topic: publisher.topic.clone(),
        type_info: publisher.type_info.clone(),
        publisher_id: publisher.publisher_id,
        latched: publisher.latched,
    };
    let list = base
        .master()
        .ask_until_answered(request, base.shutdown())
        .await?;
    publisher.on_subscribers(&list);
    Ok(())
}

impl Offers for Publishers {
    fn register_again<'a>(&'a self, base: &'a NodeBase) -> OffersFuture<'a> {
        Box::pin(async move {
            for publisher in self.all() {
                if let Err(e) = advertise_at_master(base, &publisher).await {
                    tracing::error!(topic = %publisher.topic, error = %e, "could not advertise again");
                }
            }
        })
    }
}
