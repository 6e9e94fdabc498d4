//! What the guard reads of ZMTP 3 (RFC 23), as plain functions over bytes: the greeting,
//! frame headers, the READY command, and a scanner that follows the frames of a stream
//! without keeping their bodies. No IO; every length is checked before anything is
//! kept, so no input can make the caller buffer more than it allows.

/// Bytes of a ZMTP 3 greeting.
pub const GREETING_LEN: usize = 64;

/// Longest READY command accepted (Socket-Type and an Identity of at most 255 bytes
/// take about 300).
pub const MAX_READY: usize = 4096;

/// Longest command frame accepted after the handshake.
const MAX_COMMAND: u64 = 4096;

/// What one accepted message may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Bytes of one message, all its frames together.
    pub max_message: usize,
    /// Frames of one message.
    pub max_frames: usize,
}

/// Why a peer's bytes are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The first bytes are not a ZMTP greeting.
    #[error("not a ZMTP greeting ({0})")]
    NotZmtp(&'static str),
    /// A ZMTP version before 3.
    #[error("ZMTP version {0} is not supported (3 or later)")]
    Version(u8),
    /// A security mechanism other than NULL.
    #[error("security mechanism {0:?} is not supported (NULL only)")]
    Mechanism(String),
    /// Reserved bits of a frame's flags are set.
    #[error("frame flags {0:#04x} have reserved bits set")]
    Flags(u8),
    /// The first frame after the greeting is not a READY command.
    #[error("the handshake must start with a READY command")]
    NotReady,
    /// A malformed command.
    #[error("malformed command: {0}")]
    Command(&'static str),
    /// A command larger than any the engine would send.
    #[error("a command frame of {len} bytes (at most {limit})")]
    CommandTooLong {
        /// What the header announced.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A frame or message larger than the limit.
    #[error("a message of at least {len} bytes (at most {limit})")]
    MessageTooLong {
        /// What the headers announced so far.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A message of more frames than the limit.
    #[error("a message of more than {0} frames")]
    TooManyFrames(usize),
}

/// Pinion's own greeting: ZMTP 3.0, NULL mechanism, not as server (what the engine sends).
pub fn greeting() -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// Checks a peer's greeting.
pub fn check_greeting(g: &[u8; GREETING_LEN]) -> Result<(), Violation> {
    if g[0] != 0xff || g[9] != 0x7f {
        return Err(Violation::NotZmtp("bad signature"));
    }
    if g[10] < 3 {
        return Err(Violation::Version(g[10]));
    }
    let mechanism = &g[12..32];
    let name_len = mechanism.iter().position(|&b| b == 0).unwrap_or(20);
    if &mechanism[..name_len] != b"NULL" || mechanism[name_len..].iter().any(|&b| b != 0) {
        let name = String::from_utf8_lossy(&mechanism[..name_len]).into_owned();
        return Err(Violation::Mechanism(name));
    }
    Ok(())
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// More frames of this message follow.
    pub more: bool,
    /// A command frame.
    pub command: bool,
    /// Length of the body.
    pub len: u64,
    /// Bytes the header itself took (2 or 9).
    pub size: usize,
}

/// Reads a frame header at the start of `bytes`: `None` while it is incomplete.
pub fn header(bytes: &[u8]) -> Result<Option<Header>, Violation> {
    let Some(&flags) = bytes.first() else {
        return Ok(None);
    };
    if flags & 0xf8 != 0 {
        return Err(Violation::Flags(flags));
    }
    let more = flags & 0x01 != 0;
    let long = flags & 0x02 != 0;
    let command = flags & 0x04 != 0;
    if command && more {
        return Err(Violation::Command(
            "a command frame cannot have more frames",
        ));
    }
    let size = if long { 9 } else { 2 };
    if bytes.len() < size {
        return Ok(None);
    }
    let len = if long {
        let mut be = [0u8; 8];
        be.copy_from_slice(&bytes[1..9]);
        u64::from_be_bytes(be)
    } else {
        u64::from(bytes[1])
    };
    Ok(Some(Header {
        more,
        command,
        len,
        size,
    }))
}

/// The properties of a READY command that the guard looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ready {
    /// `Socket-Type`.
    pub socket_type: Vec<u8>,
    /// `Identity`, if sent.
    pub identity: Option<Vec<u8>>,
}

/// Parses the body of a READY command frame.
pub fn ready(body: &[u8]) -> Result<Ready, Violation> {
    let (&name_len, rest) = body
        .split_first()
        .ok_or(Violation::Command("empty command"))?;
    let name_len = usize::from(name_len);
    if rest.len() < name_len {
        return Err(Violation::Command("command name longer than the frame"));
    }
    if &rest[..name_len] != b"READY" {
        return Err(Violation::NotReady);
    }
    let mut rest = &rest[name_len..];
    let mut ready = Ready::default();
    while let Some((&key_len, after)) = rest.split_first() {
        let key_len = usize::from(key_len);
        if after.len() < key_len + 4 {
            return Err(Violation::Command("property longer than the frame"));
        }
        let (key, after) = after.split_at(key_len);
        let mut be = [0u8; 4];
        be.copy_from_slice(&after[..4]);
        let value_len = u32::from_be_bytes(be) as usize;
        let after = &after[4..];
        if after.len() < value_len {
            return Err(Violation::Command("property value longer than the frame"));
        }
        let (value, after) = after.split_at(value_len);
        if key.eq_ignore_ascii_case(b"Socket-Type") {
            ready.socket_type = value.to_vec();
        } else if key.eq_ignore_ascii_case(b"Identity") {
            ready.identity = Some(value.to_vec());
        }
        rest = after;
    }
    if ready.socket_type.is_empty() {
        return Err(Violation::Command("READY without Socket-Type"));
    }
    Ok(ready)
}

/// Where a [`Scanner`] is in the stream.
#[derive(Debug, Clone, Copy)]
enum At {
    /// Collecting a frame header (its bytes so far are in `partial`).
    Header,
    /// Inside a frame body: this many bytes to pass.
    Body(u64),
}

/// Follows the frames of a stream after the handshake, checking every header against
/// the limits, and keeps nothing of the bodies.
#[derive(Debug, Clone)]
pub struct Scanner {
    limits: FrameLimits,
    at: At,
    partial: [u8; 9],
    partial_len: usize,
    /// Bytes and frames of the message so far.
    message_bytes: u64,
    message_frames: usize,
}

impl Scanner {
    /// A scanner at a frame boundary.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            at: At::Header,
            partial: [0; 9],
            partial_len: 0,
            message_bytes: 0,
            message_frames: 0,
        }
    }

    /// Follows `bytes`, the next part of the stream. An error means the stream must be
    /// cut before any of `bytes` is passed on.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Violation> {
        while !bytes.is_empty() {
            match self.at {
                At::Body(left) => {
                    let take = left.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.at = if take == left {
                        At::Header
                    } else {
                        At::Body(left - take)
                    };
                }
                At::Header => {
                    let want = if self.partial_len == 0 {
                        1
                    } else if self.partial[0] & 0x02 != 0 {
                        9
                    } else {
                        2
                    };
                    let take = (want - self.partial_len).min(bytes.len());
                    self.partial[self.partial_len..self.partial_len + take]
                        .copy_from_slice(&bytes[..take]);
                    self.partial_len += take;
                    bytes = &bytes[take..];
                    if let Some(h) = header(&self.partial[..self.partial_len])? {
                        self.partial_len = 0;
                        self.frame(h)?;
                        self.at = if h.len == 0 {
                            At::Header
                        } else {
                            At::Body(h.len)
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn frame(&mut self, h: Header) -> Result<(), Violation> {
        if h.command {
            if h.len > MAX_COMMAND {
                return Err(Violation::CommandTooLong {
                    len: h.len,
                    limit: MAX_COMMAND,
                });
            }
            return Ok(());
        }
        self.message_frames += 1;
        self.message_bytes = self.message_bytes.saturating_add(h.len);
        if self.message_bytes > self.limits.max_message as u64 {
            return Err(Violation::MessageTooLong {
                len: self.message_bytes,
                limit: self.limits.max_message,
            });
        }
        if self.message_frames > self.limits.max_frames {
            return Err(Violation::TooManyFrames(self.limits.max_frames));
        }
        if !h.more {
            self.message_bytes = 0;
            self.message_frames = 0;
        }
        Ok(())
    }
}

/// A READY command frame (header included) for a socket of type `socket_type`.
pub fn ready_command(socket_type: &[u8]) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type);
    let mut frame = Vec::with_capacity(body.len() + 2);
    frame.push(0x04);
    // A socket type is a short word: the command fits a short frame.
    frame.push(body.len() as u8);
    frame.extend(body);
    frame
}

/// Writes the header of a message frame of `len` bytes into `out`; returns its size.
pub fn write_header(len: usize, more: bool, out: &mut [u8; 9]) -> usize {
    let more = u8::from(more);
    match u8::try_from(len) {
        Ok(short) => {
            out[0] = more;
            out[1] = short;
            2
        }
        Err(_) => {
            out[0] = 0x02 | more;
            out[1..9].copy_from_slice(&(len as u64).to_be_bytes());
            9
        }
    }
}

/// Reads whole messages out of a stream after the handshake, keeping what it has of
/// the message in progress: never more than the limits allow, since every header is
/// checked before its body is kept. Commands are skipped.
#[derive(Debug)]
pub struct Assembler {
    limits: FrameLimits,
    buf: bytes::BytesMut,
    message: Vec<bytes::Bytes>,
    message_bytes: u64,
}

impl Assembler {
    /// An assembler at a frame boundary.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            buf: bytes::BytesMut::new(),
            message: Vec::new(),
            message_bytes: 0,
        }
    }

    /// Takes the next part of the stream; the messages it completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Vec<bytes::Bytes>>, Violation> {
        self.buf.extend_from_slice(bytes);
        let mut done = Vec::new();
        while let Some(h) = header(&self.buf)? {
            let limit = self.limits.max_message as u64;
            if h.command {
                if h.len > MAX_COMMAND {
                    return Err(Violation::CommandTooLong {
                        len: h.len,
                        limit: MAX_COMMAND,
                    });
                }
            } else {
                let total = self.message_bytes.saturating_add(h.len);
                if total > limit {
                    return Err(Violation::MessageTooLong {
                        len: total,
                        limit: self.limits.max_message,
                    });
                }
                if self.message.len() >= self.limits.max_frames {
                    return Err(Violation::TooManyFrames(self.limits.max_frames));
                }
            }
            // The body is within the limit: wait for all of it.
            let end = h.size + h.len as usize;
            if self.buf.len() < end {
                self.buf.reserve(end - self.buf.len());
                break;
            }
            let mut frame = self.buf.split_to(end);
            let body = frame.split_off(h.size).freeze();
            if h.command {
                continue;
            }
            self.message_bytes += h.len;
            self.message.push(body);
            if !h.more {
                done.push(std::mem::take(&mut self.message));
                self.message_bytes = 0;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits {
        max_message: 1000,
        max_frames: 4,
    };

    fn long_header(len: u64, more: bool) -> Vec<u8> {
        let mut h = vec![0x02 | u8::from(more)];
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    #[test]
    fn own_greeting_passes_and_others_are_told_apart() {
        assert_eq!(check_greeting(&greeting()), Ok(()));
        let mut plain = greeting();
        plain[12..17].copy_from_slice(b"PLAIN");
        assert_eq!(
            check_greeting(&plain),
            Err(Violation::Mechanism("PLAIN".into()))
        );
        let mut old = greeting();
        old[10] = 2;
        assert_eq!(check_greeting(&old), Err(Violation::Version(2)));
        let mut junk = greeting();
        junk[0] = b'G';
        assert!(matches!(check_greeting(&junk), Err(Violation::NotZmtp(_))));
        let mut trailing = greeting();
        trailing[20] = b'x';
        assert!(matches!(
            check_greeting(&trailing),
            Err(Violation::Mechanism(_))
        ));
    }

    #[test]
    fn headers_short_long_incomplete_and_reserved_bits() {
        assert_eq!(header(&[]), Ok(None));
        assert_eq!(header(&[0x01]), Ok(None));
        assert_eq!(
            header(&[0x01, 7]),
            Ok(Some(Header {
                more: true,
                command: false,
                len: 7,
                size: 2
            }))
        );
        let long = long_header(1 << 62, false);
        assert_eq!(header(&long[..5]), Ok(None));
        assert_eq!(header(&long).map(|h| h.map(|h| h.len)), Ok(Some(1 << 62)));
        assert_eq!(header(&[0x08, 0]), Err(Violation::Flags(0x08)));
        assert!(header(&[0x05, 0]).is_err());
    }

    #[test]
    fn ready_properties_are_read_and_bounded() {
        let mut body = vec![5];
        body.extend_from_slice(b"READY");
        for (k, v) in [(&b"Socket-Type"[..], &b"DEALER"[..]), (b"Identity", b"abc")] {
            body.push(k.len() as u8);
            body.extend_from_slice(k);
            body.extend_from_slice(&(v.len() as u32).to_be_bytes());
            body.extend_from_slice(v);
        }
        let r = ready(&body).expect("ready");
        assert_eq!(r.socket_type, b"DEALER");
        assert_eq!(r.identity.as_deref(), Some(&b"abc"[..]));
        // A value claiming more bytes than the frame holds.
        let mut lying = body.clone();
        let at = lying.len() - 7;
        lying[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(ready(&lying).is_err());
        assert_eq!(ready(b"\x05HELLO"), Err(Violation::NotReady));
        assert!(ready(b"").is_err());
        assert!(ready(b"\x05READY").is_err());
    }

    #[test]
    fn scanner_refuses_huge_lengths_before_any_body() {
        for len in [1u64 << 62, 1 << 40, 1 << 31, 1001] {
            let mut s = Scanner::new(LIMITS);
            assert!(
                matches!(
                    s.feed(&long_header(len, false)),
                    Err(Violation::MessageTooLong { .. })
                ),
                "{len}"
            );
        }
        let mut s = Scanner::new(LIMITS);
        assert!(s.feed(&long_header(1000, false)).is_ok());
    }

    #[test]
    fn scanner_counts_a_message_across_frames_and_reads() {
        let mut s = Scanner::new(LIMITS);
        // 600 + 300 bytes: fine; the next message starts from zero.
        let mut stream = long_header(600, true);
        stream.extend(vec![0u8; 600]);
        stream.extend(long_header(300, false));
        stream.extend(vec![0u8; 300]);
        stream.extend([0x00, 0x00]);
        // Fed one byte at a time, so that headers split across reads.
        for b in &stream {
            s.feed(std::slice::from_ref(b)).expect("within limits");
        }
        // 600 + 401 in one message: too long, however it is split.
        let mut s = Scanner::new(LIMITS);
        let mut stream = long_header(600, true);
        stream.extend(vec![0u8; 600]);
        stream.extend(long_header(401, false));
        assert!(s.feed(&stream).is_err());
    }

    #[test]
    fn the_assembler_returns_whole_messages_and_keeps_the_limits() {
        let mut a = Assembler::new(LIMITS);
        let mut stream = Vec::new();
        let mut head = [0u8; 9];
        for (body, more) in [
            (&b"ab"[..], true),
            (&[7u8; 300][..], false),
            (&b"c"[..], false),
        ] {
            let n = write_header(body.len(), more, &mut head);
            stream.extend_from_slice(&head[..n]);
            stream.extend_from_slice(body);
        }
        // A command between messages is skipped.
        stream.extend(ready_command(b"DEALER"));
        let mut messages = Vec::new();
        for piece in stream.chunks(5) {
            messages.extend(a.feed(piece).expect("within limits"));
        }
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].len(), 2);
        assert_eq!(&messages[0][0][..], b"ab");
        assert_eq!(messages[0][1].len(), 300);
        assert_eq!(&messages[1][0][..], b"c");
        // Refused at the header, before any body is kept.
        let mut a = Assembler::new(LIMITS);
        assert!(a.feed(&long_header(1 << 62, false)).is_err());
        let mut a = Assembler::new(LIMITS);
        assert_eq!(
            a.feed(
                &std::iter::repeat_n([0x01u8, 0], 5)
                    .flatten()
                    .collect::<Vec<_>>()
            ),
            Err(Violation::TooManyFrames(4))
        );
        assert!(ready(&ready_command(b"ROUTER")[2..]).is_ok());
    }

    #[test]
    fn scanner_limits_frames_and_commands() {
        let mut s = Scanner::new(LIMITS);
        let many: Vec<u8> = std::iter::repeat_n([0x01u8, 0], 5).flatten().collect();
        assert_eq!(s.feed(&many), Err(Violation::TooManyFrames(4)));
        let mut s = Scanner::new(LIMITS);
        let mut command = vec![0x06];
        command.extend_from_slice(&5000u64.to_be_bytes());
        assert!(matches!(
            s.feed(&command),
            Err(Violation::CommandTooLong { .. })
        ));
        let mut s = Scanner::new(LIMITS);
        assert_eq!(s.feed(&[0x80]), Err(Violation::Flags(0x80)));
    }
}
