//! Registering a node and everything it offers, and again whenever the master does not
//! know the node (it restarted, or expired the node while it was cut off).

use super::master_link::needs_reregistration;
use super::NodeBase;
use crate::Result;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How many times one request is retried after registering again: the master would
/// have to restart that often while the request is in flight.
const REREGISTER_TRIES: usize = 5;

/// The future [`Offers::register_again`] returns.
pub(crate) type OffersFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One kind of thing a node offers the graph (its publishers, say), kept by the
/// feature that owns it.
pub(crate) trait Offers: Send + Sync + std::fmt::Debug {
    /// Registers every offer of this kind with the master again; a failure is logged
    /// for the offer it concerns, and the others go on.
    fn register_again<'a>(&'a self, base: &'a NodeBase) -> OffersFuture<'a>;
}

impl NodeBase {
    /// Runs `op`, a request on behalf of this node; when the master refuses it as
    /// unknown (it restarted, or expired the node), registers everything again and
    /// runs it again, so that the refusal never reaches user code.
    pub(crate) async fn registered<T, F, Fut>(self: &Arc<Self>, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut tries = 0;
        loop {
            let seen = self.registrations();
            match op().await {
                Err(e) if needs_reregistration(&e) && tries < REREGISTER_TRIES => {
                    tries += 1;
                    tracing::info!("the master does not know this node (it restarted, or expired the node); registering again");
                    self.register_again(seen).await?;
                }
                other => return other,
            }
        }
    }

    /// Registers everything again, unless someone did since registration `seen`; one
    /// at a time.
    pub(crate) async fn register_again(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.registering.lock().await;
        if self.registrations() != seen {
            return Ok(());
        }
        self.register_everything().await
    }

    /// Registers the node, then everything it offers.
    pub(crate) async fn register_everything(&self) -> Result<()> {
        let master_session = self
            .master
            .ask_until_answered(self.registration(), &self.shutdown)
            .await?;
        self.master_session.store(master_session, Ordering::Relaxed);
        self.registrations.fetch_add(1, Ordering::AcqRel);
        for offers in &self.offers {
            offers.register_again(self).await;
        }
        Ok(())
    }
}
