//! One module per subcommand.

pub mod agent;
pub mod deploy;
pub mod graph;
pub mod launch;
pub mod master;
pub mod param;

pub use pinion::runtime::termination;
