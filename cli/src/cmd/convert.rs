//! `pinion convert IN -o OUT [--encoding json|postcard]`: a recording in the other
//! encoding: a robot's own (postcard) recording into one Foxglove opens, or back.
//! Streamed like `play`; a recording without an end converts up to its last message.

use super::bag::reader::{is_mcap, spawn_reader, Ending, Item};
use super::bag::writer::Output;
use super::bag::Encoding;
use anyhow::{bail, Context};
use pinion::TypeInfo;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `pinion convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording to read (`.mcap`).
    input: PathBuf,
    /// The recording to write.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// The encoding to write: `json` (what Foxglove opens) or `postcard`.
    #[arg(long, value_enum, default_value_t = Encoding::Json)]
    encoding: Encoding,
}

/// Runs `pinion convert`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let is_mcap =
        is_mcap(&args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
    if !is_mcap {
        bail!("{} is not an MCAP recording", args.input.display());
    }
    if args.input.canonicalize().ok() == args.output.canonicalize().ok() {
        bail!("convert into another file than {}", args.input.display());
    }
    super::runtime()?.block_on(async {
        let (mut items, reader) = spawn_reader(&args.input);
        let mut output = Output::open(&args.output, 0, args.encoding)?;
        let mut types: HashMap<String, TypeInfo> = HashMap::new();
        let mut converted = 0u64;
        while let Some(item) = items.recv().await {
            match item {
                Item::Topic(topic, info) => {
                    types.insert(topic, info);
                }
                Item::Message {
                    topic,
                    publish_time,
                    data,
                    ..
                } => {
                    let Some(info) = types.get(&topic) else {
                        continue;
                    };
                    output.write(&topic, info, converted as u32, publish_time, &data)?;
                    converted += 1;
                }
            }
        }
        output.finish()?;
        let ending = reader.await.context("the reader failed")?;
        let mut out = std::io::stdout().lock();
        use std::io::Write;
        match ending {
            Ending::Clean => writeln!(out, "converted {converted} messages into {}", args.output.display())?,
            Ending::Unfinished => writeln!(
                out,
                "converted {converted} messages into {}; {} has no end record (its recorder was stopped before finishing it)",
                args.output.display(),
                args.input.display()
            )?,
            Ending::Damaged { at_byte, reason } => writeln!(
                out,
                "converted {converted} messages into {}; {} is damaged at about byte {at_byte} ({reason})",
                args.output.display(),
                args.input.display()
            )?,
        }
        Ok(ExitCode::SUCCESS)
    })
}
