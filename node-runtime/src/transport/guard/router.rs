//! Pinion's own ROUTER end of a guarded tcp connection to a node's data socket.
//!
//! Through the relay to the engine, each message a publisher sends crosses one more
//! socket and is copied twice more (into this process and out again), and the engine's
//! Unix socket, with the system's default send buffer of about 200 kB, makes the engine
//! and the relay take turns some twenty times per 4 MiB frame: measured, that cost a
//! third of the tcp throughput at 1 and 4 MiB and up to 1.5x the latency (see
//! `BENCHMARKS.md`). A data socket's peers only ever send it subscriptions and credit,
//! and what it sends them is Pinion's own, so for tcp it speaks the data path's small
//! part of ZMTP itself, after the guard's checks: it answers the handshake as a ROUTER,
//! reads whole messages within the socket's limit ([`Assembler`]) and hands them to the
//! data socket, and writes what the data socket sends as frames, vectored, straight from
//! the messages' buffers into the kernel. The engine still carries ipc.

use super::closed::Closed;
use super::zmtp::{self, Assembler};
use super::Shared;
use bytes::Bytes;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

/// Messages written in one go at most (each frame takes two slices).
const WRITE_BATCH: usize = 64;
/// Bytes of messages written in one go at most.
const WRITE_BYTES: usize = 4 << 20;

/// What a data socket's tcp connections tell it.
#[derive(Debug)]
pub enum RouterEvent {
    /// A subscriber connected; what is sent to `writer` reaches it, in order.
    Opened {
        /// The connection's identity in the data socket.
        id: Bytes,
        /// Its outgoing queue.
        writer: PeerWriter,
    },
    /// A message from it (without a routing frame).
    Message {
        /// The connection.
        id: Bytes,
        /// The message's frames.
        frames: Vec<Bytes>,
    },
    /// It is gone.
    Closed {
        /// The connection.
        id: Bytes,
    },
}

/// The outgoing queue of one connection. Unbounded here: the data socket's credit
/// bounds what it queues for one subscriber.
#[derive(Debug, Clone)]
pub struct PeerWriter(Arc<Queue>);

#[derive(Debug, Default)]
struct Queue {
    messages: Mutex<Vec<SharedMessage>>,
    /// Something was queued while nothing was: the writer takes it.
    ready: Notify,
    closed: AtomicBool,
}

/// One message on its way out: its frames, shared by every connection it goes to.
pub type SharedMessage = Arc<[Bytes]>;

impl PeerWriter {
    /// Queues a message; false if the connection is gone.
    pub fn send(&self, message: SharedMessage) -> bool {
        if self.0.closed.load(Ordering::Acquire) {
            return false;
        }
        let was_empty = {
            let mut messages = self
                .0
                .messages
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            messages.push(message);
            messages.len() == 1
        };
        if was_empty {
            self.0.ready.notify_one();
        }
        true
    }

    /// Waits for what is queued and takes it all (never empty).
    async fn take(&self) -> Vec<SharedMessage> {
        loop {
            let taken = std::mem::take(
                &mut *self
                    .0
                    .messages
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if !taken.is_empty() {
                return taken;
            }
            self.0.ready.notified().await;
        }
    }
}

/// A fresh identity for a connection.
fn new_id() -> Bytes {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut id = b"\0pinion-tcp-".to_vec();
    id.extend_from_slice(&n.to_le_bytes());
    Bytes::from(id)
}

/// Serves a connection whose handshake the guard checked: `first` holds what came
/// after the peer's READY. Tells `events` of the connection, its messages and its end.
pub(super) async fn serve(
    tcp: TcpStream,
    first: &[u8],
    shared: &Shared,
    events: &mpsc::UnboundedSender<RouterEvent>,
) -> Result<(), Closed> {
    let (mut read, mut write) = tcp.into_split();
    write
        .write_all(&zmtp::ready_command(b"ROUTER"))
        .await
        .map_err(|e| Closed::Ended(format!("sending READY: {e}")))?;
    let id = new_id();
    let writer = PeerWriter(Arc::default());
    // However this ends, the data socket learns it at its next send.
    let _closed = CloseOnDrop(writer.clone());
    if events
        .send(RouterEvent::Opened {
            id: id.clone(),
            writer: writer.clone(),
        })
        .is_err()
    {
        return Err(Closed::Ended("the data socket is closed".to_owned()));
    }
    let mut assembler = Assembler::new(shared.limits);
    let deliver = |messages: Vec<Vec<Bytes>>| {
        for frames in messages {
            let _ = events.send(RouterEvent::Message {
                id: id.clone(),
                frames,
            });
        }
    };
    let inbound = async {
        deliver(assembler.feed(first)?);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = read
                .read(&mut buf)
                .await
                .map_err(|e| Closed::Ended(format!("peer read: {e}")))?;
            if n == 0 {
                return Err(Closed::Ended("peer closed".to_owned()));
            }
            deliver(assembler.feed(&buf[..n])?);
        }
    };
    let outbound = async {
        loop {
            let taken = writer.take().await;
            for chunk in chunks(taken) {
                // Runs of small messages as batches, as the engine's side sends them:
                // the subscriber pays its engine's cost once per batch, not per message.
                let written = if chunk.len() > 1 {
                    write_messages(&mut write, &crate::transport::batch::pack(&chunk)).await
                } else {
                    write_messages(&mut write, &chunk).await
                };
                written.map_err(|e| Closed::Ended(format!("peer write: {e}")))?;
            }
        }
    };
    let outcome = tokio::select! {
        r = inbound => r,
        r = outbound => r,
    };
    let _ = events.send(RouterEvent::Closed { id });
    outcome
}

fn size(frames: &[Bytes]) -> usize {
    frames.iter().map(Bytes::len).sum()
}

/// `messages` in pieces of at most [`WRITE_BATCH`] messages or about [`WRITE_BYTES`].
fn chunks(messages: Vec<SharedMessage>) -> Vec<Vec<SharedMessage>> {
    let mut out: Vec<Vec<SharedMessage>> = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let len = size(&message);
        match out.last_mut() {
            Some(last) if last.len() < WRITE_BATCH && bytes + len <= WRITE_BYTES => {
                bytes += len;
                last.push(message);
            }
            _ => {
                bytes = len;
                out.push(vec![message]);
            }
        }
    }
    out
}

/// Marks a connection's queue closed when its task ends.
struct CloseOnDrop(PeerWriter);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0 .0.closed.store(true, Ordering::Release);
    }
}

/// Writes `messages` as ZMTP frames, with one vectored write where the kernel takes it.
async fn write_messages<M: AsRef<[Bytes]>>(
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    messages: &[M],
) -> std::io::Result<()> {
    let frames: usize = messages.iter().map(|m| m.as_ref().len()).sum();
    let mut heads = vec![[0u8; 9]; frames];
    let mut lens = Vec::with_capacity(frames);
    let mut at = 0;
    for message in messages {
        let message = message.as_ref();
        for (i, frame) in message.iter().enumerate() {
            lens.push(zmtp::write_header(
                frame.len(),
                i + 1 < message.len(),
                &mut heads[at],
            ));
            at += 1;
        }
    }
    let mut slices = Vec::with_capacity(2 * frames);
    let mut at = 0;
    for message in messages {
        for frame in message.as_ref() {
            slices.push(IoSlice::new(&heads[at][..lens[at]]));
            if !frame.is_empty() {
                slices.push(IoSlice::new(frame));
            }
            at += 1;
        }
    }
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let n = write.write_vectored(slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}
