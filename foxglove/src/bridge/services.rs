//! The graph's services as Foxglove services: each served service is offered to clients
//! with JSON Schemas of its request and response; a call is checked against the request
//! type, made through the master's lookup like any client's, and answered as JSON.

use foxglove::websocket::service::{Request, Service, ServiceSchema};
use foxglove::{Schema, WebSocketServerHandle};
use pinion::message::TypeInfo;
use pinion::protocol::master_to_node::ServiceSummary;
use pinion::Node;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a client's call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The services offered to clients, by name, with their request and response hashes.
#[derive(Debug, Default)]
pub struct Services {
    offered: HashMap<String, (u64, u64)>,
}

impl Services {
    /// Offers new services, withdraws gone ones, offers again one whose types changed.
    pub fn update(&mut self, server: &WebSocketServerHandle, node: &Node, list: &[ServiceSummary]) {
        let current: HashMap<String, &ServiceSummary> = list
            .iter()
            .map(|s| (s.name.as_str().to_owned(), s))
            .collect();
        let stale: Vec<String> = self
            .offered
            .iter()
            .filter(|(name, hashes)| {
                current
                    .get(*name)
                    .is_none_or(|s| (s.request.hash, s.response.hash) != **hashes)
            })
            .map(|(name, _)| name.clone())
            .collect();
        if !stale.is_empty() {
            server.remove_services(&stale);
            for name in &stale {
                self.offered.remove(name);
            }
        }
        for (name, summary) in current {
            if self.offered.contains_key(&name) {
                continue;
            }
            let service = match offer(node, summary) {
                Ok(service) => service,
                Err(e) => {
                    tracing::warn!(service = %name, error = %e, "cannot offer the service to Foxglove clients");
                    continue;
                }
            };
            match server.add_services([service]) {
                Ok(()) => {
                    tracing::info!(service = %name, "offered to Foxglove clients");
                    self.offered
                        .insert(name, (summary.request.hash, summary.response.hash));
                }
                Err(e) => {
                    tracing::warn!(service = %name, error = %e, "cannot offer the service to Foxglove clients")
                }
            }
        }
    }
}

fn schema(type_info: &TypeInfo) -> Schema {
    Schema::new(
        type_info.name.clone(),
        "jsonschema",
        pinion::json::json_schema(type_info)
            .to_string()
            .into_bytes(),
    )
}

fn offer(node: &Node, summary: &ServiceSummary) -> pinion::Result<Service> {
    let client = Arc::new(node.client_raw(
        summary.name.as_str(),
        summary.request.clone(),
        summary.response.clone(),
    )?);
    let (request, response) = (summary.request.clone(), summary.response.clone());
    let schema = ServiceSchema::new(format!("{} -> {}", request.name, response.name))
        .with_request("json", schema(&request))
        .with_response("json", schema(&response));
    Ok(
        Service::builder(summary.name.as_str(), schema).async_handler_fn(move |call: Request| {
            let (client, request, response) = (client.clone(), request.clone(), response.clone());
            async move {
                let value: serde_json::Value = serde_json::from_slice(call.payload())
                    .map_err(|e| format!("the request is not JSON: {e}"))?;
                let bytes = pinion::json::encode(&request, &value)
                    .map_err(|e| format!("the request does not fit {}: {e}", request.name))?;
                let answer = client
                    .call(bytes, CALL_TIMEOUT)
                    .await
                    .map_err(|e| e.to_string())?;
                let value = pinion::json::decode(&response, &answer)
                    .map_err(|e| format!("the response does not decode: {e}"))?;
                serde_json::to_vec(&value).map_err(|e| e.to_string())
            }
        }),
    )
}
