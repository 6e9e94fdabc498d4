//! The parameters a node watches: the latest value of each and its changes in order,
//! set by the control server from the master's notices, and watched again when the
//! master forgot the node.

use crate::base::{NodeBase, Offers, OffersFuture};
use crate::protocol::node_to_master::WatchParams;
use crate::Result;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::{broadcast, watch};

/// Changes a watcher that does not read keeps before it skips the oldest.
const CHANGES_KEPT: usize = 64;

/// A node's copy of one watched parameter: the value now, and its changes in order.
#[derive(Debug)]
struct ParamSlot {
    current: watch::Sender<Option<String>>,
    changes: broadcast::Sender<Option<String>>,
}

impl ParamSlot {
    fn new() -> Self {
        Self {
            current: watch::channel(None).0,
            changes: broadcast::channel(CHANGES_KEPT).0,
        }
    }

    /// Records a value (`None`: deleted); a change reaches every watcher.
    fn set(&self, value: Option<String>) {
        let changed = self.current.send_if_modified(|v| {
            let changed = *v != value;
            *v = value.clone();
            changed
        });
        if changed {
            let _ = self.changes.send(value);
        }
    }

    fn subscribe(
        &self,
    ) -> (
        watch::Receiver<Option<String>>,
        broadcast::Receiver<Option<String>>,
    ) {
        (self.current.subscribe(), self.changes.subscribe())
    }
}

/// The watched parameters of a node, by full key.
#[derive(Debug, Default)]
pub(crate) struct Params {
    slots: Mutex<HashMap<String, ParamSlot>>,
}

impl Params {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, ParamSlot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new watcher of `key`: the value now, and the changes from now on.
    pub(crate) fn slot(
        &self,
        key: &str,
    ) -> (
        watch::Receiver<Option<String>>,
        broadcast::Receiver<Option<String>>,
    ) {
        self.lock()
            .entry(key.to_owned())
            .or_insert_with(ParamSlot::new)
            .subscribe()
    }

    /// Records a watched parameter's value (`None`: deleted), from the master.
    pub(crate) fn set(&self, key: &str, value: Option<String>) {
        if let Some(slot) = self.lock().get(key) {
            slot.set(value);
        }
    }

    /// Asks the master to report changes of `keys`, and records their current values.
    pub(crate) async fn watch_at_master(&self, base: &NodeBase, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let request = WatchParams {
            caller: base.caller(),
            keys: keys.clone(),
        };
        let values = base
            .master()
            .ask_until_answered(request, base.shutdown())
            .await?;
        for key in keys {
            let value = values
                .iter()
                .find(|(k, _)| k == &key)
                .map(|(_, v)| v.clone());
            self.set(&key, value);
        }
        Ok(())
    }
}

impl Offers for Params {
    fn register_again<'a>(&'a self, base: &'a NodeBase) -> OffersFuture<'a> {
        Box::pin(async move {
            let watched: Vec<String> = self.lock().keys().cloned().collect();
            if let Err(e) = self.watch_at_master(base, watched).await {
                tracing::error!(error = %e, "could not watch parameters again");
            }
        })
    }
}
