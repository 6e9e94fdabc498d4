//! Simulated 2-D lidar: the rover in a square room (`rover::ROOM` metres from the
//! `odom` origin to each wall), one sweep of `rover::SCAN_BEAMS` ranges on `scan` at
//! 10 Hz, from the pose on `odom`. Ranges past the scanner's reach are `range_max`.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::nav::Odometry;
use pinion::msgs::sensor::LaserScan;
use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;
use pinion_nodes::rover::{ROOM, SCAN_BEAMS};
use std::f64::consts::TAU;

const RANGE_MAX: f64 = 12.0;

#[derive(Node)]
struct Io {
    #[pinion(subscribe = "odom", queue = 1)]
    odom: Subscriber<Odometry>,
    #[pinion(publish = "scan")]
    scan: Publisher<LaserScan>,
}

#[pinion::main]
async fn main(node: Node, io: Io) -> pinion::Result<()> {
    let Io { mut odom, scan } = io;
    let mut rate = node.rate(10.0);
    let mut pose = (0.0, 0.0, 0.0);
    while rate.tick().await.is_some() {
        while let Some(m) = odom.try_recv() {
            let p = m.pose;
            pose = (p.position.x, p.position.y, p.orientation.yaw());
        }
        let increment = TAU / SCAN_BEAMS as f64;
        let ranges = (0..SCAN_BEAMS)
            .map(|i| to_wall(pose, pose.2 - TAU / 2.0 + i as f64 * increment) as f32)
            .collect();
        scan.publish(&LaserScan {
            header: Header::now("base_link"),
            angle_min: (-TAU / 2.0) as f32,
            angle_max: (TAU / 2.0 - increment) as f32,
            angle_increment: increment as f32,
            time_increment: 0.0,
            scan_time: 0.1,
            range_min: 0.05,
            range_max: RANGE_MAX as f32,
            ranges,
            intensities: Vec::new(),
        })
        .await?;
    }
    Ok(())
}

/// Distance from `(x, y)` along `angle` (in the `odom` frame) to the room's walls.
fn to_wall((x, y, _): (f64, f64, f64), angle: f64) -> f64 {
    let (dx, dy) = (angle.cos(), angle.sin());
    let along = |from: f64, dir: f64| {
        if dir > 1e-9 {
            (ROOM - from) / dir
        } else if dir < -1e-9 {
            (-ROOM - from) / dir
        } else {
            f64::INFINITY
        }
    };
    along(x, dx).min(along(y, dy)).clamp(0.0, RANGE_MAX)
}
