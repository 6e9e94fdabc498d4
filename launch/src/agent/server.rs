//! The agent's request loop.

use super::auth::{Domain, Key, Signed, Verifier};
use super::deployments::Deployments;
use super::protocol::{AgentReply, AgentRequest, Manifest, MissingBlob, RemoteNode};
use super::store::{Progress, Store};
use crate::control::ControlCommand;
use crate::control::{LaunchReply, LaunchRequest};
use crate::identity::Identity;
use crate::logs::{LogRing, LogSink};
use crate::model::NodeSpec;
use crate::status::NodeStatus;
use crate::supervisor::{self, Detached, LaunchReport, NodeSet, PlannedNode};
use pinion::transport::Replier;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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

struct Running {
    /// The deployed version it runs, if it is a deployed launch.
    version: Option<String>,
    /// What it runs: robot, master and nodes (a node the next version has unchanged
    /// is handed over, not restarted).
    set: (String, String, Vec<RemoteNode>),
    commands: mpsc::Sender<ControlCommand>,
    ring: Arc<LogRing>,
    task: JoinHandle<Option<LaunchReport>>,
    finished: Option<Vec<NodeStatus>>,
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

/// What an upgrade to a blob means here.
enum Upgrade {
    /// Become this program.
    To(PathBuf),
    /// This process is that build.
    AlreadyThisBuild,
    /// The blob is not (wholly) stored.
    NotStored,
}

fn upgrade(store: &Store, own: Option<&str>, blob: &str) -> Upgrade {
    if own == Some(blob) {
        return Upgrade::AlreadyThisBuild;
    }
    match store.path(blob).filter(|p| p.is_file()) {
        Some(program) => Upgrade::To(program),
        None => Upgrade::NotStored,
    }
}

/// Whether `program` runs here and is `pinion` (`--version`), before this process
/// becomes it: a file that is not (another machine's build, a truncated upload that
/// still hashed right, anything else) is refused while the agent can still say so.
async fn runs_as_pinion(program: &Path) -> Result<(), String> {
    let mut command = tokio::process::Command::new(program);
    command.arg("--version").kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(10), command.output())
        .await
        .map_err(|_| "`--version` did not answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let said = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && said.starts_with("pinion ") {
        Ok(())
    } else {
        Err(format!(
            "it is not pinion for this machine (`--version` said {:?}, {})",
            said.trim(),
            output.status
        ))
    }
}

/// Executes `program` in this process's place, with this process's arguments: the
/// pid, and so the parent of every node, stays. An agent started by its systemd unit
/// (`PINION_AGENT_EXE`) first puts the new build in place of the unit's program, so the
/// next boot runs it too. Returns only on failure.
fn become_program(program: &Path) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let installed = std::env::var_os("PINION_AGENT_EXE").map(PathBuf::from);
    let program = match installed {
        Some(exe) => match install_build(program, &exe) {
            Ok(()) => exe,
            Err(e) => {
                tracing::warn!(exe = %exe.display(), error = %e, "cannot put the new build in place: the next boot runs the old one until the next deploy");
                program.to_owned()
            }
        },
        None => program.to_owned(),
    };
    std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .exec()
}

/// Copies `program` beside `exe` and renames it over `exe` (a running program's file
/// can be replaced that way; a half-copied one never is `exe`).
fn install_build(program: &Path, exe: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let name = exe.file_name().unwrap_or_default().to_string_lossy();
    let tmp = exe.with_file_name(format!(".{name}.new"));
    std::fs::copy(program, &tmp)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, exe)
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

/// Starts the nodes of a launch. With `detached` (the agent's directory: deployed
/// launches), they outlive the agent: a later agent given the very same set adopts the
/// ones still running (see [`supervisor::Detached`]) instead of starting them again.
fn start(
    launch: &str,
    robot: String,
    master: String,
    nodes: &[RemoteNode],
    store: &Store,
    detached: Option<&Path>,
    handed: BTreeMap<String, Identity>,
) -> Result<Running, String> {
    let detached = match detached {
        Some(dir) => Some(detach(launch, &robot, &master, nodes, dir, handed)?),
        None => None,
    };
    let (robot_name, master_endpoint) = (robot.clone(), master.clone());
    let mut planned = Vec::new();
    for node in nodes {
        let program = store
            .path(&node.blob)
            .filter(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "node `{}`: blob {} is not stored; upload it first",
                    node.name, node.blob
                )
            })?;
        let spec = node.to_spec(&program).map_err(|e| {
            format!(
                "node `{}`: its parameters are not a JSON object ({e}); deploy it again from the launch file",
                node.name
            )
        })?;
        planned.push(PlannedNode {
            spec,
            program,
            runner: node.runner.clone(),
            host_id: Some(node.host_id.clone()),
        });
    }
    // The machine's health reporter runs beside the nodes: the agent's own program.
    let host = nodes.first().map(|n| n.host_id.clone());
    if let (Some(host), Ok(program)) = (host, std::env::current_exe()) {
        let name = health_node_name(&host);
        let mut spec = NodeSpec::pinion_tool(&name, &["health"], "<agent>");
        if let Some(d) = &detached {
            // Restarts and crashes of the launch's nodes, for the health report.
            let status = d.dir.join(supervisor::STATUS_FILE);
            spec.env.insert(
                "PINION_LAUNCH_STATUS".to_owned(),
                status.to_string_lossy().into_owned(),
            );
        }
        planned.push(PlannedNode {
            spec,
            program,
            runner: Vec::new(),
            host_id: Some(host),
        });
    }
    let ring = Arc::new(LogRing::default());
    let set = NodeSet {
        robot,
        master,
        nodes: planned,
        sink: LogSink::Ring(ring.clone()),
        elsewhere: Arc::default(),
        detached,
    };
    let (commands, receiver) = mpsc::channel(16);
    let id = launch.to_owned();
    let task = tokio::spawn(async move {
        match supervisor::supervise(set, std::future::pending(), receiver).await {
            Ok(report) => {
                tracing::info!(launch = %id, ending = ?report.ending, "launch ended");
                Some(report)
            }
            Err(e) => {
                tracing::error!(launch = %id, error = %e, "launch failed");
                None
            }
        }
    });
    Ok(Running {
        version: None,
        set: (robot_name, master_endpoint, nodes.to_vec()),
        commands,
        ring,
        task,
        finished: None,
    })
}

/// Replaces whatever runs for `launch` with `manifest`.
/// The directory of a deployed launch's nodes, with the processes to adopt: those an
/// earlier agent left running for this very set of nodes (same fingerprint).
fn detach(
    launch: &str,
    robot: &str,
    master: &str,
    nodes: &[RemoteNode],
    agent_dir: &Path,
    handed: BTreeMap<String, Identity>,
) -> Result<Detached, String> {
    if launch.is_empty() || launch.starts_with('.') || launch.contains('/') {
        return Err(format!("bad launch id `{launch}`"));
    }
    let dir = agent_dir.join("launches").join(launch);
    let fingerprint = postcard::to_stdvec(&(robot, master, nodes))
        .map(|bytes| super::store::hash(&bytes))
        .map_err(|e| format!("cannot fingerprint the launch: {e}"))?;
    let file = dir.join("fingerprint");
    let same = std::fs::read_to_string(&file).is_ok_and(|f| f == fingerprint);
    let adopt = if same {
        supervisor::read_pid_table(&dir)
    } else {
        handed
    };
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, &fingerprint))
        .map_err(|e| format!("cannot keep the launch in {}: {e}", dir.display()))?;
    Ok(Detached { dir, adopt })
}

/// The name of a machine's health reporter: `health_` and its host id.
pub fn health_node_name(host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("health_{host}")
}

async fn run_manifest(
    launch: &str,
    manifest: Manifest,
    store: &Store,
    agent_dir: &Path,
    launches: &mut HashMap<String, Running>,
) -> Result<(), String> {
    let mut handed = BTreeMap::new();
    if let Some(old) = launches.remove(launch) {
        handed = hand_over(launch, &old, &manifest).await;
        stop_launch(launch, old).await;
    }
    let version = manifest.version();
    let mut running = start(
        launch,
        manifest.robot,
        manifest.master,
        &manifest.nodes,
        store,
        Some(agent_dir),
        handed,
    )?;
    running.version = Some(version);
    launches.insert(launch.to_owned(), running);
    Ok(())
}

/// The nodes the new version runs unchanged (same program, arguments, environment,
/// parameters, against the same master), and this machine's health reporter: the old
/// supervisor lets go of them, still running, for the new one to adopt.
async fn hand_over(launch: &str, old: &Running, manifest: &Manifest) -> BTreeMap<String, Identity> {
    let (robot, master, nodes) = &old.set;
    if *robot != manifest.robot || *master != manifest.master {
        return BTreeMap::new();
    }
    let mut unchanged: Vec<String> = manifest
        .nodes
        .iter()
        .filter(|n| nodes.contains(n))
        .map(|n| n.name.clone())
        .collect();
    if let Some(first) = nodes.first() {
        unchanged.push(health_node_name(&first.host_id));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let request = LaunchRequest::Release(unchanged);
    if old.commands.send((request, tx)).await.is_err() {
        return BTreeMap::new();
    }
    match rx.await {
        Ok(LaunchReply::Released(handed)) => {
            let names: Vec<&str> = handed.iter().map(|(n, _)| n.as_str()).collect();
            tracing::info!(%launch, nodes = ?names, "unchanged nodes run on into the new version");
            handed.into_iter().collect()
        }
        _ => BTreeMap::new(),
    }
}

async fn status(running: &mut Running) -> Vec<NodeStatus> {
    if let Some(done) = &running.finished {
        return done.clone();
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if running
        .commands
        .send((LaunchRequest::Status, tx))
        .await
        .is_ok()
    {
        if let Ok(LaunchReply::Status { nodes, .. }) = rx.await {
            return nodes;
        }
    }
    // The supervisor ended: keep its final table.
    let finished = match (&mut running.task).await {
        Ok(Some(report)) => report.nodes,
        _ => Vec::new(),
    };
    running.finished = Some(finished.clone());
    finished
}

async fn stop_launch(id: &str, running: Running) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if running
        .commands
        .send((LaunchRequest::Stop, tx))
        .await
        .is_ok()
    {
        let _ = rx.await;
    }
    // Stops escalate to SIGKILL within each node's stop timeout; this bound is a backstop.
    if tokio::time::timeout(Duration::from_secs(120), running.task)
        .await
        .is_err()
    {
        tracing::error!(launch = %id, "launch did not stop in time");
    }
    tracing::info!(launch = %id, "launch stopped");
}
