//! Simulated camera: a 160x120 `rgb8` image on `camera/image` at 5 Hz whose colours
//! follow the rover's heading (from `odom`), so a viewer sees it turn.
//!
//! Run: `pinion launch configs/rover.toml --local`

use pinion::msgs::nav::Odometry;
use pinion::msgs::sensor::Image;
use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;
use pinion::Blob;

const WIDTH: u32 = 160;
const HEIGHT: u32 = 120;

#[derive(Node)]
struct Io {
    #[pinion(subscribe = "odom", queue = 1)]
    odom: Subscriber<Odometry>,
    #[pinion(publish = "camera/image")]
    image: Publisher<Image>,
}

#[pinion::main]
async fn main(node: Node, io: Io) -> pinion::Result<()> {
    let Io { mut odom, image } = io;
    let mut rate = node.rate(5.0);
    let mut yaw = 0.0_f64;
    while rate.tick().await.is_some() {
        while let Some(m) = odom.try_recv() {
            yaw = m.pose.orientation.yaw();
        }
        let shift = ((yaw / std::f64::consts::TAU).rem_euclid(1.0) * f64::from(WIDTH)) as u32;
        let mut data = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
        for row in 0..HEIGHT {
            for col in 0..WIDTH {
                let u = (col + shift) % WIDTH;
                data.extend_from_slice(&[
                    (u * 255 / WIDTH) as u8,
                    (row * 255 / HEIGHT) as u8,
                    (255 - u * 255 / WIDTH) as u8,
                ]);
            }
        }
        image
            .publish(&Image {
                header: Header::now("camera"),
                height: HEIGHT,
                width: WIDTH,
                encoding: "rgb8".into(),
                is_bigendian: false,
                step: WIDTH * 3,
                data: Blob::from(data),
            })
            .await?;
    }
    Ok(())
}
