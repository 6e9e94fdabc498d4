//! A launch on this host: starts the master, ships and starts the nodes of other
//! machines on their agents and relays their output, supervises this host's nodes
//! (`crate::supervisor`), then stops everything.

use crate::child::OwnedChild;
use crate::control::ControlCommand;
use crate::error::LaunchError;
use crate::logs::LogSink;
use crate::model::LaunchFile;
use crate::resolve::resolve;
use crate::status::NodeStatus;
use crate::supervisor::{supervise, LaunchReport, NodeSet, PlannedNode};
use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Time the master gets to print its endpoint.
const MASTER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the supervisor needs besides the file.
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    /// The `pinion` executable (started as `pinion master`).
    pub pinion_exe: PathBuf,
    /// Where node binaries are looked for first.
    pub bin_dir: PathBuf,
    /// Run every node on this host, whatever its machine.
    pub local: bool,
    /// Key for the agents of other machines.
    pub key: Option<crate::agent::auth::Key>,
}

/// Runs a launch: starts the master here, ships and starts the nodes of other machines
/// on their agents, supervises this host's nodes until the launch ends (see [`Ending`](crate::supervisor::Ending)),
/// then stops every node and the master.
pub async fn run(
    file: &LaunchFile,
    settings: &LaunchSettings,
    stop: impl std::future::Future<Output = ()>,
    commands: tokio::sync::mpsc::Receiver<ControlCommand>,
) -> Result<LaunchReport, LaunchError> {
    let planned = plan_local(file, settings)?;
    let remote_needed = !settings.local && file.nodes.iter().any(|n| n.machine.is_some());
    if remote_needed && settings.key.is_none() {
        return Err(LaunchError::NoKey);
    }
    let (mut master, endpoint) = match running_master(file).await {
        Some(endpoint) => {
            tracing::info!(robot = %file.robot, master = %endpoint, "attached to the master that runs there; it keeps running after the launch");
            (None, endpoint)
        }
        None => {
            let (child, endpoint) = start_master(file, settings).await?;
            tracing::info!(robot = %file.robot, master = %endpoint, "master up");
            (Some(child), endpoint)
        }
    };
    let elsewhere = Arc::new(Mutex::new(Vec::new()));
    let relay = match (&settings.key, remote_needed) {
        (Some(key), true) => {
            let started = async {
                let reachable = master_for_remote(file, &endpoint)?;
                Ok(crate::remote::start(file, &settings.bin_dir, key, &reachable).await?)
            };
            match started.await {
                Ok(remote) => Some(spawn_relay(remote, elsewhere.clone())),
                Err(e) => {
                    if let Some(master) = master.as_mut() {
                        stop_child(master, Duration::from_secs(5)).await;
                    }
                    return Err(e);
                }
            }
        }
        _ => None,
    };
    let set = NodeSet {
        robot: file.robot.clone(),
        master: endpoint,
        nodes: planned,
        sink: LogSink::Terminal,
        elsewhere,
        detached: None,
    };
    let report = supervise(set, stop, commands).await;
    if let Some((stop_relay, task)) = relay {
        let _ = stop_relay.send(());
        let _ = task.await;
    }
    if let Some(master) = master.as_mut() {
        stop_child(master, Duration::from_secs(5)).await;
    }
    report
}

/// The endpoint of a master that already answers where the launch file binds its own
/// (a fixed port on this host), if one does: the launch attaches to it.
async fn running_master(file: &LaunchFile) -> Option<String> {
    let bind = &file.master.bind;
    let (host_part, port) = bind.strip_prefix("tcp://")?.rsplit_once(':')?;
    if port == "0" {
        return None;
    }
    let host = match host_part {
        "0.0.0.0" | "*" => "127.0.0.1",
        other => other,
    };
    let endpoint = format!("tcp://{host}:{port}");
    let key = pinion::auth::key_from_env().ok().flatten();
    let link = pinion::base::master_link::MasterLink::with_timeout(
        &endpoint,
        key,
        Duration::from_millis(500),
    )
    .ok()?;
    link.ask(pinion::protocol::node_to_master::ListNodes)
        .await
        .ok()
        .map(|_| endpoint)
}

/// Relays remote output until told to stop, then stops the remote nodes.
fn spawn_relay(
    mut remote: crate::remote::RemoteLaunch,
    elsewhere: Arc<Mutex<Vec<NodeStatus>>>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = &mut rx => break,
                _ = every.tick() => {
                    remote.relay_logs().await;
                    // The status table of the agents is refreshed about once a second.
                    if ticks % 5 == 0 {
                        let rows = remote.status().await;
                        *elsewhere.lock().unwrap_or_else(PoisonError::into_inner) = rows;
                    }
                    ticks += 1;
                }
            }
        }
        remote.stop().await;
    });
    (tx, task)
}

/// The master endpoint as nodes on other machines reach it.
fn master_for_remote(file: &LaunchFile, endpoint: &str) -> Result<String, LaunchError> {
    let Some((host, port)) = endpoint
        .strip_prefix("tcp://")
        .and_then(|r| r.rsplit_once(':'))
    else {
        return Err(LaunchError::MasterUnreachable {
            endpoint: endpoint.to_owned(),
            fix: "it is not tcp; set [master] bind to a tcp address",
        });
    };
    let is_loopback = |h: &str| {
        h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
            || h == "localhost"
    };
    let machines_on_loopback = file
        .nodes
        .iter()
        .filter_map(|n| n.machine.as_ref().and_then(|m| file.machines.get(m)))
        .all(|m| is_loopback(&m.address));
    if !is_loopback(host) || machines_on_loopback {
        return Ok(endpoint.to_owned());
    }
    match file
        .master
        .machine
        .as_ref()
        .and_then(|m| file.machines.get(m))
    {
        Some(machine) => Ok(format!("tcp://{}:{port}", machine.address)),
        None => Err(LaunchError::MasterUnreachable {
            endpoint: endpoint.to_owned(),
            fix: "set [master] bind to an address of this host, or [master] machine",
        }),
    }
}

/// The nodes of a launch file that run on this host, with their programs found.
pub fn plan_local(
    file: &LaunchFile,
    settings: &LaunchSettings,
) -> Result<Vec<PlannedNode>, LaunchError> {
    let mut out = Vec::new();
    for spec in &file.nodes {
        if spec.machine.is_some() && !settings.local {
            continue;
        }
        let program =
            resolve(spec, &settings.bin_dir).ok_or_else(|| LaunchError::BinaryNotFound {
                node: spec.name.clone(),
                binary: spec.binary.clone(),
                beside: settings.bin_dir.clone(),
            })?;
        out.push(PlannedNode {
            spec: spec.clone(),
            program,
            runner: Vec::new(),
            host_id: None,
        });
    }
    Ok(out)
}

/// Starts `pinion master` and reads the endpoint it prints.
async fn start_master(
    file: &LaunchFile,
    settings: &LaunchSettings,
) -> Result<(OwnedChild, String), LaunchError> {
    let mut command = Command::new(&settings.pinion_exe);
    command.arg("master").arg("--bind").arg(&file.master.bind);
    // A launch starts with the launch file's parameters only; what is set while it
    // runs survives a restart of its master.
    let params = pinion::host::runtime_dir()
        .join("launch")
        .join(format!("{}.params.json", crate::remote::launch_id(file)));
    let _ = std::fs::remove_file(&params);
    command.arg("--params-file").arg(&params);
    let (mut child, stdout) = OwnedChild::spawn("master", command, &LogSink::Terminal, true)
        .map_err(|source| LaunchError::Spawn {
            what: format!("the master ({})", settings.pinion_exe.display()),
            source,
        })?;
    let Some(stdout) = stdout else {
        return Err(LaunchError::Master("no output".to_owned()));
    };
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(MASTER_START_TIMEOUT, lines.next_line()).await;
    let endpoint = match first {
        Ok(Ok(Some(line))) => line.strip_prefix("PINION_MASTER=").map(str::to_owned),
        _ => None,
    };
    let Some(endpoint) = endpoint else {
        stop_child(&mut child, Duration::from_secs(1)).await;
        return Err(LaunchError::Master(format!(
            "it printed no endpoint (bind {})",
            file.master.bind
        )));
    };
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, endpoint))
}

/// SIGTERM, wait up to `timeout`, then SIGKILL.
async fn stop_child(child: &mut OwnedChild, timeout: Duration) -> Option<ExitStatus> {
    child.signal(Signal::SIGTERM);
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            child.signal(Signal::SIGKILL);
            child.wait().await.ok()
        }
    }
}
