//! The launcher's side of the agent protocol.

use super::auth::{sign, Domain, Key};
use super::protocol::{AgentReply, AgentRequest};
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
    pub fn new(endpoint: &str, key: Key, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            requester: Requester::new(endpoint, timeout)
                .map_err(|e| e.to_string())?
                .with_key(Some(key.clone())),
            key,
        })
    }

    /// The agent's endpoint.
    pub fn endpoint(&self) -> &str {
        self.requester.endpoint()
    }

    /// Sends one signed request.
    pub async fn call(&mut self, request: &AgentRequest) -> Result<AgentReply, String> {
        let body = pinion::protocol::encode("agent request", request).map_err(|e| e.to_string())?;
        let now_ms = pinion::host::now_ns() / 1_000_000;
        let signed = sign(
            &self.key,
            Domain::Agent,
            body,
            now_ms,
            pinion::host::random_id(),
        );
        let frame =
            pinion::protocol::encode("signed request", &signed).map_err(|e| e.to_string())?;
        let reply = self
            .requester
            .request(frame)
            .await
            .map_err(|e| format!("agent {}: {e}", self.requester.endpoint()))?;
        pinion::protocol::decode("agent reply", &reply).map_err(|e| e.to_string())
    }

    /// Makes a call; its answer, or an error that says what the agent said instead.
    pub async fn ask<C>(&mut self, call: C) -> Result<C::Answer, String>
    where
        C: Call<Request = AgentRequest, Reply = AgentReply>,
    {
        match C::answer(self.call(&call.request()).await?) {
            Ok(answer) => Ok(answer),
            Err(AgentReply::Error(e)) => Err(format!("agent {}: {e}", self.endpoint())),
            Err(other) => Err(format!(
                "agent {} answered {other:?}, which is no answer to this request (an agent of another Pinion?)",
                self.endpoint()
            )),
        }
    }
}
