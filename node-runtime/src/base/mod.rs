//! What every feature of a node builds on: the node's identity, its link to the
//! master, its sockets, its shutdown flags, the tasks of withdrawn offers, and
//! registering everything again when the master forgot the node
//! (`registration.rs`).
//!
//! The features (publisher, subscriber, service, parameters) each keep their own table
//! of what the node offers and build their own handles on a `NodeBase`; the base
//! knows them only as `Offers` to register again.

pub mod master_link;
pub mod naming;
pub(crate) mod peers;
mod registration;

pub(crate) use registration::{Offers, OffersFuture};

use crate::auth::Key;
use crate::names::{NodeName, TopicName};
use crate::protocol::node_to_master::{Caller, NodeRegistration};
use crate::protocol::Endpoints;
use crate::shutdown::Shutdown;
use crate::transport::{CreditGate, DataPublisher, Guard, Replier};
use crate::{host, Result};
use master_link::MasterLink;
use naming::Naming;
use peers::Peers;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::task::JoinHandle;

/// Who a node is and where it is reached: what [`NodeBase::bind`] needs.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) name: NodeName,
    pub(crate) host: String,
    pub(crate) master: String,
    pub(crate) key: Option<Key>,
    pub(crate) naming: Naming,
}

/// The shared core of a running node; features hold it in an `Arc`.
#[derive(Debug)]
pub(crate) struct NodeBase {
    name: NodeName,
    session: u64,
    host: String,
    naming: Naming,
    control: Endpoints,
    data_endpoints: Endpoints,
    /// The node's data socket, shared by its publishers.
    data: DataPublisher,
    /// Where reliable publishers wait for their subscribers' credit.
    credit: CreditGate,
    master: MasterLink,
    peers: Peers,
    /// Address tcp sockets are bound on.
    tcp_ip: std::net::IpAddr,
    shutdown: Shutdown,
    /// Set when `close` is done: the control server serves until then, so flush
    /// acknowledgements still arrive while the node shuts down.
    closed: Shutdown,
    /// The node's own ipc socket files.
    ipc_files: Vec<PathBuf>,
    /// Tasks withdrawing dropped publishers, subscribers and services.
    retiring: Mutex<Vec<JoinHandle<()>>>,
    /// Everything the node offers, by kind, in the order it is registered again.
    offers: Vec<Arc<dyn Offers>>,
    /// The master's session this node registered with last.
    master_session: AtomicU64,
    /// Counts completed registrations; a request refused as unknown knows from it
    /// whether someone registered again since it was sent.
    registrations: AtomicU64,
    /// Held while registering everything again, so that it happens once at a time.
    registering: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NodeBase {
    /// Binds the node's control and data sockets (ipc and tcp). Returns the base and
    /// the control socket, which the caller serves. Registers nothing yet.
    pub(crate) async fn bind(
        identity: Identity,
        offers: Vec<Arc<dyn Offers>>,
    ) -> Result<(Self, Replier)> {
        let Identity {
            name,
            host,
            master,
            key,
            naming,
        } = identity;
        let master = MasterLink::new(&master, key.clone())?;
        let ip = host::advertised_ip(master.endpoint());
        let ctl_path = host::ipc_path(name.as_str(), "ctl");
        let data_path = host::ipc_path(name.as_str(), "data");

        let mut replier = Replier::new(
            Guard::new("control", crate::limits::MAX_CONTROL_MESSAGE).keyed(key.clone()),
        );
        let control = Endpoints {
            ipc: Some(
                replier
                    .bind(&format!("ipc://{}", ctl_path.display()))
                    .await?,
            ),
            tcp: Some(replier.bind(&format!("tcp://{}", tcp_host(ip))).await?),
        };
        let mut data = DataPublisher::new(key.clone());
        let data_endpoints = Endpoints {
            ipc: Some(data.bind(&format!("ipc://{}", data_path.display())).await?),
            tcp: Some(data.bind(&format!("tcp://{}", tcp_host(ip))).await?),
        };
        data.start();
        let credit = data.credit_gate();
        let base = Self {
            name,
            session: host::random_id(),
            host,
            naming,
            control,
            data_endpoints,
            data,
            credit,
            master,
            peers: Peers::new(key),
            tcp_ip: ip,
            shutdown: Shutdown::new(),
            closed: Shutdown::new(),
            ipc_files: vec![ctl_path, data_path],
            retiring: Mutex::default(),
            offers,
            master_session: AtomicU64::new(0),
            registrations: AtomicU64::new(0),
            registering: tokio::sync::Mutex::new(()),
        };
        Ok((base, replier))
    }

    /// The node's name.
    pub(crate) fn name(&self) -> &NodeName {
        &self.name
    }

    /// The node's host id.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// Resolves a topic, service or parameter name with the node's namespace and remaps.
    pub(crate) fn resolve(&self, name: &str) -> Result<TopicName> {
        Ok(self.naming.resolve(name)?)
    }

    /// This process's registration session (a random id of its own).
    pub(crate) fn session(&self) -> u64 {
        self.session
    }

    /// Who sends a request to the master.
    pub(crate) fn caller(&self) -> Caller {
        Caller {
            node: self.name.clone(),
            session: self.session,
        }
    }

    /// The request that registers this node.
    pub(crate) fn registration(&self) -> NodeRegistration {
        NodeRegistration {
            name: self.name.clone(),
            session: self.session,
            host: self.host.clone(),
            pid: std::process::id(),
            control: self.control.clone(),
            data: self.data_endpoints.clone(),
        }
    }

    /// The endpoints of the node's data socket.
    pub(crate) fn data_endpoints(&self) -> &Endpoints {
        &self.data_endpoints
    }

    /// The node's data socket, shared by its publishers.
    pub(crate) fn data(&self) -> &DataPublisher {
        &self.data
    }

    /// Where reliable publishers wait for their subscribers' credit.
    pub(crate) fn credit(&self) -> &CreditGate {
        &self.credit
    }

    /// The link to the master.
    pub(crate) fn master(&self) -> &MasterLink {
        &self.master
    }

    /// The robot key, if the node has one.
    pub(crate) fn key(&self) -> Option<&Key> {
        self.master.key()
    }

    /// Clients of other nodes' control sockets.
    pub(crate) fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Set when the node is asked to stop.
    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Set when the node has closed.
    pub(crate) fn closed(&self) -> &Shutdown {
        &self.closed
    }

    /// An ipc socket path of this node for `kind` (a service's socket, say).
    pub(crate) fn ipc_path(&self, kind: &str) -> PathBuf {
        host::ipc_path(self.name.as_str(), kind)
    }

    /// A tcp endpoint to bind a new socket of this node on (port 0).
    pub(crate) fn tcp_endpoint(&self) -> String {
        format!("tcp://{}", tcp_host(self.tcp_ip))
    }

    /// Withdraws something the node offered, in the background; [`Self::take_retiring`]
    /// gives the task to whoever waits for the node to close.
    pub(crate) fn retire(&self, work: impl Future<Output = ()> + Send + 'static) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let task = runtime.spawn(work);
        lock(&self.retiring).push(task);
    }

    /// Takes the tasks of withdrawn offers, to wait for them.
    pub(crate) fn take_retiring(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *lock(&self.retiring))
    }

    /// Removes this node's own ipc socket files.
    pub(crate) fn remove_ipc_files(&self) {
        for path in &self.ipc_files {
            let _ = std::fs::remove_file(path);
        }
    }

    /// How many registrations completed so far.
    pub(crate) fn registrations(&self) -> u64 {
        self.registrations.load(Ordering::Acquire)
    }

    /// The master's session at the last registration.
    pub(crate) fn master_session(&self) -> u64 {
        self.master_session.load(Ordering::Relaxed)
    }
}

fn tcp_host(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("{v4}:0"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:0"),
    }
}
