//! Prints every `Chatter` message it receives as `seq=<n> text=<text>`.
//!
//! Run with a master up: `PINION_MASTER=tcp://127.0.0.1:11311 listener --count 5`

#![allow(clippy::print_stdout)]

use clap::Parser;
use pinion::prelude::*;
use pinion_nodes::Chatter;
use std::io::Write;

#[derive(Debug, Parser)]
struct Args {
    /// Topic to listen to.
    #[arg(long, default_value = "chatter")]
    topic: String,
    /// Exit after this many messages (0: never).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

#[pinion::main]
async fn main(node: Node) -> pinion::Result<()> {
    let args = Args::parse();
    let mut chatter = node.subscribe::<Chatter>(&args.topic).await?;
    let mut received = 0;
    while let Some(msg) = chatter.recv().await {
        println!("seq={} text={}", msg.seq, msg.text);
        let _ = std::io::stdout().flush();
        received += 1;
        if args.count > 0 && received >= args.count {
            break;
        }
    }
    Ok(())
}
