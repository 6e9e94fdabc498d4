//! `pinion deploy FILE.toml`: build, ship what changed, install on every agent, check the
//! new version is healthy (else go back), detach.

use pinion_launch::agent::auth::Key;
use pinion_launch::deploy::{self, DeploySettings, MachineOutcome};
use pinion_launch::model;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pinion deploy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The launch file.
    file: PathBuf,
    /// Go back to the previous version on every machine.
    #[arg(long)]
    rollback: bool,
    /// Keep a new version that is not healthy (to debug it) instead of going back.
    #[arg(long, conflicts_with = "rollback")]
    no_rollback: bool,
    /// How long an agent may take to answer one request; a deploy over a link that
    /// drops fails after this, and the next deploy sends only what did not arrive.
    #[arg(long, default_value = "120s", value_parser = model::parse_duration)]
    agent_timeout: std::time::Duration,
    /// Key shared with the agents.
    #[arg(long, env = "PINION_KEY_FILE")]
    key_file: PathBuf,
    /// Cargo profile to build and ship.
    #[arg(long, default_value = "release")]
    profile: String,
    /// Ship what is already built; do not run cargo.
    #[arg(long)]
    no_build: bool,
    /// Build with `cross` (container images per target, see Cross.toml).
    #[arg(long)]
    cross: bool,
    /// Cargo's target directory.
    #[arg(long, env = "CARGO_TARGET_DIR", default_value = "target")]
    target_dir: PathBuf,
}

/// Runs `pinion deploy`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = match model::load(&args.file, &|_| true) {
        Ok(f) => f,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let key = Key::load(&args.key_file)?;
    let runtime = super::runtime()?;
    let outcome = if args.rollback {
        runtime.block_on(deploy::rollback(&file, &key))
    } else {
        let settings = DeploySettings {
            profile: args.profile,
            target_dir: args.target_dir,
            build: !args.no_build,
            cross: args.cross,
            key,
            rollback_unhealthy: !args.no_rollback,
            agent_timeout: args.agent_timeout,
        };
        runtime.block_on(deploy::deploy(&file, &settings))
    };
    match outcome {
        Ok(machines) => {
            report(&machines, args.rollback)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn report(machines: &[MachineOutcome], rollback: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<16} {:<14} {:<14} {:>12}",
        "MACHINE", "VERSION", "PREVIOUS", "SHIPPED"
    )?;
    for m in machines {
        writeln!(
            out,
            "{:<16} {:<14} {:<14} {:>12}",
            m.machine,
            m.version,
            m.previous.as_deref().unwrap_or("-"),
            m.shipped_bytes
        )?;
    }
    let total: u64 = machines.iter().map(|m| m.shipped_bytes).sum();
    if rollback {
        let changed = machines.iter().filter(|m| m.changed).count();
        writeln!(
            out,
            "rolled back {changed} of {} machines (the others had no other version)",
            machines.len()
        )?;
    } else {
        writeln!(out, "shipped {total} bytes of binaries")?;
    }
    Ok(())
}
