//! Standard messages, named and shaped like their ROS counterparts so that ROS users
//! find their way: [`std_msgs`], [`geometry`], [`sensor`], [`nav`], the health reports of
//! [`diagnostic`], and the log records of [`log`].
//!
//! ```
//! use pinion::msgs::geometry::{Twist, Vector3};
//! use pinion::Message;
//!
//! let forward = Twist { linear: Vector3 { x: 0.3, ..Default::default() }, angular: Vector3::default() };
//! assert_eq!(Twist::TYPE_NAME, "geometry_msgs/Twist");
//! # let _ = forward;
//! ```

pub mod diagnostic;
pub mod geometry;
pub mod log;
pub mod nav;
pub mod sensor;
pub mod std_msgs;
