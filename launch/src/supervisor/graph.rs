//! What the supervisor asks of the running graph: who is registered, and please stop.

use pinion::node::master_link::request_frames;
use pinion::protocol::control::ControlRequest;
use pinion::protocol::master_to_node::NodeInfo;
use pinion::protocol::{self, MasterReply, NodeToMaster};
use pinion::transport::Requester;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_millis(800);

/// A client of the master, remade after any failure.
#[derive(Debug)]
pub struct GraphClient {
    master: Requester,
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
            master: Requester::new(endpoint, TIMEOUT)?.with_key(key.clone()),
            host,
            key,
        })
    }

    /// One request to the master (signed when `PINION_KEY_FILE` names a key).
    async fn ask(&mut self, request: &NodeToMaster) -> Option<MasterReply> {
        let frames = request_frames(request, self.key.as_ref()).ok()?;
        let reply = self.master.request_frames(frames).await.ok()?;
        protocol::decode::<MasterReply>("master reply", &reply).ok()
    }

    /// The registered nodes, or `None` if the master did not answer.
    pub async fn nodes(&mut self) -> Option<Vec<NodeInfo>> {
        match self.ask(&NodeToMaster::ListNodes).await? {
            MasterReply::Nodes(nodes) => Some(nodes),
            _ => None,
        }
    }

    /// Sets a parameter at the master; false if the master did not take it.
    pub async fn set_param(&mut self, key: &str, value_json: &str) -> bool {
        let request = NodeToMaster::SetParam {
            key: key.to_owned(),
            value_json: value_json.to_owned(),
        };
        matches!(self.ask(&request).await, Some(MasterReply::Ok))
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
        };
        let Ok(body) = protocol::encode("shutdown request", &request) else {
            return false;
        };
        client.request(body).await.is_ok()
    }
}
