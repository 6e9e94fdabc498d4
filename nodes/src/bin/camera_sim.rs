//! Simulated camera: an `rgb8` image (160x120 at 5 Hz unless told otherwise) on
//! `camera/image` whose colours follow the rover's heading (from `odom`), so a viewer
//! sees it turn.
//!
//! Run: `pinion launch configs/rover.toml --local`

use clap::Parser;
use pinion::msgs::nav::Odometry;
use pinion::msgs::sensor::Image;
use pinion::msgs::std_msgs::Header;
use pinion::prelude::*;

#[derive(Debug, Parser)]
struct Args {
    /// Columns.
    #[arg(long, default_value_t = 160)]
    width: u32,
    /// Rows.
    #[arg(long, default_value_t = 120)]
    height: u32,
    /// Images per second.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
}

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
    let args = Args::parse();
    let (width, height) = (args.width.clamp(1, 8192), args.height.clamp(1, 8192));
    let mut rate = node.rate(args.rate);
    let mut yaw = 0.0_f64;
    while rate.tick().await.is_some() {
        while let Some(m) = odom.try_recv() {
            yaw = m.pose.orientation.yaw();
        }
        let shift = ((yaw / std::f64::consts::TAU).rem_euclid(1.0) * f64::from(width)) as u32;
        // Written straight into the node's shared memory: subscribers on this Pi read
        // the frame where it was drawn.
        let w = width as usize;
        let data = node.loan_blob(w * height as usize * 3, |buf| {
            for (i, px) in buf.chunks_exact_mut(3).enumerate() {
                let (row, col) = ((i / w) as u32, (i % w) as u32);
                let u = (col + shift) % width;
                px.copy_from_slice(&[
                    (u * 255 / width) as u8,
                    (row * 255 / height) as u8,
                    (255 - u * 255 / width) as u8,
                ]);
            }
        });
        image
            .publish(&Image {
                header: Header::now("camera"),
                height,
                width,
                encoding: "rgb8".into(),
                is_bigendian: false,
                step: width * 3,
                data,
            })
            .await?;
    }
    Ok(())
}
