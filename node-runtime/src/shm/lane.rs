//! A side lane for envelopes, from a publisher to one subscriber connection on its
//! host: a pipe the subscriber makes and the publisher opens through
//! `/proc/PID/fd/FD`. An envelope written there wakes the subscriber straight from the
//! kernel, past the engine's socket and its tasks, so the round trip of an image in a
//! slot costs two pipe wake-ups instead of two of the engine's small-message trips.
//!
//! Order: a connection gets messages through both its lane and its socket (small
//! messages, kept ones, ones past its share of slots, ones the lane had no room for).
//! Each lane record says how many socket messages the publisher had sent the
//! connection before it; the subscriber delivers a record once it has taken that many
//! from the socket, and before it takes a socket message it reads the lane: whatever
//! the publisher wrote there before sending that message is in the pipe by then. The
//! subscriber so sees every message in the order the publisher sent them.
//!
//! ```text
//! 0   len u32                  bytes of the rest of the record
//! 4   after u64                socket messages sent to the connection before it
//! 12  count u16                frames (the envelope first)
//! 14  count x (len u32, bytes)
//! ```
//!
//! A record is at most `PIPE_BUF` bytes and written in one `write`, which the kernel
//! neither splits nor interleaves with another; a longer one goes through the socket.

use super::ShmError;
use bytes::Bytes;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::task::{Context, Poll};
use tokio::net::unix::pipe::Receiver;

/// The longest record: what one `write` to a pipe puts there whole (`PIPE_BUF`).
pub(crate) const MAX_RECORD: usize = 4096;
const HEAD: usize = 14;
/// Frames of one record at most.
const MAX_FRAMES: usize = 64;
/// Records read and not taken yet, at most: more than a pipe of the default 64 KiB
/// holds of the shortest records, and a credit window holds at most 257 pooled
/// messages (16 MiB of 64 KiB frames, and one past it). A lane past this is not a
/// publisher's.
const MAX_WAITING: usize = 4096;
/// Bytes read from the pipe at once.
const CHUNK: usize = 16 << 10;

/// The record for `frames`, sent after `after` socket messages; `None` if it is longer
/// than [`MAX_RECORD`].
fn encode(after: u64, frames: &[Bytes]) -> Option<Vec<u8>> {
    let len = HEAD + frames.iter().map(|f| 4 + f.len()).sum::<usize>();
    if len > MAX_RECORD || frames.len() > MAX_FRAMES {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&((len - 4) as u32).to_le_bytes());
    out.extend_from_slice(&after.to_le_bytes());
    out.extend_from_slice(&(frames.len() as u16).to_le_bytes());
    for frame in frames {
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    Some(out)
}

/// Reads one record's body (after its length): `after` and the frames.
fn decode(body: &[u8]) -> Result<(u64, Vec<Bytes>), ShmError> {
    let bad = || ShmError::BadLane("malformed record");
    let (after, rest) = body.split_at_checked(8).ok_or_else(bad)?;
    let after = u64::from_le_bytes(after.try_into().map_err(|_| bad())?);
    let (count, mut rest) = rest.split_at_checked(2).ok_or_else(bad)?;
    let count = usize::from(u16::from_le_bytes(count.try_into().map_err(|_| bad())?));
    if count == 0 || count > MAX_FRAMES {
        return Err(bad());
    }
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, tail) = rest.split_at_checked(4).ok_or_else(bad)?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| bad())?) as usize;
        let (frame, tail) = tail.split_at_checked(len).ok_or_else(bad)?;
        frames.push(Bytes::copy_from_slice(frame));
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok((after, frames))
}

/// The subscriber's end of a lane: the pipe, and what it read of it.
#[derive(Debug)]
pub(crate) struct Lane {
    /// The read end, watched by the runtime's reactor; `None` once the lane failed or
    /// the publisher closed it (records read before still count).
    read: Option<Receiver>,
    /// The write end the publisher opens through `/proc`: closed here once a record
    /// came (the publisher has its own then), so that the publisher's going shows as
    /// the end of the pipe.
    write: Option<File>,
    /// Its number in this process.
    write_fd: u32,
    /// Bytes of a record not whole yet.
    partial: Vec<u8>,
    /// Records read, oldest first, with the socket messages that come before each.
    waiting: VecDeque<(u64, Vec<Bytes>)>,
    /// `after` of the last record read: records never go back.
    last: u64,
    /// Where reads land, made at the first read (a lane that never carries a record
    /// costs no buffer).
    chunk: Vec<u8>,
}

impl Lane {
    /// A new lane; needs a tokio runtime (the pipe is watched by its reactor).
    pub(crate) fn new() -> Result<Self, ShmError> {
        use nix::fcntl::OFlag;
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| ShmError::Os("pipe2", e))?;
        let write_fd = write.as_raw_fd() as u32;
        let read = Receiver::from_owned_fd(read)
            .map_err(|e| ShmError::Lane("cannot watch the pipe".to_owned(), e))?;
        Ok(Self {
            read: Some(read),
            write: Some(File::from(write)),
            write_fd,
            partial: Vec::new(),
            waiting: VecDeque::new(),
            last: 0,
            chunk: Vec::new(),
        })
    }

    /// The descriptor of the write end, for the publisher to open.
    pub(crate) fn fd(&self) -> u32 {
        self.write_fd
    }

    /// The oldest record, if no socket message comes before it: it was sent after at
    /// most the `received` socket messages taken so far.
    pub(crate) fn next_before(&mut self, received: u64) -> Option<Vec<Bytes>> {
        match self.waiting.front() {
            Some((after, _)) if *after <= received => self.waiting.pop_front().map(|(_, f)| f),
            _ => None,
        }
    }

    /// Makes the pipe hold `bytes` at most (rounded up to a page by the kernel): lets
    /// a test fill it with a few records.
    #[cfg(test)]
    pub(crate) fn set_capacity(&self, bytes: i32) {
        use nix::fcntl::{fcntl, FcntlArg};
        let read = self.read.as_ref().expect("a lane that reads");
        fcntl(read.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(bytes)).expect("F_SETPIPE_SZ");
    }

    /// Whether [`Lane::next_before`] has a record for `received`.
    pub(crate) fn has_before(&self, received: u64) -> bool {
        self.waiting
            .front()
            .is_some_and(|(after, _)| *after <= received)
    }

    /// Reads what the pipe holds now; never waits. On an error the lane stops reading
    /// (the publisher then sees a closed pipe and uses the socket).
    pub(crate) fn drain(&mut self) -> Result<(), ShmError> {
        // Most calls find the pipe empty (a socket message with no record before it):
        // a record's worth on the stack tells, without the lane's buffer.
        let mut first = [0u8; MAX_RECORD];
        if self.read_now(&mut first)? == 0 {
            return Ok(());
        }
        let mut chunk = self.take_chunk();
        let mut drained = Ok(());
        // A pipe holds 64 KiB by default (at most 1 MiB unless raised by root).
        for _ in 0..64 {
            match self.read_now(&mut chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    drained = Err(e);
                    break;
                }
            }
        }
        self.chunk = chunk;
        drained
    }

    /// Reads what the pipe holds now into `buf`, never waiting, and adds it to the
    /// records: the bytes read, 0 if none (or the lane no longer reads).
    fn read_now(&mut self, buf: &mut [u8]) -> Result<usize, ShmError> {
        for _ in 0..4 {
            let Some(read) = &self.read else {
                return Ok(0);
            };
            // Straight from the pipe: the reactor's `try_read` reads only once the
            // reactor saw it readable, and this must read what is there now.
            return match nix::unistd::read(read.as_raw_fd(), buf) {
                Ok(n) => self.take(&buf[..n]).map(|()| n),
                Err(nix::errno::Errno::EAGAIN) => Ok(0),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => self
                    .fail(ShmError::Lane("read".to_owned(), e.into()))
                    .map(|()| 0),
            };
        }
        Ok(0)
    }

    /// Waits until the pipe has something and reads it: `Ready(Ok)` once bytes were
    /// read (perhaps not a whole record). Pending for ever once the lane failed.
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ShmError>> {
        // Each turn either reads, or clears a readiness that was stale; two suffice.
        for _ in 0..4 {
            let Some(read) = &self.read else {
                return Poll::Pending;
            };
            match read.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(self.fail(ShmError::Lane("poll".to_owned(), e)))
                }
                Poll::Pending => return Poll::Pending,
            }
            let mut chunk = self.take_chunk();
            let result = match self.read.as_ref().map(|read| read.try_read(&mut chunk)) {
                Some(Ok(n)) => Some(self.take(&chunk[..n])),
                // Not readable after all (readiness cleared): poll again.
                Some(Err(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
                {
                    None
                }
                Some(Err(e)) => Some(self.fail(ShmError::Lane("read".to_owned(), e))),
                None => None,
            };
            self.chunk = chunk;
            if let Some(result) = result {
                return Poll::Ready(result);
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The read buffer, made on first use; given back after the read.
    fn take_chunk(&mut self) -> Vec<u8> {
        match std::mem::take(&mut self.chunk) {
            chunk if chunk.is_empty() => vec![0; CHUNK],
            chunk => chunk,
        }
    }

    /// Adds bytes read to the records.
    fn take(&mut self, bytes: &[u8]) -> Result<(), ShmError> {
        if bytes.is_empty() {
            // The publisher closed its end (its connection or process is gone): what
            // comes now comes through the socket.
            self.read = None;
            self.partial = Vec::new();
            return Ok(());
        }
        // A record came: the publisher has the pipe open itself.
        self.write = None;
        self.partial.extend_from_slice(bytes);
        let mut at = 0;
        let result = loop {
            let Some(len) = self.partial.get(at..at + 4) else {
                break Ok(());
            };
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if !(HEAD - 4..=MAX_RECORD - 4).contains(&len) {
                break Err(ShmError::BadLane("record length"));
            }
            let Some(body) = self.partial.get(at + 4..at + 4 + len) else {
                break Ok(());
            };
            let (after, frames) = match decode(body) {
                Ok(record) => record,
                Err(e) => break Err(e),
            };
            if after < self.last {
                break Err(ShmError::BadLane("records out of order"));
            }
            if self.waiting.len() >= MAX_WAITING {
                break Err(ShmError::BadLane("too many records waiting"));
            }
            self.last = after;
            self.waiting.push_back((after, frames));
            at += 4 + len;
        };
        self.partial.drain(..at);
        match result {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// Stops reading: closing the read end tells the publisher (its writes fail).
    fn fail(&mut self, error: ShmError) -> Result<(), ShmError> {
        self.read = None;
        self.write = None;
        self.partial = Vec::new();
        Err(error)
    }
}

/// The publisher's end of a subscriber connection's lane.
#[derive(Debug)]
pub(crate) struct LaneWriter(File);

/// What became of a record given to [`LaneWriter::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// In the pipe.
    Sent,
    /// Not sent: too long, or the pipe is full; send it through the socket.
    NoRoom,
    /// Not sent, and the lane is done for (the subscriber closed it or died).
    Closed,
}

impl LaneWriter {
    /// Opens the pipe `fd` of process `pid` for writing. Only a pipe of this user is
    /// opened: the descriptor is looked at through a path-only handle first, so a
    /// subscriber cannot make this process open anything else for writing.
    pub(crate) fn open(pid: u32, fd: u32) -> Result<Self, ShmError> {
        let path = format!("/proc/{pid}/fd/{fd}");
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_PATH)
            .open(&path)
            .map_err(|e| ShmError::Lane(path.clone(), e))?;
        let meta = handle
            .metadata()
            .map_err(|e| ShmError::Lane(path.clone(), e))?;
        if !meta.file_type().is_fifo() {
            return Err(ShmError::BadLane("not a pipe"));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(ShmError::BadLane("another user's pipe"));
        }
        // The same pipe, through the handle: it cannot have been swapped since.
        let own = format!("/proc/self/fd/{}", handle.as_raw_fd());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
            .open(&own)
            .map_err(|e| ShmError::Lane(path, e))?;
        Ok(Self(file))
    }

    /// Writes the record for `frames` (an envelope message), sent after `after` socket
    /// messages to this connection; never waits.
    pub(crate) fn write(&self, after: u64, frames: &[Bytes]) -> Written {
        let Some(record) = encode(after, frames) else {
            return Written::NoRoom;
        };
        // A pipe write of at most PIPE_BUF bytes is whole or fails with EAGAIN.
        for _ in 0..4 {
            return match (&self.0).write(&record) {
                Ok(n) if n == record.len() => Written::Sent,
                Ok(_) => Written::Closed,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => Written::NoRoom,
                Err(_) => Written::Closed,
            };
        }
        Written::NoRoom
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    fn frames(n: u8) -> Vec<Bytes> {
        vec![
            Bytes::from(vec![1, n]),
            Bytes::from_static(b"topic\0"),
            Bytes::new(),
        ]
    }

    #[tokio::test]
    async fn records_arrive_whole_in_order_with_their_place_among_socket_messages() {
        let mut lane = Lane::new().expect("lane");
        let writer = LaneWriter::open(std::process::id(), lane.fd()).expect("opened");
        assert_eq!(writer.write(0, &frames(1)), Written::Sent);
        assert_eq!(writer.write(2, &frames(2)), Written::Sent);
        poll_fn(|cx| lane.poll_read(cx)).await.expect("read");
        lane.drain().expect("drained");
        assert_eq!(lane.next_before(0), Some(frames(1)));
        assert!(
            lane.next_before(1).is_none(),
            "two socket messages come first"
        );
        assert_eq!(lane.waiting.len(), 1);
        assert_eq!(lane.next_before(2), Some(frames(2)));
        assert!(lane.waiting.is_empty());
        assert!(
            lane.write.is_none(),
            "its own write end closed once a record came"
        );
        drop(writer);
        lane.drain().expect("the end of the pipe is no error");
        assert!(
            lane.read.is_none(),
            "the publisher closed it: the lane ends"
        );
    }

    #[tokio::test]
    async fn a_full_pipe_or_a_long_record_says_no_room_and_a_closed_one_closed() {
        let mut lane = Lane::new().expect("lane");
        let writer = LaneWriter::open(std::process::id(), lane.fd()).expect("opened");
        let long = vec![Bytes::from(vec![1u8; MAX_RECORD])];
        assert_eq!(writer.write(0, &long), Written::NoRoom);
        let mut sent = 0;
        while writer.write(0, &frames(0)) == Written::Sent {
            sent += 1;
            assert!(sent < 1 << 20, "a pipe is bounded");
        }
        assert!(sent > 100, "{sent} records fit");
        lane.drain().expect("drained");
        assert_eq!(lane.waiting.len(), sent);
        drop(lane);
        assert_eq!(writer.write(0, &frames(0)), Written::Closed);
    }

    #[tokio::test]
    async fn forged_records_stop_the_lane() {
        for bad in [
            &[0xff, 0xff, 0, 0][..],                         // longer than a record
            &[3, 0, 0, 0, 1, 2, 3],                          // shorter than a head
            &[11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9], // no frames, a stray byte
            &[14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0, 0, 0], // frame past the end
        ] {
            let mut lane = Lane::new().expect("lane");
            let mut write = lane.write.as_ref().expect("the write end");
            write.write_all(bad).expect("written");
            assert!(lane.drain().is_err(), "{bad:?}");
            assert!(lane.read.is_none() && lane.write.is_none());
        }
        let mut lane = Lane::new().expect("lane");
        let writer = LaneWriter::open(std::process::id(), lane.fd()).expect("opened");
        writer.write(5, &frames(1));
        writer.write(4, &frames(2));
        assert!(lane.drain().is_err(), "records out of order");
        assert_eq!(
            lane.next_before(5),
            Some(frames(1)),
            "what came before stays"
        );
    }

    #[test]
    fn only_a_pipe_of_this_user_is_opened() {
        let file = std::fs::File::open("/proc/self/status").expect("a file");
        assert!(matches!(
            LaneWriter::open(std::process::id(), file.as_raw_fd() as u32),
            Err(ShmError::BadLane("not a pipe"))
        ));
        assert!(LaneWriter::open(std::process::id(), 999_999).is_err());
    }
}
