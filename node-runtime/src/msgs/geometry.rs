//! Geometry (`geometry_msgs`): vectors, rotations, poses, velocities. SI units.

use super::std_msgs::Header;
use crate::Message;
use serde::{Deserialize, Serialize};

/// A vector in 3-D.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "geometry_msgs/Vector3")]
pub struct Vector3 {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

/// A point in 3-D, metres.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "geometry_msgs/Point")]
pub struct Point {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

/// A rotation as a unit quaternion.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[message(name = "geometry_msgs/Quaternion")]
pub struct Quaternion {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
    /// w.
    pub w: f64,
}

impl Default for Quaternion {
    fn default() -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

impl Quaternion {
    /// A rotation of `yaw` radians about z.
    pub fn from_yaw(yaw: f64) -> Self {
        let (s, c) = (yaw / 2.0).sin_cos();
        Self {
            x: 0.0,
            y: 0.0,
            z: s,
            w: c,
        }
    }

    /// The rotation about z, radians.
    pub fn yaw(&self) -> f64 {
        (2.0 * (self.w * self.z + self.x * self.y))
            .atan2(1.0 - 2.0 * (self.y * self.y + self.z * self.z))
    }
}

/// A position and an orientation.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "geometry_msgs/Pose")]
pub struct Pose {
    /// Position.
    pub position: Point,
    /// Orientation.
    pub orientation: Quaternion,
}

/// Linear (m/s) and angular (rad/s) velocity.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "geometry_msgs/Twist")]
pub struct Twist {
    /// Linear velocity.
    pub linear: Vector3,
    /// Angular velocity.
    pub angular: Vector3,
}

/// A pose in a frame at a time.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "geometry_msgs/PoseStamped")]
pub struct PoseStamped {
    /// Time and the frame the pose is in.
    pub header: Header,
    /// The pose.
    pub pose: Pose,
}

/// Where frame `child_frame_id` is in frame `header.frame_id` (its parent) at a time.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "geometry_msgs/TransformStamped")]
pub struct TransformStamped {
    /// Time and the parent frame.
    pub header: Header,
    /// The child frame.
    pub child_frame_id: String,
    /// The child's origin in the parent frame, metres.
    pub translation: Vector3,
    /// The child's rotation in the parent frame.
    pub rotation: Quaternion,
}

/// Transforms between frames, the message of the `tf` topic (`tf2_msgs/TFMessage`).
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "tf2_msgs/TFMessage")]
pub struct TransformList {
    /// The transforms.
    pub transforms: Vec<TransformStamped>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaw_round_trip() {
        for yaw in [-3.0, -1.0, 0.0, 0.5, 3.0] {
            assert!((Quaternion::from_yaw(yaw).yaw() - yaw).abs() < 1e-9);
        }
    }
}
