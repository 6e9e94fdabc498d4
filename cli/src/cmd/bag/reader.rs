//! Reading a recording in order, streamed: a thread walks its records (a bounded queue
//! ahead of whoever uses them) and sends each topic with its type, then its messages
//! as Pinion messages (postcard): a JSON channel's messages are turned back on the way.
//! A recording without an end (its recorder was killed, or the disk filled) reads up
//! to its last whole record; a damaged record stops reading there, and [`Ending`] says
//! where.

use super::{MESSAGE_ENCODING, SCHEMA_ENCODING, TYPE_METADATA};
use pinion::TypeInfo;
use pinion_foxglove::Transcoder;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Messages read ahead.
const READ_AHEAD: usize = 64;
/// The largest record read (a chunk with its messages): larger ones are refused.
const MAX_RECORD: usize = 256 << 20;

/// Whether the file starts as an MCAP file does.
pub fn is_mcap(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut magic = [0u8; 8];
    Ok(file.read_exact(&mut magic).is_ok() && magic.as_slice() == mcap::MAGIC)
}

/// What the reader thread finds, in file order.
pub enum Item {
    /// A topic and its type (before its first message).
    Topic(String, TypeInfo),
    /// A message.
    Message {
        topic: String,
        log_time: u64,
        publish_time: u64,
        data: Vec<u8>,
    },
}

/// How reading ended.
#[derive(Debug)]
pub enum Ending {
    /// At the end of a finished recording.
    Clean,
    /// At the end of the file, which has no end record: its recorder did not finish it.
    Unfinished,
    /// At a record that could not be read.
    Damaged { at_byte: u64, reason: String },
}

/// Starts the reader thread: its items, and how it ended.
pub fn spawn_reader(
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
    let mut topics: HashMap<u16, (String, Option<Transcoder>)> = HashMap::new();
    let mut unreadable = 0u64;
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
                schemas.insert(header.id, (header.encoding, data.into_owned()));
                continue;
            }
            mcap::records::Record::Channel(channel) => {
                let (info, transcoder) = match channel_type(&channel, &schemas) {
                    Ok(found) => found,
                    Err(reason) => return damaged(format!("topic `{}`: {reason}", channel.topic)),
                };
                topics.insert(channel.id, (channel.topic.clone(), transcoder));
                Item::Topic(channel.topic, info)
            }
            mcap::records::Record::Message { header, data } => {
                let Some((topic, transcoder)) = topics.get(&header.channel_id) else {
                    return damaged(format!(
                        "a message of unknown channel {}",
                        header.channel_id
                    ));
                };
                let data = match transcoder {
                    None => data.into_owned(),
                    Some(transcoder) => match transcoder.from_json(&data) {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            unreadable += 1;
                            if unreadable.is_power_of_two() {
                                tracing::warn!(topic = %topic, unreadable, "skipped a message: {e}");
                            }
                            continue;
                        }
                    },
                };
                Item::Message {
                    topic: topic.clone(),
                    log_time: header.log_time,
                    publish_time: header.publish_time,
                    data,
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

/// The Pinion type of a channel, and for a JSON channel how to turn its messages back.
fn channel_type(
    channel: &mcap::records::Channel,
    schemas: &HashMap<u16, (String, Vec<u8>)>,
) -> Result<(TypeInfo, Option<Transcoder>), String> {
    let Some((encoding, data)) = schemas.get(&channel.schema_id) else {
        return Err("it has no schema".to_owned());
    };
    match channel.message_encoding.as_str() {
        MESSAGE_ENCODING if encoding == SCHEMA_ENCODING => serde_json::from_slice(data)
            .map(|info| (info, None))
            .map_err(|e| format!("unreadable schema ({e})")),
        "json" => {
            let Some(text) = channel.metadata.get(TYPE_METADATA) else {
                return Err(format!(
                    "a JSON channel without its Pinion type (metadata `{TYPE_METADATA}`): \
                     not written by `pinion record`, so it cannot be played"
                ));
            };
            let info: TypeInfo =
                serde_json::from_str(text).map_err(|e| format!("unreadable Pinion type ({e})"))?;
            if !info.is_consistent() {
                return Err("its Pinion type does not match its schema hash".to_owned());
            }
            let transcoder = Transcoder::new(&info);
            Ok((info, Some(transcoder)))
        }
        other => Err(format!(
            "message encoding `{other}` with schema encoding `{encoding}`: Pinion plays \
             `{MESSAGE_ENCODING}` ({SCHEMA_ENCODING}) and `json` channels it recorded"
        )),
    }
}
