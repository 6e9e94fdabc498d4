use super::*;
use crate::message::Message;
use crate::msgs::{geometry, nav, sensor};
use crate::Blob;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(crate::Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[message(name = "test/Shape")]
enum Shape {
    Empty,
    Circle(f64),
    Pair(u8, i16),
    Rect { w: u32, h: u32 },
}

#[derive(crate::Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[message(name = "test/Everything")]
struct Everything {
    flag: bool,
    small: i8,
    big: i64,
    unsigned: u64,
    ratio: f32,
    letter: char,
    name: String,
    maybe: Option<u16>,
    nothing: Option<String>,
    list: Vec<geometry::Vector3>,
    fixed: [f64; 3],
    pair: (u8, String),
    shapes: Vec<Shape>,
    table: std::collections::BTreeMap<String, i32>,
}

fn everything() -> Everything {
    Everything {
        flag: true,
        small: -7,
        big: -1 << 40,
        unsigned: u64::MAX,
        ratio: 0.5,
        letter: 'ß',
        name: "rover".into(),
        maybe: Some(9),
        nothing: None,
        list: vec![geometry::Vector3 {
            x: 1.0,
            y: -2.0,
            z: 0.25,
        }],
        fixed: [1.0, 2.0, 3.0],
        pair: (4, "four".into()),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.5),
            Shape::Pair(1, -300),
            Shape::Rect { w: 3, h: 4 },
        ],
        table: [("a".to_owned(), 1), ("b".to_owned(), -2)].into(),
    }
}

#[test]
fn the_json_form_is_what_serde_json_makes_of_the_value() {
    let value = everything();
    let bytes = crate::message::encode("test", &value).expect("encode");
    let decoded = decode(&Everything::type_info(), &bytes).expect("decode");
    assert_eq!(decoded, serde_json::to_value(&value).expect("to_value"));
    assert_eq!(
        encode(&Everything::type_info(), &decoded).expect("encode"),
        bytes
    );
}

#[test]
fn standard_messages_round_trip() {
    let odom = nav::Odometry {
        child_frame_id: "base_link".into(),
        pose_covariance: vec![0.1; 36],
        ..Default::default()
    };
    let bytes = crate::message::encode("odom", &odom).expect("encode");
    let schema = nav::Odometry::type_info();
    let value = decode(&schema, &bytes).expect("decode");
    assert_eq!(value["child_frame_id"], json!("base_link"));
    assert_eq!(encode(&schema, &value).expect("encode"), bytes);
}

#[test]
fn byte_strings_are_base64_and_come_back() {
    let image = sensor::Image {
        height: 1,
        width: 3,
        encoding: "mono8".into(),
        step: 3,
        data: Blob::from(vec![0u8, 127, 255]),
        ..Default::default()
    };
    let schema = sensor::Image::type_info();
    let bytes = crate::message::encode("image", &image).expect("encode");
    let value = decode(&schema, &bytes).expect("decode");
    assert_eq!(value["data"], json!("AH//"));
    assert_eq!(encode(&schema, &value).expect("encode"), bytes);
    // The list form is taken too.
    let mut listed = value.clone();
    listed["data"] = json!([0, 127, 255]);
    assert_eq!(encode(&schema, &listed).expect("encode"), bytes);
}

#[test]
fn floats_that_are_not_finite_are_null() {
    let v = geometry::Vector3 {
        x: f64::NAN,
        y: f64::INFINITY,
        z: 1.0,
    };
    let schema = geometry::Vector3::type_info();
    let bytes = crate::message::encode("v", &v).expect("encode");
    let value = decode(&schema, &bytes).expect("decode");
    assert_eq!(value, json!({"x": null, "y": null, "z": 1.0}));
    let back: geometry::Vector3 =
        crate::message::decode("v", &encode(&schema, &value).expect("encode")).expect("decode");
    assert!(back.x.is_nan() && back.y.is_nan() && back.z == 1.0);
}

#[test]
fn lengths_are_checked_before_anything_is_kept() {
    let schema = sensor::LaserScan::type_info();
    let good = crate::message::encode("scan", &sensor::LaserScan::default()).expect("encode");
    // A header of the right shape, then a list announcing 2^40 floats.
    let mut hostile = good[..good.len() - 2].to_vec();
    hostile.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    let e = decode(&schema, &hostile).expect_err("refused");
    assert!(
        e.to_string()
            .contains("`sensor_msgs/LaserScan.ranges` announces"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("announces 1099511627776 elements, at most 0 can follow"),
        "{e}"
    );
    let mut trailing = good.clone();
    trailing.push(0);
    let e = decode(&schema, &trailing).expect_err("refused");
    assert!(e.to_string().contains("1 bytes left over"), "{e}");
    for cut in 0..good.len() {
        assert!(decode(&schema, &good[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_value_that_does_not_fit_is_named_by_its_path() {
    let schema = Everything::type_info();
    let mut value = serde_json::to_value(everything()).expect("to_value");
    value["list"][0]["y"] = json!("fast");
    let e = encode(&schema, &value).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "`test/Everything.list[0].y` must be a number (type f64), got \"fast\""
    );
    let mut value = serde_json::to_value(everything()).expect("to_value");
    value["small"] = json!(300);
    let e = encode(&schema, &value).expect_err("refused");
    assert!(
        e.to_string()
            .starts_with("`test/Everything.small` must be a whole number -128 to 127"),
        "{e}"
    );
    let mut value = serde_json::to_value(everything()).expect("to_value");
    value.as_object_mut().expect("object").remove("name");
    let e = encode(&schema, &value).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "`test/Everything.name` is missing (type String)"
    );
    let mut value = serde_json::to_value(everything()).expect("to_value");
    value["shapes"][1] = json!({"Square": 1});
    let e = encode(&schema, &value).expect_err("refused");
    assert!(
        e.to_string()
            .contains("`test/Everything.shapes[1]::Square` is not a variant of Shape"),
        "{e}"
    );
}

#[test]
fn the_schema_describes_the_json_form() {
    let schema = json_schema(&Everything::type_info());
    assert_eq!(schema["title"], json!("test/Everything"));
    assert_eq!(
        schema["properties"]["small"],
        json!({"type": "integer", "minimum": -128, "maximum": 127})
    );
    assert_eq!(schema["properties"]["fixed"]["minItems"], json!(3));
    assert_eq!(
        schema["properties"]["pair"]["prefixItems"][1],
        json!({"type": "string"})
    );
    assert_eq!(
        schema["properties"]["maybe"]["anyOf"][0],
        json!({"type": "null"})
    );
    let required = schema["required"].as_array().expect("required");
    assert!(required.contains(&json!("name")) && !required.contains(&json!("maybe")));
    let shapes = &schema["properties"]["shapes"]["items"]["oneOf"];
    assert_eq!(shapes[0], json!({"const": "Empty"}));
    assert_eq!(shapes[3]["required"], json!(["Rect"]));
    let image = json_schema(&sensor::Image::type_info());
    assert_eq!(
        image["properties"]["data"]["contentEncoding"],
        json!("base64")
    );
}
