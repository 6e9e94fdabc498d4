//! Parameters: values kept by the master, read and watched by nodes.
//!
//! A node's own parameters live under its name (`talker/rate`, written `rate` in the
//! node, as ROS writes `~rate`); a key starting with `/` is global. Values travel as
//! JSON text and are decoded into the type the node asks for.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use tokio::sync::{broadcast, watch};

/// Changes a watcher that does not read keeps before it skips the oldest.
const CHANGES_KEPT: usize = 64;

/// A node's copy of one watched parameter: the value now, and its changes in order.
#[derive(Debug)]
pub(crate) struct ParamSlot {
    current: watch::Sender<Option<String>>,
    changes: broadcast::Sender<Option<String>>,
}

impl ParamSlot {
    pub(crate) fn new() -> Self {
        Self {
            current: watch::channel(None).0,
            changes: broadcast::channel(CHANGES_KEPT).0,
        }
    }

    /// Records a value (`None`: deleted); a change reaches every watcher.
    pub(crate) fn set(&self, value: Option<String>) {
        let changed = self.current.send_if_modified(|v| {
            let changed = *v != value;
            *v = value.clone();
            changed
        });
        if changed {
            let _ = self.changes.send(value);
        }
    }

    pub(crate) fn subscribe(
        &self,
    ) -> (
        watch::Receiver<Option<String>>,
        broadcast::Receiver<Option<String>>,
    ) {
        (self.current.subscribe(), self.changes.subscribe())
    }
}

/// The full key of `key` for node `node`.
pub fn resolve_key(node: &str, key: &str) -> String {
    match key.strip_prefix('/') {
        Some(global) => global.to_owned(),
        None => format!("{node}/{key}"),
    }
}

/// Decodes a parameter's JSON text into `T`, naming the key in the error.
pub fn decode<T: DeserializeOwned>(key: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::Param {
        key: key.to_owned(),
        message: format!("value {json} does not fit the type asked for: {e}"),
    })
}

/// Follows one parameter: its current value, and each change, in order (a watcher that
/// falls more than 64 changes behind skips the oldest, with a warning).
#[derive(Debug)]
pub struct ParamWatch<T> {
    pub(crate) key: String,
    pub(crate) rx: watch::Receiver<Option<String>>,
    pub(crate) changes: broadcast::Receiver<Option<String>>,
    pub(crate) shutdown: crate::shutdown::Shutdown,
    pub(crate) _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> ParamWatch<T> {
    /// The full key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The current value (`None` while it is not set).
    pub fn current(&self) -> Result<Option<T>> {
        let value = self.rx.borrow().clone();
        value.map(|json| decode(&self.key, &json)).transpose()
    }

    /// The next change not seen yet, without waiting (`Some(Ok(None))`: deleted).
    pub fn try_changed(&mut self) -> Option<Result<Option<T>>> {
        loop {
            match self.changes.try_recv() {
                Ok(value) => return Some(self.decode(value)),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.lagged(n),
                Err(_) => return None,
            }
        }
    }

    /// Waits for the next change and returns the new value (`Ok(None)`: deleted);
    /// `None` once the node stops.
    pub async fn changed(&mut self) -> Option<Result<Option<T>>> {
        loop {
            tokio::select! {
                change = self.changes.recv() => match change {
                    Ok(value) => return Some(self.decode(value)),
                    Err(broadcast::error::RecvError::Lagged(n)) => self.lagged(n),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.shutdown.wait() => return None,
            }
        }
    }

    fn decode(&mut self, value: Option<String>) -> Result<Option<T>> {
        self.rx.borrow_and_update();
        value.map(|json| decode(&self.key, &json)).transpose()
    }

    fn lagged(&self, skipped: u64) {
        tracing::warn!(key = %self.key, skipped, "parameter watcher fell behind; skipped the oldest changes");
    }
}
