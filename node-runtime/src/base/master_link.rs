//! The node's link to the master: requests with timeouts and retries.

use crate::protocol::node_to_master::Request;
use crate::protocol::{self, MasterErrorKind, MasterReply, NodeToMaster};
use crate::transport::Requester;
use crate::{Error, Result};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Time allowed for one request to the master.
pub const MASTER_TIMEOUT: Duration = Duration::from_millis(800);

/// A REQ client to the master, shared by the node's tasks.
#[derive(Debug)]
pub struct MasterLink {
    requester: Mutex<Requester>,
    endpoint: String,
    key: Option<crate::auth::Key>,
}

impl MasterLink {
    /// A link to `endpoint`, signing with `key` if given; nothing connects yet.
    pub fn new(endpoint: &str, key: Option<crate::auth::Key>) -> Result<Self> {
        Self::with_timeout(endpoint, key, MASTER_TIMEOUT)
    }

    /// [`Self::new`] with another time allowed per request (tools wait longer).
    pub fn with_timeout(
        endpoint: &str,
        key: Option<crate::auth::Key>,
        timeout: Duration,
    ) -> Result<Self> {
        let requester = Requester::new(endpoint, timeout)?.with_key(key.clone());
        Ok(Self {
            endpoint: requester.endpoint().to_owned(),
            requester: Mutex::new(requester),
            key,
        })
    }

    /// A link to the master of the environment, as tools find it: `PINION_MASTER`
    /// (default [`crate::host::DEFAULT_MASTER`]), signed with the key of
    /// `PINION_KEY_FILE` if set.
    pub fn from_env(timeout: Duration) -> Result<Self> {
        let endpoint = std::env::var("PINION_MASTER")
            .unwrap_or_else(|_| crate::host::DEFAULT_MASTER.to_owned());
        let key = crate::auth::key_from_env().map_err(|e| crate::Error::Setup(e.to_string()))?;
        Self::with_timeout(&endpoint, key, timeout)
    }

    /// The master's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The robot key, if the node has one: it signs requests and proves connections.
    pub fn key(&self) -> Option<&crate::auth::Key> {
        self.key.as_ref()
    }

    /// One request, one try: its reply. A refusal comes back as `Error::Master`.
    pub async fn ask<R: Request>(&self, request: R) -> Result<R::Reply> {
        reply_of::<R>(self.request(&request.into()).await?)
    }

    /// [`Self::ask`], retried while the master is unreachable, until `shutdown` is set.
    /// A refusal is returned at once: only transport failures are retried.
    pub async fn ask_until_answered<R: Request>(
        &self,
        request: R,
        shutdown: &crate::shutdown::Shutdown,
    ) -> Result<R::Reply> {
        reply_of::<R>(
            self.request_until_answered(&request.into(), shutdown)
                .await?,
        )
    }

    async fn request(&self, request: &NodeToMaster) -> Result<MasterReply> {
        let frames = request_frames(request, self.key.as_ref())?;
        let reply = self.requester.lock().await.request_frames(frames).await?;
        match protocol::decode::<MasterReply>("master reply", &reply)? {
            MasterReply::Error(e) => Err(Error::Master(e)),
            other => Ok(other),
        }
    }

    async fn request_until_answered(
        &self,
        request: &NodeToMaster,
        shutdown: &crate::shutdown::Shutdown,
    ) -> Result<MasterReply> {
        let mut last_warning: Option<Instant> = None;
        loop {
            if shutdown.is_triggered() {
                return Err(Error::Shutdown);
            }
            match self.request(request).await {
                Err(Error::Transport(e)) => {
                    if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                        tracing::warn!(master = %self.endpoint, error = %e, "waiting for the master");
                        last_warning = Some(Instant::now());
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = shutdown.wait() => return Err(Error::Shutdown),
                    }
                }
                other => return other,
            }
        }
    }
}

/// The reply a request names, out of what the master answered.
pub fn reply_of<R: Request>(reply: MasterReply) -> Result<R::Reply> {
    match reply {
        MasterReply::Error(e) => Err(Error::Master(e)),
        other => R::unwrap(other).map_err(|other| {
            Error::Protocol(format!(
                "the master answered {other:?}, which is no answer to this request (a master of another Pinion?)"
            ))
        }),
    }
}

/// The frames of a request to the master: the encoded request, and its signature when
/// there is a key.
pub fn request_frames(
    request: &NodeToMaster,
    key: Option<&crate::auth::Key>,
) -> Result<Vec<bytes::Bytes>> {
    let body = protocol::encode("request to master", request)?;
    let Some(key) = key else {
        return Ok(vec![body.into()]);
    };
    let now_ms = crate::host::now_ms();
    let signed = crate::auth::sign(
        key,
        crate::auth::Domain::Master,
        body,
        now_ms,
        crate::host::random_id(),
    );
    let (body, signature) = signed.split();
    let signature = postcard::to_stdvec(&signature).map_err(|source| Error::Codec {
        what: "signature",
        source,
    })?;
    Ok(vec![body.into(), signature.into()])
}

/// Whether a master error means "register again" (the master restarted or expired us).
pub fn needs_reregistration(error: &Error) -> bool {
    matches!(error, Error::Master(e) if e.kind == MasterErrorKind::UnknownNode)
}
