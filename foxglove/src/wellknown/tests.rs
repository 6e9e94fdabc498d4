use super::*;
use crate::Transcoder;
use pinion::msgs::std_msgs::Header;
use pinion::Blob;
use serde_json::json;

fn header(ns: u64, frame: &str) -> Header {
    Header {
        stamp_ns: ns,
        frame_id: frame.into(),
    }
}

fn json_of<T: Message>(message: &T) -> Value {
    let transcoder = Transcoder::new(&T::type_info());
    let bytes = pinion::message::encode("test", message).expect("encode");
    serde_json::from_slice(&transcoder.to_json(&bytes).expect("transcode")).expect("json")
}

/// A 2x1 mono8 image, stamped 1.5 s.
fn image() -> sensor::Image {
    sensor::Image {
        header: header(1_500_000_000, "camera"),
        height: 1,
        width: 2,
        encoding: "mono8".into(),
        is_bigendian: false,
        step: 2,
        data: Blob::from(vec![1u8, 2]),
    }
}

#[test]
fn standard_messages_are_recognised_by_hash_and_named_as_foxglove_does() {
    for (info, name) in [
        (sensor::Image::type_info(), "foxglove.RawImage"),
        (
            sensor::CompressedImage::type_info(),
            "foxglove.CompressedImage",
        ),
        (sensor::LaserScan::type_info(), "foxglove.LaserScan"),
        (sensor::PointCloud2::type_info(), "foxglove.PointCloud"),
        (geometry::PoseStamped::type_info(), "foxglove.PoseInFrame"),
        (nav::Odometry::type_info(), "foxglove.PoseInFrame"),
        (
            geometry::TransformList::type_info(),
            "foxglove.FrameTransforms",
        ),
    ] {
        let transcoder = Transcoder::new(&info);
        assert!(transcoder.is_well_known(), "{}", info.name);
        assert_eq!(transcoder.schema_name(), name);
        let schema: Value = serde_json::from_slice(transcoder.schema()).expect("schema");
        assert_eq!(schema["title"], name);
    }
    // Same name, other fields: not well known.
    let mut other = sensor::Image::type_info();
    other.hash ^= 1;
    assert!(!Transcoder::new(&other).is_well_known());
    assert_eq!(Transcoder::new(&other).schema_name(), "sensor_msgs/Image");
}

#[test]
fn an_image_keeps_its_pixels_as_base64_and_its_time() {
    let value = json_of(&image());
    assert_eq!(
        value,
        json!({"timestamp": {"sec": 1, "nsec": 500_000_000}, "frame_id": "camera",
               "width": 2, "height": 1, "encoding": "mono8", "step": 2, "data": "AQI="})
    );
}

#[test]
fn a_scan_ends_at_its_last_range_and_a_cloud_says_its_field_types() {
    let scan = json_of(&sensor::LaserScan {
        header: header(0, "laser"),
        angle_min: -1.0,
        angle_increment: 0.5,
        ranges: vec![1.0, 2.0, 3.0, f32::INFINITY],
        ..Default::default()
    });
    assert_eq!(scan["start_angle"], json!(-1.0));
    assert_eq!(scan["end_angle"], json!(0.5));
    assert_eq!(scan["ranges"], json!([1.0, 2.0, 3.0, null]));
    let cloud = json_of(&sensor::PointCloud2 {
        fields: vec![
            sensor::PointField {
                name: "x".into(),
                offset: 0,
                datatype: 7,
                count: 1,
            },
            sensor::PointField {
                name: "ring".into(),
                offset: 12,
                datatype: 4,
                count: 1,
            },
        ],
        point_step: 14,
        ..Default::default()
    });
    assert_eq!(cloud["point_stride"], json!(14));
    assert_eq!(
        cloud["fields"][0],
        json!({"name": "x", "offset": 0, "type": 7})
    );
    assert_eq!(cloud["fields"][1]["type"], json!(3));
}

#[test]
fn transforms_name_parent_and_child() {
    let value = json_of(&geometry::TransformList {
        transforms: vec![geometry::TransformStamped {
            header: header(2_000_000_001, "odom"),
            child_frame_id: "base_link".into(),
            translation: geometry::Vector3 {
                x: 1.0,
                y: 2.0,
                z: 0.0,
            },
            rotation: geometry::Quaternion::default(),
        }],
    });
    let t = &value["transforms"][0];
    assert_eq!(t["parent_frame_id"], "odom");
    assert_eq!(t["child_frame_id"], "base_link");
    assert_eq!(t["timestamp"], json!({"sec": 2, "nsec": 1}));
    assert_eq!(t["rotation"]["w"], json!(1.0));
}

#[test]
fn a_message_that_does_not_decode_says_which_type() {
    let transcoder = Transcoder::new(&sensor::Image::type_info());
    let e = transcoder.to_json(&[1, 2, 3]).expect_err("refused");
    assert!(e.to_string().contains("sensor_msgs/Image"), "{e}");
}

#[test]
fn what_foxglove_can_hold_comes_back_unchanged() {
    let image = image();
    let tf = geometry::TransformList {
        transforms: vec![geometry::TransformStamped {
            header: header(7, "odom"),
            child_frame_id: "base_link".into(),
            translation: geometry::Vector3 {
                x: 1.0,
                y: 2.0,
                z: 0.5,
            },
            rotation: geometry::Quaternion::from_yaw(0.3),
        }],
    };
    fn round_trip<T: Message + PartialEq + std::fmt::Debug>(message: &T) {
        let transcoder = Transcoder::new(&T::type_info());
        let bytes = pinion::message::encode("test", message).expect("encode");
        let json = transcoder.to_json(&bytes).expect("to json");
        let back: T = pinion::message::decode("test", &transcoder.from_json(&json).expect("back"))
            .expect("decode");
        assert_eq!(&back, message);
    }
    round_trip(&image);
    round_trip(&tf);
    round_trip(&geometry::PoseStamped {
        header: header(3, "map"),
        pose: geometry::Pose::default(),
    });
    // A type of its own form comes back whole.
    round_trip(&pinion::msgs::sensor::Imu::default());
    // A scan keeps its ranges and angles.
    let scan = sensor::LaserScan {
        header: header(5, "laser"),
        angle_min: -1.0,
        angle_max: 0.5,
        angle_increment: 0.5,
        ranges: vec![1.0, 2.0, 3.0, 4.0],
        ..Default::default()
    };
    let transcoder = Transcoder::new(&sensor::LaserScan::type_info());
    let json = transcoder
        .to_json(&pinion::message::encode("scan", &scan).expect("encode"))
        .expect("json");
    let back: sensor::LaserScan =
        pinion::message::decode("scan", &transcoder.from_json(&json).expect("back"))
            .expect("decode");
    assert_eq!(
        (back.angle_min, back.angle_increment, back.ranges),
        (-1.0, 0.5, scan.ranges)
    );
}
