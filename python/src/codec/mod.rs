//! Python values to postcard bytes and back, directly by the topic's schema: no JSON on
//! the way, so a message costs what its fields cost (a `bytes` field of 1 MiB is one
//! copy each way). The format itself is postcard's own serializer and deserializer;
//! this module only walks the schema beside the Python value.
//!
//! A [`Plan`] is made once per publisher or subscriber: the schema with, at every
//! struct and enum, the Python class to build (dataclasses and `enum.Enum` classes of
//! the message class), or none, for plain values (dicts, and variant names).

mod decode;
mod encode;
mod plan;

pub use decode::decode;
pub use encode::encode;
pub use plan::Plan;

/// Where in a message a value is: the type's name, then `.field`, `[3]` or `::Variant`
/// down to it. Made only when something does not fit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At<'a> {
    Root(&'a str),
    Field(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
    Variant(&'a At<'a>, &'a str),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => write!(f, "{name}"),
            At::Field(up, name) => write!(f, "{up}.{name}"),
            At::Index(up, i) => write!(f, "{up}[{i}]"),
            At::Variant(up, name) => write!(f, "{up}::{name}"),
        }
    }
}
