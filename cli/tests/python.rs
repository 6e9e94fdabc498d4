//! Python message classes (`import pinion`, installed by the test command) describe the
//! same postcard schema as the Rust derive: one pair per kind of field, each with the
//! same schema hash; a pair that differs in one field's type differs in hash.

use pinion::prelude::*;
use pinion::Blob;
use std::collections::BTreeMap;
use std::process::Command;

#[derive(Message, Serialize, Deserialize)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(Message, Serialize, Deserialize)]
enum Mode {
    Idle,
    Driving,
}

macro_rules! kinds {
    ($($name:ident { $field:ident : $ty:ty } => $py:literal;)*) => {
        $(
            #[derive(Message, Serialize, Deserialize)]
            #[allow(dead_code)]
            struct $name { $field: $ty }
        )*
        /// (name, Rust hash, Python type hint of the one field).
        fn pairs() -> Vec<(&'static str, u64, &'static str)> {
            vec![$((stringify!($name), <$name as pinion::Message>::SCHEMA_HASH, $py)),*]
        }
    };
}

kinds! {
    Flag { v: bool } => "bool";
    U8 { v: u8 } => "pinion.u8";
    U16 { v: u16 } => "pinion.u16";
    U32 { v: u32 } => "pinion.u32";
    U64 { v: u64 } => "pinion.u64";
    U128 { v: u128 } => "pinion.u128";
    I8 { v: i8 } => "pinion.i8";
    I16 { v: i16 } => "pinion.i16";
    I32 { v: i32 } => "pinion.i32";
    I64 { v: i64 } => "int";
    I128 { v: i128 } => "pinion.i128";
    F32 { v: f32 } => "pinion.f32";
    F64 { v: f64 } => "float";
    Text { v: String } => "str";
    Bytes { v: Blob } => "bytes";
    List { v: Vec<u32> } => "list[pinion.u32]";
    Maybe { v: Option<String> } => "Optional[str]";
    Nested { v: Point } => "Point";
    Listed { v: Vec<Point> } => "list[Point]";
    Choice { v: Mode } => "Mode";
    Table { v: BTreeMap<String, f64> } => "dict[str, float]";
    Pair { v: (u8, String) } => "tuple[pinion.u8, str]";
}

fn python_hashes(classes: &[(&str, &str)]) -> Vec<u64> {
    let mut script = String::from(
        "import enum, pinion\nfrom typing import Optional\n\
         @pinion.message\nclass Point:\n    x: float\n    y: float\n\
         class Mode(enum.Enum):\n    Idle = 0\n    Driving = 1\n",
    );
    for (name, hint) in classes {
        script.push_str(&format!(
            "@pinion.message\nclass {name}:\n    v: {hint}\nprint(pinion.schema_hash({name}))\n"
        ));
    }
    hashes_printed_by(&script)
}

/// Runs a Python script (outside the checkout, so that `import pinion` is the installed
/// package) and reads the hash it prints on each line.
fn hashes_printed_by(script: &str) -> Vec<u64> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the Python package is installed by the test command (scripts/test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().expect("a hash"))
        .collect()
}

#[test]
fn python_message_classes_hash_like_rust_structs_for_every_kind_of_field() {
    let pairs = pairs();
    let classes: Vec<(&str, &str)> = pairs.iter().map(|(n, _, py)| (*n, *py)).collect();
    let hashes = python_hashes(&classes);
    assert_eq!(hashes.len(), pairs.len());
    for ((name, rust, py), python) in pairs.iter().zip(&hashes) {
        assert_eq!(
            python, rust,
            "{name}: Python `v: {py}` hashes differently from Rust"
        );
    }
    // And a field of another type is another hash.
    let wrong = python_hashes(&[("U64", "pinion.u32")]);
    assert_ne!(wrong[0], U64::SCHEMA_HASH);
}

#[test]
fn every_standard_message_in_python_has_the_rust_hash() {
    use pinion::msgs::{geometry, log, nav, sensor, std_msgs};
    let rust: Vec<(&str, u64)> = vec![
        ("std_msgs.Header", std_msgs::Header::SCHEMA_HASH),
        ("std_msgs.Text", std_msgs::Text::SCHEMA_HASH),
        ("std_msgs.Bool", std_msgs::Bool::SCHEMA_HASH),
        ("std_msgs.Float64", std_msgs::Float64::SCHEMA_HASH),
        ("std_msgs.Int64", std_msgs::Int64::SCHEMA_HASH),
        ("std_msgs.UInt64", std_msgs::UInt64::SCHEMA_HASH),
        ("geometry.Vector3", geometry::Vector3::SCHEMA_HASH),
        ("geometry.Point", geometry::Point::SCHEMA_HASH),
        ("geometry.Quaternion", geometry::Quaternion::SCHEMA_HASH),
        ("geometry.Pose", geometry::Pose::SCHEMA_HASH),
        ("geometry.Twist", geometry::Twist::SCHEMA_HASH),
        ("geometry.PoseStamped", geometry::PoseStamped::SCHEMA_HASH),
        (
            "geometry.TransformStamped",
            geometry::TransformStamped::SCHEMA_HASH,
        ),
        (
            "geometry.TransformList",
            geometry::TransformList::SCHEMA_HASH,
        ),
        ("sensor.Imu", sensor::Imu::SCHEMA_HASH),
        ("sensor.LaserScan", sensor::LaserScan::SCHEMA_HASH),
        ("sensor.Image", sensor::Image::SCHEMA_HASH),
        (
            "sensor.CompressedImage",
            sensor::CompressedImage::SCHEMA_HASH,
        ),
        ("sensor.PointField", sensor::PointField::SCHEMA_HASH),
        ("sensor.PointCloud2", sensor::PointCloud2::SCHEMA_HASH),
        ("sensor.BatteryState", sensor::BatteryState::SCHEMA_HASH),
        ("nav.Odometry", nav::Odometry::SCHEMA_HASH),
        ("log.Log", log::Log::SCHEMA_HASH),
    ];
    let names: Vec<&str> = rust.iter().map(|(n, _)| *n).collect();
    let script = format!(
        "import json, pinion\nfor name in {names:?}:\n    module, cls = name.split('.')\n    \
         print(pinion.schema_hash(getattr(getattr(pinion.msgs, module), cls)))\n"
    );
    let python = hashes_printed_by(&script);
    assert_eq!(python.len(), rust.len());
    for ((name, rust), python) in rust.iter().zip(python) {
        assert_eq!(
            python, *rust,
            "pinion.msgs.{name} hashes differently in Python"
        );
    }
}
