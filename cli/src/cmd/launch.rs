//! `pinion launch FILE.toml`: start the master and the nodes, stop them on Ctrl-C.

use anyhow::Context;
use pinion_launch::model;
use pinion_launch::supervisor::{self, Ending, LaunchSettings, NodeState};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pinion launch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The launch file.
    file: PathBuf,
    /// Only check the file; start nothing.
    #[arg(long)]
    check: bool,
    /// Run every node on this host (over ipc), whatever machine the file gives it.
    #[arg(long)]
    local: bool,
}

/// Checks the file, runs the launch, and reports how it ended.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pinion_exe = std::env::current_exe().context("cannot find the pinion executable")?;
    let bin_dir = pinion_exe
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let exists = |node: &model::NodeSpec| supervisor::resolve(node, &bin_dir).is_some();
    let file = match model::load(&args.file, &exists) {
        Ok(file) => file,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.check {
        tracing::info!(file = %args.file.display(), nodes = file.nodes.len(), "launch file is valid");
        return Ok(ExitCode::SUCCESS);
    }
    let settings = LaunchSettings {
        pinion_exe,
        bin_dir,
        local: args.local,
    };
    // One thread: children are forked from it, and it lives as long as the launcher,
    // so the kernel's parent-death signal reaches them only when the launcher dies.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(supervisor::run(&file, &settings, super::termination()))?;
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
