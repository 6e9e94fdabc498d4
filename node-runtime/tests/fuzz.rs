//! Property fuzzing of the decoders that face the network: the master's request decoder,
//! the topic frame header, a node's control requests, the data path's credit frames and
//! batches, request signatures, and what the transport guard reads of ZMTP. Random bytes and mutations of valid encodings must never panic,
//! and one decode must never allocate much more than a fixed bound, whatever lengths
//! the input claims. Bounded: `PINION_FUZZ_ITERS` inputs per target (default 20 000).

// The counting allocator below is the one `unsafe` outside `launch/src/child.rs`: a
// global allocator cannot be written without it. It only forwards to the system's.
#![allow(unsafe_code)]

use pinion::auth::Signature;
use pinion::msgs::geometry::Twist;
use pinion::protocol;
use pinion::protocol::control::ControlRequest;
use pinion::protocol::header::{FrameKind, Header};
use pinion::protocol::master_to_node::MasterReply;
use pinion::protocol::node_to_master::{Caller, NodeToMaster};
use pinion::transport::{batch, credit};
use pinion::{Message, NodeName, TopicName};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts live bytes and their peak, so a decode's allocation can be measured.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests run in parallel threads; measuring needs the allocator to ourselves.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The most one decode may allocate beyond what it started with.
const ALLOCATION_BOUND: usize = 4 << 20;

mod support {
    pub mod xorshift;
}
use support::xorshift::Rng;

/// Fuzz inputs drawn from the generator.
trait Inputs {
    fn input(&mut self, seeds: &[Vec<u8>]) -> Vec<u8>;
}

impl Inputs for Rng {
    /// Random bytes, or a seed with a few bytes flipped, inserted, removed or made huge.
    fn input(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        if seeds.is_empty() || self.below(4) == 0 {
            let len = self.below(256);
            return (0..len).map(|_| self.next() as u8).collect();
        }
        let mut bytes = seeds[self.below(seeds.len())].clone();
        for _ in 0..1 + self.below(4) {
            let at = self.below(bytes.len() + 1);
            match self.below(5) {
                0 if at < bytes.len() => bytes[at] ^= 1 << self.below(8),
                1 => bytes.insert(at, self.next() as u8),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                // A varint length that claims gigabytes.
                3 => bytes
                    .splice(at..at, [0xff, 0xff, 0xff, 0xff, 0x0f])
                    .for_each(drop),
                _ => bytes.truncate(at),
            }
        }
        bytes
    }
}

fn iterations() -> usize {
    std::env::var("PINION_FUZZ_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

/// Runs `decode` on many inputs; returns how many decoded, and the largest allocation seen.
fn fuzz(name: &str, seed: u64, seeds: &[Vec<u8>], decode: impl Fn(&[u8]) -> bool) -> usize {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng(seed);
    let (mut accepted, mut largest) = (0, 0);
    for i in 0..iterations() {
        let input = rng.input(seeds);
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(&input)))
            .unwrap_or_else(|_| panic!("{name}: input {i} panicked: {input:02x?}"));
        let used = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        assert!(
            used <= ALLOCATION_BOUND,
            "{name}: input {i} ({} bytes) allocated {used} bytes: {input:02x?}",
            input.len()
        );
        largest = largest.max(used);
        accepted += usize::from(ok);
    }
    eprintln!(
        "{name}: {} inputs, {accepted} decoded, largest allocation {largest} bytes",
        iterations()
    );
    accepted
}

fn caller() -> Caller {
    Caller {
        node: NodeName::new("fuzz").expect("name"),
        session: 7,
    }
}

#[test]
fn master_request_decoder() {
    let topic = TopicName::new("cmd_vel").expect("topic");
    let requests = [
        NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
        NodeToMaster::ListTopics(pinion::protocol::node_to_master::ListTopics),
        NodeToMaster::Heartbeat(pinion::protocol::node_to_master::Heartbeat(caller())),
        NodeToMaster::Advertise(pinion::protocol::node_to_master::Advertise {
            caller: caller(),
            topic: topic.clone(),
            type_info: Twist::type_info(),
            publisher_id: 1,
            latched: true,
        }),
        NodeToMaster::Subscribe(pinion::protocol::node_to_master::Subscribe {
            caller: caller(),
            topic,
            type_info: Twist::type_info(),
            subscriber_id: 2,
        }),
    ];
    let seeds: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| protocol::encode("seed", r).expect("encode"))
        .collect();
    for s in &seeds {
        assert!(protocol::decode::<NodeToMaster>("seed", s).is_ok());
    }
    let decoded = fuzz("master request", 1, &seeds, |b| {
        protocol::decode::<NodeToMaster>("fuzz", b).is_ok()
    });
    assert!(
        decoded > 0,
        "no mutation kept a valid request: the seeds are not exercised"
    );
    fuzz("master reply", 2, &seeds, |b| {
        protocol::decode::<MasterReply>("fuzz", b).is_ok()
    });
}

#[test]
fn topic_frame_header_decoder() {
    let seeds: Vec<Vec<u8>> = [
        FrameKind::Data,
        FrameKind::Probe { subscriber_id: 4 },
        FrameKind::Flush { token: 5 },
    ]
    .into_iter()
    .map(|kind| {
        Header {
            kind,
            schema_hash: Twist::SCHEMA_HASH,
            publisher_id: 3,
            seq: 99,
            stamp_ns: 1_700_000_000_000_000_000,
        }
        .encode()
        .expect("encode")
    })
    .collect();
    let decoded = fuzz("frame header", 3, &seeds, |b| Header::decode(b).is_ok());
    assert!(decoded > 0);
}

#[test]
fn control_credit_and_signature_decoders() {
    let control = [
        ControlRequest::Ping,
        ControlRequest::Identify,
        ControlRequest::RecentLogs {
            after_seq: 5,
            max: 50,
        },
        ControlRequest::ParamUpdate {
            key: "talker/text".into(),
            value_json: "\"hi\"".into(),
        },
    ];
    let seeds: Vec<Vec<u8>> = control
        .iter()
        .map(|r| protocol::encode("seed", r).expect("encode"))
        .collect();
    fuzz("control request", 4, &seeds, |b| {
        protocol::decode::<ControlRequest>("fuzz", b).is_ok()
    });

    let seeds = vec![
        credit::encode(&credit::Control::Subscribe(bytes::Bytes::from_static(
            b"chatter\0",
        )))
        .to_vec(),
        credit::encode(&credit::Control::Credit {
            bytes: 1 << 20,
            messages: 100,
        })
        .to_vec(),
    ];
    fuzz("credit frame", 5, &seeds, |b| credit::decode(b).is_ok());

    let signature = Signature {
        timestamp_ms: 1,
        nonce: 2,
        mac: vec![0; 32],
    };
    let seeds = vec![postcard::to_stdvec(&signature).expect("encode")];
    fuzz("signature", 6, &seeds, |b| {
        postcard::from_bytes::<Signature>(b).is_ok()
    });
}

/// The frames of a multipart message written as one byte string: each frame is its
/// length (one byte) and its bytes; a length past the end takes what is left.
fn frames_of(input: &[u8]) -> Vec<bytes::Bytes> {
    let mut frames = Vec::new();
    let mut rest = input;
    while let Some((&len, tail)) = rest.split_first() {
        let (frame, after) = tail.split_at(usize::from(len).min(tail.len()));
        frames.push(bytes::Bytes::copy_from_slice(frame));
        rest = after;
    }
    frames
}

/// The byte string [`frames_of`] reads back as `frames`.
fn joined(frames: &[&[u8]]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| std::iter::once(f.len() as u8).chain(f.iter().copied()))
        .collect()
}

#[test]
fn batch_unpacker() {
    let seeds = vec![
        joined(&[&[0, 1, 2], b"chatter\0one", b"chatter\0two", b"blob"]),
        joined(&[&[0, 1, 1, 1], b"a\0", b"b\0", b"c\0"]),
    ];
    let unpacked = fuzz("batch", 7, &seeds, |b| {
        let frames = frames_of(b);
        let count = frames.len();
        match batch::unpack(frames) {
            Ok(messages) => {
                // Every frame after the counts lands in exactly one message, none empty.
                assert!(messages.iter().all(|m| !m.is_empty()));
                assert_eq!(messages.iter().map(Vec::len).sum::<usize>(), count - 1);
                true
            }
            Err(back) => {
                assert_eq!(back.len(), count, "a refused batch comes back whole");
                false
            }
        }
    });
    assert!(unpacked > 0);
}

#[test]
fn zmtp_guard() {
    use pinion::transport::guard::zmtp::{self, FrameLimits, Scanner, GREETING_LEN};
    let limits = FrameLimits {
        max_message: 1 << 20,
        max_frames: 64,
    };
    let mut ready = vec![0x04, 28, 5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&6u32.to_be_bytes());
    ready.extend_from_slice(b"DEALER");
    let mut stream = zmtp::greeting().to_vec();
    stream.extend_from_slice(&ready);
    stream.extend_from_slice(&[0x01, 3, b'a', b'b', b'c', 0x02]);
    stream.extend_from_slice(&(1u64 << 62).to_be_bytes());
    let seeds = vec![stream];
    let passed = fuzz("zmtp guard", 8, &seeds, |b| {
        let Some(greeting) = b.get(..GREETING_LEN) else {
            return false;
        };
        let greeting: [u8; GREETING_LEN] = greeting.try_into().expect("64 bytes");
        if zmtp::check_greeting(&greeting).is_err() {
            return false;
        }
        let rest = &b[GREETING_LEN..];
        let Ok(Some(h)) = zmtp::header(rest) else {
            return false;
        };
        let body_end = h.size.saturating_add(h.len.min(4096) as usize);
        let Some(body) = rest.get(h.size..body_end) else {
            return false;
        };
        if zmtp::ready(body).is_err() {
            return false;
        }
        // The rest, fed in pieces of every size: the same verdict however it is cut.
        let whole = Scanner::new(limits).feed(&rest[body_end..]).is_ok();
        let mut pieces = Scanner::new(limits);
        let split = rest[body_end..]
            .chunks(3)
            .try_for_each(|c| pieces.feed(c))
            .is_ok();
        assert_eq!(
            whole, split,
            "the verdict depends on how reads cut the stream"
        );
        whole
    });
    assert!(passed > 0);
}

#[test]
fn json_decoder_by_schema() {
    use pinion::msgs::{nav::Odometry, sensor::Image, sensor::LaserScan};
    let image = Image {
        width: 2,
        height: 1,
        encoding: "mono8".into(),
        step: 2,
        data: pinion::Blob::from(vec![1u8, 2]),
        ..Default::default()
    };
    let scan = LaserScan {
        ranges: vec![1.0, 2.0],
        ..Default::default()
    };
    let types = [
        Image::type_info(),
        LaserScan::type_info(),
        Odometry::type_info(),
    ];
    let seeds = vec![
        pinion::message::encode("image", &image).expect("encode"),
        pinion::message::encode("scan", &scan).expect("encode"),
        pinion::message::encode("odom", &Odometry::default()).expect("encode"),
    ];
    let decoded = fuzz("json by schema", 7, &seeds, |b| {
        types
            .iter()
            .filter(|t| pinion::json::decode(t, b).is_ok())
            .count()
            > 0
    });
    assert!(decoded > 0);
}
