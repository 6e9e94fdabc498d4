//! Parameters: values kept by the master, read and watched by nodes.
//!
//! A node's own parameters live under its name (`talker/rate`, written `rate` in the
//! node, as ROS writes `~rate`); a key starting with `/` is global. Values travel as
//! JSON text and are decoded into the type the node asks for.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use tokio::sync::watch;

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

/// Follows one parameter: its current value, and each change.
#[derive(Debug)]
pub struct ParamWatch<T> {
    pub(crate) key: String,
    pub(crate) rx: watch::Receiver<Option<String>>,
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

    /// The new value if it changed since last seen, without waiting.
    pub fn try_changed(&mut self) -> Option<Result<Option<T>>> {
        if self.rx.has_changed().unwrap_or(false) {
            self.rx.borrow_and_update();
            Some(self.current())
        } else {
            None
        }
    }

    /// Waits for the next change and returns the new value; `None` once the node stops.
    pub async fn changed(&mut self) -> Option<Result<Option<T>>> {
        tokio::select! {
            changed = self.rx.changed() => {
                changed.ok()?;
                Some(self.current())
            }
            _ = self.shutdown.wait() => None,
        }
    }
}
