//! The launcher's side of the agent protocol.

use super::auth::{sign, Domain, Key};
use super::protocol::{AgentReply, AgentRequest};
pub use crate::error::AgentError;
use pinion::protocol::call::Call;
use pinion::transport::Requester;
use std::time::Duration;

/// A signed-request client of one agent.
#[derive(Debug)]
pub struct AgentClient {
    requester: Requester,
    key: Key,
}

impl AgentClient {
    /// A client of the agent at `endpoint`; `timeout` bounds each request.
    pub fn new(endpoint: &str, key: Key, timeout: Duration) -> Result<Self, AgentError> {
        let requester =
            Requester::new(endpoint, timeout).map_err(|source| AgentError::Endpoint {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        Ok(Self {
            requester: requester.with_key(Some(key.clone())),
            key,
        })
    }

    /// The agent's endpoint.
    pub fn endpoint(&self) -> &str {
        self.requester.endpoint()
    }

    /// Sends one signed request.
    pub async fn call(&mut self, request: &AgentRequest) -> Result<AgentReply, AgentError> {
        let codec = |source| AgentError::Codec {
            endpoint: self.endpoint().to_owned(),
            source,
        };
        let body = pinion::protocol::encode("agent request", request).map_err(codec)?;
        let now_ms = pinion::host::now_ns() / 1_000_000;
        let signed = sign(
            &self.key,
            Domain::Agent,
            body,
            now_ms,
            pinion::host::random_id(),
        );
        let frame = pinion::protocol::encode("signed request", &signed).map_err(codec)?;
        let reply =
            self.requester
                .request(frame)
                .await
                .map_err(|source| AgentError::Unreachable {
                    endpoint: self.endpoint().to_owned(),
                    source,
                })?;
        pinion::protocol::decode("agent reply", &reply).map_err(|source| AgentError::Codec {
            endpoint: self.endpoint().to_owned(),
            source,
        })
    }

    /// Makes a call; its answer, or an error that says what the agent said instead.
    pub async fn ask<C>(&mut self, call: C) -> Result<C::Answer, AgentError>
    where
        C: Call<Request = AgentRequest, Reply = AgentReply>,
    {
        match C::answer(self.call(&call.request()).await?) {
            Ok(answer) => Ok(answer),
            Err(AgentReply::Error(message)) => Err(AgentError::Refused {
                endpoint: self.endpoint().to_owned(),
                message,
            }),
            Err(other) => Err(AgentError::WrongReply {
                endpoint: self.endpoint().to_owned(),
                reply: format!("{other:?}"),
            }),
        }
    }
}
