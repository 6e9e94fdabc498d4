//! # Pinion launch
//!
//! - [`model`]: the launch file as typed values, read from TOML with line and column
//!   in every error; pure, no IO but reading the file.
//! - [`child`]: starting one process the launcher owns (own process group, killed with
//!   the launcher, output forwarded line by line with the node's name).
//! - [`supervisor`]: supervises a set of nodes (respawn, order, stop escalation);
//!   [`launcher`]: a whole launch on this host (the master, remote machines, the nodes).
//! - [`status`], [`resolve`], [`error`]: leaf types and helpers the others share.

#![warn(missing_docs)]

pub mod agent;
pub mod child;
pub mod control;
pub mod deploy;
pub mod error;
pub mod identity;
pub mod launcher;
pub mod logs;
pub mod manifest;
pub mod model;
pub mod output_files;
pub mod policy;
pub mod remote;
pub mod resolve;
pub mod status;
pub mod supervisor;
pub mod wiring;
