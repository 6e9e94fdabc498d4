//! One module per subcommand.

pub mod agent;
pub mod bag;
pub mod control;
pub mod convert;
pub mod deploy;
pub mod doctor;
pub mod foxglove;
pub mod graph;
pub mod graph_view;
pub mod health;
pub mod launch;
pub mod logs;
pub mod master;
pub mod param;
pub mod play;
pub mod plot;
pub mod record;
pub mod top;
pub mod topic;
pub mod tui;
pub mod unit;

pub use pinion::runtime::termination;

/// The runtime of a command that asks and answers: one thread. (The launcher and the
/// agent fork their children from it, so that the parent-death signal follows them.)
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The runtime of a command that carries topic data (echo, record, play): two workers.
pub fn data_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
