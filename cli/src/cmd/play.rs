//! `pinion play FILE [--rate X] [--loop]`: publish a recording again, with its original
//! spacing scaled by the rate.
//!
//! The file is streamed, never loaded whole: a reader thread walks its records (a
//! bounded queue ahead of playback) and each message is published when its time comes.
//! A recording without an end (its recorder was killed, or the disk filled) plays up
//! to its last whole record; a damaged record stops playback there, and either way
//! `play` says where it stopped.

use super::bag::reader::{is_mcap, spawn_reader, Ending, Item};
use anyhow::{bail, Context};
use pinion::Node;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Slowest and fastest playback.
const RATES: std::ops::RangeInclusive<f64> = 0.01..=100.0;

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
    let is_mcap =
        is_mcap(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
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
                ..
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
