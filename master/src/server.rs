//! The master's request loop: decode, apply to the registry, reply, notify.

use crate::notifier::Notifier;
use crate::params_file::ParamsFile;
use crate::registry::{Notice, Registry};
use pinion::auth::{Domain, Signature, Signed, Verifier};
use pinion::protocol::master_to_node::{MasterError, MasterErrorKind, MasterReply};
use pinion::protocol::{self, NodeToMaster};
use pinion::transport::{Guard, Replier, TransportError};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the master behaves.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// A node silent for this long is removed (heartbeats come every 500 ms).
    pub expiry: Duration,
    /// How often expiry is checked.
    pub sweep_every: Duration,
    /// This host's id (ipc is used to reach nodes with the same id).
    pub host: String,
    /// With a key, every request must be signed with it (`pinion::auth`).
    pub key: Option<pinion::auth::Key>,
    /// Where parameters are kept across restarts; `None`: in memory only.
    pub params_file: Option<ParamsFile>,
}

impl Default for MasterConfig {
    fn default() -> Self {
        Self {
            expiry: Duration::from_secs(3),
            sweep_every: Duration::from_millis(250),
            host: pinion::host::host_id(),
            key: None,
            params_file: None,
        }
    }
}

/// Why the master could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// An endpoint could not be bound.
    #[error(transparent)]
    Bind(#[from] TransportError),
    /// No endpoint was given.
    #[error("the master needs at least one endpoint to bind")]
    NoEndpoint,
}

/// Counters of the master, readable while it runs.
#[derive(Debug, Default)]
pub struct MasterStats {
    /// Requests answered.
    pub requests: AtomicU64,
    /// Requests that did not decode (answered with an error).
    pub malformed: AtomicU64,
    /// Requests refused for a missing or bad signature.
    pub unauthorized: AtomicU64,
    /// Nodes removed for silence.
    pub expired: AtomicU64,
}

/// A bound master, ready to run.
#[derive(Debug)]
pub struct Master {
    replier: Replier,
    endpoints: Vec<String>,
    config: MasterConfig,
    stats: Arc<MasterStats>,
}

impl Master {
    /// Binds every endpoint (tcp port 0 picks a free port; see `endpoints`).
    pub async fn bind(endpoints: &[String], config: MasterConfig) -> Result<Self, ServerError> {
        if endpoints.is_empty() {
            return Err(ServerError::NoEndpoint);
        }
        // Not keyed at the connection: with a key every request is signed, and one
        // without a signature gets an answer that says so.
        let mut replier = Replier::new(Guard::new("master", pinion::limits::MAX_CONTROL_MESSAGE));
        let mut bound = Vec::new();
        for endpoint in endpoints {
            bound.push(replier.bind(endpoint).await?);
        }
        Ok(Self {
            replier,
            endpoints: bound,
            config,
            stats: Arc::default(),
        })
    }

    /// The endpoints actually bound, in the order given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The master's counters.
    pub fn stats(&self) -> Arc<MasterStats> {
        self.stats.clone()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let session = pinion::host::random_id();
        let mut registry = Registry::new(session, self.config.expiry);
        if let Some(file) = &self.config.params_file {
            load_params(file, &mut registry);
        }
        let mut notifier = Notifier::new(self.config.host.clone(), self.config.key.clone());
        let mut verifier = self
            .config
            .key
            .clone()
            .map(|key| Verifier::new(key, Domain::Master));
        let mut sweep = tokio::time::interval(self.config.sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        tracing::info!(endpoints = ?self.endpoints, "master serving");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = sweep.tick() => {
                    let mut notices = Vec::new();
                    for name in registry.expire(Instant::now(), &mut notices) {
                        tracing::info!(node = %name, "node expired (no heartbeat)");
                        self.stats.expired.fetch_add(1, Ordering::Relaxed);
                        notifier.forget(name.as_str());
                    }
                    dispatch(&mut notifier, notices);
                }
                frames = self.replier.recv() => {
                    let frames = match frames {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::warn!(error = %e, "receive failed");
                            continue;
                        }
                    };
                    let reply = match authorize(verifier.as_mut(), &frames) {
                        Ok(()) => self.answer(&mut registry, &mut notifier, request_part(&frames)),
                        Err(refusal) => {
                            let n = self.stats.unauthorized.fetch_add(1, Ordering::Relaxed) + 1;
                            tracing::warn!(reason = %refusal, unauthorized_total = n, "refused a request");
                            MasterReply::Error(MasterError::new(
                                MasterErrorKind::Unauthorized,
                                format!("refused: {refusal}"),
                            ))
                        }
                    };
                    let body = match protocol::encode("master reply", &reply) {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot encode reply");
                            continue;
                        }
                    };
                    if let Err(e) = self.replier.send(body).await {
                        tracing::debug!(error = %e, "reply not sent");
                    }
                }
            }
        }
        tracing::info!("master stopped");
    }

    fn answer(
        &self,
        registry: &mut Registry,
        notifier: &mut Notifier,
        frames: &[bytes::Bytes],
    ) -> MasterReply {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let request = match frames {
            [one] => protocol::decode::<NodeToMaster>("request to master", one),
            _ => Err(pinion::Error::Protocol(format!(
                "expected 1 frame, got {}",
                frames.len()
            ))),
        };
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                let n = self.stats.malformed.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(error = %e, malformed_total = n, "refused a malformed request");
                return MasterReply::Error(MasterError::new(
                    MasterErrorKind::Malformed,
                    format!("malformed request: {e}"),
                ));
            }
        };
        let leaving = match &request {
            NodeToMaster::UnregisterNode(c) => Some(c.0.node.to_string()),
            _ => None,
        };
        let changes_params = matches!(
            request,
            NodeToMaster::SetParam { .. } | NodeToMaster::DeleteParam { .. }
        );
        let log_registration = match &request {
            NodeToMaster::RegisterNode(r) => Some((r.name.to_string(), r.host.clone(), r.pid)),
            _ => None,
        };
        let outcome = registry.handle(request, Instant::now());
        if let Some((name, host, pid)) = log_registration {
            tracing::info!(node = %name, %host, pid, "node registered");
        }
        if let MasterReply::Error(e) = &outcome.reply {
            tracing::info!(error = %e.message, "refused a request");
        }
        dispatch(notifier, outcome.notices);
        if let Some(name) = leaving {
            tracing::info!(node = %name, "node unregistered");
            notifier.forget(&name);
        }
        match (&self.config.params_file, changes_params, &outcome.reply) {
            (Some(file), true, MasterReply::Ok) => match file.save(registry.params()) {
                Ok(()) => outcome.reply,
                Err(e) => {
                    tracing::error!(error = %e, "a parameter change is not kept across a restart");
                    MasterReply::Error(MasterError::new(
                        MasterErrorKind::Invalid,
                        format!("the change is in effect but will not survive a restart of the master: {e}"),
                    ))
                }
            },
            _ => outcome.reply,
        }
    }
}

/// The request without its signature: `[body, signature]` gives `[body]`; any other
/// shape is left for `answer` to judge.
fn request_part(frames: &[bytes::Bytes]) -> &[bytes::Bytes] {
    if frames.len() == 2 {
        &frames[..1]
    } else {
        frames
    }
}

/// Checks a request's signature when the master has a key: frames `[body, signature]`.
/// Without a key any request passes (a signature, if sent, is ignored).
fn authorize(verifier: Option<&mut Verifier>, frames: &[bytes::Bytes]) -> Result<(), String> {
    let Some(verifier) = verifier else {
        return if frames.is_empty() {
            Err("empty request".to_owned())
        } else {
            Ok(())
        };
    };
    let [body, signature] = frames else {
        return Err(
            "unsigned request: this master has a key; sign with it (PINION_KEY_FILE)".to_owned(),
        );
    };
    let signature: Signature =
        postcard::from_bytes(signature).map_err(|e| format!("unreadable signature: {e}"))?;
    let signed = Signed::join(body.to_vec(), signature);
    let now_ms = pinion::host::now_ns() / 1_000_000;
    verifier
        .verify(&signed, now_ms)
        .map_err(|refusal| refusal.to_string())
}

/// Reads the kept parameters into the registry; a damaged file is set aside and the
/// master starts without it (said in the log), never fails to start.
fn load_params(file: &ParamsFile, registry: &mut Registry) {
    match file.load() {
        Ok(values) => {
            let count = values.len();
            for refusal in registry.load_params(values) {
                tracing::warn!(file = %file.path().display(), "a kept parameter is left out: {refusal}");
            }
            tracing::info!(file = %file.path().display(), count, "parameters read back");
        }
        Err(e) => {
            let aside = file.set_aside();
            tracing::error!(error = %e, aside = ?aside, "starting without the kept parameters");
        }
    }
}

fn dispatch(notifier: &mut Notifier, notices: Vec<Notice>) {
    for notice in notices {
        notifier.send(notice);
    }
}
