//! `pinion master`: serve the registry.

use anyhow::Context;
use pinion_master::server::{Master, MasterConfig};
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `pinion master`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TCP endpoint to bind; port 0 picks a free port (the bound endpoint is printed).
    #[arg(long, default_value = "tcp://0.0.0.0:11311")]
    bind: String,
    /// Also bind this ipc socket path, for nodes on this host.
    #[arg(long)]
    ipc: Option<std::path::PathBuf>,
    /// Refuse requests not signed with this key (nodes and tools sign with
    /// `PINION_KEY_FILE`); see the threat model in the README.
    #[arg(long, env = "PINION_KEY_FILE")]
    key_file: Option<std::path::PathBuf>,
    /// Keep parameters in this file, so that values set at run time survive a restart
    /// (default: `master-PORT.params.json` in the runtime directory when the port is
    /// fixed; with port 0, in memory only).
    #[arg(long)]
    params_file: Option<std::path::PathBuf>,
}

/// Binds, prints `PINION_MASTER=<endpoint>` on the first line of stdout, serves until a signal.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let mut endpoints = vec![args.bind.clone()];
        if let Some(path) = &args.ipc {
            endpoints.push(format!("ipc://{}", path.display()));
        }
        let mut config = MasterConfig::default();
        if let Some(path) = &args.key_file {
            config.key = Some(pinion::auth::Key::load(path)?);
        }
        config.params_file = args
            .params_file
            .clone()
            .or_else(|| default_params_file(&args.bind))
            .map(pinion_master::params_file::ParamsFile::new);
        match &config.params_file {
            Some(file) => {
                tracing::info!(file = %file.path().display(), "parameters are kept in a file")
            }
            None => tracing::info!(
                "parameters are kept in memory only (port 0; give --params-file to keep them)"
            ),
        }
        let master = Master::bind(&endpoints, config)
            .await
            .with_context(|| format!("cannot start the master on {}", endpoints.join(", ")))?;
        let tcp = advertised(&master.endpoints()[0]);
        let mut out = std::io::stdout().lock();
        writeln!(out, "PINION_MASTER={tcp}")?;
        for extra in &master.endpoints()[1..] {
            writeln!(out, "PINION_MASTER_IPC={extra}")?;
        }
        out.flush()?;
        drop(out);
        master.run(super::termination()).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `master-PORT.params.json` in the runtime directory, for a fixed tcp port.
fn default_params_file(bind: &str) -> Option<std::path::PathBuf> {
    let port: u16 = bind.rsplit_once(':')?.1.parse().ok()?;
    (port != 0).then(|| pinion::host::runtime_dir().join(format!("master-{port}.params.json")))
}

/// The endpoint to give nodes: a wildcard bind is reached over loopback on this host.
fn advertised(bound: &str) -> String {
    bound.replacen("tcp://0.0.0.0:", "tcp://127.0.0.1:", 1)
}
