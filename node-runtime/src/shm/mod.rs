//! Shared memory for large frames between nodes on one host.
//!
//! A data socket puts every frame of at least [`SHM_FROM`] bytes (a large
//! [`Blob`](crate::Blob) is a frame of its own, see [`crate::segments`]) into a slot of
//! a pool of its own, once, and sends each subscriber connection on this host a small
//! envelope that names the slots instead of the frames. The subscriber's frames then
//! point into the slots: a received `Blob` reads the publisher's memory in place, and
//! its slot is free again when every connection's last reference to it is dropped.
//!
//! - Pools are sealed memory files without a name (`memfd`), opened by subscribers
//!   through `/proc/PID/fd/FD`: the kernel frees them with the last process that maps
//!   them, so a killed publisher or subscriber leaves nothing behind in `/dev/shm` or
//!   anywhere else.
//! - Memory is bounded: a data socket's pools hold at most [`pool_bytes`] of slots (the
//!   setting `PINION_SHM_POOL`, 64 MiB by default, at most 1 GiB, `0` for none). A
//!   message in a slot costs its connection's credit what travels (its envelope and
//!   small frames): its slots are bounded by the pool, not the window, and the round
//!   trip of a large image is not slowed by credit coming back every other message.
//!   What a publisher keeps for a connection out of credit waits as it is, for the
//!   socket. One connection holds at most its
//!   share of the slots, the slots over the connections plus one (messages its user
//!   code still holds count; the spare share is the publisher's own); past that, and
//!   when no slot is free, messages go through the socket, within the same window, so
//!   a subscriber that holds on to its messages costs at most the pool and the others
//!   keep receiving, and a queue depth means what it says.
//! - The cells of a subscriber whose process died are cleared when the publisher next
//!   runs short of slots; a subscriber that cannot map a pool (another user, another
//!   pid namespace) says so, and gets the socket path from then on.
//! - The envelope goes through the connection's lane (`lane.rs`), a pipe from the
//!   publisher to that subscriber, in order with what the socket brings; through the
//!   socket itself when the lane has no room or could not be opened.
//! - Only 32-bit atomics, so it runs the same on armv7 as on aarch64 and x86_64.

mod envelope;
mod inbound;
mod lane;
mod layout;
mod outbound;
mod pool;
mod readers;
mod region;

pub(crate) use envelope::is_envelope;
pub(crate) use inbound::Inbound;
pub(crate) use lane::{Lane, LaneWriter, Written};
pub(crate) use outbound::Outbound;
pub(crate) use readers::Holder;

/// Frames from this size on go through a pool between nodes on one host. Below it a
/// copy through the socket costs about what the slot's bookkeeping does.
pub const SHM_FROM: usize = 64 << 10;

/// Default bytes of slots per data socket.
pub const DEFAULT_POOL_BYTES: usize = 64 << 20;

/// Why shared memory could not be used for a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// A system call failed.
    #[error("{0} failed: {1}")]
    Os(&'static str, nix::Error),
    /// The publisher's pool could not be opened.
    #[error("cannot open the publisher's pool {0}: {1}")]
    Open(String, std::io::Error),
    /// What was opened is not a pool of this layout.
    #[error("not a pool: {0}")]
    NotAPool(&'static str),
    /// An envelope was malformed or named frames or slots that do not exist.
    #[error("malformed shared-memory envelope")]
    BadEnvelope,
    /// A subscriber connection's lane (its pipe for envelopes) could not be made,
    /// opened or read.
    #[error("shared-memory lane {0}: {1}")]
    Lane(String, std::io::Error),
    /// A lane held something else than a publisher's records, or was not a pipe.
    #[error("shared-memory lane: {0}")]
    BadLane(&'static str),
}

/// The most bytes of slots a data socket may hold, whatever the setting: what a
/// subscriber maps of one pool stays within reach of a 32-bit Pi's address space.
pub const MAX_POOL_BYTES: usize = 1 << 30;

/// Bytes of slots a data socket may hold: `PINION_SHM_POOL` (bytes or a size such as
/// `128MiB`, at most [`MAX_POOL_BYTES`]; `0` turns pools off), else
/// [`DEFAULT_POOL_BYTES`].
pub fn pool_bytes() -> usize {
    static READ: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *READ.get_or_init(|| {
        let Ok(text) = std::env::var("PINION_SHM_POOL") else {
            return DEFAULT_POOL_BYTES;
        };
        if text.trim() == "0" {
            return 0;
        }
        match crate::limits::parse_size(&text) {
            Ok(bytes) => bytes.min(MAX_POOL_BYTES),
            Err(e) => {
                tracing::warn!("PINION_SHM_POOL={text:?}: {e}; using {DEFAULT_POOL_BYTES} bytes");
                DEFAULT_POOL_BYTES
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn message(large: usize) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"topic\0head"),
            Bytes::from(vec![7u8; large]),
            Bytes::from_static(b"tail"),
        ]
    }

    #[test]
    fn a_large_frame_arrives_through_a_slot_that_is_free_again_when_dropped() {
        let mut out = Outbound::new(1 << 21);
        let holder = out.register(std::process::id()).expect("holder");
        let mut inbound = Inbound::default();
        let frames = message(300 << 10);
        let staged = out.stage(&frames).expect("staged");
        let sent = staged.deliver(holder).expect("pooled");
        drop(staged);
        assert!(is_envelope(&sent));
        assert!(sent[2].is_empty(), "the large frame is not in the message");
        let received = inbound.open(sent).expect("opened");
        assert_eq!(received, frames);
        // The pool has 4 slots of 512 KiB; the one holder may hold 2 (its share beside
        // the publisher's), `received` and one more.
        let held = out
            .stage(&frames)
            .expect("staged")
            .deliver(holder)
            .expect("pooled");
        let staged = out.stage(&frames).expect("staged");
        assert!(
            staged.deliver(holder).is_none(),
            "past its share: the socket"
        );
        drop(staged);
        drop(received);
        drop(held);
        for _ in 0..4 {
            let staged = out.stage(&frames).expect("a slot is free again");
            let sent = staged.deliver(holder).expect("pooled");
            drop(inbound.open(sent).expect("opened"));
        }
    }

    #[test]
    fn an_unsent_message_lets_go_of_its_slots() {
        let mut out = Outbound::new(1 << 21);
        let holder = out.register(std::process::id()).expect("holder");
        for _ in 0..10 {
            let staged = out.stage(&message(300 << 10)).expect("staged");
            let sent = staged.deliver(holder).expect("pooled");
            out.discard(&sent);
        }
    }

    #[test]
    fn a_lent_buffer_is_sent_without_a_copy() {
        // Two slots of 256 KiB: the lent one, and one that a copy would take.
        let mut out = Outbound::new(512 << 10);
        let holder = out.register(std::process::id()).expect("holder");
        let lent = out.loan(200 << 10, |b| b.fill(3)).expect("lent");
        let frames = vec![Bytes::from_static(b"t\0"), lent.clone()];
        let staged = out.stage(&frames).expect("staged");
        let sent = staged.deliver(holder).expect("pooled");
        let received = Inbound::default().open(sent).expect("opened");
        assert_eq!(received[1], lent);
        assert!(
            out.loan(1, |_| ()).is_some(),
            "the other slot is still free: nothing was copied"
        );
        // Sent again while the first is held: through the socket.
        assert!(staged.deliver(holder).is_none());
    }

    #[test]
    fn a_forged_envelope_is_refused() {
        let mut out = Outbound::new(1 << 21);
        let holder = out.register(std::process::id()).expect("holder");
        let staged = out.stage(&message(300 << 10)).expect("staged");
        let mut sent = staged.deliver(holder).expect("pooled");
        let mut envelope = sent[0].to_vec();
        let last = envelope.len() - 1;
        envelope[last] = 0x7f; // the entry's length past its slot
        sent[0] = envelope.into();
        assert!(Inbound::default().open(sent).is_err());
        let gone = vec![envelope::Envelope {
            pool: pool::PoolRef {
                pid: std::process::id(),
                fd: 999_999,
                uid: 1,
            },
            holder: 1,
            epoch: 2,
            entries: vec![],
        }
        .encode()];
        assert!(matches!(
            Inbound::default().open(gone),
            Err(ShmError::Open(..))
        ));
    }
}
