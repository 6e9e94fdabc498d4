//! The services a node serves: withdrawn (and their socket files removed) when
//! dropped, advertised again when the master forgot the node.

use crate::base::{NodeBase, Offers, OffersFuture};
use crate::message::TypeInfo;
use crate::names::TopicName;
use crate::protocol::node_to_master::{AdvertiseService, UnadvertiseService};
use crate::protocol::Endpoints;
use crate::Result;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One served service.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub(crate) request: TypeInfo,
    pub(crate) response: TypeInfo,
    pub(crate) endpoints: Endpoints,
    /// The ipc socket file, removed with the service.
    pub(crate) socket_file: PathBuf,
}

/// The services of a node, by name.
#[derive(Debug, Default)]
pub(crate) struct Services {
    by_name: Mutex<HashMap<TopicName, Served>>,
}

impl Services {
    fn lock(&self) -> MutexGuard<'_, HashMap<TopicName, Served>> {
        self.by_name.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a service, before the master hears of it.
    pub(crate) fn add(&self, name: TopicName, served: Served) {
        self.lock().insert(name, served);
    }

    /// Removes a service and its socket file; true if it was there.
    pub(crate) fn remove(&self, name: &TopicName) -> bool {
        match self.lock().remove(name) {
            Some(served) => {
                let _ = std::fs::remove_file(served.socket_file);
                true
            }
            None => false,
        }
    }

    /// A dropped server: remove it, and withdraw it from the master.
    pub(crate) fn forget(&self, base: &Arc<NodeBase>, name: &TopicName) {
        self.remove(name);
        if base.shutdown().is_triggered() {
            return;
        }
        let request = UnadvertiseService {
            caller: base.caller(),
            name: name.clone(),
        };
        let owner = base.clone();
        base.retire(async move {
            if let Err(e) = owner.master().ask(request).await {
                tracing::debug!(error = %e, "unadvertise service not delivered; the master expires it");
            }
        });
    }

    /// Removes every service's socket file (the node closes).
    pub(crate) fn remove_socket_files(&self) {
        for served in self.lock().values() {
            let _ = std::fs::remove_file(&served.socket_file);
        }
    }
}

/// Advertises service `name` at the master.
pub(crate) async fn advertise_at_master(
    base: &NodeBase,
    name: &TopicName,
    served: &Served,
) -> Result<()> {
    let request = AdvertiseService {
        caller: base.caller(),
        name: name.clone(),
        request: served.request.clone(),
        response: served.response.clone(),
        endpoints: served.endpoints.clone(),
    };
    base.master()
        .ask_until_answered(request, base.shutdown())
        .await
}

impl Offers for Services {
    fn register_again<'a>(&'a self, base: &'a NodeBase) -> OffersFuture<'a> {
        Box::pin(async move {
            let all: Vec<(TopicName, Served)> = self
                .lock()
                .iter()
                .map(|(n, s)| (n.clone(), s.clone()))
                .collect();
            for (name, served) in all {
                if let Err(e) = advertise_at_master(base, &name, &served).await {
                    tracing::error!(service = %name, error = %e, "could not advertise the service again");
                }
            }
        })
    }
}
