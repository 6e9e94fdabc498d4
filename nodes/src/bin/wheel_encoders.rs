//! Simulated wheel encoders: integrates `wheel_speeds` into cumulative ticks on
//! `wheel_ticks`.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;
use pinion_nodes::rover::{WheelSpeeds, WheelTicks, TICKS_PER_TURN};
use std::f64::consts::TAU;

#[derive(Node)]
struct Io {
    #[pinion(subscribe = "wheel_speeds")]
    speeds: Subscriber<WheelSpeeds>,
    #[pinion(publish = "wheel_ticks")]
    ticks: Publisher<WheelTicks>,
}

#[pinion::main]
async fn main(_node: Node, io: Io) -> pinion::Result<()> {
    let Io { mut speeds, ticks } = io;
    let (mut left, mut right) = (0.0_f64, 0.0_f64);
    let mut last_stamp: Option<u64> = None;
    while let Some(s) = speeds.recv().await {
        if let Some(prev) = last_stamp {
            let dt = s.header.stamp_ns.saturating_sub(prev) as f64 / 1e9;
            left += s.left * dt * TICKS_PER_TURN / TAU;
            right += s.right * dt * TICKS_PER_TURN / TAU;
        }
        last_stamp = Some(s.header.stamp_ns);
        let header = Header {
            stamp_ns: s.header.stamp_ns,
            frame_id: "base_link".into(),
        };
        ticks
            .publish(&WheelTicks {
                header,
                left: left as i64,
                right: right as i64,
            })
            .await?;
    }
    Ok(())
}
