//! `pinion agent`: supervise nodes on this machine for launchers that hold the key.
//! `pinion agent install` makes it start at boot (a systemd unit); `uninstall` undoes it.

use super::unit::{cannot_install, uninstall, AgentUnit, AGENT_UNIT};
use anyhow::Context;
use pinion_launch::agent::auth::Key;
use pinion_launch::agent::server::{self, AgentConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pinion agent`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    service: Option<Service>,
    /// Endpoint to listen on; port 0 picks a free port (the bound endpoint is printed).
    #[arg(long, default_value = "tcp://0.0.0.0:11411")]
    listen: String,
    /// File holding the shared key (at least 16 bytes); requests not signed with it are refused.
    #[arg(long, env = "PINION_KEY_FILE", required = true)]
    key_file: Option<PathBuf>,
    /// Directory of the binary store.
    #[arg(long, env = "PINION_AGENT_STORE")]
    store: Option<PathBuf>,
}

/// The agent as a systemd service.
#[derive(Debug, clap::Subcommand)]
enum Service {
    /// Start the agent at boot and now (writes and enables `pinion-agent.service`; root).
    Install(InstallArgs),
    /// Stop the agent and remove its unit (root).
    Uninstall {
        /// Where units live.
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct InstallArgs {
    /// Endpoint the agent listens on.
    #[arg(long, default_value = "tcp://0.0.0.0:11411")]
    listen: String,
    /// The robot's key file (read by the agent at each start).
    #[arg(long, env = "PINION_KEY_FILE")]
    key_file: PathBuf,
    /// Directory of the binary store.
    #[arg(long)]
    store: Option<PathBuf>,
    /// The user the agent and its nodes run as (root if not given).
    #[arg(long)]
    user: Option<String>,
    /// Print the unit and change nothing.
    #[arg(long)]
    print: bool,
    /// Where units live.
    #[arg(long, default_value = "/etc/systemd/system")]
    unit_dir: PathBuf,
}

/// Binds, prints `PINION_AGENT=<endpoint>`, serves until SIGINT/SIGTERM, then stops its nodes.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.service {
        Some(Service::Install(install)) => return self::install(install),
        Some(Service::Uninstall { unit_dir }) => return uninstall(AGENT_UNIT, &unit_dir),
        None => {}
    }
    let key_file = args
        .key_file
        .context("--key-file is needed (or PINION_KEY_FILE)")?;
    let key = Key::load(&key_file)?;
    let store_dir = args
        .store
        .unwrap_or_else(|| pinion::host::runtime_dir().join("agent-store"));
    let config = AgentConfig {
        key,
        store_dir,
        host_id: pinion::host::host_id(),
    };
    // One thread: nodes are forked from it (see the launcher).
    let runtime = super::runtime()?;
    runtime.block_on(async {
        // Not keyed at the connection: every request is signed, and one without a
        // valid signature gets an answer that says so.
        let mut replier = pinion::transport::Replier::new(pinion::transport::Guard::new(
            "agent",
            pinion_launch::agent::MAX_REQUEST,
        ));
        let bound = replier
            .bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "PINION_AGENT={bound}")?;
        out.flush()?;
        drop(out);
        tracing::info!(endpoint = %bound, host = %config.host_id, store = %config.store_dir.display(), "agent serving");
        server::serve(replier, config, super::termination())
            .await
            .context("agent failed")?;
        Ok(ExitCode::SUCCESS)
    })
}

fn install(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let key_file = std::path::absolute(&args.key_file)?;
    let unit = AgentUnit {
        exe,
        listen: args.listen,
        key_file: key_file.clone(),
        store: args.store.map(std::path::absolute).transpose()?,
        user: args.user,
    };
    if args.print {
        std::io::stdout().lock().write_all(unit.text().as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if cannot_install(std::path::Path::new("/run/systemd/system")).is_none() {
        Key::load(&key_file)
            .with_context(|| format!("the agent could not start with {}", key_file.display()))?;
    }
    unit.unit().install(AGENT_UNIT, &args.unit_dir)
}
