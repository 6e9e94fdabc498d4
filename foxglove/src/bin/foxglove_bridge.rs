//! The Foxglove bridge as a node of a launch file (`binary = "foxglove_bridge"`): the
//! same bridge as `pinion foxglove`, supervised and deployed like any node.
//!
//! Run with a master up: `PINION_MASTER=tcp://127.0.0.1:11311 foxglove_bridge --listen 0.0.0.0:8765`

use clap::Parser;
use pinion::prelude::*;
use pinion_foxglove::{Bridge, BridgeOptions};

#[derive(Debug, Parser)]
struct Args {
    /// Host to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// Port to listen on (0 for any free one).
    #[arg(long, env = "PINION_FOXGLOVE_PORT", default_value_t = 8765)]
    port: u16,
    /// Messages queued per client before the oldest are dropped.
    #[arg(long, default_value_t = 16)]
    backlog: usize,
}

#[pinion::main]
async fn main(node: Node) -> pinion::Result<()> {
    let args = Args::parse();
    let setup = |e: &dyn std::fmt::Display| pinion::Error::Setup(e.to_string());
    let mut options = BridgeOptions::new(&args.host, args.port).map_err(|e| setup(&e))?;
    options.backlog = args.backlog.max(1);
    let bridge = Bridge::start(node, options).await.map_err(|e| setup(&e))?;
    tracing::info!(
        port = bridge.port(),
        "Foxglove clients connect to ws://{}:{}",
        args.host,
        bridge.port()
    );
    {
        // The address on stdout too, for whoever started the bridge with port 0.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let url = format!("ws://{}:{}", args.host, bridge.port());
        if writeln!(out, "foxglove bridge listening on {url}")
            .and_then(|()| out.flush())
            .is_err()
        {
            tracing::debug!("stdout is closed");
        }
    }
    bridge.run().await;
    Ok(())
}
