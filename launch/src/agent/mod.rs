//! `pinion agent`: runs on each Pi. It authenticates the launcher (HMAC with replay
//! protection), keeps a content-addressed store of binaries, and supervises the nodes of
//! each launch by itself: they keep running and respawning when the launcher goes away.
//! The launcher polls status and output lines.
//!
//! - [`auth`]: signing and verifying (pure).
//! - [`store`]: the blob store.
//! - [`protocol`]: requests and replies.
//! - [`server`]: the agent's request loop; [`client`]: the launcher's side.
//! - `launches`: the launches it runs (detached when deployed, adopted after a restart).
//! - [`upgrade`]: the agent becoming a new build of itself, its nodes running on.

pub mod auth;
pub mod client;
pub mod deployments;
mod launches;
pub mod protocol;
pub mod server;
pub mod store;
pub mod upgrade;

/// The largest request an agent accepts, signature included: a blob part
/// ([`protocol::BLOB_PART`]) and room for the rest. The guard of its socket refuses a
/// larger frame before the engine reads it, so an unsigned 256 MiB request costs it
/// nothing.
pub const MAX_REQUEST: usize = protocol::BLOB_PART + (1 << 20);
