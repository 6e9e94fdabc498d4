//! Writing a recording: one MCAP file (a new one past a size, `FILE_1.mcap`, ...), its
//! chunks closed and handed to the file system at least every [`FLUSH_EVERY`], each
//! topic a channel in the encoding asked for.

use super::{Encoding, MESSAGE_ENCODING, SCHEMA_ENCODING, TYPE_METADATA};
use anyhow::Context;
use pinion::TypeInfo;
use pinion_foxglove::Transcoder;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often what was received is written out: what a killed recorder loses at most.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// One output file being written.
pub struct Output {
    base: PathBuf,
    path: PathBuf,
    index: u32,
    encoding: Encoding,
    writer: mcap::Writer<BufWriter<File>>,
    channels: BTreeMap<String, Channel>,
    bytes: u64,
    untranslatable: u64,
}

/// A topic's channel in the file.
struct Channel {
    id: u16,
    transcoder: Option<Transcoder>,
}

impl Output {
    /// Starts file `index` of a recording named `base`.
    pub fn open(base: &Path, index: u32, encoding: Encoding) -> anyhow::Result<Self> {
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
            encoding,
            writer,
            channels: BTreeMap::new(),
            bytes: 0,
            untranslatable: 0,
        })
    }

    fn channel(&mut self, topic: &str, type_info: &TypeInfo) -> anyhow::Result<&Channel> {
        if !self.channels.contains_key(topic) {
            let mut metadata = BTreeMap::from([(
                "pinion.schema_hash".to_owned(),
                format!("{:016x}", type_info.hash),
            )]);
            let channel = match self.encoding {
                Encoding::Postcard => {
                    let data = serde_json::to_vec(type_info)?;
                    let schema = self
                        .writer
                        .add_schema(&type_info.name, SCHEMA_ENCODING, &data)?;
                    let id = self
                        .writer
                        .add_channel(schema, topic, MESSAGE_ENCODING, &metadata)?;
                    Channel {
                        id,
                        transcoder: None,
                    }
                }
                Encoding::Json => {
                    let transcoder = Transcoder::new(type_info);
                    let schema = self.writer.add_schema(
                        transcoder.schema_name(),
                        "jsonschema",
                        transcoder.schema(),
                    )?;
                    metadata.insert(TYPE_METADATA.to_owned(), serde_json::to_string(type_info)?);
                    let id = self.writer.add_channel(schema, topic, "json", &metadata)?;
                    Channel {
                        id,
                        transcoder: Some(transcoder),
                    }
                }
            };
            self.channels.insert(topic.to_owned(), channel);
        }
        self.channels
            .get(topic)
            .context("a channel just added is missing")
    }

    /// Writes one message (postcard) of `topic`, in the file's encoding.
    pub fn write(
        &mut self,
        topic: &str,
        type_info: &TypeInfo,
        sequence: u32,
        publish_time: u64,
        message: &[u8],
    ) -> anyhow::Result<()> {
        let channel = self.channel(topic, type_info)?;
        let channel_id = channel.id;
        let json;
        let data = match &channel.transcoder {
            None => message,
            Some(transcoder) => match transcoder.to_json(message) {
                Ok(bytes) => {
                    json = bytes;
                    &json
                }
                Err(e) => {
                    self.untranslatable += 1;
                    if self.untranslatable.is_power_of_two() {
                        tracing::warn!(
                            topic,
                            count = self.untranslatable,
                            "a message was left out: {e}"
                        );
                    }
                    return Ok(());
                }
            },
        };
        let header = mcap::records::MessageHeader {
            channel_id,
            sequence,
            log_time: pinion::host::now_ns(),
            publish_time,
        };
        self.bytes += data.len() as u64 + 32;
        self.writer
            .write_to_known_channel(&header, data)
            .with_context(|| self.stopped())
    }

    /// Bytes written to this file so far (about).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next file of the recording, this one finished.
    pub fn next(self) -> anyhow::Result<Self> {
        let (base, index, encoding) = (self.base.clone(), self.index + 1, self.encoding);
        self.finish()?;
        Self::open(&base, index, encoding)
    }

    /// Closes the open chunk and hands everything to the file system.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.flush().with_context(|| self.stopped())
    }

    fn stopped(&self) -> String {
        format!(
            "cannot write {}; it holds what was received until about {} s before this",
            self.path.display(),
            FLUSH_EVERY.as_secs()
        )
    }

    /// Writes the file's end.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let path = self.path.clone();
        self.writer
            .finish()
            .with_context(|| format!("cannot finish {}", path.display()))?;
        Ok(())
    }
}
