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
//!
//! The feature owns its server loop (`server.rs`), its client (`client.rs`) and its
//! table of the node's services (`table.rs`).

mod client;
mod server;
pub(crate) mod table;

pub use client::{RawServiceClient, ServiceClient};

use crate::base::NodeBase;
use crate::message::{Message, TypeInfo};
use crate::names::TopicName;
use crate::protocol::Endpoints;
use crate::transport::{Guard, Replier};
use crate::Result;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use table::{Served, Services};

/// Time a call waits for its answer unless told otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A service this node serves; dropping it withdraws the service.
#[derive(Debug)]
pub struct ServiceServer {
    name: TopicName,
    base: Arc<NodeBase>,
    table: Arc<Services>,
    task: tokio::task::JoinHandle<()>,
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
        self.table.forget(&self.base, &self.name);
    }
}

/// Serves service `name` with `handler`: binds its socket (ipc and tcp), advertises
/// it at the master (which refuses other types than the service's), and answers
/// calls until the returned server is dropped.
pub(crate) async fn serve<Req, Resp, F, Fut, E>(
    base: &Arc<NodeBase>,
    table: &Arc<Services>,
    name: &str,
    mut handler: F,
) -> Result<ServiceServer>
where
    Req: Message,
    Resp: Message,
    F: FnMut(Req) -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<Resp, E>> + Send + 'static,
    E: Display + 'static,
{
    let raw = move |payload: Vec<u8>| {
        let call = crate::message::decode::<Req>("service request", &payload)
            .map(&mut handler)
            .map_err(|e| format!("the request does not decode as {}: {e}", Req::TYPE_NAME));
        async move {
            let response = call?.await.map_err(|e| e.to_string())?;
            crate::message::encode("service response", &response).map_err(|e| e.to_string())
        }
    };
    serve_raw(base, table, name, Req::type_info(), Resp::type_info(), raw).await
}

/// [`serve`] for types known at run time: the handler takes the request's postcard
/// bytes and gives the response's, or an error text for the caller.
pub(crate) async fn serve_raw<F, Fut>(
    base: &Arc<NodeBase>,
    table: &Arc<Services>,
    name: &str,
    request: TypeInfo,
    response: TypeInfo,
    handler: F,
) -> Result<ServiceServer>
where
    F: FnMut(Vec<u8>) -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<Vec<u8>, String>> + Send + 'static,
{
    let name = base.resolve(name)?;
    let socket_file = base.ipc_path(&format!("srv-{}", name.as_str().replace('/', "_")));
    let mut replier = Replier::new(
        Guard::new("service", crate::limits::max_message()).keyed(base.key().cloned()),
    );
    let endpoints = Endpoints {
        ipc: Some(
            replier
                .bind(&format!("ipc://{}", socket_file.display()))
                .await?,
        ),
        tcp: Some(replier.bind(&base.tcp_endpoint()).await?),
    };
    let served = Served {
        request: request.clone(),
        response: response.clone(),
        endpoints,
        socket_file,
    };
    table.add(name.clone(), served.clone());
    if let Err(e) = base
        .registered(|| table::advertise_at_master(base, &name, &served))
        .await
    {
        table.remove(&name);
        return Err(e);
    }
    let task = tokio::spawn(server::serve_loop(
        replier,
        name.clone(),
        request,
        response,
        handler,
    ));
    Ok(ServiceServer {
        name,
        base: base.clone(),
        table: table.clone(),
        task,
    })
}

/// A client of service `name`.
pub(crate) fn client<Req: Message, Resp: Message>(
    base: &Arc<NodeBase>,
    name: &str,
) -> Result<ServiceClient<Req, Resp>> {
    Ok(ServiceClient::new(base.clone(), base.resolve(name)?))
}

/// A client of service `name` whose types are known at run time.
pub(crate) fn client_raw(
    base: &Arc<NodeBase>,
    name: &str,
    request: crate::message::TypeInfo,
    response: crate::message::TypeInfo,
) -> Result<RawServiceClient> {
    Ok(RawServiceClient::new(
        base.clone(),
        base.resolve(name)?,
        request,
        response,
    ))
}
