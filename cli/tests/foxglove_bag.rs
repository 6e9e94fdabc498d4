//! Recordings Foxglove can read: `pinion record --encoding json` and `pinion convert`
//! of a native recording, read by an independent reader (Python's `mcap`) and every
//! message validated against its channel's JSON Schema (Python's `jsonschema`); both
//! play back.

mod support;

use pinion::msgs::nav::Odometry;
use pinion::msgs::sensor::Image;
use pinion::Node;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::*;

const ROVER: [&str; 7] = [
    "motor_driver",
    "wheel_encoders",
    "imu_sim",
    "odometry",
    "wander",
    "lidar_sim",
    "camera_sim",
];

/// Per topic: schema name and encoding, message encoding, how many messages, how many
/// validated. Exits non-zero if a message is not JSON or does not validate.
fn check_with_python(file: &Path) -> Value {
    let script = r#"
import json, sys
import jsonschema
from mcap.reader import make_reader
out = {}
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f)
    for schema, channel, message in reader.iter_messages():
        entry = out.setdefault(channel.topic, {"schema": schema.name, "schema_encoding": schema.encoding,
                                               "message_encoding": channel.message_encoding, "count": 0, "valid": 0})
        entry["count"] += 1
        validator = jsonschema.Draft202012Validator(json.loads(schema.data))
        errors = [e.message for e in validator.iter_errors(json.loads(message.data))]
        if errors:
            sys.exit(f"{channel.topic}: message {entry['count']} does not validate: {errors[:3]}")
        entry["valid"] += 1
print(json.dumps(out))
"#;
    python_json(script, file)
}

fn pinion(env: &Env, args: &[&str]) -> String {
    let mut c = env.command("pinion");
    c.args(args).env("RUST_LOG", "warn");
    let mut p = Proc::spawn("pinion", c);
    let (_, code) = p.finish(SOON * 2);
    assert_eq!(code, Some(0), "pinion {args:?}: {}", p.dump());
    p.dump()
}

fn assert_foxglove_readable(file: &Path) {
    let topics = check_with_python(file);
    for (topic, schema) in [
        ("odom", "foxglove.PoseInFrame"),
        ("scan", "foxglove.LaserScan"),
        ("camera/image", "foxglove.RawImage"),
        ("tf", "foxglove.FrameTransforms"),
        ("cmd_vel", "geometry_msgs/Twist"),
        ("imu", "sensor_msgs/Imu"),
    ] {
        let t = &topics[topic];
        assert_eq!(
            t["schema"],
            schema,
            "{topic} in {}: {topics}",
            file.display()
        );
        assert_eq!(t["schema_encoding"], "jsonschema", "{topic}");
        assert_eq!(t["message_encoding"], "json", "{topic}");
        assert!(t["count"].as_u64().is_some_and(|n| n > 0), "{topic}");
        assert_eq!(t["count"], t["valid"], "{topic}");
    }
}

/// Plays `file` and returns how many odometry and image messages a subscriber got.
async fn play(env: &Env, file: &Path, name: &str) -> (usize, usize) {
    let node = Node::init(options(env, name)).await.expect("node");
    let mut odom = node.subscribe::<Odometry>("odom").await.expect("subscribe");
    let mut image = node
        .subscribe::<Image>("camera/image")
        .await
        .expect("subscribe");
    pinion(env, &["play", &file.to_string_lossy(), "--rate", "4"]);
    let (mut poses, mut images) = (0, 0);
    while let Some(m) = recv_within(&mut odom, Duration::from_millis(300)).await {
        assert_eq!(m.header.frame_id, "odom");
        poses += 1;
    }
    while let Some(m) = recv_within(&mut image, Duration::from_millis(300)).await {
        assert_eq!((m.width, m.height, m.encoding.as_str()), (160, 120, "rgb8"));
        assert_eq!(m.data.len(), 160 * 120 * 3);
        images += 1;
    }
    node.close().await;
    (poses, images)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_foxglove_reads_from_record_and_convert_and_both_play() {
    let dir = TempDir::new("foxglove-bag");
    let (_master, env) = start_master(&dir);
    let nodes: Vec<Proc> = ROVER.iter().map(|n| env.node(n, n, &[])).collect();
    let native = dir.0.join("native.mcap");
    let json = dir.0.join("json.mcap");
    let converted = dir.0.join("converted.mcap");
    // Wait for the last node's topic, then record both ways at once.
    let watcher = Node::init(options(&env, "bag_watcher"))
        .await
        .expect("node");
    let mut images = watcher
        .subscribe::<Image>("camera/image")
        .await
        .expect("subscribe");
    recv_within(&mut images, SOON)
        .await
        .expect("the camera runs");
    watcher.close().await;
    let (env_a, native_a) = (
        Env {
            runtime_dir: env.runtime_dir.clone(),
            master: env.master.clone(),
        },
        native.clone(),
    );
    let first = std::thread::spawn(move || {
        pinion(
            &env_a,
            &[
                "record",
                "-o",
                &native_a.to_string_lossy(),
                "--duration",
                "3",
            ],
        )
    });
    pinion(
        &env,
        &[
            "record",
            "-o",
            &json.to_string_lossy(),
            "--duration",
            "3",
            "--encoding",
            "json",
        ],
    );
    first.join().expect("native recorder");
    drop(nodes);

    assert_foxglove_readable(&json);
    let said = pinion(
        &env,
        &[
            "convert",
            &native.to_string_lossy(),
            "-o",
            &converted.to_string_lossy(),
        ],
    );
    assert!(said.contains("converted "), "{said}");
    assert_foxglove_readable(&converted);

    for file in [&native, &json, &converted] {
        let (poses, images) = play(&env, file, "bag_player").await;
        assert!(
            poses > 10 && images > 3,
            "{}: {poses} poses, {images} images",
            file.display()
        );
    }
}
