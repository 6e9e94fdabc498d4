//! Parameters: values kept by the master, read and watched by nodes.
//!
//! A node's own parameters live under its name (`talker/rate`, written `rate` in the
//! node, as ROS writes `~rate`); a key starting with `/` is global. Values travel as
//! JSON text and are decoded into the type the node asks for.
//!
//! The feature owns its table of watched parameters (`table.rs`), which the control
//! server updates and which is watched again when the master forgot the node.

pub(crate) mod table;

use crate::base::NodeBase;
use crate::protocol::node_to_master::GetParam;
use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;
use table::Params;
use tokio::sync::{broadcast, watch};

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
    key: String,
    rx: watch::Receiver<Option<String>>,
    changes: broadcast::Receiver<Option<String>>,
    shutdown: crate::shutdown::Shutdown,
    _type: PhantomData<fn() -> T>,
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

/// The value of parameter `key` (resolved for the node), `None` if it is not set.
pub(crate) async fn get<T: DeserializeOwned>(base: &NodeBase, key: &str) -> Result<Option<T>> {
    let key = resolve_key(base.name().as_str(), key);
    let value = base
        .master()
        .ask_until_answered(GetParam { key: key.clone() }, base.shutdown())
        .await?;
    value.map(|json| decode(&key, &json)).transpose()
}

/// Follows parameter `key` (resolved for the node): its value now and every change.
pub(crate) async fn watch<T: DeserializeOwned>(
    base: &Arc<NodeBase>,
    table: &Params,
    key: &str,
) -> Result<ParamWatch<T>> {
    let key = resolve_key(base.name().as_str(), key);
    let (mut rx, mut changes) = table.slot(&key);
    base.registered(|| table.watch_at_master(base, vec![key.clone()]))
        .await?;
    // The value now is `current()`; `changed()` waits for the next one.
    rx.borrow_and_update();
    while changes.try_recv().is_ok() {}
    Ok(ParamWatch {
        key,
        rx,
        changes,
        shutdown: base.shutdown().clone(),
        _type: PhantomData,
    })
}
