//! `pinion record -o FILE [TOPIC...]`: topics into an MCAP file, schemas included, so the
//! recording is self-describing. `--split-size MB` starts a new file past that size.
//!
//! What was received is handed to the file system at least every [`FLUSH_EVERY`]: the
//! open chunk is closed and written, so a recorder that is killed, or that finds the
//! disk full, leaves a file that `pinion play` reads up to its last second.

use super::graph::ask;
use anyhow::Context;
use pinion::protocol::master_to_node::TopicSummary;
use pinion::protocol::node_to_master::ListTopics;
use pinion::{Node, SubscribeOptions};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Schema encoding of Pinion types in MCAP: JSON of `pinion::TypeInfo`.
pub const SCHEMA_ENCODING: &str = "pinion-postcard-schema";
/// Message encoding of Pinion messages in MCAP.
pub const MESSAGE_ENCODING: &str = "postcard";

/// How often what was received is written out: what a killed recorder loses at most.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

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
}

/// One output file being written.
struct Output {
    base: PathBuf,
    path: PathBuf,
    index: u32,
    writer: mcap::Writer<BufWriter<File>>,
    channels: BTreeMap<String, u16>,
    bytes: u64,
}

impl Output {
    fn open(base: &Path, index: u32) -> anyhow::Result<Self> {
        let path = if index == 0 {
            base.to_owned()
        } else {
            let stem = base
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            base.with_file_name(format!("{stem}_{index}.mcap"))
        };
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let writer = mcap::WriteOptions::new()
            .profile("pinion")
            .compression(None)
            .create(BufWriter::new(file))
            .with_context(|| format!("cannot start {}", path.display()))?;
        tracing::info!(file = %path.display(), "recording");
        Ok(Self {
            base: base.to_owned(),
            path,
            index,
            writer,
            channels: BTreeMap::new(),
            bytes: 0,
        })
    }

    fn channel(&mut self, topic: &TopicSummary) -> anyhow::Result<u16> {
        if let Some(id) = self.channels.get(topic.name.as_str()) {
            return Ok(*id);
        }
        let data = serde_json::to_vec(&topic.type_info)?;
        let schema = self
            .writer
            .add_schema(&topic.type_info.name, SCHEMA_ENCODING, &data)?;
        let metadata = BTreeMap::from([(
            "pinion.schema_hash".to_owned(),
            format!("{:016x}", topic.type_info.hash),
        )]);
        let id =
            self.writer
                .add_channel(schema, topic.name.as_str(), MESSAGE_ENCODING, &metadata)?;
        self.channels.insert(topic.name.to_string(), id);
        Ok(id)
    }

    fn write(&mut self, header: &mcap::records::MessageHeader, data: &[u8]) -> anyhow::Result<()> {
        self.writer
            .write_to_known_channel(header, data)
            .with_context(|| self.stopped())
    }

    /// Closes the open chunk and hands everything to the file system.
    fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.flush().with_context(|| self.stopped())
    }

    fn stopped(&self) -> String {
        format!(
            "cannot write {}; it holds what was received until about {} s before this",
            self.path.display(),
            FLUSH_EVERY.as_secs()
        )
    }

    fn finish(mut self) -> anyhow::Result<()> {
        let path = self.path.clone();
        self.writer
            .finish()
            .with_context(|| format!("cannot finish {}", path.display()))?;
        Ok(())
    }
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
    let mut output = Output::open(&args.output, 0)?;
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
                    if output.bytes as f64 > limit * 1e6 {
                        let index = output.index + 1;
                        let base = output.base.clone();
                        output.finish()?;
                        output = Output::open(&base, index)?;
                    }
                }
                let channel_id = output.channel(&topic)?;
                let header = mcap::records::MessageHeader { channel_id, sequence, log_time: pinion::host::now_ns(), publish_time: stamp_ns };
                output.write(&header, &bytes)?;
                output.bytes += bytes.len() as u64 + 32;
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
