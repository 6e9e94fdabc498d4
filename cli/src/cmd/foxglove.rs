//! `pinion foxglove [--listen HOST:PORT]`: the robot in Foxglove, live. A node of the
//! graph (`foxglove_bridge`) that serves the Foxglove WebSocket protocol: connect
//! Foxglove or Lichtblick to `ws://HOST:PORT`.

use anyhow::Context;
use pinion::{Node, NodeOptions};
use pinion_foxglove::{Bridge, BridgeOptions};
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `pinion foxglove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (port 0 for any free one, printed at start).
    #[arg(long, default_value = "0.0.0.0:8765")]
    listen: String,
    /// Messages queued per client before the oldest are dropped: with the largest
    /// message of the graph, this bounds what one slow client costs the bridge.
    #[arg(long, default_value_t = 16)]
    backlog: usize,
    /// The bridge's node name.
    #[arg(long, default_value = "foxglove_bridge")]
    name: String,
}

/// Runs the bridge until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (host, port) = args
        .listen
        .rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>().ok()?,
            ))
        })
        .with_context(|| format!("--listen {}: expected HOST:PORT", args.listen))?;
    let mut options = BridgeOptions::new(&host, port)?;
    options.backlog = args.backlog.max(1);
    super::data_runtime()?.block_on(async move {
        let node = Node::init(NodeOptions::from_env(&args.name)).await?;
        let signals = {
            let node = node.clone();
            tokio::spawn(async move {
                super::termination().await;
                node.request_shutdown("interrupted");
            })
        };
        let bridge = Bridge::start(node.clone(), options).await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "foxglove bridge listening on ws://{host}:{}",
                bridge.port()
            )?;
            out.flush()?;
        }
        bridge.run().await;
        signals.abort();
        node.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
