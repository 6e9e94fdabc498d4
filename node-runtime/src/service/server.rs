//! A service's server side: answers calls one at a time with the handler's result,
//! after checking that the call's types are the served ones. The handler takes and
//! gives postcard bytes; a typed service wraps its handler in a decode and an encode.

use crate::message::{decode, encode, TypeInfo};
use crate::names::TopicName;
use crate::protocol::service::{ServiceAnswer, ServiceCall};
use crate::transport::Replier;
use std::future::Future;

/// Serves calls until the task is aborted.
pub(crate) async fn serve_loop<F, Fut>(
    mut replier: Replier,
    name: TopicName,
    request: TypeInfo,
    response: TypeInfo,
    mut handler: F,
) where
    F: FnMut(Vec<u8>) -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<Vec<u8>, String>> + Send + 'static,
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
                    if call.request_hash != request.hash || call.response_hash != response.hash =>
                {
                    ServiceAnswer::Err(format!(
                        "service `{name}` serves {} -> {}; the call used other types",
                        request.name, response.name
                    ))
                }
                Ok(call) => match handler(call.payload).await {
                    Ok(bytes) => ServiceAnswer::Ok(bytes),
                    Err(e) => ServiceAnswer::Err(e),
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
