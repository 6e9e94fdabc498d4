//! The simulated rover: its geometry and the messages between its drive nodes.

use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;

/// Wheel radius, m.
pub const WHEEL_RADIUS: f64 = 0.05;
/// Distance between the wheels, m.
pub const TRACK: f64 = 0.30;
/// Encoder ticks per wheel turn.
pub const TICKS_PER_TURN: f64 = 1024.0;
/// The simulated room: its walls are this far from the `odom` origin, m.
pub const ROOM: f64 = 4.0;
/// Ranges in one sweep of the simulated lidar.
pub const SCAN_BEAMS: usize = 180;

/// Wheel speeds the motor driver measures, rad/s.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "rover/WheelSpeeds")]
pub struct WheelSpeeds {
    /// Time of the measurement.
    pub header: Header,
    /// Left wheel, rad/s.
    pub left: f64,
    /// Right wheel, rad/s.
    pub right: f64,
}

/// Cumulative encoder counts.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "rover/WheelTicks")]
pub struct WheelTicks {
    /// Time of the count.
    pub header: Header,
    /// Left wheel ticks since start.
    pub left: i64,
    /// Right wheel ticks since start.
    pub right: i64,
}
