//! Message encoding: postcard encode + decode of an IMU reading, a 1 MiB image and a 4 MiB
//! point cloud, through `Message` as a publisher and a subscriber do it. Baseline in the
//! same run, alternating: copying the same number of bytes twice (one copy out, one
//! back), the least any encode + decode into owned values costs.

use pinion::msgs::sensor::{Image, Imu, PointCloud2, PointField};
use pinion::msgs::std_msgs::Header;
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

/// Median time of one encode + decode, and of the baseline; the encoded size.
fn measure<T: Serialize + DeserializeOwned>(
    value: &T,
    rounds: usize,
) -> (Duration, Duration, usize) {
    let size = postcard::to_stdvec(value).map(|v| v.len()).unwrap_or(0);
    let source = vec![1u8; size];
    let (mut codec, mut copy) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let bytes = postcard::to_stdvec(black_box(value)).unwrap_or_default();
        let back: Option<T> = postcard::from_bytes(&bytes).ok();
        black_box(back);
        codec.push(start.elapsed());

        let start = Instant::now();
        let out = black_box(&source).clone();
        let back = black_box(&out).clone();
        black_box(back);
        copy.push(start.elapsed());
    }
    codec.sort();
    copy.sort();
    (codec[rounds / 2], copy[rounds / 2], size)
}

/// Runs the benchmark.
pub fn run() -> anyhow::Result<()> {
    let imu = Imu::default();
    let rows = [
        ("Imu", measure(&imu, 20_000)),
        ("Image 1 MiB", measure(&image(), 200)),
        ("PointCloud2 4 MiB", measure(&cloud(), 50)),
    ];
    println!("codec: postcard encode + decode, median, beside two plain copies of the same bytes");
    let mut json = Vec::new();
    for (name, (codec, copy, size)) in rows {
        let ratio = codec.as_secs_f64() / copy.as_secs_f64().max(1e-12);
        println!(
            "  {name:<18} {size:>8} B  encode+decode {:>9.2} µs  two copies {:>9.2} µs  ratio {ratio:.2}",
            codec.as_secs_f64() * 1e6,
            copy.as_secs_f64() * 1e6
        );
        json.push(format!(
            "{{\"message\":\"{name}\",\"bytes\":{size},\"codec_us\":{:.3},\"copy_us\":{:.3}}}",
            codec.as_secs_f64() * 1e6,
            copy.as_secs_f64() * 1e6
        ));
    }
    println!("{{\"bench\":\"codec\",\"rows\":[{}]}}", json.join(","));
    Ok(())
}
