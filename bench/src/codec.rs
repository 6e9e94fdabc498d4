//! Message encoding: encode + decode of an IMU reading, a 1 MiB image and a 4 MiB point
//! cloud, as a publisher and a subscriber do it (`pinion::segments`: large blobs become
//! frames of their own and are shared, not copied). Beside it in the same run,
//! alternating: plain postcard into one buffer and back, and copying the same number of
//! bytes twice (one copy out, one back), the least an encode + decode into one buffer
//! and back into owned values costs.

use crate::util::median;
use pinion::msgs::sensor::{Image, Imu, PointCloud2, PointField};
use pinion::msgs::std_msgs::Header;
use pinion::segments;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn image() -> Image {
    Image {
        header: Header::now("camera"),
        height: 512,
        width: 512,
        encoding: "rgba8".into(),
        is_bigendian: false,
        step: 2048,
        data: vec![9; 1 << 20].into(),
    }
}

fn cloud() -> PointCloud2 {
    let field = |name: &str, offset| PointField {
        name: name.into(),
        offset,
        datatype: 7,
        count: 1,
    };
    PointCloud2 {
        header: Header::now("lidar"),
        height: 1,
        width: 262_144,
        fields: vec![
            field("x", 0),
            field("y", 4),
            field("z", 8),
            field("intensity", 12),
        ],
        is_bigendian: false,
        point_step: 16,
        row_step: 16 * 262_144,
        data: vec![3; 4 << 20].into(),
        is_dense: true,
    }
}

/// Medians of one encode + decode: through Pinion's encoder (large blobs as their own
/// frames), through plain postcard into one buffer, and of the baseline; the encoded size.
struct Figures {
    pinion: Duration,
    postcard: Duration,
    copy: Duration,
    size: usize,
}

fn measure<T: Serialize + DeserializeOwned>(value: &T, rounds: usize) -> Figures {
    let size = postcard::to_stdvec(value).map(|v| v.len()).unwrap_or(0);
    let source = vec![1u8; size];
    let (mut pinion, mut plain, mut copy) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let frames = segments::encode("bench", black_box(value)).unwrap_or_default();
        let back: Option<T> = segments::decode("bench", &frames).ok();
        black_box(back);
        pinion.push(start.elapsed());

        let start = Instant::now();
        let bytes = postcard::to_stdvec(black_box(value)).unwrap_or_default();
        let back: Option<T> = postcard::from_bytes(&bytes).ok();
        black_box(back);
        plain.push(start.elapsed());

        let start = Instant::now();
        let out = black_box(&source).clone();
        let back = black_box(&out).clone();
        black_box(back);
        copy.push(start.elapsed());
    }
    Figures {
        pinion: median(&mut pinion),
        postcard: median(&mut plain),
        copy: median(&mut copy),
        size,
    }
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let imu = Imu::default();
    let rows = [
        ("Imu", measure(&imu, 20_000)),
        ("Image 1 MiB", measure(&image(), 200)),
        ("PointCloud2 4 MiB", measure(&cloud(), 50)),
    ];
    println!(
        "codec: encode + decode, median; Pinion's encoder (blobs as frames), plain postcard, and two plain copies of the same bytes"
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut json = Vec::new();
    for (name, f) in rows {
        println!(
            "  {name:<18} {:>8} B  pinion {:>9.2} µs  postcard {:>9.2} µs  two copies {:>9.2} µs  pinion/copies {:.2}",
            f.size,
            us(f.pinion),
            us(f.postcard),
            us(f.copy),
            f.pinion.as_secs_f64() / f.copy.as_secs_f64().max(1e-12)
        );
        json.push(format!(
            "{{\"message\":\"{name}\",\"bytes\":{},\"pinion_us\":{:.3},\"postcard_us\":{:.3},\"copy_us\":{:.3}}}",
            f.size,
            us(f.pinion),
            us(f.postcard),
            us(f.copy)
        ));
    }
    println!("{{\"bench\":\"codec\",\"rows\":[{}]}}", json.join(","));
    Ok(())
}
