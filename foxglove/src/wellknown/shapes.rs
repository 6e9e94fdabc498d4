//! Foxglove's well-known schemas as Pinion message types, field for field (names,
//! nesting, units). Their JSON Schemas are generated like any message's
//! (`pinion::json::json_schema`), so what the bridge sends always validates.

use pinion::msgs::geometry::{Pose, Quaternion, Vector3};
use pinion::prelude::*;
use pinion::Blob;

/// `foxglove.Time`: seconds and nanoseconds since the Unix epoch.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
#[message(name = "foxglove.Time")]
pub struct Time {
    /// Seconds.
    pub sec: u32,
    /// Nanoseconds within the second.
    pub nsec: u32,
}

impl Time {
    /// From nanoseconds since the epoch (a Pinion header's `stamp_ns`).
    pub fn from_ns(ns: u64) -> Self {
        Self {
            sec: u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX),
            nsec: (ns % 1_000_000_000) as u32,
        }
    }
}

/// `foxglove.RawImage`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.RawImage")]
pub struct RawImage {
    /// Time of the image.
    pub timestamp: Time,
    /// Frame of the camera.
    pub frame_id: String,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Pixel encoding (`rgb8`, `mono8`, ...).
    pub encoding: String,
    /// Bytes per row.
    pub step: u32,
    /// Pixels.
    pub data: Blob,
}

/// `foxglove.CompressedImage`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.CompressedImage")]
pub struct CompressedImage {
    /// Time of the image.
    pub timestamp: Time,
    /// Frame of the camera.
    pub frame_id: String,
    /// The compressed bytes.
    pub data: Blob,
    /// `jpeg` or `png`.
    pub format: String,
}

/// `foxglove.LaserScan`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.LaserScan")]
pub struct LaserScan {
    /// Time of the scan.
    pub timestamp: Time,
    /// Frame of the scanner.
    pub frame_id: String,
    /// Origin of the scan in its frame.
    pub pose: Pose,
    /// Angle of the first range, rad.
    pub start_angle: f64,
    /// Angle of the last range, rad.
    pub end_angle: f64,
    /// Ranges, m.
    pub ranges: Vec<f64>,
    /// Intensities (same length as `ranges`, or empty).
    pub intensities: Vec<f64>,
}

/// `foxglove.PackedElementField`: one field of a point in a cloud.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.PackedElementField")]
pub struct PackedElementField {
    /// Field name.
    pub name: String,
    /// Byte offset in the point.
    pub offset: u32,
    /// `foxglove.NumericType`: 1 UINT8, 2 INT8, 3 UINT16, 4 INT16, 5 UINT32, 6 INT32,
    /// 7 FLOAT32, 8 FLOAT64.
    #[serde(rename = "type")]
    pub numeric_type: u32,
}

/// `foxglove.PointCloud`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.PointCloud")]
pub struct PointCloud {
    /// Time of the cloud.
    pub timestamp: Time,
    /// Frame of the points.
    pub frame_id: String,
    /// Origin of the cloud in its frame.
    pub pose: Pose,
    /// Bytes per point.
    pub point_stride: u32,
    /// The layout of one point.
    pub fields: Vec<PackedElementField>,
    /// Points.
    pub data: Blob,
}

/// `foxglove.PoseInFrame`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.PoseInFrame")]
pub struct PoseInFrame {
    /// Time of the pose.
    pub timestamp: Time,
    /// Frame the pose is in.
    pub frame_id: String,
    /// The pose.
    pub pose: Pose,
}

/// `foxglove.FrameTransform`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.FrameTransform")]
pub struct FrameTransform {
    /// Time of the transform.
    pub timestamp: Time,
    /// The parent frame.
    pub parent_frame_id: String,
    /// The child frame.
    pub child_frame_id: String,
    /// The child's origin in the parent, m.
    pub translation: Vector3,
    /// The child's rotation in the parent.
    pub rotation: Quaternion,
}

/// `foxglove.FrameTransforms`.
#[derive(Message, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[message(name = "foxglove.FrameTransforms")]
pub struct FrameTransforms {
    /// The transforms.
    pub transforms: Vec<FrameTransform>,
}
