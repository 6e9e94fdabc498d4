//! `pinion play FILE [--rate X] [--loop]`: publish a recording again, with its original
//! spacing scaled by the rate.
//!
//! The file is streamed, never loaded whole: a reader thread walks its records (a
//! bounded queue ahead of playback) and each message is published when its time comes.
//! A recording without an end (its recorder was killed, or the disk filled) plays up
//! to its last whole record; a damaged record stops playback there, and either way
//! `play` says where it stopped.

use super::record::SCHEMA_ENCODING;
use anyhow::{bail, Context};
use pinion::{Node, TypeInfo};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Slowest and fastest playback.
const RATES: std::ops::RangeInclusive<f64> = 0.01..=100.0;
/// Messages read ahead of playback.
const READ_AHEAD: usize = 64;
/// The largest record read (a chunk with its messages): larger ones are refused.
const MAX_RECORD: usize = 256 << 20;

/// Arguments of `pinion play`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (`.mcap`).
    file: PathBuf,
    /// Speed: 2 plays twice as fast (from 0.01 to 100).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Start again at the end, until Ctrl-C.
    #[arg(long = "loop")]
    repeat: bool,
}

/// What the reader thread finds, in file order.
enum Item {
    /// A topic and its type (before its first message).
    Topic(String, TypeInfo),
    /// A message.
    Message {
        topic: String,
        log_time: u64,
        data: Vec<u8>,
    },
}

/// How reading ended.
#[derive(Debug)]
enum Ending {
    /// At the end of a finished recording.
    Clean,
    /// At the end of the file, which has no end record: its recorder did not finish it.
    Unfinished,
    /// At a record that could not be read.
    Damaged { at_byte: u64, reason: String },
}

/// Runs `pinion play`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.rate.is_finite() && RATES.contains(&args.rate)) {
        bail!(
            "--rate {} is out of range: give a speed from {} to {} (1 is the recorded speed)",
            args.rate,
            RATES.start(),
            RATES.end()
        );
    }
    let mut file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut magic = [0u8; 8];
    let is_mcap = file.read_exact(&mut magic).is_ok() && magic.as_slice() == mcap::MAGIC;
    if !is_mcap {
        bail!("{} is not an MCAP recording", args.file.display());
    }
    super::topic::with_node(|node| play(node, args))
}

async fn play(node: Node, args: Args) -> anyhow::Result<ExitCode> {
    let mut publishers = BTreeMap::new();
    loop {
        let (items, reader) = spawn_reader(&args.file);
        let outcome = play_once(&node, items, args.rate, &mut publishers).await;
        let ending = reader.await.unwrap_or_else(|e| Ending::Damaged {
            at_byte: 0,
            reason: format!("the reader failed: {e}"),
        });
        let played = match outcome? {
            Some(played) => played,
            None => return Ok(ExitCode::SUCCESS), // interrupted
        };
        match &ending {
            Ending::Clean => tracing::info!(messages = played, "played"),
            Ending::Unfinished => tracing::warn!(
                messages = played,
                "{} has no end record (its recorder was stopped before finishing it): played every whole message it holds",
                args.file.display()
            ),
            Ending::Damaged { at_byte, reason } => tracing::warn!(
                messages = played,
                "{} is damaged at about byte {at_byte} ({reason}): played the messages before it",
                args.file.display()
            ),
        }
        if played == 0 {
            tracing::warn!("the recording holds no messages");
        }
        if !args.repeat {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// Publishes what the reader sends, each message at its time; how many, or `None` if
/// the node was asked to stop.
async fn play_once(
    node: &Node,
    mut items: tokio::sync::mpsc::Receiver<Item>,
    rate: f64,
    publishers: &mut BTreeMap<String, pinion::publisher::RawPublisher>,
) -> anyhow::Result<Option<u64>> {
    let start = tokio::time::Instant::now();
    let mut first: Option<u64> = None;
    let mut played = 0u64;
    while let Some(item) = items.recv().await {
        match item {
            Item::Topic(topic, info) => {
                if !publishers.contains_key(&topic) {
                    publishers.insert(topic.clone(), advertise(node, &topic, info).await?);
                }
            }
            Item::Message {
                topic,
                log_time,
                data,
            } => {
                let first = *first.get_or_insert(log_time);
                let offset = at(log_time.saturating_sub(first), rate);
                tokio::select! {
                    _ = tokio::time::sleep_until(start + offset) => {}
                    _ = node.spin() => return Ok(None),
                }
                if let Some(p) = publishers.get(&topic) {
                    p.publish_bytes(data).await?;
                    played += 1;
                }
            }
        }
    }
    Ok(Some(played))
}

/// The latest a message is played after the first: later times (a recording spanning
/// centuries, a damaged time stamp) are played at this.
const LATEST: Duration = Duration::from_secs(1 << 30);

/// When a message `since_first_ns` after the first one plays, at `rate`.
fn at(since_first_ns: u64, rate: f64) -> Duration {
    // The rate is checked to be within RATES, so this is finite and not negative.
    Duration::try_from_secs_f64(since_first_ns as f64 / 1e9 / rate)
        .unwrap_or(LATEST)
        .min(LATEST)
}

use super::topic::advertise_raw as advertise;

/// Starts the reader thread: its items, and how it ended.
fn spawn_reader(
    path: &Path,
) -> (
    tokio::sync::mpsc::Receiver<Item>,
    tokio::task::JoinHandle<Ending>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    let path = path.to_owned();
    // A thread of its own: reads block, and whatever the MCAP library does with a
    // damaged file stays in it (a panic ends the thread and is reported as damage).
    let reader = tokio::task::spawn_blocking(move || read(&path, &tx));
    (rx, reader)
}

/// Reads the file's records in order, sending topics and messages; how it ended.
fn read(path: &Path, tx: &tokio::sync::mpsc::Sender<Item>) -> Ending {
    use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return Ending::Damaged {
                at_byte: 0,
                reason: e.to_string(),
            }
        }
    };
    let options = LinearReaderOptions::default()
        .with_skip_end_magic(true)
        .with_record_length_limit(MAX_RECORD);
    let mut reader = LinearReader::new_with_options(options);
    let mut schemas: HashMap<u16, (String, Vec<u8>)> = HashMap::new();
    let mut topics: HashMap<u16, String> = HashMap::new();
    let mut offset = 0u64;
    let mut finished = false;
    while let Some(event) = reader.next_event() {
        let damaged = |reason: String| Ending::Damaged {
            at_byte: offset,
            reason,
        };
        let record = match event {
            Err(e) => return damaged(e.to_string()),
            Ok(LinearReadEvent::ReadRequest(need)) => {
                match file.read(reader.insert(need.min(MAX_RECORD))) {
                    Ok(n) => {
                        offset += n as u64;
                        reader.notify_read(n);
                    }
                    Err(e) => return damaged(e.to_string()),
                }
                continue;
            }
            Ok(LinearReadEvent::Record { opcode, data }) => {
                match mcap::parse_record(opcode, data) {
                    Ok(record) => record,
                    Err(e) => return damaged(e.to_string()),
                }
            }
        };
        let item = match record {
            mcap::records::Record::Schema { header, data } => {
                if header.encoding != SCHEMA_ENCODING {
                    return damaged(format!(
                        "schema encoding `{}` is not Pinion's `{SCHEMA_ENCODING}`",
                        header.encoding
                    ));
                }
                schemas.insert(header.id, (header.name, data.into_owned()));
                continue;
            }
            mcap::records::Record::Channel(channel) => {
                let Some((_, data)) = schemas.get(&channel.schema_id) else {
                    return damaged(format!("topic `{}` has no schema", channel.topic));
                };
                let info: TypeInfo = match serde_json::from_slice(data) {
                    Ok(info) => info,
                    Err(e) => {
                        return damaged(format!(
                            "topic `{}`: unreadable schema ({e})",
                            channel.topic
                        ))
                    }
                };
                topics.insert(channel.id, channel.topic.clone());
                Item::Topic(channel.topic, info)
            }
            mcap::records::Record::Message { header, data } => {
                let Some(topic) = topics.get(&header.channel_id) else {
                    return damaged(format!(
                        "a message of unknown channel {}",
                        header.channel_id
                    ));
                };
                Item::Message {
                    topic: topic.clone(),
                    log_time: header.log_time,
                    data: data.into_owned(),
                }
            }
            mcap::records::Record::Footer(_) => {
                finished = true;
                continue;
            }
            _ => continue,
        };
        if tx.blocking_send(item).is_err() {
            // Playback stopped.
            return Ending::Clean;
        }
    }
    if finished {
        Ending::Clean
    } else {
        Ending::Unfinished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_scale_with_the_rate_and_never_overflow() {
        assert_eq!(at(2_000_000_000, 2.0), Duration::from_secs(1));
        assert_eq!(at(u64::MAX, *RATES.start()), LATEST);
        assert_eq!(at(0, 1.0), Duration::ZERO);
    }
}
