//! Requests to other nodes' control sockets, one client per endpoint.

use crate::protocol::control::{ControlReply, ControlRequest};
use crate::protocol::{self};
use crate::transport::Requester;
use crate::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Time allowed for one control request to a peer.
pub const PEER_TIMEOUT: Duration = Duration::from_millis(1000);

/// A pool of control clients, one per peer endpoint.
#[derive(Debug, Default)]
pub struct Peers {
    clients: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Requester>>>>,
    key: Option<crate::auth::Key>,
}

impl Peers {
    /// No clients yet; with a key, each connection proves it holds it.
    pub fn new(key: Option<crate::auth::Key>) -> Self {
        Self {
            clients: Mutex::default(),
            key,
        }
    }

    /// Sends a control request to `endpoint` and returns the reply.
    pub async fn request(&self, endpoint: &str, request: &ControlRequest) -> Result<ControlReply> {
        let client = {
            let mut clients = self
                .clients
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match clients.get(endpoint) {
                Some(c) => c.clone(),
                None => {
                    let c = Arc::new(tokio::sync::Mutex::new(
                        Requester::new(endpoint, PEER_TIMEOUT)?.with_key(self.key.clone()),
                    ));
                    clients.insert(endpoint.to_owned(), c.clone());
                    c
                }
            }
        };
        let body = protocol::encode("control request", request)?;
        let reply = client.lock().await.request(body).await?;
        protocol::decode("control reply", &reply)
    }

    /// Forgets the client of an endpoint (its node is gone).
    pub fn forget(&self, endpoint: &str) {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(endpoint);
    }
}
