//! `pinion agent`: supervise nodes on this machine for launchers that hold the key.

use anyhow::Context;
use pinion_launch::agent::auth::Key;
use pinion_launch::agent::server::{self, AgentConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pinion agent`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Endpoint to listen on; port 0 picks a free port (the bound endpoint is printed).
    #[arg(long, default_value = "tcp://0.0.0.0:11411")]
    listen: String,
    /// File holding the shared key (at least 16 bytes); requests not signed with it are refused.
    #[arg(long, env = "PINION_KEY_FILE")]
    key_file: PathBuf,
    /// Directory of the binary store.
    #[arg(long, env = "PINION_AGENT_STORE")]
    store: Option<PathBuf>,
}

/// Binds, prints `PINION_AGENT=<endpoint>`, serves until SIGINT/SIGTERM, then stops its nodes.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = Key::load(&args.key_file)?;
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
