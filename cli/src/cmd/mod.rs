//! One module per subcommand.

pub mod agent;
pub mod control;
pub mod deploy;
pub mod doctor;
pub mod dynamic;
pub mod graph;
pub mod graph_view;
pub mod launch;
pub mod logs;
pub mod master;
pub mod param;
pub mod play;
pub mod record;
pub mod topic;

pub use pinion::runtime::termination;
