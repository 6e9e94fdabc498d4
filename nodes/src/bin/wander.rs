//! Wander planner: drives forward while weaving, on `cmd_vel` at 10 Hz.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::geometry::{Twist, Vector3};
use pinion::prelude::*;

#[derive(Node)]
struct Io {
    #[pinion(publish = "cmd_vel")]
    cmd_vel: Publisher<Twist>,
}

#[pinion::main]
async fn main(node: Node, Io { cmd_vel }: Io) -> pinion::Result<()> {
    let mut rate = node.rate(10.0);
    while let Some(tick) = rate.tick().await {
        let t = tick as f64 / 10.0;
        let twist = Twist {
            linear: Vector3 {
                x: 0.3,
                ..Default::default()
            },
            angular: Vector3 {
                z: 0.6 * (t / 3.0).sin(),
                ..Default::default()
            },
        };
        cmd_vel.publish(&twist).await?;
    }
    Ok(())
}
