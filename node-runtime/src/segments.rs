//! A message payload as a list of frames, so that large [`Blob`](crate::Blob)s are never
//! copied by Pinion.
//!
//! Encoding: while [`encode`] runs, a `Blob` of at least [`SPLIT_AT`] bytes offers its
//! buffer just before the serializer writes it; the output flavor recognises the very
//! same bytes (same address and length) and ends the current frame there, then adds the
//! blob's buffer as a frame of its own. The concatenation of the frames is exactly
//! postcard's encoding of the message, so a tool may join them and decode as usual.
//!
//! Decoding: [`decode`] reads across the frames. Frames are split only around blobs, so
//! every byte string lies within one frame; a `Blob` then shares that frame's buffer.

use bytes::Bytes;
use postcard::{de_flavors, ser_flavors};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::{Cell, RefCell};

/// Blobs from this size on travel as frames of their own; smaller ones are copied.
/// Measured: a 1 KiB blob copied into the encoding cost about 0.3 to 0.5 µs more per
/// message than a frame of its own (an allocation past the allocator's per-thread cache,
/// freed on another thread), so the line sits well below that.
pub const SPLIT_AT: usize = 512;

thread_local! {
    /// An encoder of this module runs on this thread.
    static ENCODING: Cell<bool> = const { Cell::new(false) };
    /// The buffer a `Blob` is about to write.
    static OFFERED: RefCell<Option<Bytes>> = const { RefCell::new(None) };
    /// The frames of the message being decoded on this thread.
    static RECEIVED: RefCell<Vec<Bytes>> = const { RefCell::new(Vec::new()) };
    /// Where this thread's encoder writes a frame before it is copied out at its size.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Frames up to this size are written into the thread's scratch buffer and then copied
/// into an allocation of exactly their size: one allocation, where growing a vector
/// byte by byte makes several (and a frame of one allocation frees without a second
/// one for its reference count). Larger frames keep the vector they grew in.
const COPY_OUT_UP_TO: usize = 4 << 10;

/// The scratch buffer kept between messages is dropped when it grew beyond this.
const SCRATCH_KEPT: usize = 64 << 10;

/// Withdraws an offer when the `Blob` that made it is written (or fails to be).
pub(crate) struct Offer(());

impl Drop for Offer {
    fn drop(&mut self) {
        OFFERED.with_borrow_mut(|o| *o = None);
    }
}

/// Called by a `Blob` about to be serialized: inside [`encode`], a large one is taken as
/// a frame of its own when the serializer writes it.
pub(crate) fn offer(bytes: &Bytes) -> Option<Offer> {
    if bytes.len() < SPLIT_AT || !ENCODING.get() {
        return None;
    }
    OFFERED.with_borrow_mut(|o| *o = Some(bytes.clone()));
    Some(Offer(()))
}

/// Called by a `Blob` being deserialized: the frame holding `v`, sliced to it, if `v`
/// lies in a frame that [`decode`] is reading. Small blobs too: copying them instead
/// (so that a held message does not keep the engine's receive buffer alive) measured
/// slower at 1 KiB, an allocation and a copy more per message.
pub(crate) fn share(v: &[u8]) -> Option<Bytes> {
    if v.is_empty() {
        return Some(Bytes::new());
    }
    RECEIVED.with(|received| {
        received.try_borrow().ok()?.iter().find_map(|f| {
            let range = f.as_ptr_range();
            let end = v.as_ptr() as usize + v.len();
            (v.as_ptr() >= range.start && end <= range.end as usize).then(|| f.slice_ref(v))
        })
    })
}

/// Encodes `value` with postcard into frames.
pub fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> crate::Result<Vec<Bytes>> {
    let Led { first, mut frames } = encode_led(what, value, 0)?;
    if let Some(slot) = frames.first_mut() {
        *slot = Bytes::from(first);
    }
    Ok(frames)
}

/// A message encoded behind a gap for its lead (topic and header), which the sender
/// writes in when it sends.
#[derive(Debug)]
pub(crate) struct Led {
    /// The first frame: the gap, then the start of the payload. Allocated at its size
    /// unless it is large, so that it becomes a frame without another allocation.
    pub(crate) first: Vec<u8>,
    /// An empty slot for the first frame, then the rest of the payload, with room for
    /// one frame more ahead of them (the engine's routing frame): a message on its way
    /// out is then built in one list, never copied into another.
    pub(crate) frames: Vec<Bytes>,
}

impl Led {
    /// A payload already encoded, behind a gap of `gap` bytes: copied in after the gap
    /// if it is smaller than [`SPLIT_AT`], a frame of its own otherwise.
    pub(crate) fn of_bytes(gap: usize, payload: Vec<u8>) -> Self {
        let mut frames = Vec::with_capacity(3);
        frames.push(Bytes::new());
        let small = payload.len() < SPLIT_AT;
        let mut first = Vec::with_capacity(gap + if small { payload.len() } else { 0 });
        first.resize(gap, 0);
        if small {
            first.extend_from_slice(&payload);
        } else {
            frames.push(Bytes::from(payload));
        }
        Self { first, frames }
    }

    /// A payload already encoded in frames, behind a gap of `gap` bytes: the first
    /// frame is copied in after the gap, the others go as they are.
    pub(crate) fn of_frames(gap: usize, payload: Vec<Bytes>) -> Self {
        let mut payload = payload.into_iter();
        let head = payload.next().unwrap_or_default();
        let mut first = Vec::with_capacity(gap + head.len());
        first.resize(gap, 0);
        first.extend_from_slice(&head);
        let mut frames = Vec::with_capacity(2 + payload.len());
        frames.push(Bytes::new());
        frames.extend(payload.filter(|f| !f.is_empty()));
        Self { first, frames }
    }
}

/// Encodes `value` behind a gap of `gap` bytes.
pub(crate) fn encode_led<T: Serialize + ?Sized>(
    what: &'static str,
    value: &T,
    gap: usize,
) -> crate::Result<Led> {
    struct Active(bool);
    impl Drop for Active {
        fn drop(&mut self) {
            ENCODING.set(self.0);
        }
    }
    let _active = Active(ENCODING.replace(true));
    let mut current = SCRATCH.take();
    current.resize(gap, 0);
    let mut rest = Vec::with_capacity(4);
    rest.push(Bytes::new());
    let flavor = Frames {
        first: None,
        rest,
        current,
    };
    postcard::serialize_with_flavor(value, flavor)
        .map_err(|source| crate::Error::Codec { what, source })
}

/// The bytes written so far as a frame; `current` is left empty, ready for the next.
fn cut(current: &mut Vec<u8>) -> Bytes {
    Bytes::from(cut_vec(current))
}

/// [`cut`], as a vector that becomes a frame without another allocation if it is small.
fn cut_vec(current: &mut Vec<u8>) -> Vec<u8> {
    if current.len() <= COPY_OUT_UP_TO {
        let frame = current.to_vec();
        current.clear();
        frame
    } else {
        std::mem::take(current)
    }
}

/// Hands the scratch buffer back to the thread for its next message.
fn keep(mut current: Vec<u8>) {
    if current.capacity() <= SCRATCH_KEPT {
        current.clear();
        SCRATCH.set(current);
    }
}

/// Decodes a value from the frames of one message, refusing trailing bytes.
pub fn decode<T: DeserializeOwned>(what: &'static str, frames: &[Bytes]) -> crate::Result<T> {
    decode_owned(what, frames.to_vec())
}

/// [`decode`], given the frames: they are lent to the thread's decoder, not copied.
pub fn decode_owned<T: DeserializeOwned>(
    what: &'static str,
    frames: Vec<Bytes>,
) -> crate::Result<T> {
    RECEIVED.with(|received| {
        match received.try_borrow_mut() {
            Ok(mut slot) => *slot = frames,
            // Decoding already (a `Deserialize` that decodes a message itself): the
            // inner message's blobs are copied.
            Err(_) => return decode_from(what, &frames),
        }
        let result = decode_from(what, &received.borrow());
        received.borrow_mut().clear();
        result
    })
}

fn decode_from<T: DeserializeOwned>(what: &'static str, frames: &[Bytes]) -> crate::Result<T> {
    if let [only] = frames {
        return crate::message::decode(what, only);
    }
    let codec = |source| crate::Error::Codec { what, source };
    let mut de = postcard::Deserializer::from_flavor(Reader::new(frames));
    let value = T::deserialize(&mut de).map_err(codec)?;
    match de.finalize().map_err(codec)? {
        0 => Ok(value),
        _ => Err(codec(postcard::Error::DeserializeBadEncoding)),
    }
}

/// Decodes one message from its frames with `seed` (a schema walked at run time, say),
/// refusing trailing bytes. Byte strings are read in place, in the frame that holds
/// them.
pub fn decode_seed<'de, S: serde::de::DeserializeSeed<'de>>(
    what: &'static str,
    frames: &'de [Bytes],
    seed: S,
) -> crate::Result<S::Value> {
    let codec = |source| crate::Error::Codec { what, source };
    let mut de = postcard::Deserializer::from_flavor(Reader::new(frames));
    let value = seed.deserialize(&mut de).map_err(codec)?;
    match de.finalize().map_err(codec)? {
        0 => Ok(value),
        _ => Err(codec(postcard::Error::DeserializeBadEncoding)),
    }
}

/// The frames of one message joined into one buffer (a copy unless there is one frame).
pub fn join(frames: &[Bytes]) -> Bytes {
    match frames {
        [only] => only.clone(),
        _ => Bytes::from(frames.concat()),
    }
}

/// Serializer output: finished frames and the one being written.
struct Frames {
    /// The first frame once it is cut, kept as a vector for the caller's lead.
    first: Option<Vec<u8>>,
    /// The slot for the first frame, then the frames after it.
    rest: Vec<Bytes>,
    current: Vec<u8>,
}

impl Frames {
    /// Ends the frame being written.
    fn end_frame(&mut self) {
        if self.first.is_none() {
            self.first = Some(cut_vec(&mut self.current));
        } else {
            let frame = cut(&mut self.current);
            self.rest.push(frame);
        }
    }
}

impl ser_flavors::Flavor for Frames {
    type Output = Led;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.current.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let offered = OFFERED.with_borrow_mut(|o| {
            o.take_if(|b| b.as_ptr() == data.as_ptr() && b.len() == data.len())
        });
        match offered {
            Some(blob) => {
                self.end_frame();
                self.rest.push(blob);
            }
            None => self.current.extend_from_slice(data),
        }
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<Led> {
        if self.first.is_none() || !self.current.is_empty() {
            self.end_frame();
        }
        Ok(Led {
            first: self.first.take().unwrap_or_default(),
            frames: std::mem::take(&mut self.rest),
        })
    }
}

impl Drop for Frames {
    /// Also when serializing fails half-way.
    fn drop(&mut self) {
        keep(std::mem::take(&mut self.current));
    }
}

/// Deserializer input across frames; a byte string never spans two.
struct Reader<'de> {
    frames: &'de [Bytes],
    index: usize,
    offset: usize,
}

impl<'de> Reader<'de> {
    fn new(frames: &'de [Bytes]) -> Self {
        Self {
            frames,
            index: 0,
            offset: 0,
        }
    }

    /// The current frame with bytes left, skipping exhausted ones.
    fn frame(&mut self) -> Option<&'de Bytes> {
        let frames = self.frames;
        while let Some(f) = frames.get(self.index) {
            if self.offset < f.len() {
                return Some(f);
            }
            self.index += 1;
            self.offset = 0;
        }
        None
    }
}

impl<'de> de_flavors::Flavor<'de> for Reader<'de> {
    type Remainder = usize;
    type Source = &'de [Bytes];

    fn pop(&mut self) -> postcard::Result<u8> {
        let frame = self
            .frame()
            .ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        let byte = frame[self.offset];
        self.offset += 1;
        Ok(byte)
    }

    fn size_hint(&self) -> Option<usize> {
        let total: usize = self.frames.iter().skip(self.index).map(Bytes::len).sum();
        Some(total.saturating_sub(self.offset))
    }

    fn try_take_n(&mut self, ct: usize) -> postcard::Result<&'de [u8]> {
        if ct == 0 {
            return Ok(&[]);
        }
        let frame = self
            .frame()
            .ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        let start = self.offset;
        let bytes = frame
            .get(start..start.saturating_add(ct))
            .ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        self.offset += ct;
        Ok(bytes)
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.size_hint().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Blob;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Frame {
        id: u32,
        pixels: Blob,
        label: String,
        small: Blob,
        depth: Blob,
    }

    fn frame() -> Frame {
        Frame {
            id: 7,
            pixels: Blob::from(vec![1u8; 100_000]),
            label: "cam".into(),
            small: Blob::from(vec![2u8; 10]),
            depth: Blob::from(vec![3u8; SPLIT_AT]),
        }
    }

    #[test]
    fn large_blobs_become_frames_and_the_joined_frames_are_plain_postcard() {
        let value = frame();
        let frames = encode("test", &value).expect("encode");
        assert_eq!(frames.len(), 4, "prefix, pixels, middle, depth");
        assert_eq!(frames[1].as_ptr(), value.pixels.as_ptr(), "not copied");
        assert_eq!(frames[3].as_ptr(), value.depth.as_ptr(), "not copied");
        let plain = postcard::to_stdvec(&value).expect("plain");
        assert_eq!(&join(&frames)[..], &plain[..]);
        let back: Frame = postcard::from_bytes(&plain).expect("plain decode");
        assert_eq!(back, value);
    }

    #[test]
    fn decoded_blobs_point_into_the_received_frames() {
        let frames = encode("test", &frame()).expect("encode");
        let back: Frame = decode("test", &frames).expect("decode");
        assert_eq!(back, frame());
        assert_eq!(back.pixels.as_ptr(), frames[1].as_ptr());
        // Also when the message arrives as one frame.
        let one = [join(&frames)];
        let back: Frame = decode("test", &one).expect("decode joined");
        assert_eq!(back, frame());
        let inside = one[0].as_ptr_range();
        assert!(inside.contains(&back.pixels.as_ptr()));
        assert!(inside.contains(&back.small.as_ptr()));
    }

    #[test]
    fn a_led_encoding_leaves_the_gap_first_and_the_payload_after_it() {
        let value = frame();
        let led = encode_led("test", &value, 5).expect("encode");
        assert_eq!(&led.first[..5], &[0; 5], "the gap");
        assert_eq!(
            led.first.capacity(),
            led.first.len(),
            "no second allocation"
        );
        assert!(led.frames[0].is_empty(), "the slot for the first frame");
        assert_eq!(led.frames[1].as_ptr(), value.pixels.as_ptr(), "not copied");
        let mut frames = led.frames;
        frames[0] = Bytes::from(led.first).slice(5..);
        let back: Frame = decode("test", &frames).expect("decode");
        assert_eq!(back, value);

        // A small message is all in the first frame; a raw payload too.
        let small = encode_led("test", &(7u32, "cam"), 3).expect("encode");
        assert_eq!(small.frames.len(), 1);
        let expected = postcard::to_stdvec(&(7u32, "cam")).expect("plain");
        assert_eq!(&small.first[3..], &expected[..]);
        let raw = Led::of_bytes(3, expected.clone());
        assert_eq!((raw.first, raw.frames.len()), (small.first, 1));
        let large = Led::of_bytes(3, vec![9; SPLIT_AT]);
        assert_eq!((large.first.len(), large.frames[1].len()), (3, SPLIT_AT));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let frames = encode("test", &frame()).expect("encode");
        // Cut anywhere, split anywhere, add junk: never a panic.
        let joined = join(&frames);
        for cut in [0, 1, 5, 100, joined.len() - 1] {
            let parts = [joined.slice(..cut), joined.slice(cut..)];
            let _ = decode::<Frame>("test", &parts);
            let _ = decode::<Frame>("test", &parts[..1]);
        }
        let mut extra = frames.clone();
        extra.push(Bytes::from_static(b"junk"));
        assert!(decode::<Frame>("test", &extra).is_err(), "trailing bytes");
        assert!(decode::<Frame>("test", &[]).is_err());
    }

    #[test]
    fn other_serializers_see_plain_bytes() {
        let json = serde_json::to_string(&Blob::from(vec![1u8, 2])).expect("json");
        assert_eq!(json, "[1,2]");
        let back: Blob = serde_json::from_str(&json).expect("back");
        assert_eq!(&back[..], &[1, 2]);
    }
}
