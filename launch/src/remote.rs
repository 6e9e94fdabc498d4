//! The launcher's side of a launch across machines: ship binaries to each machine's
//! agent, start the nodes there, relay their output, stop them.

use crate::agent::auth::Key;
use crate::agent::client::AgentClient;
use crate::agent::protocol::{calls, RemoteNode, BLOB_PART};
use crate::agent::store;
pub use crate::error::RemoteError;
use crate::logs::print_line;
use crate::model::{LaunchFile, MachineSpec, NodeSpec};
use crate::resolve::resolve;
use crate::status::NodeStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Time allowed for one agent request that changes something (uploads included).
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for one status or log poll: an unreachable machine must not hold up the others.
const POLL_TIMEOUT: Duration = Duration::from_millis(1000);

/// The id of a launch on the agents: the robot name and a hash of the file's path.
pub fn launch_id(file: &LaunchFile) -> String {
    let canonical = std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone());
    format!(
        "{}-{}",
        file.robot,
        &store::hash(canonical.as_os_str().as_encoded_bytes())[..12]
    )
}

/// The target triple of this build of `pinion`.
pub fn host_target() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-gnu",
        "arm" => "armv7-unknown-linux-gnueabihf",
        _ => "x86_64-unknown-linux-gnu",
    }
}

/// The program of a node for a machine: for another target, the same binary in cargo's
/// directory for that target (`target/<triple>/<profile>/`), else as for this host.
pub fn program_for(spec: &NodeSpec, machine: &MachineSpec, bin_dir: &Path) -> Option<PathBuf> {
    match machine.target.as_deref() {
        Some(target) if target != host_target() => {
            let profile = bin_dir.file_name()?;
            let target_dir = bin_dir.parent()?.join(target).join(profile);
            resolve(spec, &target_dir)
        }
        _ => resolve(spec, bin_dir),
    }
}

/// Machine `name` of `file`, and its agent's endpoint.
pub fn agent_of<'a>(
    file: &'a LaunchFile,
    name: &str,
) -> Result<(&'a MachineSpec, &'a str), RemoteError> {
    let machine = file
        .machines
        .get(name)
        .ok_or_else(|| RemoteError::UnknownMachine {
            machine: name.to_owned(),
        })?;
    let agent = machine
        .agent
        .as_deref()
        .ok_or_else(|| RemoteError::NoAgent {
            machine: name.to_owned(),
        })?;
    Ok((machine, agent))
}

/// Nodes grouped by the machine they run on (nodes without a machine are left out).
pub fn by_machine(file: &LaunchFile) -> BTreeMap<String, Vec<NodeSpec>> {
    let mut out: BTreeMap<String, Vec<NodeSpec>> = BTreeMap::new();
    for node in &file.nodes {
        if let Some(m) = &node.machine {
            out.entry(m.clone()).or_default().push(node.clone());
        }
    }
    out
}

/// Makes sure the agent holds every program; returns their hashes (in order) and the
/// bytes that had to be sent. Files are read and sent in parts, never whole; a blob the
/// agent holds part of (an upload cut off) is sent from where it stands.
async fn ship(
    client: &mut AgentClient,
    machine: &str,
    programs: &[PathBuf],
) -> Result<(Vec<String>, u64), RemoteError> {
    let mut hashes = Vec::new();
    let mut by_hash: BTreeMap<String, &PathBuf> = BTreeMap::new();
    for program in programs {
        let hash = store::hash_file(program).map_err(|source| RemoteError::Read {
            path: program.clone(),
            source,
        })?;
        by_hash.insert(hash.clone(), program);
        hashes.push(hash);
    }
    let missing = client
        .ask(calls::MissingBlobs(by_hash.keys().cloned().collect()))
        .await
        .map_err(RemoteError::agent(machine))?;
    let mut sent = 0;
    for blob in missing {
        let Some(path) = by_hash.get(&blob.hash) else {
            continue;
        };
        if blob.have > 0 {
            tracing::info!(
                %machine,
                path = %path.display(),
                from = blob.have,
                "resuming an upload that was cut off"
            );
        }
        sent += upload(client, machine, path, &blob.hash, blob.have).await?;
    }
    Ok((hashes, sent))
}

/// Finds each node's program (`program`), ships what the agent lacks, and gives the
/// nodes as the agent runs them (their programs named by hash), with the bytes sent.
/// The one flow of a launch and of a deploy.
pub async fn ship_nodes(
    client: &mut AgentClient,
    machine: &MachineSpec,
    specs: &[NodeSpec],
    program: impl Fn(&NodeSpec) -> Result<PathBuf, RemoteError>,
) -> Result<(Vec<RemoteNode>, u64), RemoteError> {
    let programs = specs.iter().map(program).collect::<Result<Vec<_>, _>>()?;
    let (hashes, sent) = ship(client, &machine.name, &programs).await?;
    let nodes = specs
        .iter()
        .zip(hashes)
        .map(|(spec, hash)| {
            RemoteNode::from_spec(spec, hash, machine.host_id.clone(), machine.runner.clone())
                .map_err(|source| RemoteError::Params {
                    node: spec.name.clone(),
                    source,
                })
        })
        .collect::<Result<_, _>>()?;
    Ok((nodes, sent))
}

/// Makes sure the agent holds the program at `path`; its hash and the bytes sent.
pub async fn ship_program(
    client: &mut AgentClient,
    machine: &str,
    path: &Path,
) -> Result<(String, u64), RemoteError> {
    let (hashes, sent) = ship(client, machine, &[path.to_owned()]).await?;
    Ok((hashes.into_iter().next().unwrap_or_default(), sent))
}

/// The error of a node whose program is not built for `machine` in `bin_dir`.
pub fn no_program(spec: &NodeSpec, machine: &MachineSpec, bin_dir: &Path) -> RemoteError {
    RemoteError::NoProgram {
        node: spec.name.clone(),
        binary: spec.binary.clone(),
        target: machine
            .target
            .clone()
            .unwrap_or_else(|| host_target().to_owned()),
        dir: bin_dir.to_owned(),
    }
}

/// Sends the file `path` from byte `from` on, in parts; the bytes sent.
async fn upload(
    client: &mut AgentClient,
    machine: &str,
    path: &Path,
    hash: &str,
    from: u64,
) -> Result<u64, RemoteError> {
    use std::io::{Read, Seek};
    let cannot = |source| RemoteError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    file.seek(std::io::SeekFrom::Start(from)).map_err(cannot)?;
    let mut offset = from;
    let mut sent = 0;
    loop {
        let mut bytes = Vec::with_capacity(BLOB_PART);
        (&mut file)
            .take(BLOB_PART as u64)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        let len = bytes.len() as u64;
        let (have, complete) = client
            .ask(calls::PutBlobPart {
                hash: hash.to_owned(),
                size,
                offset,
                bytes,
            })
            .await
            .map_err(RemoteError::agent(machine))?;
        sent += len;
        if complete {
            return Ok(sent);
        }
        // The agent's position is the truth: past this part if one that arrived late
        // after a cut link was stored too, and never behind it.
        if have < offset + len || have > size || len == 0 {
            return Err(RemoteError::UploadStalled {
                endpoint: client.endpoint().to_owned(),
                path: path.to_owned(),
                have,
                size,
            });
        }
        if have != offset + len {
            file.seek(std::io::SeekFrom::Start(have)).map_err(cannot)?;
        }
        offset = have;
    }
}

/// One machine's agent during a launch.
#[derive(Debug)]
pub struct RemoteMachine {
    /// Machine name.
    pub name: String,
    client: AgentClient,
    poll: AgentClient,
    log_cursor: u64,
}

/// The remote part of a running launch.
#[derive(Debug)]
pub struct RemoteLaunch {
    /// Launch id on the agents.
    pub id: String,
    /// Bytes of binaries shipped when it started.
    pub shipped_bytes: u64,
    machines: Vec<RemoteMachine>,
}

/// Ships what is missing and starts the remote nodes of `file`.
pub async fn start(
    file: &LaunchFile,
    bin_dir: &Path,
    key: &Key,
    master: &str,
) -> Result<RemoteLaunch, RemoteError> {
    let id = launch_id(file);
    let mut machines = Vec::new();
    let mut shipped_bytes = 0;
    for (name, specs) in by_machine(file) {
        let (machine, agent) = agent_of(file, &name)?;
        let on_machine = RemoteError::agent(&name);
        let mut client =
            AgentClient::new(agent, key.clone(), AGENT_TIMEOUT).map_err(&on_machine)?;
        let (host_id, _) = client.ask(calls::Ping).await.map_err(&on_machine)?;
        if host_id != machine.host_id {
            tracing::warn!(machine = %name, agent_host = %host_id, expected = %machine.host_id, "agent reports another host id");
        }
        let (nodes, bytes) = ship_nodes(&mut client, machine, &specs, |spec| {
            program_for(spec, machine, bin_dir).ok_or_else(|| no_program(spec, machine, bin_dir))
        })
        .await?;
        shipped_bytes += bytes;
        client
            .ask(calls::Start {
                launch: id.clone(),
                robot: file.robot.clone(),
                master: master.to_owned(),
                nodes,
            })
            .await
            .map_err(&on_machine)?;
        tracing::info!(machine = %name, agent = %agent, nodes = specs.len(), "remote nodes started");
        let poll = AgentClient::new(agent, key.clone(), POLL_TIMEOUT).map_err(&on_machine)?;
        machines.push(RemoteMachine {
            name: name.clone(),
            client,
            poll,
            log_cursor: 0,
        });
    }
    tracing::info!(bytes = shipped_bytes, "shipped binaries");
    Ok(RemoteLaunch {
        id,
        shipped_bytes,
        machines,
    })
}

impl RemoteLaunch {
    /// Prints new output lines of every remote node as `[machine/node] line`.
    pub async fn relay_logs(&mut self) {
        for m in &mut self.machines {
            let call = calls::Logs {
                launch: self.id.clone(),
                after: m.log_cursor,
            };
            match m.poll.ask(call).await {
                Ok(lines) => {
                    for line in lines {
                        m.log_cursor = line.seq;
                        print_line(
                            &format!("{}/{}", m.name, line.node),
                            line.stream,
                            &line.text,
                        );
                    }
                }
                Err(e) => tracing::debug!(machine = %m.name, error = %e, "no logs"),
            }
        }
    }

    /// Status rows of every remote node (machines that do not answer are left out).
    pub async fn status(&mut self) -> Vec<NodeStatus> {
        let mut out = Vec::new();
        for m in &mut self.machines {
            if let Ok(rows) = m
                .poll
                .ask(calls::Status {
                    launch: self.id.clone(),
                })
                .await
            {
                out.extend(rows);
            }
        }
        out
    }

    /// Stops the remote nodes on every machine.
    pub async fn stop(&mut self) {
        for m in &mut self.machines {
            if let Err(e) = m
                .client
                .ask(calls::Stop {
                    launch: self.id.clone(),
                })
                .await
            {
                tracing::warn!(machine = %m.name, error = %e, "could not stop the remote nodes");
            }
        }
        self.relay_logs().await;
    }
}

/// Stops a launch on every agent of `file`, without a running launcher; the machines
/// that failed.
pub async fn stop_everywhere(file: &LaunchFile, key: &Key) -> Vec<RemoteError> {
    let id = launch_id(file);
    let mut errors = Vec::new();
    for name in &machines_of(file) {
        let Some(agent) = file.machines.get(name).and_then(|m| m.agent.clone()) else {
            continue;
        };
        let result = match AgentClient::new(&agent, key.clone(), AGENT_TIMEOUT) {
            Ok(mut c) => c.ask(calls::Stop { launch: id.clone() }).await,
            Err(e) => Err(e),
        };
        if let Err(source) = result {
            errors.push(RemoteError::agent(name)(source));
        }
    }
    errors
}

/// The machines that run something of `file`: its nodes' and the master's (a
/// deployed master runs under its machine's agent).
fn machines_of(file: &LaunchFile) -> Vec<String> {
    let mut machines: Vec<String> = by_machine(file).into_keys().collect();
    if let Some(master) = &file.master.machine {
        if !machines.contains(master) {
            machines.push(master.clone());
        }
    }
    machines
}

/// The status rows of a launch on every agent of `file`, without a running launcher
/// (a deployed robot), with the machines that did not answer.
pub async fn status_everywhere(
    file: &LaunchFile,
    key: &Key,
) -> (Vec<NodeStatus>, Vec<RemoteError>) {
    let id = launch_id(file);
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for name in machines_of(file) {
        let Some(agent) = file.machines.get(&name).and_then(|m| m.agent.clone()) else {
            continue;
        };
        let result = match AgentClient::new(&agent, key.clone(), STATUS_TIMEOUT) {
            Ok(mut c) => c.ask(calls::Status { launch: id.clone() }).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(list) => rows.extend(list.into_iter().map(|mut row| {
                row.machine = name.clone();
                row
            })),
            Err(source) => errors.push(RemoteError::agent(&name)(source)),
        }
    }
    (rows, errors)
}

/// How long an agent may take to say how its nodes are.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
