//! `pinion launch FILE.toml`: start the master and the nodes, stop them on Ctrl-C.

use anyhow::Context;
use pinion_launch::model;
use pinion_launch::supervisor::{self, LaunchSettings};
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
}

/// Checks the file, runs the launch, and reports how it ended.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pinion_exe = std::env::current_exe().context("cannot find the pinion executable")?;
    let bin_dir = pinion_exe
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let exists = |node: &model::NodeSpec| supervisor::resolve(node, &bin_dir).is_ok();
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
    };
    // One thread: children are forked from it, and it lives as long as the launcher,
    // so the kernel's parent-death signal reaches them only when the launcher dies.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(supervisor::run(&file, &settings, super::termination()))?;
    let failed: Vec<_> = report
        .exits
        .iter()
        .filter(|(_, status)| !status.is_some_and(|s| s.success()))
        .map(|(name, _)| name.as_str())
        .collect();
    if report.interrupted {
        tracing::info!("launch stopped");
        return Ok(ExitCode::SUCCESS);
    }
    if failed.is_empty() {
        tracing::info!("every node exited successfully");
        Ok(ExitCode::SUCCESS)
    } else {
        tracing::error!(nodes = ?failed, "some nodes failed");
        Ok(ExitCode::FAILURE)
    }
}
