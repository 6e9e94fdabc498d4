//! `Blob`: a byte string that travels without being copied by Pinion.

use crate::segments;
use bytes::Bytes;
use serde::de::{Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::ops::Deref;

/// Bytes of an image, a point cloud or any large payload, shared rather than copied.
///
/// On the wire it is a byte string, like a `Vec<u8>` with `#[serde(with = "serde_bytes")]`
/// (same schema, same bytes), so tools and other languages read it the same way. The
/// difference is in the process: a publisher hands a large `Blob` to the socket as its
/// own frame instead of copying it into the encoded message, and a subscriber's `Blob`
/// points into the received frame instead of being copied out of it. Cloning one is
/// cheap (a reference count).
///
/// A received `Blob` keeps the whole received message's buffer alive while it lives.
///
/// ```
/// use pinion::prelude::*;
/// use pinion::Blob;
///
/// #[derive(Message, Serialize, Deserialize)]
/// #[message(name = "demo/Frame")]
/// struct Frame {
///     width: u32,
///     pixels: Blob,
/// }
///
/// let frame = Frame { width: 2, pixels: Blob::from(vec![0u8; 8]) };
/// assert_eq!(frame.pixels.len(), 8);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Blob(Bytes);

impl Blob {
    /// An empty blob.
    pub const fn new() -> Self {
        Self(Bytes::new())
    }

    /// The bytes as a `bytes::Bytes` (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The bytes as a `Vec<u8>` (a copy, unless this is the only reference to them).
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into()
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Self {
        Self(Bytes::from(v))
    }
}

impl From<Bytes> for Blob {
    fn from(b: Bytes) -> Self {
        Self(b)
    }
}

impl From<&'static [u8]> for Blob {
    fn from(b: &'static [u8]) -> Self {
        Self(Bytes::from_static(b))
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Inside Pinion's encoder this offers the bytes as a frame of their own; the
        // serializer still sees them, so any other serializer writes them as usual.
        let _offer = segments::offer(&self.0);
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(BlobVisitor)
    }
}

struct BlobVisitor;

impl<'de> Visitor<'de> for BlobVisitor {
    type Value = Blob;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Blob, E> {
        // Inside Pinion's decoder, `v` lies in a received frame: share it.
        Ok(Blob(
            segments::share(v).unwrap_or_else(|| Bytes::copy_from_slice(v)),
        ))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
        Ok(Blob(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
        Ok(Blob(Bytes::from(v)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Blob, A::Error> {
        // Self-describing formats (JSON) write bytes as a list of numbers.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(Blob(Bytes::from(out)))
    }
}

impl postcard_schema::Schema for Blob {
    const SCHEMA: &'static postcard_schema::schema::NamedType =
        &postcard_schema::schema::NamedType {
            name: "bytes",
            ty: &postcard_schema::schema::DataModelType::ByteArray,
        };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[derive(crate::Message, Serialize, Deserialize)]
    #[message(name = "test/Picture")]
    struct AsVec {
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    }

    #[derive(crate::Message, Serialize, Deserialize)]
    #[message(name = "test/Picture")]
    struct AsBlob {
        data: Blob,
    }

    #[test]
    fn same_type_and_bytes_as_a_serde_bytes_vec() {
        assert_eq!(AsVec::type_info().hash, AsBlob::type_info().hash);
        let vec = postcard::to_stdvec(&AsVec { data: vec![5; 300] }).expect("vec");
        let blob = postcard::to_stdvec(&AsBlob {
            data: Blob::from(vec![5; 300]),
        })
        .expect("blob");
        assert_eq!(vec, blob);
    }
}
