//! Navigation (`nav_msgs`).

use super::geometry::{Pose, Twist};
use super::std_msgs::Header;
use crate::Message;
use serde::{Deserialize, Serialize};

/// An estimate of position and velocity.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "nav_msgs/Odometry")]
pub struct Odometry {
    /// Time and the frame of the pose (usually `odom`).
    pub header: Header,
    /// Frame of the twist (usually `base_link`).
    pub child_frame_id: String,
    /// Pose in `header.frame_id`.
    pub pose: Pose,
    /// Row-major 6x6 covariance of the pose.
    pub pose_covariance: Vec<f64>,
    /// Velocity in `child_frame_id`.
    pub twist: Twist,
    /// Row-major 6x6 covariance of the twist.
    pub twist_covariance: Vec<f64>,
}
