//! The Foxglove bridge, checked by an independent client: `foxglove_client.py`, written
//! from the Foxglove WebSocket protocol's specification with Python's `websockets`,
//! validating every message with Python's `jsonschema`.

mod support;

use base64::Engine;
use pinion::msgs::geometry::Twist;
use pinion::msgs::nav::Odometry;
use pinion::msgs::sensor::{Image, LaserScan};
use pinion::{Message, Node, SubscribeOptions};
use pinion_nodes::rover::WheelSpeeds;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

/// The rover's nodes, without the planner: it stands still until told to move.
const ROVER: [&str; 6] = [
    "motor_driver",
    "wheel_encoders",
    "imu_sim",
    "odometry",
    "lidar_sim",
    "camera_sim",
];

struct Robot {
    _master: Proc,
    env: Env,
    _nodes: Vec<Proc>,
    bridge: Proc,
    url: String,
}

fn start_robot(dir: &TempDir) -> Robot {
    let (master, env) = start_master(dir);
    let nodes = ROVER.iter().map(|n| env.node(n, n, &[])).collect();
    let mut c = env.command("pinion");
    c.args(["foxglove", "--listen", "127.0.0.1:0"])
        .env("PINION_NODE_NAME", "foxglove_bridge");
    let mut bridge = Proc::spawn("bridge", c);
    let line = bridge.expect_line("the bridge's address", SOON, |s, l| {
        s == Src::Out && l.starts_with("foxglove bridge listening on ")
    });
    let url = line
        .trim_start_matches("foxglove bridge listening on ")
        .to_owned();
    Robot {
        _master: master,
        env,
        _nodes: nodes,
        bridge,
        url,
    }
}

/// Runs the client and returns its lines, parsed; fails the test if it fails.
fn client(url: &str, args: &[&str]) -> Vec<Value> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/foxglove_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(url)
        .args(args)
        .output()
        .expect("python3 runs (scripts/setup installs websockets and jsonschema)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("client lines are JSON"))
        .collect()
}

fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

/// Every message of `topic` a native subscriber receives, by its stamp.
fn collect<T: Message + Clone>(
    node: &Node,
    topic: &str,
    stamp: fn(&T) -> u64,
) -> Arc<Mutex<HashMap<u64, T>>> {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let (node, topic, into) = (node.clone(), topic.to_owned(), seen.clone());
    tokio::spawn(async move {
        let mut sub = node
            .subscribe_with::<T>(&topic, SubscribeOptions::queue(10_000))
            .await
            .expect("subscribe");
        while let Some(m) = sub.recv().await {
            into.lock().expect("lock").insert(stamp(&m), m);
        }
    });
    seen
}

fn stamp_of(message: &Value) -> u64 {
    let t = &message["timestamp"];
    t["sec"].as_u64().expect("sec") * 1_000_000_000 + t["nsec"].as_u64().expect("nsec")
}

/// The native message with this stamp, once the native subscriber has it.
async fn native<T: Clone>(seen: &Arc<Mutex<HashMap<u64, T>>>, stamp: u64) -> T {
    wait::until_async(SOON, Duration::from_millis(20), || async {
        seen.lock().expect("lock").get(&stamp).cloned()
    })
    .await
    .unwrap_or_else(|| panic!("no native message stamped {stamp}"))
}

fn close(a: f64, b: &Value) -> bool {
    b.as_f64().is_some_and(|b| (a - b).abs() < 1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foxglove_client_sees_every_topic_with_its_schema_and_native_values() {
    let dir = TempDir::new("foxglove-watch");
    let robot = start_robot(&dir);
    let node = Node::init(options(&robot.env, "native_watcher"))
        .await
        .expect("node");
    let odom = collect::<Odometry>(&node, "odom", |m| m.header.stamp_ns);
    let scan = collect::<LaserScan>(&node, "scan", |m| m.header.stamp_ns);
    let image = collect::<Image>(&node, "camera/image", |m| m.header.stamp_ns);
    let url = robot.url.clone();
    let lines = tokio::task::spawn_blocking(move || {
        client(
            &url,
            &[
                "watch",
                "odom",
                "scan",
                "camera/image",
                "tf",
                "--count",
                "3",
            ],
        )
    })
    .await
    .expect("client");

    let info = events(&lines, "serverInfo");
    assert_eq!(info.len(), 1, "{lines:?}");
    assert!(info[0]["capabilities"]
        .as_array()
        .is_some_and(|c| c.contains(&Value::from("clientPublish"))));
    let advertised: HashMap<&str, &Value> = events(&lines, "advertise")
        .into_iter()
        .map(|a| (a["topic"].as_str().expect("topic"), a))
        .collect();
    for (topic, schema) in [
        ("odom", "foxglove.PoseInFrame"),
        ("scan", "foxglove.LaserScan"),
        ("camera/image", "foxglove.RawImage"),
        ("tf", "foxglove.FrameTransforms"),
        ("imu", "sensor_msgs/Imu"),
        ("wheel_speeds", "rover/WheelSpeeds"),
        ("wheel_ticks", "rover/WheelTicks"),
        ("cmd_vel", "geometry_msgs/Twist"),
    ] {
        let a = advertised
            .get(topic)
            .unwrap_or_else(|| panic!("{topic} is not advertised: {lines:?}"));
        assert_eq!(a["schemaName"], schema, "{topic}");
        assert_eq!(a["encoding"], "json", "{topic}");
        assert_eq!(a["schemaEncoding"], "jsonschema", "{topic}");
        assert_eq!(a["schemaValid"], true, "{topic}");
    }

    let messages = events(&lines, "message");
    for topic in ["odom", "scan", "camera/image", "tf"] {
        let n = messages.iter().filter(|m| m["topic"] == topic).count();
        assert_eq!(n, 3, "{topic}: {n} messages");
    }
    // Each message validated in the client; here its values against a native subscriber's.
    for m in &messages {
        let body = &m["message"];
        assert_eq!(m["valid"], true);
        match m["topic"].as_str() {
            Some("odom") => {
                let n = native(&odom, stamp_of(body)).await;
                assert_eq!(body["frame_id"], n.header.frame_id.as_str());
                let p = &body["pose"];
                assert!(close(n.pose.position.x, &p["position"]["x"]), "{body}");
                assert!(close(n.pose.position.y, &p["position"]["y"]), "{body}");
                assert!(
                    close(n.pose.orientation.z, &p["orientation"]["z"]),
                    "{body}"
                );
                assert!(
                    close(n.pose.orientation.w, &p["orientation"]["w"]),
                    "{body}"
                );
            }
            Some("scan") => {
                let n = native(&scan, stamp_of(body)).await;
                let ranges = body["ranges"].as_array().expect("ranges");
                assert_eq!(ranges.len(), n.ranges.len());
                assert!(n.ranges.len() == 180);
                for (a, b) in n.ranges.iter().zip(ranges) {
                    assert!(close(f64::from(*a), b), "{a} against {b}");
                }
                assert!(close(f64::from(n.angle_min), &body["start_angle"]));
            }
            Some("camera/image") => {
                let n = native(&image, stamp_of(body)).await;
                assert_eq!(body["width"], n.width);
                assert_eq!(body["height"], n.height);
                assert_eq!(body["encoding"], n.encoding.as_str());
                let data = base64::engine::general_purpose::STANDARD
                    .decode(body["data"].as_str().expect("data"))
                    .expect("base64");
                assert_eq!(data.as_slice(), n.data.as_ref());
            }
            Some("tf") => {
                let t = &body["transforms"][0];
                assert_eq!(t["parent_frame_id"], "odom");
                assert_eq!(t["child_frame_id"], "base_link");
                let n = native(&odom, stamp_of(t)).await;
                assert!(close(n.pose.position.x, &t["translation"]["x"]));
            }
            other => panic!("unexpected topic {other:?}"),
        }
    }
    // Its client gone, the bridge no longer subscribes to what it watched.
    let env = robot.env;
    let unsubscribed = wait::until(SOON, Duration::from_millis(50), || {
        let out = env
            .command("pinion")
            .args(["topic", "info", "camera/image"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let subscribers = text.split("subscribers:").nth(1)?.to_owned();
        (!subscribers.contains("foxglove_bridge")).then_some(())
    });
    assert!(
        unsubscribed.is_some(),
        "the bridge still subscribes to camera/image after its last client left"
    );
    node.close().await;
    drop(robot.bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foxglove_client_drives_the_rover_and_a_malformed_message_reaches_nobody() {
    let dir = TempDir::new("foxglove-drive");
    let robot = start_robot(&dir);
    let node = Node::init(options(&robot.env, "native_driver_watch"))
        .await
        .expect("node");
    let mut commands = node
        .subscribe_with::<Twist>("cmd_vel", SubscribeOptions::queue(1000))
        .await
        .expect("subscribe");
    let mut speeds = node
        .subscribe_with::<WheelSpeeds>("wheel_speeds", SubscribeOptions::queue(1))
        .await
        .expect("subscribe");
    let bad = r#"{"linear": {"x": "fast", "y": 0, "z": 0}, "angular": {"x": 0, "y": 0, "z": 0}}"#;
    let good = r#"{"linear": {"x": 0.5, "y": 0, "z": 0}, "angular": {"x": 0, "y": 0, "z": 0.25}}"#;
    let mut args = vec!["publish", "cmd_vel", "geometry_msgs/Twist", bad];
    args.extend(std::iter::repeat_n(good, 15));
    args.extend(["--every", "0.1"]);
    let url = robot.url.clone();
    let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
    let lines = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        client(&url, &args)
    })
    .await
    .expect("client");

    let statuses = events(&lines, "status");
    assert!(
        statuses.iter().any(|s| s["level"] == 2
            && s["message"].as_str().is_some_and(|m| m
                .contains("`geometry_msgs/Twist.linear.x` must be a number")
                && m.contains("nothing was published"))),
        "no clear error status for the malformed message: {lines:?}"
    );
    // The malformed message reached nobody: the first command seen is a good one.
    let first = recv_within(&mut commands, SOON)
        .await
        .expect("the client's commands arrive");
    assert_eq!(first.linear.x, 0.5);
    assert_eq!(first.angular.z, 0.25);
    // The driver follows them: both wheels turn forward, the right one faster.
    // At 50 Hz, 500 reports are 10 s.
    let mut moving = None;
    for _ in 0..500 {
        let Some(s) = recv_within(&mut speeds, Duration::from_secs(1)).await else {
            break;
        };
        if s.left > 5.0 && s.right > s.left {
            moving = Some(s);
            break;
        }
    }
    assert!(
        moving.is_some(),
        "the driver never followed the client's Twist"
    );
    node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foxglove_client_calls_a_service_and_sets_a_parameter() {
    let dir = TempDir::new("foxglove-service");
    let robot = start_robot(&dir);
    let _server = robot.env.node("add_server", "add_server", &[]);
    let _talker = robot.env.node("talker", "talker", &["--rate", "20"]);
    let node = Node::init(options(&robot.env, "native_chatter"))
        .await
        .expect("node");
    let mut chatter = node
        .subscribe::<pinion_nodes::Chatter>("chatter")
        .await
        .expect("subscribe");
    recv_within(&mut chatter, SOON)
        .await
        .expect("the talker talks");

    let url = robot.url.clone();
    let lines = tokio::task::spawn_blocking(move || {
        client(&url, &["call", "add_two_ints", r#"{"a": 40, "b": 2}"#])
    })
    .await
    .expect("client");
    let offered = events(&lines, "advertiseService");
    assert!(
        offered.iter().any(|s| s["name"] == "add_two_ints"),
        "{lines:?}"
    );
    let response = events(&lines, "response");
    assert_eq!(response.len(), 1, "{lines:?}");
    assert_eq!(response[0]["response"]["sum"], 42);

    let url = robot.url.clone();
    let lines = tokio::task::spawn_blocking(move || {
        client(&url, &["call", "add_two_ints", r#"{"a": "forty", "b": 2}"#])
    })
    .await
    .expect("client");
    let failure = events(&lines, "failure");
    assert!(
        failure.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.contains(".a` must be a whole number"))),
        "{lines:?}"
    );

    let url = robot.url.clone();
    let lines = tokio::task::spawn_blocking(move || {
        client(&url, &["setparam", "talker/text", r#""from foxglove""#])
    })
    .await
    .expect("client");
    let values = events(&lines, "parameterValues");
    assert!(
        values.iter().any(|v| v["id"] == "get-1"
            && v["parameters"][0]["name"] == "talker/text"
            && v["parameters"][0]["value"] == "from foxglove"),
        "{lines:?}"
    );
    // It takes effect: the talker says so.
    let mut heard = None;
    for _ in 0..200 {
        let Some(m) = recv_within(&mut chatter, SOON).await else {
            break;
        };
        if m.text == "from foxglove" {
            heard = Some(m);
            break;
        }
    }
    assert!(
        heard.is_some(),
        "the talker never used the parameter set from Foxglove"
    );
    node.close().await;
}
