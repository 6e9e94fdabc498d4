//! Delivers notices to nodes' control sockets: one queue and task per node run,
//! newest list per topic wins, a few tries each.

use crate::registry::{Notice, NoticeKind};
use pinion::protocol::node_to_master::NodeRegistration;
use pinion::protocol::{self};
use pinion::transport::Requester;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// Time allowed for one notice.
const NOTICE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Tries per notice before it is given up (the node's heartbeat path repairs the rest).
const TRIES: usize = 3;

/// Sends notices without ever blocking the master's request loop.
#[derive(Debug)]
pub struct Notifier {
    host: String,
    key: Option<pinion::auth::Key>,
    queues: HashMap<(String, u64), mpsc::UnboundedSender<NoticeKind>>,
}

impl Notifier {
    /// A notifier for a master running on host `host` (ipc is used for nodes on it);
    /// with the robot key, its connections prove they hold it.
    pub fn new(host: String, key: Option<pinion::auth::Key>) -> Self {
        Self {
            host,
            key,
            queues: HashMap::new(),
        }
    }

    /// Queues a notice for its node.
    pub fn send(&mut self, notice: Notice) {
        let key = (notice.to.name.to_string(), notice.to.session);
        let sender = self
            .queues
            .entry(key)
            .or_insert_with(|| spawn_queue(notice.to.clone(), &self.host, self.key.clone()));
        if sender.send(notice.request.clone()).is_err() {
            // The task ended (unreachable node); start a fresh one.
            let sender = spawn_queue(notice.to.clone(), &self.host, self.key.clone());
            let _ = sender.send(notice.request);
            self.queues
                .insert((notice.to.name.to_string(), notice.to.session), sender);
        }
    }

    /// Forgets the queue of a node that left (its task ends once the queue drains).
    pub fn forget(&mut self, name: &str) {
        self.queues.retain(|(n, _), _| n != name);
    }
}

fn spawn_queue(
    to: NodeRegistration,
    master_host: &str,
    key: Option<pinion::auth::Key>,
) -> mpsc::UnboundedSender<NoticeKind> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<NoticeKind>();
    let endpoint = to.control.pick(&to.host, master_host).map(str::to_owned);
    tokio::spawn(async move {
        let Some(endpoint) = endpoint else {
            tracing::warn!(node = %to.name, "node has no control endpoint; notices dropped");
            return;
        };
        let mut requester = match Requester::new(&endpoint, NOTICE_TIMEOUT) {
            Ok(r) => r.with_key(key),
            Err(e) => {
                tracing::warn!(node = %to.name, error = %e, "bad control endpoint");
                return;
            }
        };
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = receiver.try_recv() {
                batch.push(more);
            }
            for kind in coalesce(batch) {
                deliver(&mut requester, &to, &kind).await;
            }
        }
    });
    sender
}

/// Keeps the newest notice of each kind and topic, in order of first appearance;
/// notices without a coalescing key (parameter changes) are all kept, in order.
fn coalesce(batch: Vec<NoticeKind>) -> Vec<NoticeKind> {
    let mut out: Vec<NoticeKind> = Vec::new();
    for kind in batch {
        let same = kind
            .coalesce_key()
            .and_then(|key| out.iter().position(|k| k.coalesce_key() == Some(key)));
        match same {
            Some(i) => out[i] = kind,
            None => out.push(kind),
        }
    }
    out
}

async fn deliver(requester: &mut Requester, to: &NodeRegistration, kind: &NoticeKind) {
    let body = match protocol::encode("notice", &kind.to_request()) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode notice");
            return;
        }
    };
    for attempt in 1..=TRIES {
        match requester.request(body.clone()).await {
            Ok(_) => return,
            Err(e) => tracing::debug!(node = %to.name, attempt, error = %e, "notice not delivered"),
        }
    }
    tracing::warn!(node = %to.name, "notice given up after {TRIES} tries");
}
