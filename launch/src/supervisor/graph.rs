//! What the supervisor asks of the running graph: who is registered, and please stop.

use pinion::base::master_link::MasterLink;
use pinion::protocol::control::ControlRequest;
use pinion::protocol::master_to_node::NodeInfo;
use pinion::protocol::node_to_master::{ListNodes, SetParam};
use pinion::protocol::{self};
use pinion::transport::Requester;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_millis(800);

/// A client of the master, remade after any failure.
#[derive(Debug)]
pub struct GraphClient {
    master: MasterLink,
    host: String,
    key: Option<pinion::auth::Key>,
}

impl GraphClient {
    /// A client for the master at `endpoint`; `host` is this host's id.
    pub fn new(endpoint: &str, host: String) -> Result<Self, pinion::transport::TransportError> {
        let key = pinion::auth::key_from_env().unwrap_or_else(|e| {
            tracing::error!("{e}; requests to the master go unsigned");
            None
        });
        Ok(Self {
            master: MasterLink::with_timeout(endpoint, key.clone(), TIMEOUT).map_err(|e| {
                pinion::transport::TransportError::BadEndpoint {
                    endpoint: endpoint.to_owned(),
                    reason: e.to_string(),
                }
            })?,
            host,
            key,
        })
    }

    /// The registered nodes, or `None` if the master did not answer.
    pub async fn nodes(&mut self) -> Option<Vec<NodeInfo>> {
        self.master.ask(ListNodes).await.ok()
    }

    /// Sets a parameter at the master; false if the master did not take it.
    pub async fn set_param(&mut self, key: &str, value_json: &str) -> bool {
        let request = SetParam {
            key: key.to_owned(),
            value_json: value_json.to_owned(),
        };
        self.master.ask(request).await.is_ok()
    }

    /// Asks a node to shut down through its control socket; true if it agreed.
    pub async fn request_shutdown(&self, node: &NodeInfo, reason: &str) -> bool {
        let Some(endpoint) = node.control.pick(&node.host, &self.host) else {
            return false;
        };
        let Ok(client) = Requester::new(endpoint, TIMEOUT) else {
            return false;
        };
        let mut client = client.with_key(self.key.clone());
        let request = ControlRequest::Shutdown {
            reason: reason.to_owned(),
            replaced: false,
            session: Some(node.session),
        };
        let Ok(body) = protocol::encode("shutdown request", &request) else {
            return false;
        };
        client.request(body).await.is_ok()
    }
}
