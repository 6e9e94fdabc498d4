//! The `Message` trait: what every type sent on a topic provides.

use postcard_schema::key::hash::fnv1a64;
use postcard_schema::schema::owned::OwnedNamedType;
use postcard_schema::Schema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A type that can travel on a topic.
///
/// Write it with `#[derive(Message, Serialize, Deserialize)]`. The derive produces the
/// postcard schema of the type (names of the type, its fields and variants, and the
/// field types), and from it a 64-bit schema hash. Two programs agree on a topic only if
/// their hashes agree; the master refuses the rest and shows the schemas side by side.
///
/// For `struct Chatter { seq: u64, text: String }` the derive writes, inside
/// `const _: () = { .. };`, an `impl postcard_schema::Schema for Chatter` whose `SCHEMA` is
/// `NamedType { name: "Chatter", ty: &DataModelType::Struct(&[&NamedValue { name: "seq",
/// ty: <u64 as Schema>::SCHEMA }, ..]) }`, and an `impl pinion::Message for Chatter` with
/// `TYPE_NAME = "Chatter"`. `SCHEMA_HASH` and `type_info()` come from the trait's defaults.
///
/// Supported: structs (named, tuple, unit), enums with any kind of variant, nested
/// message types, `Vec`, `Option`, arrays, tuples, maps, and `#[serde(rename = "..")]`
/// and `#[serde(skip)]` on fields. `#[message(name = "pkg/Type")]` sets the type name
/// shown by tools (the Rust name by default).
///
/// ```
/// use pinion::prelude::*;
///
/// #[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
/// #[message(name = "demo/Reading")]
/// struct Reading { sensor: String, values: Vec<f32>, status: Option<Status> }
///
/// #[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
/// enum Status { Ok, Degraded { reason: String } }
///
/// assert_eq!(Reading::TYPE_NAME, "demo/Reading");
/// assert_ne!(Reading::SCHEMA_HASH, Status::SCHEMA_HASH);
/// ```
pub trait Message: Schema + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name tools show for this type.
    const TYPE_NAME: &'static str;
    /// The hash of the schema: equal hashes mean the same wire layout and names.
    const SCHEMA_HASH: u64 = u64::from_le_bytes(fnv1a64::hash_ty_path::<Self>(HASH_DOMAIN));

    /// Name, schema and hash together, as the master keeps them.
    fn type_info() -> TypeInfo {
        TypeInfo {
            name: Self::TYPE_NAME.to_owned(),
            hash: Self::SCHEMA_HASH,
            schema: Self::SCHEMA.into(),
        }
    }
}

/// Prefix mixed into every schema hash, so the scheme can change with a version bump.
const HASH_DOMAIN: &str = "pinion/1";

/// The schema hash of an owned schema; equal to `Message::SCHEMA_HASH` of the same type.
pub fn schema_hash(schema: &OwnedNamedType) -> u64 {
    u64::from_le_bytes(
        postcard_schema::key::hash::fnv1a64_owned::hash_ty_path_owned(HASH_DOMAIN, schema),
    )
}

/// The identity of a message type as it travels to the master and to tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeInfo {
    /// Type name for people (`Message::TYPE_NAME`).
    pub name: String,
    /// Schema hash (`Message::SCHEMA_HASH`).
    pub hash: u64,
    /// The full postcard schema, so tools can decode without the type compiled in.
    pub schema: OwnedNamedType,
}

impl TypeInfo {
    /// Checks that the hash is the hash of the schema (a peer could send anything).
    pub fn is_consistent(&self) -> bool {
        schema_hash(&self.schema) == self.hash
    }
}

/// Encodes a value with postcard.
pub fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> crate::Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|source| crate::Error::Codec { what, source })
}

/// Decodes a value with postcard, refusing trailing bytes.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> crate::Result<T> {
    let (value, rest) =
        postcard::take_from_bytes(bytes).map_err(|source| crate::Error::Codec { what, source })?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(crate::Error::Codec {
            what,
            source: postcard::Error::DeserializeBadEncoding,
        })
    }
}
