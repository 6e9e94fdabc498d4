//! Odometry: distance from `wheel_ticks`, heading from the `imu` gyro, published as
//! `nav_msgs/Odometry` on `odom`, as the transform `odom` to `base_link` on `tf`, and
//! logged once a second.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::geometry::{
    Point, Pose, Quaternion, TransformList, TransformStamped, Twist, Vector3,
};
use pinion::msgs::nav::Odometry;
use pinion::msgs::sensor::Imu;
use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;
use pinion_nodes::rover::{WheelTicks, TICKS_PER_TURN, WHEEL_RADIUS};
use std::f64::consts::TAU;

#[derive(Node)]
struct Io {
    #[pinion(subscribe = "wheel_ticks")]
    ticks: Subscriber<WheelTicks>,
    #[pinion(subscribe = "imu")]
    imu: Subscriber<Imu>,
    #[pinion(publish = "odom")]
    odom: Publisher<Odometry>,
    #[pinion(publish = "tf")]
    tf: Publisher<TransformList>,
}

#[pinion::main]
async fn main(node: Node, io: Io) -> pinion::Result<()> {
    let Io {
        mut ticks,
        mut imu,
        odom,
        tf,
    } = io;
    let (mut x, mut y, mut yaw, mut yaw_rate) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    let (mut last_ticks, mut last_imu_ns): (Option<WheelTicks>, Option<u64>) = (None, None);
    let mut report = node.rate(1.0);
    loop {
        tokio::select! {
            Some(m) = imu.recv() => {
                if let Some(prev) = last_imu_ns {
                    yaw += m.angular_velocity.z * (m.header.stamp_ns.saturating_sub(prev) as f64 / 1e9);
                }
                last_imu_ns = Some(m.header.stamp_ns);
                yaw_rate = m.angular_velocity.z;
            }
            Some(t) = ticks.recv() => {
                if let Some(prev) = &last_ticks {
                    let turns = ((t.left - prev.left) + (t.right - prev.right)) as f64 / 2.0 / TICKS_PER_TURN;
                    let dist = turns * TAU * WHEEL_RADIUS;
                    let dt = (t.header.stamp_ns.saturating_sub(prev.header.stamp_ns) as f64 / 1e9).max(1e-6);
                    x += dist * yaw.cos();
                    y += dist * yaw.sin();
                    let msg = Odometry {
                        header: Header { stamp_ns: t.header.stamp_ns, frame_id: "odom".into() },
                        child_frame_id: "base_link".into(),
                        pose: Pose { position: Point { x, y, z: 0.0 }, orientation: Quaternion::from_yaw(yaw) },
                        twist: Twist { linear: Vector3 { x: dist / dt, ..Default::default() }, angular: Vector3 { z: yaw_rate, ..Default::default() } },
                        ..Default::default()
                    };
                    odom.publish(&msg).await?;
                    tf.publish(&TransformList {
                        transforms: vec![TransformStamped {
                            header: msg.header.clone(),
                            child_frame_id: msg.child_frame_id.clone(),
                            translation: Vector3 { x, y, z: 0.0 },
                            rotation: msg.pose.orientation,
                        }],
                    })
                    .await?;
                }
                last_ticks = Some(t);
            }
            tick = report.tick() => match tick {
                Some(_) => tracing::info!(x = format_args!("{x:.2}"), y = format_args!("{y:.2}"), yaw = format_args!("{yaw:.2}"), "pose"),
                None => break,
            },
            else => break,
        }
    }
    Ok(())
}
