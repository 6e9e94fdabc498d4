//! A service's server side: answers calls one at a time with the handler's result,
//! after checking that the call's types are the served ones.

use crate::message::{decode, encode, Message};
use crate::names::TopicName;
use crate::protocol::service::{ServiceAnswer, ServiceCall};
use crate::transport::Replier;
use std::fmt::Display;
use std::future::Future;

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
