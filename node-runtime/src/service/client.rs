//! A service's client side: looks the service up at the master (type-checked), calls
//! it, and looks it up again after a failure. [`RawServiceClient`] does the work on
//! bytes of types known at run time (tools, bridges); [`ServiceClient`] is its typed face.

use super::DEFAULT_CALL_TIMEOUT;
use crate::base::NodeBase;
use crate::message::{decode, encode, Message, TypeInfo};
use crate::names::TopicName;
use crate::protocol::master_to_node::ServiceInfo;
use crate::protocol::node_to_master::LookupService;
use crate::protocol::service::{ServiceAnswer, ServiceCall};
use crate::transport::Requester;
use crate::{Error, Result};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Calls a service; one call at a time per client (make several clients for parallel calls).
#[derive(Debug)]
pub struct ServiceClient<Req: Message, Resp: Message> {
    raw: RawServiceClient,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message> ServiceClient<Req, Resp> {
    /// A client of service `name` (resolved already); nothing is looked up yet.
    pub(crate) fn new(base: Arc<NodeBase>, name: TopicName) -> Self {
        Self {
            raw: RawServiceClient::new(base, name, Req::type_info(), Resp::type_info()),
            _types: PhantomData,
        }
    }

    /// Calls the service, waiting at most 2 s for the answer.
    pub async fn call(&self, request: &Req) -> Result<Resp> {
        self.call_timeout(request, DEFAULT_CALL_TIMEOUT).await
    }

    /// Calls the service, waiting at most `timeout` for the answer.
    ///
    /// Errors say what went wrong: nobody serves it, the types differ (with the fields),
    /// the server did not answer in time, or the handler failed.
    pub async fn call_timeout(&self, request: &Req, timeout: Duration) -> Result<Resp> {
        let payload = encode("service request", request)?;
        decode("service response", &self.raw.call(payload, timeout).await?)
    }
}

/// A service client whose types are known at run time: it sends and receives postcard
/// bytes of its request and response types (a tool checks them against the schemas).
#[derive(Debug)]
pub struct RawServiceClient {
    name: TopicName,
    base: Arc<NodeBase>,
    request: TypeInfo,
    response: TypeInfo,
    link: tokio::sync::Mutex<Option<(Requester, ServiceInfo)>>,
}

impl RawServiceClient {
    pub(crate) fn new(
        base: Arc<NodeBase>,
        name: TopicName,
        request: TypeInfo,
        response: TypeInfo,
    ) -> Self {
        Self {
            name,
            base,
            request,
            response,
            link: tokio::sync::Mutex::new(None),
        }
    }

    /// Calls the service with a request (postcard bytes of the request type) and
    /// returns the response's bytes, waiting at most `timeout`.
    pub async fn call(&self, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>> {
        let mut link = self.link.lock().await;
        if link.is_none() {
            *link = Some(self.lookup(timeout).await?);
        }
        let Some((requester, info)) = link.as_mut() else {
            return Err(Error::Protocol("no service link".to_owned()));
        };
        let call = ServiceCall {
            request_hash: self.request.hash,
            response_hash: self.response.hash,
            payload,
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
            ServiceAnswer::Ok(payload) => Ok(payload),
            ServiceAnswer::Err(message) => Err(Error::Service {
                name: self.name.to_string(),
                message,
            }),
        }
    }

    async fn lookup(&self, timeout: Duration) -> Result<(Requester, ServiceInfo)> {
        let request = LookupService {
            name: self.name.clone(),
            request: self.request.clone(),
            response: self.response.clone(),
        };
        let info = tokio::time::timeout(timeout, self.base.master().ask(request))
            .await
            .map_err(|_| Error::Timeout(timeout, "looking the service up at the master"))??;
        let endpoint = info
            .endpoints
            .pick(&info.host, self.base.host())
            .ok_or_else(|| Error::Service {
                name: self.name.to_string(),
                message: "its server has no reachable endpoint".to_owned(),
            })?;
        Ok((
            Requester::new(endpoint, timeout.max(Duration::from_millis(100)) * 2)?
                .with_key(self.base.key().cloned()),
            info,
        ))
    }
}
