//! Small messages travel in batches while they are published faster than they are sent.
//!
//! Every message the engine carries costs a send, a queue push, a wake-up of the
//! connection's writer and a read on the far side, whatever its size. At 64 bytes that
//! cost is most of the work, and a publisher with four subscribers pays it four times.
//! So in a burst, publishers only queue their messages, per connection ([`Outgoing`]),
//! and the data socket's sender task sends what it finds: a lone message as it is, and a
//! run of small ones as one engine message, whose first frame is `[0, n1, n2, ...]` (`n1`
//! is the number of frames of the first message, and so on), followed by the messages'
//! frames in order. The first frame of a topic message starts with the topic, never with
//! a zero byte, so the zero marks a batch.
//!
//! Nothing waits for a batch to fill: a message after a quiet spell goes straight to the
//! engine (see `DataPublisher::send`), an idle sender task takes each queued message as
//! it comes, and while it is busy sending, the next ones gather: the busier, the larger
//! the batches.

use bytes::Bytes;

/// Largest message (all its frames) that is batched; larger ones go alone.
pub const MESSAGE_MAX: usize = 8 << 10;
/// Most frames of a batched message.
pub const FRAMES_MAX: usize = 8;
/// Most messages in one batch.
pub const MESSAGES_MAX: usize = 64;
/// Most bytes in one batch.
pub const BYTES_MAX: usize = 64 << 10;

/// The first byte of a batch's first frame.
const MARK: u8 = 0;

/// Whether `frames` (one message, without routing identity) may join a batch.
pub fn batchable(frames: &[Bytes]) -> bool {
    frames.len() <= FRAMES_MAX
        && frames
            .first()
            .is_some_and(|f| f.first().is_some_and(|&b| b != MARK))
        && frames.iter().map(Bytes::len).sum::<usize>() <= MESSAGE_MAX
}

/// Whether a received message is a batch.
pub fn is_batch(frames: &[Bytes]) -> bool {
    frames.first().is_some_and(|f| f.first() == Some(&MARK))
}

/// What waits for one connection, in order.
#[derive(Debug)]
struct Pending {
    id: Bytes,
    messages: Vec<Vec<Bytes>>,
}

/// Messages waiting to be sent, by connection, in the order they were queued.
#[derive(Debug, Default)]
pub struct Outgoing {
    pending: Vec<Pending>,
}

impl Outgoing {
    /// Queues a message for the connection of routing identity `id`.
    pub fn push(&mut self, frames: &[Bytes], id: &Bytes) {
        let at = match self.pending.iter().position(|p| p.id == id) {
            Some(at) => at,
            None => {
                self.pending.push(Pending {
                    id: id.clone(),
                    messages: Vec::new(),
                });
                self.pending.len() - 1
            }
        };
        self.pending[at].messages.push(frames.to_vec());
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes what is queued as engine messages, each with its routing identity first:
    /// runs of small messages for one connection as batches, anything else alone.
    pub fn take(&mut self) -> Vec<Vec<Bytes>> {
        let mut out = Vec::new();
        for pending in self.pending.drain(..) {
            split_into_batches(Some(&pending.id), pending.messages, &mut out);
        }
        out
    }
}

/// One connection's messages, in order, as they go on the wire without a routing
/// identity (Pinion's own tcp ROUTER end): runs of small ones as batches, anything
/// else alone.
pub fn pack<M: AsRef<[Bytes]>>(messages: impl IntoIterator<Item = M>) -> Vec<Vec<Bytes>> {
    let mut out = Vec::new();
    split_into_batches(None, messages, &mut out);
    out
}

/// Appends one connection's messages to `out`, as batches where they are small, each
/// behind the connection's routing identity if given.
fn split_into_batches<M: AsRef<[Bytes]>>(
    id: Option<&Bytes>,
    messages: impl IntoIterator<Item = M>,
    out: &mut Vec<Vec<Bytes>>,
) {
    let mut batch = Batch::new(id);
    for message in messages {
        let message = message.as_ref();
        if !batchable(message) {
            batch.close(out);
            let mut alone = Vec::with_capacity(message.len() + 1);
            alone.extend(id.cloned());
            alone.extend(message.iter().cloned());
            out.push(alone);
            continue;
        }
        let size = message.iter().map(Bytes::len).sum::<usize>();
        if batch.messages == MESSAGES_MAX || batch.bytes + size > BYTES_MAX {
            batch.close(out);
        }
        batch.add(message, size);
    }
    batch.close(out);
}

/// A batch being filled for one connection.
struct Batch {
    id: Option<Bytes>,
    counts: Vec<u8>,
    frames: Vec<Bytes>,
    messages: usize,
    bytes: usize,
}

impl Batch {
    fn new(id: Option<&Bytes>) -> Self {
        Self {
            id: id.cloned(),
            counts: vec![MARK],
            frames: Vec::new(),
            messages: 0,
            bytes: 0,
        }
    }

    fn add(&mut self, message: &[Bytes], size: usize) {
        // A batchable message has at most FRAMES_MAX frames: the count fits.
        self.counts.push(message.len() as u8);
        self.frames.extend(message.iter().cloned());
        self.messages += 1;
        self.bytes += size;
    }

    /// Appends what it holds to `out` (a lone message as it is) and starts over.
    fn close(&mut self, out: &mut Vec<Vec<Bytes>>) {
        if self.messages == 0 {
            return;
        }
        let mut parts = Vec::with_capacity(self.frames.len() + 2);
        parts.extend(self.id.clone());
        if self.messages > 1 {
            parts.push(Bytes::from(std::mem::replace(&mut self.counts, vec![MARK])));
        }
        parts.append(&mut self.frames);
        self.counts.truncate(1);
        self.messages = 0;
        self.bytes = 0;
        out.push(parts);
    }
}

/// The messages of a received batch. A batch whose counts do not match its frames, or
/// that holds no message, comes back whole as the error: it is no message, and whoever
/// reads it counts it as malformed.
pub fn unpack(frames: Vec<Bytes>) -> Result<Vec<Vec<Bytes>>, Vec<Bytes>> {
    let Some((&MARK, counts)) = frames.first().and_then(|f| f.split_first()) else {
        return Err(frames);
    };
    let sound = !counts.is_empty()
        && counts.iter().all(|&n| n > 0)
        && counts.iter().map(|&n| usize::from(n)).sum::<usize>() == frames.len() - 1;
    if !sound {
        return Err(frames);
    }
    let counts = frames[0].clone();
    let mut rest = frames.into_iter().skip(1);
    Ok(counts[1..]
        .iter()
        .map(|&n| rest.by_ref().take(usize::from(n)).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn a_lone_message_goes_as_it_is_and_several_go_as_a_batch() {
        let mut out = Outgoing::default();
        let (one, two) = (b("one"), b("two"));
        out.push(&[b("m1")], &one);
        out.push(&[b("m1")], &two);
        out.push(&[b("m2"), b("blob")], &one);
        let sent = out.take();
        assert!(out.is_empty());
        assert_eq!(
            sent,
            vec![
                vec![
                    one,
                    Bytes::from_static(&[MARK, 1, 2]),
                    b("m1"),
                    b("m2"),
                    b("blob")
                ],
                vec![two, b("m1")],
            ]
        );
        assert!(is_batch(&sent[0][1..]));
        assert!(!is_batch(&sent[1][1..]));
        let got = unpack(sent[0][1..].to_vec()).expect("batch");
        assert_eq!(got, vec![vec![b("m1")], vec![b("m2"), b("blob")]]);
    }

    #[test]
    fn large_messages_go_alone_and_in_order_between_batches() {
        let peer = b("peer");
        let large = Bytes::from(vec![1u8; MESSAGE_MAX + 1]);
        let mut out = Outgoing::default();
        for frames in [
            vec![b("a")],
            vec![b("b")],
            vec![large.clone()],
            vec![b("c")],
        ] {
            out.push(&frames, &peer);
        }
        assert_eq!(
            out.take(),
            vec![
                vec![
                    peer.clone(),
                    Bytes::from_static(&[MARK, 1, 1]),
                    b("a"),
                    b("b")
                ],
                vec![peer.clone(), large],
                vec![peer, b("c")],
            ]
        );
    }

    #[test]
    fn a_batch_holds_at_most_its_limit_of_messages_and_bytes() {
        let peer = b("peer");
        let mut out = Outgoing::default();
        for _ in 0..MESSAGES_MAX + 1 {
            out.push(&[b("x")], &peer);
        }
        let sizes: Vec<usize> = out.take().iter().map(Vec::len).collect();
        // Identity and counts, then the messages; the one past the limit goes alone.
        assert_eq!(sizes, vec![MESSAGES_MAX + 2, 2]);
        let big = Bytes::from(vec![1u8; MESSAGE_MAX]);
        for _ in 0..BYTES_MAX / MESSAGE_MAX + 1 {
            out.push(std::slice::from_ref(&big), &peer);
        }
        let sizes: Vec<usize> = out.take().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![BYTES_MAX / MESSAGE_MAX + 2, 2]);
    }

    #[test]
    fn only_small_messages_are_batched() {
        assert!(batchable(&[b("topic\0data")]));
        assert!(batchable(&[b("topic\0lead"), b("blob"), Bytes::new()]));
        assert!(!batchable(&[Bytes::from(vec![1u8; MESSAGE_MAX + 1])]));
        assert!(!batchable(&vec![b("t"); FRAMES_MAX + 1]));
        assert!(!batchable(&[Bytes::new()]));
        assert!(!batchable(&[]));
        assert!(!batchable(&[Bytes::from_static(&[MARK, 1])]));
    }

    #[test]
    fn batches_whose_counts_do_not_match_their_frames_are_refused() {
        let mark = |counts: &'static [u8]| Bytes::from_static(counts);
        for bad in [
            vec![mark(&[MARK])],
            vec![mark(&[MARK]), b("a")],
            vec![mark(&[MARK, 2]), b("a")],
            vec![mark(&[MARK, 1]), b("a"), b("b")],
            vec![mark(&[MARK, 0, 1]), b("a")],
            vec![b("topic\0"), b("a")],
            vec![],
        ] {
            assert_eq!(unpack(bad.clone()).err(), Some(bad));
        }
    }
}
