//! # Pinion master
//!
//! The master keeps the graph: which nodes run where, which topics exist with which
//! type, and who publishes and subscribes them. It never carries topic data.
//!
//! - [`registry`]: the graph as a plain value; every request is a pure function of it
//!   (no IO, no clock reads: time is passed in), so it is tested without sockets.
//! - [`server`]: the request loop over the transport, and node expiry.
//! - [`notifier`]: pushes graph changes to the nodes concerned (the ROS 1
//!   `publisherUpdate` idea), one queue per node, latest list wins; parameter
//!   changes each delivered, in order.
//! - [`params_file`]: the file that keeps parameters across restarts of the master.
//!
//! ```no_run
//! # async fn run() -> Result<(), pinion_master::server::ServerError> {
//! let master = pinion_master::server::Master::bind(&["tcp://127.0.0.1:0".into()], Default::default()).await?;
//! println!("master on {}", master.endpoints()[0]);
//! master.run(std::future::pending()).await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod notifier;
pub mod params_file;
pub mod registry;
pub mod server;
