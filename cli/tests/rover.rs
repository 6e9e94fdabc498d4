//! The example rover (`configs/rover.toml`), several Pis in its file, run whole on this
//! host with `--local`: every node comes up and its odometry moves.

mod support;

use pinion::msgs::nav::Odometry;
use pinion::Node;
use std::process::Command;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rover_runs_on_one_host_and_its_odometry_moves() {
    let dir = TempDir::new("rover");
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/rover.toml");
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&file)
        .args(["--local", "--bind", "tcp://127.0.0.1:0"])
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("PINION_FOXGLOVE_PORT", "0")
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    let master = launcher.expect_master_up();
    for node in [
        "motor_driver",
        "wheel_encoders",
        "imu",
        "odometry",
        "wander",
    ] {
        if !launcher
            .seen
            .iter()
            .any(|(_, l)| l.contains(&format!("started node={node} ")))
        {
            launcher.expect_line(node, SOON, |_, l| {
                l.contains(&format!("started node={node} "))
            });
        }
    }

    let env = Env {
        runtime_dir: dir.0.clone(),
        master,
    };
    let node = Node::init(options(&env, "rover_watcher"))
        .await
        .expect("node");
    let mut odom = node.subscribe::<Odometry>("odom").await.expect("subscribe");
    let first = recv_within(&mut odom, SOON)
        .await
        .expect("odometry is published");
    let start = first.pose.position;
    let mut moved = 0.0;
    for _ in 0..2000 {
        let Some(m) = recv_within(&mut odom, SOON).await else {
            break;
        };
        let p = m.pose.position;
        moved = ((p.x - start.x).powi(2) + (p.y - start.y).powi(2)).sqrt();
        if moved > 0.2 {
            assert!(
                m.twist.linear.x > 0.1,
                "it reports forward speed: {:?}",
                m.twist
            );
            break;
        }
    }
    assert!(
        moved > 0.2,
        "the rover moved only {moved:.3} m:\n{}",
        launcher.dump()
    );
    node.close().await;
    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
}
