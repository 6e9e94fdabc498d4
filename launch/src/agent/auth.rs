//! Signed requests (the agent's side): see [`pinion::auth`], which the master shares.

pub use pinion::auth::*;
