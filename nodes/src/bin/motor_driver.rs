//! Simulated motor driver: follows `cmd_vel` with a first-order lag and reports the
//! wheel speeds on `wheel_speeds` at 50 Hz. Without a command for 0.5 s it stops, as a
//! real driver's watchdog would.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::geometry::Twist;
use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;
use pinion_nodes::rover::{WheelSpeeds, TRACK, WHEEL_RADIUS};
use std::time::{Duration, Instant};

const HZ: f64 = 50.0;
const WATCHDOG: Duration = Duration::from_millis(500);
const LAG: f64 = 0.2;

#[derive(Node)]
struct Io {
    #[pinion(subscribe = "cmd_vel", queue = 1)]
    cmd_vel: Subscriber<Twist>,
    #[pinion(publish = "wheel_speeds")]
    speeds: Publisher<WheelSpeeds>,
}

#[pinion::main]
async fn main(node: Node, io: Io) -> pinion::Result<()> {
    let Io {
        mut cmd_vel,
        speeds,
    } = io;
    let mut rate = node.rate(HZ);
    let (mut target, mut last_cmd) = (Twist::default(), None::<Instant>);
    let (mut left, mut right) = (0.0, 0.0);
    while rate.tick().await.is_some() {
        while let Some(cmd) = cmd_vel.try_recv() {
            target = cmd;
            last_cmd = Some(Instant::now());
        }
        if last_cmd.is_none_or(|t| t.elapsed() > WATCHDOG) {
            target = Twist::default();
        }
        let (v, w) = (target.linear.x, target.angular.z);
        let want_left = (v - w * TRACK / 2.0) / WHEEL_RADIUS;
        let want_right = (v + w * TRACK / 2.0) / WHEEL_RADIUS;
        left += LAG * (want_left - left);
        right += LAG * (want_right - right);
        speeds
            .publish(&WheelSpeeds {
                header: Header::now("base_link"),
                left,
                right,
            })
            .await?;
    }
    Ok(())
}
