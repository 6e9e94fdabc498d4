//! `pinion launch FILE.toml`: start the master and the nodes, supervise them, stop them
//! on Ctrl-C; `pinion launch status|stop|restart FILE` talk to a running launch.

use anyhow::{bail, Context};
use pinion_launch::agent::auth::Key;
use pinion_launch::control::{self, LaunchReply, LaunchRequest};
use pinion_launch::launcher::{self, LaunchSettings};
use pinion_launch::model;
use pinion_launch::resolve::resolve;
use pinion_launch::status::{NodeState, NodeStatus};
use pinion_launch::supervisor::Ending;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `pinion launch`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The launch file.
    file: Option<PathBuf>,
    /// Only check the file; start nothing.
    #[arg(long)]
    check: bool,
    /// Run every node on this host (over ipc), whatever machine the file gives it.
    #[arg(long)]
    local: bool,
    /// Key shared with the agents of the file's machines.
    #[arg(long, env = "PINION_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Bind the master here instead of the file's [master] bind (port 0: pick one).
    #[arg(long)]
    bind: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Show the status table of a running launch, or of a deployed robot's agents.
    Status {
        /// The launch file.
        file: PathBuf,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Key of the agents, to ask them when no launcher runs (a deployed robot).
        #[arg(long, env = "PINION_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// Stop a running launch, or one node of it (which then stays down).
    Stop {
        /// The launch file.
        file: PathBuf,
        /// Only this node.
        node: Option<String>,
        /// Key of the agents, to stop their nodes when no launcher runs.
        #[arg(long, env = "PINION_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// Restart one node of a running launch.
    Restart {
        /// The launch file.
        file: PathBuf,
        /// The node.
        node: String,
    },
    /// Run this launch file at boot, on this machine alone (`--local`): a systemd
    /// unit, `pinion-launch-<file>.service` (root).
    Install {
        /// The launch file.
        file: PathBuf,
        /// The user the robot runs as (root if not given).
        #[arg(long)]
        user: Option<String>,
        /// Print the unit and change nothing.
        #[arg(long)]
        print: bool,
        /// Where units live.
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: PathBuf,
    },
    /// Stop this launch file's unit and remove it (root).
    Uninstall {
        /// The launch file.
        file: PathBuf,
        /// Where units live.
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: PathBuf,
    },
}

/// Runs `pinion launch`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Some(Action::Install {
            file,
            user,
            print,
            unit_dir,
        }) => install(&file, user, print, &unit_dir),
        Some(Action::Uninstall { file, unit_dir }) => {
            super::unit::uninstall(&super::unit::launch_unit_name(&file), &unit_dir)
        }
        Some(action) => remote(action),
        None => match &args.file {
            Some(file) => launch(file, &args),
            None => bail!("give a launch file: pinion launch FILE.toml"),
        },
    }
}

use super::runtime;

fn launch(path: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    let pinion_exe = std::env::current_exe().context("cannot find the pinion executable")?;
    let bin_dir = pinion_exe
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let exists = |node: &model::NodeSpec| resolve(node, &bin_dir).is_some();
    let mut file = match model::load(path, &exists) {
        Ok(file) => file,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(bind) = &args.bind {
        file.master.bind = bind.clone();
    }
    let rt = runtime()?;
    if args.check {
        // A real launch starts each program once and leaves the types to the master,
        // which refuses a mismatch as the nodes come up; the check reads the manifests.
        if !rt.block_on(check_wiring(&file, &bin_dir, args.local)) {
            eprintln!("the wiring of {} is wrong", path.display());
            return Ok(ExitCode::FAILURE);
        }
        tracing::info!(file = %path.display(), nodes = file.nodes.len(), "launch file is valid");
        return Ok(ExitCode::SUCCESS);
    }
    let key = args.key_file.as_deref().map(Key::load).transpose()?;
    let settings = LaunchSettings {
        pinion_exe,
        bin_dir,
        local: args.local,
        key,
    };
    // One thread: children are forked from it, and it lives as long as the launcher,
    // so the kernel's parent-death signal reaches them only when the launcher dies.
    let report = rt.block_on(async {
        let replier = control::bind(path).await?;
        let (commands, receiver) = tokio::sync::mpsc::channel(16);
        let server = tokio::spawn(control::serve(replier, commands));
        let report = launcher::run(&file, &settings, super::termination(), receiver).await;
        server.abort();
        let _ = std::fs::remove_file(control::socket_path(path));
        anyhow::Ok(report?)
    })?;
    let failed: Vec<&str> = report
        .nodes
        .iter()
        .filter(|n| {
            n.state == NodeState::Failed
                || n.last_exit.as_deref().is_some_and(|e| e != "exit code 0")
        })
        .map(|n| n.name.as_str())
        .collect();
    match report.ending {
        Ending::Stopped => Ok(ExitCode::SUCCESS),
        Ending::RequiredExited(name) => {
            tracing::error!(node = %name, "the launch stopped because a required node exited");
            Ok(ExitCode::FAILURE)
        }
        Ending::AllDone if failed.is_empty() => Ok(ExitCode::SUCCESS),
        Ending::AllDone => {
            tracing::error!(nodes = ?failed, "some nodes failed");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `pinion launch install`: the file is checked first, so a unit never starts a file
/// that cannot run.
fn install(
    file: &std::path::Path,
    user: Option<String>,
    print: bool,
    unit_dir: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let file = std::path::absolute(file)?;
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let bin_dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    let exists = |node: &model::NodeSpec| resolve(node, &bin_dir).is_some();
    if let Err(problems) = model::load(&file, &exists) {
        eprintln!("{problems}");
        return Ok(ExitCode::FAILURE);
    }
    let unit = super::unit::launch_unit(&exe, &file, user);
    if print {
        use std::io::Write;
        std::io::stdout().lock().write_all(unit.text().as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    unit.install(&super::unit::launch_unit_name(&file), unit_dir)
}

fn remote(action: Action) -> anyhow::Result<ExitCode> {
    let mut agents_key = None;
    let mut status_key = None;
    let (file, request, json) = match action {
        Action::Status {
            file,
            json,
            key_file,
        } => {
            status_key = key_file;
            (file, LaunchRequest::Status, json)
        }
        Action::Stop {
            file,
            node: None,
            key_file,
        } => {
            agents_key = key_file;
            (file, LaunchRequest::Stop, false)
        }
        Action::Stop {
            file,
            node: Some(n),
            ..
        } => (file, LaunchRequest::StopNode(n), false),
        Action::Restart { file, node } => (file, LaunchRequest::RestartNode(node), false),
        Action::Install { .. } | Action::Uninstall { .. } => {
            anyhow::bail!("installing a unit does not talk to a running launch")
        }
    };
    let reply = runtime()?.block_on(control::request(&file, &request));
    let reply = match (reply, agents_key) {
        (Ok(r), _) => r,
        (Err(e), None) if status_key.is_some() => {
            tracing::info!("{e}; asking the agents directly");
            return status_on_agents(&file, status_key.as_deref().unwrap_or(Path::new("")), json);
        }
        (Err(e), Some(key_file)) => {
            tracing::info!("{e}; stopping the nodes on the agents directly");
            return stop_on_agents(&file, &key_file);
        }
        (Err(e), None) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match reply {
        LaunchReply::Ok | LaunchReply::Released(_) => Ok(ExitCode::SUCCESS),
        LaunchReply::Status {
            robot,
            master,
            nodes,
        } => {
            print_status(&robot, &master, &nodes, json)?;
            Ok(ExitCode::SUCCESS)
        }
        LaunchReply::Error(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_status(robot: &str, master: &str, nodes: &[NodeStatus], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for n in nodes {
            writeln!(out, "{}", serde_json::to_string(n)?)?;
        }
        return Ok(());
    }
    writeln!(out, "robot {robot}  master {master}")?;
    writeln!(
        out,
        "{:<20} {:<12} {:>8} {:<9} {:>8} {:>10}  LAST EXIT",
        "NODE", "MACHINE", "PID", "STATE", "RESTARTS", "UPTIME"
    )?;
    for n in nodes {
        let pid = n.pid.map_or("-".to_owned(), |p| p.to_string());
        let uptime = match (n.state, n.since) {
            (NodeState::Running, Some(since)) => since
                .elapsed()
                .map_or("-".to_owned(), |d| format!("{}s", d.as_secs())),
            _ => "-".to_owned(),
        };
        let state = format!("{:?}", n.state).to_lowercase();
        let last = n.last_exit.as_deref().unwrap_or("-");
        writeln!(
            out,
            "{:<20} {:<12} {:>8} {:<9} {:>8} {:>10}  {last}",
            n.name, n.machine, pid, state, n.restarts, uptime
        )?;
    }
    Ok(())
}

/// The status table of a deployed robot, from its agents.
fn status_on_agents(path: &Path, key_file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    on_agents(path, key_file, |file, key| async move {
        let (rows, errors) = pinion_launch::remote::status_everywhere(&file, &key).await;
        let master = pinion_launch::deploy::master_endpoint(&file)
            .map(|(endpoint, _)| endpoint)
            .unwrap_or_else(|_| file.master.bind.clone());
        if let Err(e) = print_status(&file.robot, &master, &rows, json) {
            tracing::warn!(error = %e, "cannot print the status");
        }
        errors
    })
}

/// Stops a launch's nodes on every agent of its file (the launcher is gone).
fn stop_on_agents(path: &Path, key_file: &Path) -> anyhow::Result<ExitCode> {
    on_agents(path, key_file, |file, key| async move {
        pinion_launch::remote::stop_everywhere(&file, &key).await
    })
}

/// Loads the file and the agents' key, does `what` with them, and reports its errors:
/// exit 1 if any.
fn on_agents<F>(
    path: &Path,
    key_file: &Path,
    what: impl FnOnce(model::LaunchFile, Key) -> F,
) -> anyhow::Result<ExitCode>
where
    F: std::future::Future<Output = Vec<pinion_launch::remote::RemoteError>>,
{
    let file = match model::load(path, &|_| true) {
        Ok(f) => f,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let key = Key::load(key_file)?;
    let errors = runtime()?.block_on(what(file, key));
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads every node's manifest and checks the wiring; prints findings; false on errors.
///
/// Each distinct program is inspected once, all at the same time; only Pinion node
/// binaries are run (`pinion_launch::manifest`), those of other machines with their
/// machine's runner.
async fn check_wiring(file: &model::LaunchFile, bin_dir: &Path, local: bool) -> bool {
    use pinion_launch::manifest::{self, ManifestError};
    use std::collections::BTreeMap;
    let mut programs: BTreeMap<(PathBuf, Vec<String>), Vec<&model::NodeSpec>> = BTreeMap::new();
    for spec in &file.nodes {
        let machine = spec
            .machine
            .as_ref()
            .filter(|_| !local)
            .and_then(|m| file.machines.get(m));
        let program = match machine {
            Some(machine) => pinion_launch::remote::program_for(spec, machine, bin_dir),
            None => resolve(spec, bin_dir),
        };
        let Some(program) = program else {
            continue;
        };
        let runner = machine.map(|m| m.runner.clone()).unwrap_or_default();
        programs.entry((program, runner)).or_default().push(spec);
    }
    let mut runs = tokio::task::JoinSet::new();
    for (program, runner) in programs.keys().cloned() {
        runs.spawn(async move {
            let manifest = manifest::read(&program, &runner).await;
            ((program, runner), manifest)
        });
    }
    let mut manifests = Vec::new();
    let mut without = Vec::new();
    while let Some(done) = runs.join_next().await {
        let Ok((key, result)) = done else { continue };
        let specs = programs.get(&key).cloned().unwrap_or_default();
        match result {
            Ok(Some(manifest)) => {
                manifests.extend(specs.into_iter().map(|s| (s, manifest.clone())))
            }
            Ok(None) => without.extend(specs.iter().map(|s| s.name.clone())),
            Err(e @ ManifestError::NotANode { .. }) => {
                tracing::info!(nodes = ?names(&specs), "{e}");
            }
            Err(e) => {
                eprintln!(
                    "{}: warning: {e}; the topics of {} are not checked",
                    file.path.display(),
                    names(&specs).join(", ")
                );
            }
        }
    }
    // In the file's order, so that findings read the same every time.
    let order = |name: &str| file.nodes.iter().position(|n| n.name == name);
    manifests.sort_by_key(|(s, _)| order(&s.name));
    let pairs: Vec<(&model::NodeSpec, &pinion::parts::Manifest)> =
        manifests.iter().map(|(s, m)| (*s, m)).collect();
    let findings = pinion_launch::wiring::check(&pairs);
    for finding in &findings {
        eprintln!("{}: {finding}", file.path.display());
    }
    if !without.is_empty() {
        tracing::info!(nodes = ?without, "these nodes declare no manifest (no #[derive(Node)]): their topics are not checked");
    }
    !findings
        .iter()
        .any(pinion_launch::wiring::Finding::is_error)
}

fn names(specs: &[&model::NodeSpec]) -> Vec<String> {
    specs.iter().map(|s| s.name.clone()).collect()
}
