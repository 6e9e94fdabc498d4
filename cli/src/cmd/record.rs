//! `pinion record -o FILE [TOPIC...]`: topics into an MCAP file, schemas included, so the
//! recording is self-describing. `--split-size MB` starts a new file past that size;
//! `--encoding json` writes what Foxglove opens (see `bag`).
//!
//! What was received is handed to the file system at least every second
//! (`bag::writer::FLUSH_EVERY`): the open chunk is closed and written, so a recorder
//! that is killed, or that finds the disk full, leaves a file that `pinion play` reads
//! up to its last second.

use super::bag::writer::{Output, FLUSH_EVERY};
use super::bag::Encoding;
use super::graph::ask;
use pinion::protocol::master_to_node::TopicSummary;
use pinion::protocol::node_to_master::ListTopics;
use pinion::{Node, SubscribeOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `pinion record`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to write (`.mcap`).
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Topics to record; all topics (also those that appear later) when none are given.
    topics: Vec<String>,
    /// Start a new file (FILE_1.mcap, ...) past this many megabytes.
    #[arg(long)]
    split_size: Option<f64>,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// How messages are stored: `postcard`, exactly as the robot sent them (the
    /// default: smallest, cheapest for a Pi to write, played back bit for bit), or
    /// `json`, what Foxglove opens (standard messages as Foxglove's schemas). `pinion
    /// convert` turns one into the other later.
    #[arg(long, value_enum, default_value_t = Encoding::Postcard)]
    encoding: Encoding,
}

fn topics() -> anyhow::Result<Vec<TopicSummary>> {
    ask(ListTopics)
}

/// Runs `pinion record`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let known = topics()?;
    let mut wanted = Vec::new();
    for name in &args.topics {
        let name = pinion::TopicName::new(name)?;
        match known.iter().find(|t| t.name == name) {
            Some(t) => wanted.push(t.clone()),
            None => {
                eprintln!(
                    "error: unknown topic `{name}`; known topics: {}",
                    known
                        .iter()
                        .map(|t| t.name.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let all = args.topics.is_empty();
    super::topic::with_node(|node| record(node, args, wanted, all))
}

async fn record(
    node: Node,
    args: Args,
    mut wanted: Vec<TopicSummary>,
    all: bool,
) -> anyhow::Result<ExitCode> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(TopicSummary, Vec<u8>, u64, u32)>(10_000);
    let mut subscribed: Vec<String> = Vec::new();
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s));
    let mut output = Output::open(&args.output, 0, args.encoding)?;
    let mut written: u64 = 0;
    let mut sequence: u32 = 0;
    loop {
        tokio::select! {
            _ = refresh.tick() => {
                if all {
                    wanted = tokio::task::spawn_blocking(topics).await??;
                    // Pinion's own topics (logs) only when named.
                    wanted.retain(|t| !t.name.is_system());
                }
                for t in &wanted {
                    if subscribed.contains(&t.name.to_string()) {
                        continue;
                    }
                    subscribed.push(t.name.to_string());
                    let mut sub = node.subscribe_raw(t.name.as_str(), t.type_info.clone(), SubscribeOptions::queue(100_000)).await?;
                    let (tx, t) = (tx.clone(), t.clone());
                    tokio::spawn(async move {
                        while let Some((bytes, info)) = sub.recv().await {
                            let _ = tx.send((t.clone(), bytes, info.stamp_ns, info.seq as u32)).await;
                        }
                    });
                }
            }
            message = rx.recv() => {
                let Some((topic, bytes, stamp_ns, _)) = message else { break };
                if let Some(limit) = args.split_size {
                    if output.bytes() as f64 > limit * 1e6 {
                        output = output.next()?;
                    }
                }
                output.write(topic.name.as_str(), &topic.type_info, sequence, stamp_ns, &bytes)?;
                sequence = sequence.wrapping_add(1);
                written += 1;
                if args.count.is_some_and(|c| written >= c) {
                    break;
                }
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
            _ = flush.tick() => output.flush()?,
            _ = node.spin() => break,
        }
    }
    output.finish()?;
    tracing::info!(messages = written, "recording finished");
    Ok(ExitCode::SUCCESS)
}
