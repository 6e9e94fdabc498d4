//! `pinion play FILE [--rate X] [--loop]`: publish a recording again, with its original
//! spacing scaled by the rate.

use super::record::SCHEMA_ENCODING;
use anyhow::{bail, Context};
use pinion::{AdvertiseOptions, Node, TypeInfo};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pinion play`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (`.mcap`).
    file: PathBuf,
    /// Speed: 2 plays twice as fast.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Start again at the end, until Ctrl-C.
    #[arg(long = "loop")]
    repeat: bool,
}

/// One recorded message.
struct Recorded {
    topic: String,
    log_time: u64,
    data: Vec<u8>,
}

/// Runs `pinion play`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number");
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut types: BTreeMap<String, TypeInfo> = BTreeMap::new();
    let mut messages = Vec::new();
    for message in mcap::MessageStream::new(&bytes)
        .with_context(|| format!("{} is not an MCAP file", args.file.display()))?
    {
        let message = message.with_context(|| format!("{} is damaged", args.file.display()))?;
        let topic = message.channel.topic.clone();
        if !types.contains_key(&topic) {
            let schema = message
                .channel
                .schema
                .as_ref()
                .with_context(|| format!("topic `{topic}` has no schema in the recording"))?;
            if schema.encoding != SCHEMA_ENCODING {
                bail!(
                    "topic `{topic}`: schema encoding `{}` is not Pinion's",
                    schema.encoding
                );
            }
            let info: TypeInfo = serde_json::from_slice(&schema.data)
                .with_context(|| format!("topic `{topic}`: unreadable schema"))?;
            types.insert(topic.clone(), info);
        }
        messages.push(Recorded {
            topic,
            log_time: message.log_time,
            data: message.data.into_owned(),
        });
    }
    messages.sort_by_key(|m| m.log_time);
    super::topic::with_node(|node| play(node, types, messages, args.rate, args.repeat))
}

async fn play(
    node: Node,
    types: BTreeMap<String, TypeInfo>,
    messages: Vec<Recorded>,
    rate: f64,
    repeat: bool,
) -> anyhow::Result<ExitCode> {
    let mut publishers = BTreeMap::new();
    for (topic, info) in types {
        let publisher = node
            .advertise_raw(&topic, info, AdvertiseOptions::default())
            .await?;
        let known = publisher.registered_subscribers();
        if known > 0 {
            let _ = tokio::time::timeout(
                Duration::from_secs(3),
                publisher.wait_for_subscribers(known),
            )
            .await;
        }
        publishers.insert(topic, publisher);
    }
    let Some(first) = messages.first().map(|m| m.log_time) else {
        tracing::warn!("the recording holds no messages");
        return Ok(ExitCode::SUCCESS);
    };
    loop {
        let start = tokio::time::Instant::now();
        for m in &messages {
            let offset = Duration::from_secs_f64((m.log_time - first) as f64 / 1e9 / rate);
            tokio::select! {
                _ = tokio::time::sleep_until(start + offset) => {}
                _ = node.spin() => return Ok(ExitCode::SUCCESS),
            }
            if let Some(p) = publishers.get(&m.topic) {
                p.publish_bytes(m.data.clone()).await?;
                tracing::debug!(topic = %m.topic, at = ?start.elapsed(), "played");
            }
        }
        if !repeat {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
