//! Every shape derive(Message) supports, with a round trip through postcard.
use pinion::prelude::*;
use std::collections::BTreeMap;

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
struct Unit;

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
struct Meters(f64);

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
struct Pair(u8, i64);

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Empty,
    Circle(f32),
    Segment(f32, f32),
    Polygon { points: Vec<(f32, f32)>, closed: bool },
}

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
#[message(name = "test/Everything")]
struct Everything<T> {
    unit: Unit,
    meters: Meters,
    pair: Pair,
    shapes: Vec<Shape>,
    maybe: Option<Box<Meters>>,
    grid: [[u8; 3]; 2],
    labels: BTreeMap<String, u32>,
    generic: T,
    #[serde(rename = "r#type")]
    kind: String,
    #[serde(skip)]
    cache: u64,
    #[serde(default)]
    extra: Option<String>,
}

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
struct Frame {
    #[serde(with = "pinion::serde_bytes")]
    pixels: Vec<u8>,
    plain: Vec<u8>,
}

#[derive(Message, Serialize, Deserialize, Debug, PartialEq)]
struct Packet(#[serde(with = "serde_bytes")] Vec<u8>);

fn main() {
    // A byte-string field is a ByteArray in the schema and the same bytes on the wire.
    let frame = Frame { pixels: vec![1, 2, 255], plain: vec![1, 2, 255] };
    let bytes = postcard::to_stdvec(&frame).unwrap();
    assert_eq!(bytes[..4], bytes[4..]);
    assert_eq!(postcard::from_bytes::<Frame>(&bytes).unwrap(), frame);
    let text = Frame::type_info().schema.to_string();
    assert!(Frame::type_info().is_consistent(), "{text}");
    assert_ne!(Frame::SCHEMA_HASH, <Everything<u8>>::SCHEMA_HASH);
    let packet = Packet(vec![9; 3]);
    assert_eq!(postcard::from_bytes::<Packet>(&postcard::to_stdvec(&packet).unwrap()).unwrap(), packet);

    let value = Everything {
        unit: Unit,
        meters: Meters(1.5),
        pair: Pair(1, -2),
        shapes: vec![Shape::Empty, Shape::Circle(1.0), Shape::Segment(0.0, 1.0), Shape::Polygon { points: vec![(0.0, 1.0)], closed: true }],
        maybe: Some(Box::new(Meters(2.0))),
        grid: [[1, 2, 3], [4, 5, 6]],
        labels: BTreeMap::from([("a".to_owned(), 1)]),
        generic: 7u16,
        kind: "k".into(),
        cache: 0,
        extra: None,
    };
    let bytes = postcard::to_stdvec(&value).unwrap();
    let back: Everything<u16> = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, value);
    assert_eq!(<Everything<u16> as Message>::TYPE_NAME, "test/Everything");
    assert_ne!(<Everything<u16>>::SCHEMA_HASH, <Everything<u32>>::SCHEMA_HASH);
    let info = <Everything<u16>>::type_info();
    assert!(info.is_consistent(), "the owned schema hashes like the compile-time one");
    let text = info.schema.to_string();
    assert!(text.contains("r#type") && !text.contains("cache"), "{text}");
}
