//! The launch file as typed values, and everything that can be wrong with one.
//!
//! Reading never stops at the first mistake: [`load`] returns every problem of the
//! file and its includes at once, each with its file, line and column.
//!
//! ```toml
//! robot = "rover"
//! include = ["sensors.toml"]          # more machines and nodes, relative to this file
//!
//! [master]
//! machine = "base"                    # where the master runs (default: this host)
//! bind = "tcp://0.0.0.0:11311"        # port 0: pick a free one
//!
//! [machines.base]
//! address = "192.168.1.10"            # how the launcher reaches the machine
//! target = "aarch64-unknown-linux-gnu"
//! agent = "tcp://192.168.1.10:11411"  # its `pinion agent`
//! runner = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]   # optional, for emulated machines
//! host_id = "base"                    # PINION_HOST of its nodes (default: the machine's name)
//!
//! [deploy]                            # how `pinion deploy` checks a new version
//! health_deadline = "30s"             # every node up and registered by then, else roll back
//! steady_for = "3s"                   # ... and none exits or restarts for this long
//!
//! [[node]]
//! name = "imu"
//! binary = "imu_sim"                  # beside `pinion`, on PATH, or a path; a `.py` file
//!                                     # runs with `python3` (a Python node, `import pinion`)
//! interpreter = ["python3.11", "-u"]  # optional: the program that runs `binary`
//! machine = "base"                    # default: this host
//! args = ["--rate", "50"]
//! env = { RUST_LOG = "debug" }
//! params = { frame_id = "imu_link", rate = 50 }
//! remap = { imu = "sensors/imu" }     # topic as written in the node -> topic in the graph
//! namespace = "rover"
//! respawn = "on-failure"              # never | on-failure | always
//! respawn_delay = "500ms"             # first delay; doubles each time up to respawn_max_delay
//! respawn_max_delay = "10s"
//! max_restarts = 5                    # then the node stays down
//! required = true                     # its exit stops the whole launch
//! after = ["driver"]                  # start once these are registered with the master
//! stop_timeout = "5s"                 # shutdown request, SIGTERM, then SIGKILL after this
//! ```

mod checks;
mod duration;
mod problem;
mod reader;

pub use duration::{parse_duration, DurationError};
pub use problem::{Location, Problem, Problems};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A whole launch file, includes merged.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchFile {
    /// Name of the robot, for logs and status.
    pub robot: String,
    /// The robot's largest message (`max_message = "64MiB"`), given to every node as
    /// `PINION_MAX_MESSAGE`; `None`: the nodes' default.
    pub max_message: Option<usize>,
    /// Where the master runs.
    pub master: MasterSpec,
    /// How `pinion deploy` checks a new version (the `[deploy]` table).
    pub deploy: DeploySpec,
    /// Machines by name.
    pub machines: BTreeMap<String, MachineSpec>,
    /// Nodes, in file order.
    pub nodes: Vec<NodeSpec>,
    /// The file it was read from.
    pub path: PathBuf,
}

/// The `[master]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterSpec {
    /// Machine the master runs on; `None`: this host.
    pub machine: Option<String>,
    /// Endpoint to bind.
    pub bind: String,
    /// Where `bind` is written (the file's start if it is not).
    pub at: Location,
}

/// The `[deploy]` table: when `pinion deploy` calls a new version healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploySpec {
    /// Every node must be running and registered with the master by then (counted
    /// from the switch), or every machine goes back to its previous version.
    pub health_deadline: Duration,
    /// ... and stay so, with no exit or restart, for this long.
    pub steady_for: Duration,
}

impl Default for DeploySpec {
    /// 30 s covers a Pi 3 starting a dozen nodes under systemd's load after a switch;
    /// 3 s catches a node that exits after its first publication or once its
    /// parameters are read.
    fn default() -> Self {
        Self {
            health_deadline: Duration::from_secs(30),
            steady_for: Duration::from_secs(3),
        }
    }
}

/// One `[machines.NAME]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSpec {
    /// The machine's name.
    pub name: String,
    /// Address the launcher and other machines reach it at.
    pub address: String,
    /// Rust target triple of its binaries.
    pub target: Option<String>,
    /// Endpoint of its `pinion agent`.
    pub agent: Option<String>,
    /// Program and arguments put in front of every node command (an emulator).
    pub runner: Vec<String>,
    /// Host id its nodes get (`PINION_HOST`).
    pub host_id: String,
    /// Where it is written.
    pub at: Location,
}

/// When a node that exited is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespawnPolicy {
    /// Never.
    Never,
    /// When it exits with a failure (non-zero code or a signal).
    OnFailure,
    /// Whenever it exits.
    Always,
}

/// Respawn policy with its timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Respawn {
    /// When to respawn.
    pub policy: RespawnPolicy,
    /// First delay before a restart.
    pub delay: Duration,
    /// Largest delay (the delay doubles after each restart).
    pub max_delay: Duration,
    /// Restarts allowed before the node stays down; `None`: no limit.
    pub max_restarts: Option<u32>,
}

impl Default for Respawn {
    fn default() -> Self {
        Self {
            policy: RespawnPolicy::Never,
            delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_restarts: None,
        }
    }
}

/// One `[[node]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// Name in the graph.
    pub name: String,
    /// Program to run.
    pub binary: String,
    /// Machine it runs on; `None`: this host.
    pub machine: Option<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Parameters, as JSON values.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Topic remaps: name in the node -> name in the graph.
    pub remap: BTreeMap<String, String>,
    /// Namespace prepended to its relative names.
    pub namespace: Option<String>,
    /// The program (and its arguments) that runs `binary`: a script's interpreter.
    /// `None`: `python3` for a `.py` file, else `binary` runs itself.
    pub interpreter: Option<Vec<String>>,
    /// Respawn policy.
    pub respawn: Respawn,
    /// Whether its exit stops the launch.
    pub required: bool,
    /// Nodes that must be registered before this one starts.
    pub after: Vec<String>,
    /// Time between the shutdown request and SIGKILL.
    pub stop_timeout: Duration,
    /// Where it is written.
    pub at: Location,
}

impl NodeSpec {
    /// The program (and arguments) that runs `binary`: the one given, `python3` for a
    /// `.py` file, else none (the binary runs itself).
    pub fn interpreter(&self) -> Vec<String> {
        match &self.interpreter {
            Some(given) => given.clone(),
            None if self.binary.ends_with(".py") => vec!["python3".to_owned()],
            None => Vec::new(),
        }
    }

    /// A process of Pinion's own (`pinion ARGS`: the master of a deployed robot, a
    /// machine's health reporter), supervised like a node and always restarted.
    pub fn pinion_tool(name: &str, args: &[&str], origin: &str) -> Self {
        NodeSpec {
            name: name.to_owned(),
            binary: "pinion".to_owned(),
            machine: None,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Default::default(),
            params: Default::default(),
            remap: Default::default(),
            namespace: None,
            interpreter: None,
            respawn: Respawn {
                policy: RespawnPolicy::Always,
                ..Respawn::default()
            },
            required: false,
            after: Vec::new(),
            stop_timeout: Duration::from_secs(5),
            at: Location {
                file: Path::new(origin).to_owned(),
                line: 1,
                column: 1,
            },
        }
    }

    /// How its topic names resolve: its namespace and remaps, as the launcher gives
    /// them to it.
    pub fn naming(&self) -> pinion::base::naming::Naming {
        pinion::base::naming::Naming {
            namespace: self
                .namespace
                .as_ref()
                .map(|n| n.trim_matches('/').to_owned()),
            remap: self
                .remap
                .iter()
                .map(|(k, v)| (k.trim_start_matches('/').to_owned(), v.clone()))
                .collect(),
        }
    }

    /// The name it registers with the master: its namespace, then its name.
    pub fn graph_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}", ns.trim_matches('/'), self.name),
            None => self.name.clone(),
        }
    }
}

/// Reads a launch file and its includes and checks everything that can be checked
/// without running anything; `binary_exists` says whether a node's program can be found.
pub fn load(
    path: &Path,
    binary_exists: &dyn Fn(&NodeSpec) -> bool,
) -> Result<LaunchFile, Problems> {
    let mut problems = Vec::new();
    let file = reader::read_with_includes(path, &mut problems);
    if let Some(file) = &file {
        checks::check(file, binary_exists, &mut problems);
    }
    match file {
        Some(file) if problems.is_empty() => Ok(file),
        _ => Err(Problems(problems)),
    }
}

/// Parses launch-file text alone (no includes followed, binaries not looked up).
pub fn parse(text: &str, path: &Path) -> Result<LaunchFile, Problems> {
    let mut problems = Vec::new();
    let file = reader::read_text(text, path, &mut problems);
    if let Some(file) = &file {
        checks::check(file, &|_| true, &mut problems);
    }
    match file {
        Some(file) if problems.is_empty() => Ok(file),
        _ => Err(Problems(problems)),
    }
}

#[cfg(test)]
mod tests;
