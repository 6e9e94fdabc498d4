//! `pinion deploy`: build every node for its machine's target, ship only the binaries an
//! agent lacks, install the new version on each agent (keeping the previous one), check
//! that it runs healthy ([`verify`]) and otherwise go back to the previous version on
//! every machine by itself, and leave the robot running without a launcher.
//! `--rollback` goes back one version by hand.
//!
//! The master runs under the agent of `[master] machine`, as one more supervised process.

pub mod verify;

use crate::agent::auth::Key;
use crate::agent::client::{AgentClient, AgentError};
use crate::agent::protocol::calls::{self, Upgraded};
use crate::agent::protocol::Manifest;
use crate::model::{LaunchFile, MachineSpec, NodeSpec};
use crate::remote::{
    agent_of, by_machine, host_target, launch_id, no_program, program_for, ship_nodes,
    ship_program, RemoteError,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use verify::Unhealthy;

/// How long an agent may take to answer a deploy's request by default: a 4 MiB part
/// over a poor Wi-Fi link, or a launch switching versions.
const AGENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a deploy or a rollback failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A node runs on no machine.
    #[error("node `{node}` has no machine: a deployed robot runs every node under an agent; give it `machine = \"...\"`")]
    NodeWithoutMachine {
        /// The node.
        node: String,
    },
    /// The master runs on no machine.
    #[error("a deployed robot needs [master] machine = \"...\": the master runs under that machine's agent")]
    MasterWithoutMachine,
    /// The master's machine is not defined.
    #[error("[master] machine `{machine}` is not defined: add a [machines.{machine}] table")]
    UnknownMasterMachine {
        /// The machine.
        machine: String,
    },
    /// The master's port is not fixed.
    #[error("[master] bind = \"{bind}\": a deployed master needs a fixed port (nodes find it there after restarts), such as tcp://0.0.0.0:11311")]
    NoFixedPort {
        /// The bind address as written.
        bind: String,
    },
    /// The build tool could not be run.
    #[error("cannot run {tool}: {source}; is it installed (scripts/setup installs cargo's targets, `cargo install cross` the other)?")]
    BuildTool {
        /// `cargo` or `cross`.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The build failed.
    #[error("{tool} build for {target} failed ({status}); its output above says why")]
    BuildFailed {
        /// `cargo` or `cross`.
        tool: String,
        /// The target triple.
        target: String,
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// No machine had a version to go back to.
    #[error("nothing to roll back: no machine has a previous version of this launch")]
    NothingToRollBack,
    /// The new version did not become healthy, and it was kept (see `kept`).
    #[error("the new version is not healthy; it keeps running because {kept}:\n{unhealthy}")]
    Unhealthy {
        /// What was wrong.
        unhealthy: Unhealthy,
        /// Why it was not rolled back.
        kept: &'static str,
    },
    /// The new version did not become healthy, and every machine went back.
    #[error("the new version is not healthy, so every machine went back to its previous version ({}):\n{unhealthy}{}",
        versions(back_to),
        again.as_ref().map(|a| format!("\nthe previous version is not healthy either:\n{a}")).unwrap_or_default())]
    RolledBack {
        /// What was wrong with the new version.
        unhealthy: Unhealthy,
        /// What each machine runs now.
        back_to: Vec<MachineOutcome>,
        /// What is wrong with the previous version, if it is not healthy either.
        again: Option<Unhealthy>,
    },
    /// The new version did not become healthy, and going back failed too.
    #[error("the new version is not healthy:\n{unhealthy}\nand going back to the previous version failed: {source}")]
    RollbackFailed {
        /// What was wrong with the new version.
        unhealthy: Unhealthy,
        /// Why the rollback failed.
        source: Box<DeployError>,
    },
    /// An agent did not become the new build of `pinion`.
    #[error("the agent of `{machine}` did not become the new build of pinion (it answers {answer}); its nodes run on under the build it has")]
    UpgradeFailed {
        /// The machine.
        machine: String,
        /// What it answered last.
        answer: String,
    },
    /// Shipping to or installing on a machine failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// `base: 1a2b3c, pi: 4d5e6f`
fn versions(machines: &[MachineOutcome]) -> String {
    machines
        .iter()
        .map(|m| format!("{}: {}", m.machine, m.version))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DeployError {
    fn agent(machine: &str) -> impl Fn(AgentError) -> Self + '_ {
        move |source| Self::Remote(RemoteError::agent(machine)(source))
    }
}

/// How to build and where the builds are.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// Cargo profile (`release`, `dev`, ...).
    pub profile: String,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
    /// Build before shipping (else use what is built).
    pub build: bool,
    /// Build with `cross` instead of cargo.
    pub cross: bool,
    /// The agents' key.
    pub key: Key,
    /// Go back to the previous version when the new one is not healthy.
    pub rollback_unhealthy: bool,
    /// How long an agent may take to answer one request (a cut link fails after this).
    pub agent_timeout: Duration,
}

impl DeploySettings {
    /// Where binaries for `target` are.
    pub fn bin_dir(&self, target: &str) -> PathBuf {
        let profile = if self.profile == "dev" {
            "debug"
        } else {
            self.profile.as_str()
        };
        if target == host_target() {
            self.target_dir.join(profile)
        } else {
            self.target_dir.join(target).join(profile)
        }
    }
}

/// What one machine runs after a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineOutcome {
    /// Machine name.
    pub machine: String,
    /// Version now running.
    pub version: String,
    /// Version kept for rollback.
    pub previous: Option<String>,
    /// Bytes of binaries shipped to it.
    pub shipped_bytes: u64,
    /// Whether its version changed.
    pub changed: bool,
}

/// Checks that the file can be deployed: every node on a machine, the master on one, a fixed port.
pub fn master_endpoint(file: &LaunchFile) -> Result<(String, &MachineSpec), DeployError> {
    if let Some(node) = file.nodes.iter().find(|n| n.machine.is_none()) {
        return Err(DeployError::NodeWithoutMachine {
            node: node.name.clone(),
        });
    }
    let machine_name = file
        .master
        .machine
        .as_ref()
        .ok_or(DeployError::MasterWithoutMachine)?;
    let machine =
        file.machines
            .get(machine_name)
            .ok_or_else(|| DeployError::UnknownMasterMachine {
                machine: machine_name.clone(),
            })?;
    let port = file
        .master
        .bind
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| DeployError::NoFixedPort {
            bind: file.master.bind.clone(),
        })?;
    Ok((format!("tcp://{}:{port}", machine.address), machine))
}

/// Builds the workspace's binaries for every target the file's machines use.
pub fn build(file: &LaunchFile, settings: &DeploySettings) -> Result<(), DeployError> {
    let targets: BTreeSet<String> = file
        .machines
        .values()
        .map(|m| m.target.clone().unwrap_or_else(|| host_target().to_owned()))
        .collect();
    for target in targets {
        let tool = if settings.cross { "cross" } else { "cargo" };
        tracing::info!(%target, profile = %settings.profile, %tool, "building");
        let mut command = std::process::Command::new(tool);
        command
            .args([
                "build",
                "--workspace",
                "--bins",
                "--profile",
                &settings.profile,
            ])
            .env("CARGO_TARGET_DIR", &settings.target_dir);
        // Host builds stay in target/<profile>, where `bin_dir` (and `cargo build`) put them.
        if target != host_target() {
            command.args(["--target", &target]);
        }
        let status = command.status().map_err(|source| DeployError::BuildTool {
            tool: tool.to_owned(),
            source,
        })?;
        if !status.success() {
            return Err(DeployError::BuildFailed {
                tool: tool.to_owned(),
                target,
                status,
            });
        }
    }
    Ok(())
}

/// Deploys `file`: ships what changed, installs the new version on every machine, and
/// checks that it runs healthy; one that does not is rolled back on every machine
/// (unless `settings` say otherwise), and the error says which node failed and how.
pub async fn deploy(
    file: &LaunchFile,
    settings: &DeploySettings,
) -> Result<Vec<MachineOutcome>, DeployError> {
    let outcomes = switch(file, settings).await?;
    let (master, _) = master_endpoint(file)?;
    let publications = publications(file, settings).await;
    let Err(unhealthy) = verify::until_healthy(file, &master, &settings.key, &publications).await
    else {
        return Ok(outcomes);
    };
    if !outcomes.iter().any(|o| o.changed) {
        let kept = "it is the version that ran before (nothing changed)";
        return Err(DeployError::Unhealthy { unhealthy, kept });
    }
    if !settings.rollback_unhealthy {
        let kept = "--no-rollback was given";
        return Err(DeployError::Unhealthy { unhealthy, kept });
    }
    tracing::warn!("the new version is not healthy: rolling back every machine");
    match rollback(file, &settings.key).await {
        Ok(back_to) => {
            // The previous version's programs may publish otherwise: only running
            // and registered count.
            let again = verify::until_healthy(file, &master, &settings.key, &Default::default())
                .await
                .err();
            Err(DeployError::RolledBack {
                unhealthy,
                back_to,
                again,
            })
        }
        Err(DeployError::NothingToRollBack) => {
            let kept = "no machine has a previous version to go back to";
            Err(DeployError::Unhealthy { unhealthy, kept })
        }
        Err(e) => Err(DeployError::RollbackFailed {
            unhealthy,
            source: Box::new(e),
        }),
    }
}

/// What each node's code publishes, from the manifests of the programs deployed (a
/// Pinion node binary, run under its machine's runner; other programs have none), as
/// named in the graph.
async fn publications(file: &LaunchFile, settings: &DeploySettings) -> verify::Publications {
    let mut out = verify::Publications::new();
    for (name, specs) in by_machine(file) {
        let Some(machine) = file.machines.get(&name) else {
            continue;
        };
        let (bin_dir, here) = built_for(machine, settings);
        for spec in specs {
            let Some(program) = program_for(&spec, &here, &bin_dir) else {
                continue;
            };
            let Ok(Some(manifest)) = crate::manifest::read(&program, &machine.runner).await else {
                continue;
            };
            let naming = spec.naming();
            let topics = manifest
                .publishes
                .iter()
                .filter_map(|t| naming.resolve(&t.topic).ok())
                .map(|t| t.to_string())
                .collect();
            out.insert(spec.name.clone(), topics);
        }
    }
    out
}

/// Where the binaries for `machine` were built, and the machine as a program lookup
/// there sees it (they were built for its target into that directory).
fn built_for(machine: &MachineSpec, settings: &DeploySettings) -> (PathBuf, MachineSpec) {
    let target = machine
        .target
        .clone()
        .unwrap_or_else(|| host_target().to_owned());
    let here = MachineSpec {
        target: None,
        ..machine.clone()
    };
    (settings.bin_dir(&target), here)
}

/// Ships what changed and installs the new version on every machine.
async fn switch(
    file: &LaunchFile,
    settings: &DeploySettings,
) -> Result<Vec<MachineOutcome>, DeployError> {
    let (master, master_machine) = master_endpoint(file)?;
    if settings.build {
        build(file, settings)?;
    }
    let id = launch_id(file);
    let mut groups = by_machine(file);
    groups.entry(master_machine.name.clone()).or_default();
    let mut outcomes = Vec::new();
    for (name, specs) in groups {
        let (machine, agent) = agent_of(file, &name)?;
        let (bin_dir, here) = built_for(machine, settings);
        let mut specs: Vec<NodeSpec> = specs;
        if name == master_machine.name {
            specs.insert(0, master_spec(&file.master.bind));
        }
        let mut client = AgentClient::new(agent, settings.key.clone(), settings.agent_timeout)
            .map_err(DeployError::agent(&name))?;
        let (nodes, shipped_bytes) = ship_nodes(&mut client, machine, &specs, |spec| {
            program_for(spec, &here, &bin_dir).ok_or_else(|| no_program(spec, machine, &bin_dir))
        })
        .await?;
        // An emulated machine (a runner) runs its agent natively: not the target's build.
        let (upgraded, agent_bytes) = if machine.runner.is_empty() {
            upgrade_agent(&mut client, &name, &bin_dir, settings).await?
        } else {
            (false, 0)
        };
        if upgraded {
            // The agent is a new process behind the same endpoint: a new connection.
            client = AgentClient::new(agent, settings.key.clone(), settings.agent_timeout)
                .map_err(DeployError::agent(&name))?;
        }
        let shipped_bytes = shipped_bytes + agent_bytes;
        let manifest = Manifest {
            robot: file.robot.clone(),
            master: master.clone(),
            nodes,
        };
        let (version, previous) = client
            .ask(calls::Deploy {
                launch: id.clone(),
                manifest,
            })
            .await
            .map_err(DeployError::agent(&name))?;
        tracing::info!(machine = %name, %version, shipped_bytes, "deployed");
        let changed = previous.as_deref() != Some(version.as_str());
        outcomes.push(MachineOutcome {
            machine: name,
            version,
            previous,
            shipped_bytes,
            changed,
        });
    }
    Ok(outcomes)
}

/// Ships the `pinion` built for the machine and has its agent become it, if it is
/// another build: the agent's nodes keep running (the new agent adopts them). Whether
/// the agent restarted, and the bytes sent.
async fn upgrade_agent(
    client: &mut AgentClient,
    machine: &str,
    bin_dir: &Path,
    settings: &DeploySettings,
) -> Result<(bool, u64), DeployError> {
    let program = bin_dir.join("pinion");
    if !program.is_file() {
        tracing::warn!(%machine, path = %program.display(), "no pinion built for this machine: its agent is not upgraded");
        return Ok((false, 0));
    }
    let blob = crate::agent::store::hash_file(&program).map_err(|source| {
        DeployError::Remote(RemoteError::Read {
            path: program.clone(),
            source,
        })
    })?;
    let mut sent = 0;
    let mut answer = client.ask(calls::Upgrade { blob: blob.clone() }).await;
    if answer.as_ref().is_ok_and(|a| *a == Upgraded::NeedsBlob) {
        sent = ship_program(client, machine, &program).await?.1;
        answer = client.ask(calls::Upgrade { blob: blob.clone() }).await;
    }
    match answer {
        Ok(Upgraded::Restarting) => {}
        // The answer may be lost as the agent becomes the new build: the agent says
        // below whether it is the new build now.
        Err(AgentError::Unreachable { .. }) => {}
        Ok(Upgraded::AlreadyThisBuild | Upgraded::NeedsBlob) => return Ok((false, sent)),
        Err(AgentError::Refused { message, .. }) => {
            // An agent of a build from before upgrades: it keeps running as it is.
            tracing::warn!(%machine, %message, "the agent cannot upgrade itself; update its pinion by hand once");
            return Ok((false, sent));
        }
        Err(e) => return Err(DeployError::agent(machine)(e)),
    }
    tracing::info!(%machine, "the agent is becoming the new build");
    let deadline = tokio::time::Instant::now() + settings.agent_timeout;
    let endpoint = client.endpoint().to_owned();
    loop {
        let mut ask = AgentClient::new(&endpoint, settings.key.clone(), UPGRADE_PING)
            .map_err(DeployError::agent(machine))?;
        match ask.ask(calls::Upgrade { blob: blob.clone() }).await {
            Ok(Upgraded::AlreadyThisBuild) => return Ok((true, sent)),
            Err(AgentError::Refused { message, .. }) => {
                return Err(DeployError::UpgradeFailed {
                    machine: machine.to_owned(),
                    answer: message,
                });
            }
            Ok(other) if tokio::time::Instant::now() >= deadline => {
                return Err(DeployError::UpgradeFailed {
                    machine: machine.to_owned(),
                    answer: format!("{other:?}"),
                });
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(DeployError::agent(machine)(e));
            }
            _ => tokio::time::sleep(UPGRADE_PING / 10).await,
        }
    }
}

/// How long one look for an agent coming back from an upgrade waits.
const UPGRADE_PING: Duration = Duration::from_secs(1);

/// Rolls every machine of `file` back to its previous version.
pub async fn rollback(file: &LaunchFile, key: &Key) -> Result<Vec<MachineOutcome>, DeployError> {
    let (_, master_machine) = master_endpoint(file)?;
    let id = launch_id(file);
    let mut machines: BTreeSet<String> = by_machine(file).into_keys().collect();
    machines.insert(master_machine.name.clone());
    let mut outcomes = Vec::new();
    for name in machines {
        let (_, agent) = agent_of(file, &name)?;
        let mut client = AgentClient::new(agent, key.clone(), AGENT_TIMEOUT)
            .map_err(DeployError::agent(&name))?;
        let rolled_back = client
            .ask(calls::Rollback { launch: id.clone() })
            .await
            .map_err(DeployError::agent(&name))?;
        match rolled_back {
            calls::RolledBack::To { version, previous } => outcomes.push(MachineOutcome {
                machine: name,
                version,
                previous,
                shipped_bytes: 0,
                changed: true,
            }),
            calls::RolledBack::Unchanged { version } => outcomes.push(MachineOutcome {
                machine: name,
                version,
                previous: None,
                shipped_bytes: 0,
                changed: false,
            }),
        }
    }
    if !outcomes.iter().any(|o| o.changed) {
        return Err(DeployError::NothingToRollBack);
    }
    Ok(outcomes)
}

/// The master, as a process its machine's agent supervises.
fn master_spec(bind: &str) -> NodeSpec {
    NodeSpec::pinion_tool("master", &["master", "--bind", bind], "<deploy>")
}
