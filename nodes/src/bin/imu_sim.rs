//! Simulated IMU: the yaw rate the wheel speeds imply, with a little noise, as
//! `sensor_msgs/Imu` on `imu`.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::geometry::Vector3;
use pinion::msgs::sensor::Imu;
use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;
use pinion_nodes::rover::{WheelSpeeds, TRACK, WHEEL_RADIUS};

/// Gyro noise amplitude, rad/s.
const NOISE: f64 = 0.002;

#[derive(Node)]
struct Io {
    #[pinion(subscribe = "wheel_speeds")]
    speeds: Subscriber<WheelSpeeds>,
    #[pinion(publish = "imu")]
    imu: Publisher<Imu>,
}

#[pinion::main]
async fn main(_node: Node, io: Io) -> pinion::Result<()> {
    let Io { mut speeds, imu } = io;
    let mut noise_state: u64 = 0x2545_f491_4f6c_dd1d;
    while let Some(s) = speeds.recv().await {
        noise_state ^= noise_state << 13;
        noise_state ^= noise_state >> 7;
        noise_state ^= noise_state << 17;
        let noise = (noise_state % 2001) as f64 / 1000.0 - 1.0;
        let yaw_rate = WHEEL_RADIUS * (s.right - s.left) / TRACK + NOISE * noise;
        let mut msg = Imu {
            header: Header {
                stamp_ns: s.header.stamp_ns,
                frame_id: "imu_link".into(),
            },
            angular_velocity: Vector3 {
                z: yaw_rate,
                ..Default::default()
            },
            linear_acceleration: Vector3 {
                z: 9.81,
                ..Default::default()
            },
            ..Default::default()
        };
        msg.orientation_covariance[0] = -1.0; // no orientation estimate
        imu.publish(&msg).await?;
    }
    Ok(())
}
