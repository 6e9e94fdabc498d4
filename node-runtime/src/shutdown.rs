//! The shutdown signal every part of a node listens to.

use tokio::sync::watch;

/// Why a node is stopping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT, SIGTERM or an explicit request.
    Requested(String),
    /// A newer node took this node's name.
    Replaced(String),
}

/// A shutdown flag that can be awaited; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<Option<StopReason>>,
}

impl Shutdown {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self {
            tx: watch::channel(None).0,
        }
    }

    /// Sets the flag; the first reason is kept.
    pub fn trigger(&self, reason: StopReason) {
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Whether the flag is set.
    pub fn is_triggered(&self) -> bool {
        self.tx.borrow().is_some()
    }

    /// The reason, once set.
    pub fn reason(&self) -> Option<StopReason> {
        self.tx.borrow().clone()
    }

    /// Completes when the flag is set (at once if it already is).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // `wait_for` fails only if the sender is gone, which `self` prevents.
        let _ = rx.wait_for(Option::is_some).await;
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}
