//! The agent's request loop.

use super::auth::{Domain, Key, Signed, Verifier};
use super::deployments::Deployments;
pub use super::launches::health_node_name;
use super::launches::{run_manifest, start, status, stop_launch, Running};
use super::protocol::{AgentReply, AgentRequest, MissingBlob};
use super::store::{Progress, Store};
use super::upgrade::{become_program, runs_as_pinion, upgrade, Upgrade};
use pinion::transport::Replier;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

/// Lines returned by one `Logs` request at most.
const LOG_BATCH: usize = 2000;

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The shared key.
    pub key: Key,
    /// Where blobs are stored.
    pub store_dir: std::path::PathBuf,
    /// This machine's host id.
    pub host_id: String,
}

/// Serves requests on `replier` until `shutdown` completes, then stops the launches that
/// launchers started (deployed ones run on, for the next agent to adopt).
pub async fn serve(
    mut replier: Replier,
    config: AgentConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let store = Store::open(&config.store_dir)?;
    let deployments = Deployments::open(&config.store_dir.join("deployments"))?;
    let mut verifier = Verifier::new(config.key.clone(), Domain::Agent);
    let mut launches: HashMap<String, Running> = HashMap::new();
    // A build that could not be run: asked again, the agent says why.
    let mut failed_upgrade: Option<(String, String)> = None;
    let own = std::env::current_exe()
        .ok()
        .and_then(|exe| super::store::hash_file(&exe).ok());
    // Deployed launches run whether or not a launcher is around: bring them back.
    for (launch, manifest) in deployments.all() {
        let detached = Some(config.store_dir.as_path());
        let version = manifest.version();
        match start(
            &launch,
            manifest.robot,
            manifest.master,
            &manifest.nodes,
            &store,
            detached,
            BTreeMap::new(),
        ) {
            Ok(mut running) => {
                tracing::info!(%launch, "deployed launch started again");
                running.version = Some(version);
                launches.insert(launch, running);
            }
            Err(e) => tracing::error!(%launch, error = %e, "cannot start a deployed launch"),
        }
    }
    let ctx = Ctx {
        store: &store,
        deployments: &deployments,
        config: &config,
    };
    tokio::pin!(shutdown);
    loop {
        let frames = tokio::select! {
            _ = &mut shutdown => break,
            frames = replier.recv() => frames,
        };
        let frames = match frames {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "receive failed");
                continue;
            }
        };
        let mut upgrade_to = None;
        let reply = match authenticate(&mut verifier, &frames) {
            Ok(AgentRequest::Upgrade { blob }) => match upgrade(&store, own.as_deref(), &blob) {
                Upgrade::To(_) if failed_upgrade.as_ref().is_some_and(|(b, _)| *b == blob) => {
                    let error = failed_upgrade.as_ref().map(|(_, e)| e.as_str());
                    AgentReply::Error(format!(
                        "cannot run the new build: {}",
                        error.unwrap_or_default()
                    ))
                }
                Upgrade::To(program) => match runs_as_pinion(&program).await {
                    Ok(()) => {
                        upgrade_to = Some(program);
                        AgentReply::Ok
                    }
                    Err(e) => AgentReply::Error(format!("cannot run the new build: {e}")),
                },
                Upgrade::AlreadyThisBuild => AgentReply::Unchanged {
                    version: blob.chars().take(12).collect(),
                },
                Upgrade::NotStored => AgentReply::Missing(vec![MissingBlob {
                    have: store.partial(&blob),
                    hash: blob,
                }]),
            },
            Ok(request) => handle(request, &ctx, &mut launches).await,
            Err(reason) => {
                tracing::warn!(%reason, "refused a request");
                AgentReply::Error(format!("refused: {reason}"))
            }
        };
        let Ok(body) = pinion::protocol::encode("agent reply", &reply) else {
            continue;
        };
        if let Err(e) = replier.send(body).await {
            tracing::debug!(error = %e, "reply not sent");
        }
        if let Some(program) = upgrade_to {
            // Lets the answer leave before the sockets close with this program.
            tokio::time::sleep(Duration::from_millis(200)).await;
            // The nodes keep running: their identities are on disk, and this process
            // (their parent) goes on as the new program, which adopts them.
            tracing::info!(program = %program.display(), "upgrading: the agent becomes the new build");
            let error = become_program(&program);
            tracing::error!(%error, "cannot run the new build; this one goes on");
            if let Some(blob) = program.file_name().and_then(|n| n.to_str()) {
                failed_upgrade = Some((blob.to_owned(), error.to_string()));
            }
        }
    }
    for (id, running) in launches.drain() {
        if running.version.is_some() {
            // A deployed robot runs on without its agent (`pinion launch stop` stops
            // it); the agent that starts next adopts its nodes.
            tracing::info!(launch = %id, "the agent stops; the deployed launch runs on");
            continue;
        }
        stop_launch(&id, running).await;
    }
    Ok(())
}

fn authenticate(verifier: &mut Verifier, frames: &[bytes::Bytes]) -> Result<AgentRequest, String> {
    let [frame] = frames else {
        return Err(format!("expected 1 frame, got {}", frames.len()));
    };
    let signed: Signed = pinion::protocol::decode("signed request", frame)
        .map_err(|e| format!("unsigned or malformed request ({e})"))?;
    let now_ms = pinion::host::now_ns() / 1_000_000;
    verifier
        .verify(&signed, now_ms)
        .map_err(|r| r.to_string())?;
    pinion::protocol::decode("agent request", &signed.body)
        .map_err(|e| format!("malformed request body ({e})"))
}

/// What every request may use.
struct Ctx<'a> {
    store: &'a Store,
    deployments: &'a Deployments,
    config: &'a AgentConfig,
}

async fn handle(
    request: AgentRequest,
    ctx: &Ctx<'_>,
    launches: &mut HashMap<String, Running>,
) -> AgentReply {
    let (store, config) = (ctx.store, ctx.config);
    match request {
        AgentRequest::Ping => AgentReply::Pong {
            host_id: config.host_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        AgentRequest::MissingBlobs(hashes) => AgentReply::Missing(
            hashes
                .into_iter()
                .filter(|h| !store.has(h))
                .map(|hash| MissingBlob {
                    have: store.partial(&hash),
                    hash,
                })
                .collect(),
        ),
        AgentRequest::PutBlobPart {
            hash,
            size,
            offset,
            bytes,
        } => match store.put_part(&hash, size, offset, &bytes) {
            Ok(Progress::Complete) => {
                tracing::info!(%hash, bytes = size, "stored blob");
                AgentReply::Stored {
                    have: size,
                    complete: true,
                }
            }
            Ok(Progress::Partial(have)) => AgentReply::Stored {
                have,
                complete: false,
            },
            Err(e) => AgentReply::Error(format!("blob {hash}: {e}")),
        },
        AgentRequest::Start {
            launch,
            robot,
            master,
            nodes,
        } => {
            if let Some(old) = launches.remove(&launch) {
                tracing::info!(%launch, "replacing a running launch");
                stop_launch(&launch, old).await;
            }
            // A launcher's nodes stop with the agent (the launcher starts them again).
            match start(&launch, robot, master, &nodes, store, None, BTreeMap::new()) {
                Ok(running) => {
                    tracing::info!(%launch, nodes = nodes.len(), "launch started");
                    launches.insert(launch, running);
                    AgentReply::Ok
                }
                Err(e) => AgentReply::Error(e),
            }
        }
        AgentRequest::Deploy { launch, manifest } => {
            // Check every blob before switching versions, so a bad deploy changes nothing.
            if let Some(node) = manifest.nodes.iter().find(|n| !store.has(&n.blob)) {
                return AgentReply::Error(format!(
                    "node `{}`: blob {} is not stored; upload it first",
                    node.name, node.blob
                ));
            }
            let (version, previous) = match ctx.deployments.install(&launch, &manifest) {
                Ok(v) => v,
                Err(e) => return AgentReply::Error(e.to_string()),
            };
            // The very version that runs: it keeps running, untouched.
            let running = launches
                .get(&launch)
                .filter(|r| !r.task.is_finished())
                .and_then(|r| r.version.as_deref());
            if running == Some(version.as_str()) {
                tracing::info!(%launch, %version, "deployed again: already running");
                return AgentReply::Deployed { version, previous };
            }
            run_manifest(&launch, manifest, store, &config.store_dir, launches)
                .await
                .map_or_else(AgentReply::Error, |()| {
                    tracing::info!(%launch, %version, "deployed");
                    AgentReply::Deployed { version, previous }
                })
        }
        AgentRequest::Rollback { launch } => {
            if ctx.deployments.previous_version(&launch).is_none() {
                return match ctx.deployments.current_version(&launch) {
                    Some(version) => AgentReply::Unchanged { version },
                    None => AgentReply::Error(format!("launch `{launch}` is not deployed here")),
                };
            }
            let manifest = match ctx.deployments.rollback(&launch) {
                Ok(m) => m,
                Err(e) => return AgentReply::Error(e.to_string()),
            };
            let version = manifest.version();
            let previous = ctx.deployments.previous_version(&launch);
            run_manifest(&launch, manifest, store, &config.store_dir, launches)
                .await
                .map_or_else(AgentReply::Error, |()| {
                    tracing::info!(%launch, %version, "rolled back");
                    AgentReply::Deployed { version, previous }
                })
        }
        AgentRequest::Stop { launch } => {
            // A stopped launch is not brought back when the agent restarts.
            ctx.deployments.remove(&launch);
            if let Some(running) = launches.remove(&launch) {
                stop_launch(&launch, running).await;
            }
            AgentReply::Ok
        }
        AgentRequest::Status { launch } => match launches.get_mut(&launch) {
            Some(running) => AgentReply::Status(status(running).await),
            None => AgentReply::Error(format!("no launch `{launch}` on this agent")),
        },
        AgentRequest::Logs { launch, after } => match launches.get(&launch) {
            Some(running) => AgentReply::Logs(running.ring.after(after, LOG_BATCH)),
            None => AgentReply::Error(format!("no launch `{launch}` on this agent")),
        },
        // Answered by the request loop, which then executes the new build.
        AgentRequest::Upgrade { .. } => AgentReply::Error("upgrade out of turn".to_owned()),
    }
}
