//! Services: typed request/response between nodes, registered with the master and
//! type-checked like topics.
//!
//! ```no_run
//! # use pinion::prelude::*;
//! # #[derive(Message, Serialize, Deserialize)] struct AddRequest { a: i64, b: i64 }
//! # #[derive(Message, Serialize, Deserialize)] struct AddResponse { sum: i64 }
//! # async fn run(node: Node) -> pinion::Result<()> {
//! let _server = node
//!     .serve("add", |r: AddRequest| async move { Ok::<_, String>(AddResponse { sum: r.a + r.b }) })
//!     .await?;
//! let add = node.client::<AddRequest, AddResponse>("add")?;
//! let reply = add.call(&AddRequest { a: 2, b: 3 }).await?;
//! assert_eq!(reply.sum, 5);
//! # Ok(()) }
//! ```

use crate::message::{decode, encode, Message};
use crate::names::TopicName;
use crate::node::NodeInner;
use crate::protocol::master_to_node::ServiceInfo;
use crate::protocol::node_to_master::{AdvertiseService, LookupService};
use crate::protocol::service::{ServiceAnswer, ServiceCall};
use crate::protocol::{self};
use crate::transport::{Replier, Requester};
use crate::{Error, Result};
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Time a call waits for its answer unless told otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A service this node serves; dropping it withdraws the service.
#[derive(Debug)]
pub struct ServiceServer {
    pub(crate) name: TopicName,
    pub(crate) node: Arc<NodeInner>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl ServiceServer {
    /// The service name.
    pub fn name(&self) -> &TopicName {
        &self.name
    }
}

impl Drop for ServiceServer {
    fn drop(&mut self) {
        self.task.abort();
        self.node.forget_service(&self.name);
    }
}

/// Serves calls until the task is aborted.
pub(crate) async fn serve_loop<Req, Resp, F, Fut, E>(
    mut replier: Replier,
    name: TopicName,
    mut handler: F,
) where
    Req: Message,
    Resp: Message,
    F: FnMut(Req) -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<Resp, E>> + Send + 'static,
    E: Display + 'static,
{
    loop {
        let frames = match replier.recv().await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(service = %name, error = %e, "receive failed");
                continue;
            }
        };
        let answer = match frames.as_slice() {
            [one] => match decode::<ServiceCall>("service call", one) {
                Ok(call)
                    if call.request_hash != Req::SCHEMA_HASH
                        || call.response_hash != Resp::SCHEMA_HASH =>
                {
                    ServiceAnswer::Err(format!(
                        "service `{name}` serves {} -> {}; the call used other types",
                        Req::TYPE_NAME,
                        Resp::TYPE_NAME
                    ))
                }
                Ok(call) => match decode::<Req>("service request", &call.payload) {
                    Ok(request) => match handler(request).await {
                        Ok(response) => encode("service response", &response)
                            .map_or_else(|e| ServiceAnswer::Err(e.to_string()), ServiceAnswer::Ok),
                        Err(e) => ServiceAnswer::Err(e.to_string()),
                    },
                    Err(e) => ServiceAnswer::Err(format!(
                        "the request does not decode as {}: {e}",
                        Req::TYPE_NAME
                    )),
                },
                Err(e) => ServiceAnswer::Err(format!("malformed call: {e}")),
            },
            _ => ServiceAnswer::Err("expected one frame".to_owned()),
        };
        if let ServiceAnswer::Err(e) = &answer {
            tracing::debug!(service = %name, error = %e, "call failed");
        }
        let Ok(body) = encode("service answer", &answer) else {
            continue;
        };
        if let Err(e) = replier.send(body).await {
            tracing::debug!(service = %name, error = %e, "answer not sent");
        }
    }
}

/// Calls a service; one call at a time per client (make several clients for parallel calls).
#[derive(Debug)]
pub struct ServiceClient<Req: Message, Resp: Message> {
    pub(crate) name: TopicName,
    pub(crate) node: Arc<NodeInner>,
    pub(crate) link: tokio::sync::Mutex<Option<(Requester, ServiceInfo)>>,
    pub(crate) _types: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message> ServiceClient<Req, Resp> {
    /// Calls the service, waiting at most 2 s for the answer.
    pub async fn call(&self, request: &Req) -> Result<Resp> {
        self.call_timeout(request, DEFAULT_CALL_TIMEOUT).await
    }

    /// Calls the service, waiting at most `timeout` for the answer.
    ///
    /// Errors say what went wrong: nobody serves it, the types differ (with the fields),
    /// the server did not answer in time, or the handler failed.
    pub async fn call_timeout(&self, request: &Req, timeout: Duration) -> Result<Resp> {
        let mut link = self.link.lock().await;
        if link.is_none() {
            *link = Some(self.lookup(timeout).await?);
        }
        let Some((requester, info)) = link.as_mut() else {
            return Err(Error::Protocol("no service link".to_owned()));
        };
        let call = ServiceCall {
            request_hash: Req::SCHEMA_HASH,
            response_hash: Resp::SCHEMA_HASH,
            payload: encode("service request", request)?,
        };
        let result =
            tokio::time::timeout(timeout, requester.request(encode("service call", &call)?)).await;
        let reply = match result {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                let node = info.node.clone();
                *link = None;
                return Err(Error::Service {
                    name: self.name.to_string(),
                    message: format!("server `{node}` failed: {e}"),
                });
            }
            Err(_) => {
                let node = info.node.clone();
                *link = None;
                return Err(Error::Service {
                    name: self.name.to_string(),
                    message: format!("no answer from `{node}` within {timeout:?}"),
                });
            }
        };
        match decode::<ServiceAnswer>("service answer", &reply)? {
            ServiceAnswer::Ok(payload) => decode("service response", &payload),
            ServiceAnswer::Err(message) => Err(Error::Service {
                name: self.name.to_string(),
                message,
            }),
        }
    }

    async fn lookup(&self, timeout: Duration) -> Result<(Requester, ServiceInfo)> {
        let request = LookupService {
            name: self.name.clone(),
            request: Req::type_info(),
            response: Resp::type_info(),
        };
        let info = tokio::time::timeout(timeout, self.node.master.ask(request))
            .await
            .map_err(|_| Error::Timeout(timeout, "looking the service up at the master"))??;
        let endpoint = info
            .endpoints
            .pick(&info.host, &self.node.host)
            .ok_or_else(|| Error::Service {
                name: self.name.to_string(),
                message: "its server has no reachable endpoint".to_owned(),
            })?;
        Ok((
            Requester::new(endpoint, timeout.max(Duration::from_millis(100)) * 2)?
                .with_key(self.node.master.key().cloned()),
            info,
        ))
    }
}

/// The request that advertises a service (also on the node's re-registration path).
pub(crate) fn advertise_request(
    node: &NodeInner,
    name: &TopicName,
    request: crate::TypeInfo,
    response: crate::TypeInfo,
    endpoints: protocol::Endpoints,
) -> AdvertiseService {
    AdvertiseService {
        caller: node.caller(),
        name: name.clone(),
        request,
        response,
        endpoints,
    }
}
