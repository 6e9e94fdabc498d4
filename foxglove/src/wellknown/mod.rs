//! Pinion's standard messages as Foxglove's well-known schemas, so that the 3D, image
//! and map panels draw them without configuration:
//!
//! | Pinion type | Foxglove schema | panels |
//! |---|---|---|
//! | `sensor_msgs/Image` | `foxglove.RawImage` | Image, 3D (as a camera image) |
//! | `sensor_msgs/CompressedImage` | `foxglove.CompressedImage` | Image, 3D |
//! | `sensor_msgs/LaserScan` | `foxglove.LaserScan` | 3D |
//! | `sensor_msgs/PointCloud2` | `foxglove.PointCloud` | 3D |
//! | `geometry_msgs/PoseStamped`, `nav_msgs/Odometry` | `foxglove.PoseInFrame` | 3D |
//! | `tf2_msgs/TFMessage` | `foxglove.FrameTransforms` | 3D (the frames) |
//!
//! A type is recognised by its schema hash, not its name: a user's own `Image` with
//! other fields keeps its own JSON form.

pub mod shapes;

use pinion::json::JsonError;
use pinion::message::TypeInfo;
use pinion::msgs::{geometry, nav, sensor};
use pinion::Message;
use serde_json::Value;
use shapes::*;

/// One of the conversions of the table above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellKnown {
    /// `sensor_msgs/Image` to `foxglove.RawImage`.
    RawImage,
    /// `sensor_msgs/CompressedImage` to `foxglove.CompressedImage`.
    CompressedImage,
    /// `sensor_msgs/LaserScan` to `foxglove.LaserScan`.
    LaserScan,
    /// `sensor_msgs/PointCloud2` to `foxglove.PointCloud`.
    PointCloud,
    /// `geometry_msgs/PoseStamped` to `foxglove.PoseInFrame`.
    PoseStamped,
    /// `nav_msgs/Odometry` to `foxglove.PoseInFrame` (its pose).
    Odometry,
    /// `tf2_msgs/TFMessage` to `foxglove.FrameTransforms`.
    Transforms,
}

impl WellKnown {
    /// The conversion of `type_info`, if it is one of Pinion's standard messages.
    pub fn of(type_info: &TypeInfo) -> Option<Self> {
        let hash = type_info.hash;
        [
            (sensor::Image::SCHEMA_HASH, Self::RawImage),
            (sensor::CompressedImage::SCHEMA_HASH, Self::CompressedImage),
            (sensor::LaserScan::SCHEMA_HASH, Self::LaserScan),
            (sensor::PointCloud2::SCHEMA_HASH, Self::PointCloud),
            (geometry::PoseStamped::SCHEMA_HASH, Self::PoseStamped),
            (nav::Odometry::SCHEMA_HASH, Self::Odometry),
            (geometry::TransformList::SCHEMA_HASH, Self::Transforms),
        ]
        .into_iter()
        .find(|(h, _)| *h == hash)
        .map(|(_, known)| known)
    }

    /// The Foxglove type messages become.
    pub fn target(self) -> TypeInfo {
        match self {
            Self::RawImage => RawImage::type_info(),
            Self::CompressedImage => shapes::CompressedImage::type_info(),
            Self::LaserScan => shapes::LaserScan::type_info(),
            Self::PointCloud => PointCloud::type_info(),
            Self::PoseStamped | Self::Odometry => PoseInFrame::type_info(),
            Self::Transforms => FrameTransforms::type_info(),
        }
    }

    /// One message of `source` (postcard) in its Foxglove form (JSON).
    pub fn convert(self, source: &TypeInfo, bytes: &[u8]) -> Result<Value, JsonError> {
        let target = self.target();
        let encoded = match self {
            Self::RawImage => shape(source, bytes, |m: sensor::Image| RawImage {
                timestamp: Time::from_ns(m.header.stamp_ns),
                frame_id: m.header.frame_id,
                width: m.width,
                height: m.height,
                encoding: m.encoding,
                step: m.step,
                data: m.data,
            }),
            Self::CompressedImage => shape(source, bytes, |m: sensor::CompressedImage| {
                shapes::CompressedImage {
                    timestamp: Time::from_ns(m.header.stamp_ns),
                    frame_id: m.header.frame_id,
                    data: m.data,
                    format: m.format,
                }
            }),
            Self::LaserScan => shape(source, bytes, |m: sensor::LaserScan| {
                let steps = m.ranges.len().saturating_sub(1) as f32;
                shapes::LaserScan {
                    timestamp: Time::from_ns(m.header.stamp_ns),
                    frame_id: m.header.frame_id,
                    pose: geometry::Pose::default(),
                    start_angle: m.angle_min.into(),
                    end_angle: (m.angle_min + m.angle_increment * steps).into(),
                    ranges: m.ranges.into_iter().map(f64::from).collect(),
                    intensities: m.intensities.into_iter().map(f64::from).collect(),
                }
            }),
            Self::PointCloud => shape(source, bytes, |m: sensor::PointCloud2| PointCloud {
                timestamp: Time::from_ns(m.header.stamp_ns),
                frame_id: m.header.frame_id,
                pose: geometry::Pose::default(),
                point_stride: m.point_step,
                fields: m
                    .fields
                    .into_iter()
                    .map(|f| PackedElementField {
                        name: f.name,
                        offset: f.offset,
                        numeric_type: numeric_type(f.datatype),
                    })
                    .collect(),
                data: m.data,
            }),
            Self::PoseStamped => shape(source, bytes, |m: geometry::PoseStamped| PoseInFrame {
                timestamp: Time::from_ns(m.header.stamp_ns),
                frame_id: m.header.frame_id,
                pose: m.pose,
            }),
            Self::Odometry => shape(source, bytes, |m: nav::Odometry| PoseInFrame {
                timestamp: Time::from_ns(m.header.stamp_ns),
                frame_id: m.header.frame_id,
                pose: m.pose,
            }),
            Self::Transforms => shape(source, bytes, |m: geometry::TransformList| {
                FrameTransforms {
                    transforms: m
                        .transforms
                        .into_iter()
                        .map(|t| FrameTransform {
                            timestamp: Time::from_ns(t.header.stamp_ns),
                            parent_frame_id: t.header.frame_id,
                            child_frame_id: t.child_frame_id,
                            translation: t.translation,
                            rotation: t.rotation,
                        })
                        .collect(),
                }
            }),
        }?;
        pinion::json::decode(&target, &encoded)
    }
}

impl WellKnown {
    /// The other way: a message in its Foxglove form (JSON) as the Pinion message it
    /// came from (postcard), for playing a recording back. What Foxglove's schema has no
    /// field for is rebuilt where it can be (a scan's angle increment from its angles
    /// and length) and left at its default where it cannot (a scan's range limits, an
    /// odometry's twist and covariances).
    pub fn back(self, source: &TypeInfo, value: &Value) -> Result<Vec<u8>, JsonError> {
        let bytes = pinion::json::encode(&self.target(), value)?;
        let header = |t: Time, frame_id: String| pinion::msgs::std_msgs::Header {
            stamp_ns: u64::from(t.sec) * 1_000_000_000 + u64::from(t.nsec),
            frame_id,
        };
        match self {
            Self::RawImage => shape(source, &bytes, |m: RawImage| sensor::Image {
                header: header(m.timestamp, m.frame_id),
                height: m.height,
                width: m.width,
                encoding: m.encoding,
                is_bigendian: false,
                step: m.step,
                data: m.data,
            }),
            Self::CompressedImage => shape(source, &bytes, |m: shapes::CompressedImage| {
                sensor::CompressedImage {
                    header: header(m.timestamp, m.frame_id),
                    format: m.format,
                    data: m.data,
                }
            }),
            Self::LaserScan => shape(source, &bytes, |m: shapes::LaserScan| {
                let steps = m.ranges.len().saturating_sub(1).max(1) as f64;
                sensor::LaserScan {
                    header: header(m.timestamp, m.frame_id),
                    angle_min: m.start_angle as f32,
                    angle_max: m.end_angle as f32,
                    angle_increment: ((m.end_angle - m.start_angle) / steps) as f32,
                    ranges: m.ranges.into_iter().map(|r| r as f32).collect(),
                    intensities: m.intensities.into_iter().map(|i| i as f32).collect(),
                    ..Default::default()
                }
            }),
            Self::PointCloud => shape(source, &bytes, |m: PointCloud| {
                let points = m.data.len() / (m.point_stride.max(1) as usize);
                sensor::PointCloud2 {
                    header: header(m.timestamp, m.frame_id),
                    height: 1,
                    width: points as u32,
                    fields: m
                        .fields
                        .into_iter()
                        .map(|f| sensor::PointField {
                            name: f.name,
                            offset: f.offset,
                            datatype: ros_datatype(f.numeric_type),
                            count: 1,
                        })
                        .collect(),
                    is_bigendian: false,
                    point_step: m.point_stride,
                    row_step: m.data.len() as u32,
                    data: m.data,
                    is_dense: true,
                }
            }),
            Self::PoseStamped => shape(source, &bytes, |m: PoseInFrame| geometry::PoseStamped {
                header: header(m.timestamp, m.frame_id),
                pose: m.pose,
            }),
            Self::Odometry => shape(source, &bytes, |m: PoseInFrame| nav::Odometry {
                header: header(m.timestamp, m.frame_id),
                pose: m.pose,
                ..Default::default()
            }),
            Self::Transforms => shape(source, &bytes, |m: FrameTransforms| {
                geometry::TransformList {
                    transforms: m
                        .transforms
                        .into_iter()
                        .map(|t| geometry::TransformStamped {
                            header: header(t.timestamp, t.parent_frame_id),
                            child_frame_id: t.child_frame_id,
                            translation: t.translation,
                            rotation: t.rotation,
                        })
                        .collect(),
                }
            }),
        }
    }
}

/// Decodes a `From`, converts it, and encodes the result.
fn shape<From: Message, To: Message>(
    source: &TypeInfo,
    bytes: &[u8],
    convert: impl FnOnce(From) -> To,
) -> Result<Vec<u8>, JsonError> {
    let problem = |e: pinion::Error| JsonError {
        path: source.name.clone(),
        problem: e.to_string(),
    };
    let message: From = pinion::message::decode("message", bytes).map_err(problem)?;
    pinion::message::encode("message", &convert(message)).map_err(problem)
}

/// `foxglove.NumericType` as ROS's `PointField` data type.
fn ros_datatype(foxglove: u32) -> u8 {
    (1..=8)
        .find(|ros| numeric_type(*ros) == foxglove)
        .unwrap_or(0)
}

/// ROS's `PointField` data types (1 INT8 .. 8 FLOAT64) as `foxglove.NumericType`.
fn numeric_type(ros: u8) -> u32 {
    match ros {
        1 => 2, // INT8
        2 => 1, // UINT8
        3 => 4, // INT16
        4 => 3, // UINT16
        5 => 6, // INT32
        6 => 5, // UINT32
        7 => 7, // FLOAT32
        8 => 8, // FLOAT64
        _ => 0, // UNKNOWN
    }
}

#[cfg(test)]
mod tests;
