//! Sensors (`sensor_msgs`).

use super::geometry::{Quaternion, Vector3};
use super::std_msgs::Header;
use crate::{Blob, Message};
use serde::{Deserialize, Serialize};

/// An inertial measurement.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/Imu")]
pub struct Imu {
    /// Time and frame.
    pub header: Header,
    /// Orientation estimate.
    pub orientation: Quaternion,
    /// Row-major 3x3 covariance; `[-1, ..]` when there is no estimate.
    pub orientation_covariance: [f64; 9],
    /// Rad/s.
    pub angular_velocity: Vector3,
    /// Covariance.
    pub angular_velocity_covariance: [f64; 9],
    /// m/s².
    pub linear_acceleration: Vector3,
    /// Covariance.
    pub linear_acceleration_covariance: [f64; 9],
}

/// One sweep of a planar range finder.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/LaserScan")]
pub struct LaserScan {
    /// Time and frame.
    pub header: Header,
    /// First angle, rad.
    pub angle_min: f32,
    /// Last angle, rad.
    pub angle_max: f32,
    /// Between two readings, rad.
    pub angle_increment: f32,
    /// Between two readings, s.
    pub time_increment: f32,
    /// Between two scans, s.
    pub scan_time: f32,
    /// Shortest valid range, m.
    pub range_min: f32,
    /// Longest valid range, m.
    pub range_max: f32,
    /// Ranges, m.
    pub ranges: Vec<f32>,
    /// Intensities (may be empty).
    pub intensities: Vec<f32>,
}

/// An image.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/Image")]
pub struct Image {
    /// Time and frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, as in ROS (`rgb8`, `mono8`, `bgr8`, ...).
    pub encoding: String,
    /// Whether multi-byte values are big-endian.
    pub is_bigendian: bool,
    /// Bytes per row.
    pub step: u32,
    /// Pixels, `step * height` bytes: a byte string on the wire, shared rather than
    /// copied in the process (see [`Blob`]).
    pub data: Blob,
}

/// A compressed image (JPEG or PNG), as a camera or an encoder node sends it.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/CompressedImage")]
pub struct CompressedImage {
    /// Time and frame.
    pub header: Header,
    /// `jpeg` or `png`.
    pub format: String,
    /// The compressed bytes (a [`Blob`]).
    pub data: Blob,
}

/// How one field of a point is laid out in [`PointCloud2::data`].
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/PointField")]
pub struct PointField {
    /// Field name (`x`, `y`, `z`, `intensity`, ...).
    pub name: String,
    /// Byte offset in the point.
    pub offset: u32,
    /// Data type, as in ROS (7 = FLOAT32, ...).
    pub datatype: u8,
    /// Elements in the field.
    pub count: u32,
}

/// A point cloud (a lidar or depth camera frame).
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/PointCloud2")]
pub struct PointCloud2 {
    /// Time and frame.
    pub header: Header,
    /// Rows (1 for an unordered cloud).
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// The layout of one point.
    pub fields: Vec<PointField>,
    /// Whether multi-byte values are big-endian.
    pub is_bigendian: bool,
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// Points, `row_step * height` bytes (a [`Blob`]).
    pub data: Blob,
    /// True when no point is invalid.
    pub is_dense: bool,
}

/// The state of a battery.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "sensor_msgs/BatteryState")]
pub struct BatteryState {
    /// Time and frame.
    pub header: Header,
    /// V.
    pub voltage: f32,
    /// A (negative while discharging).
    pub current: f32,
    /// Ah left.
    pub charge: f32,
    /// Ah when full.
    pub capacity: f32,
    /// 0 to 1.
    pub percentage: f32,
    /// Whether a battery is present.
    pub present: bool,
}
