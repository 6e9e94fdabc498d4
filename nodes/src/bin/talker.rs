//! Publishes `Chatter` messages.
//!
//! Run with a master up: `PINION_MASTER=tcp://127.0.0.1:11311 talker --rate 10 --count 5`

use clap::Parser;
use pinion::prelude::*;
use pinion_nodes::Chatter;

#[derive(Debug, Parser)]
struct Args {
    /// Topic to publish on.
    #[arg(long, default_value = "chatter")]
    topic: String,
    /// Messages per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Stop after this many messages (0: never).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Wait for this many subscribers before the first message.
    #[arg(long, default_value_t = 0)]
    wait_for: usize,
    /// Late subscribers receive the last message.
    #[arg(long)]
    latch: bool,
    /// Text of each message.
    #[arg(long, default_value = "hello")]
    text: String,
}

#[pinion::main]
async fn main(node: Node) -> pinion::Result<()> {
    let args = Args::parse();
    let options = if args.latch {
        AdvertiseOptions::latched()
    } else {
        AdvertiseOptions::default()
    };
    let chatter = node.advertise_with::<Chatter>(&args.topic, options).await?;
    if args.wait_for > 0 {
        chatter.wait_for_subscribers(args.wait_for).await?;
    }
    // The `text` parameter (from the launch file, or `pinion param set talker/text '"hi"'`)
    // overrides --text, also while running.
    let mut text_param = node.watch_param::<String>("text").await?;
    let mut text = text_param.current()?.unwrap_or(args.text);
    let mut rate = node.rate(args.rate);
    while let Some(seq) = rate.tick().await {
        if let Some(Some(new)) = text_param.try_changed().transpose()? {
            tracing::info!(%new, "text changed");
            text = new;
        }
        chatter
            .publish(&Chatter {
                seq,
                text: text.clone(),
            })
            .await?;
        if args.count > 0 && seq + 1 >= args.count {
            break;
        }
    }
    Ok(())
}
