//! Shared memory between nodes on one host: the holder role of its crash tests.

pub(crate) mod hold;
