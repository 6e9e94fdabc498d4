//! A best-effort subscriber's queue depth holds in a burst: each publisher keeps what a
//! connection cannot carry yet, up to the subscriber's queue and byte cap, and counts
//! what it drops, so that its count is what the subscriber missed.

mod support;

use pinion::msgs::sensor::Image;
use pinion::prelude::*;
use std::time::{Duration, Instant};
use support::*;

const BURST: u64 = 1000;
const SIZE: usize = 1 << 20;
/// A connection's window: what a publisher sends ahead of the subscriber's credit.
const WINDOW: usize = 16 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_large_messages_is_kept_up_to_the_default_cap_and_every_drop_is_counted() {
    burst(SubscribeOptions::queue(BURST as usize), "queuedepth").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_larger_cap_keeps_more_of_the_burst() {
    let options = SubscribeOptions::queue(BURST as usize).keep_bytes(200 << 20);
    let received = burst(options, "queuedeep").await;
    assert!(received >= 200, "{received} received");
}

/// Publishes the burst to a subscriber with `options`; what it received.
async fn burst(wanted: SubscribeOptions, tag: &str) -> u64 {
    let dir = TempDir::new(tag);
    let (_master, env) = start_master(&dir);
    let pub_node = Node::init(options(&env, "burst_pub"))
        .await
        .expect("pub node");
    let sub_node = Node::init(options(&env, "burst_sub"))
        .await
        .expect("sub node");
    let keep = wanted.keep_bytes;
    let mut sub = sub_node
        .subscribe_with::<Image>("camera", wanted)
        .await
        .expect("subscribe");
    let publisher = pub_node
        .advertise::<Image>("camera")
        .await
        .expect("advertise");
    tokio::time::timeout(SOON, publisher.wait_for_subscribers(1))
        .await
        .expect("the subscriber connects")
        .expect("node runs");

    // One frame, shared by every message: the burst costs no copies here.
    let image = Image {
        width: 512,
        height: 512,
        encoding: "mono32".to_owned(),
        step: 2048,
        data: vec![7u8; SIZE].into(),
        ..Default::default()
    };
    for _ in 0..BURST {
        publisher.publish(&image).await.expect("publish");
    }

    // Every message either arrives or is counted as dropped by the publisher.
    let mut received = 0u64;
    let deadline = Instant::now() + SOON;
    while received + publisher.dropped() < BURST {
        assert!(
            Instant::now() < deadline,
            "{received} received, {} dropped of {BURST}",
            publisher.dropped()
        );
        if let Ok(Some(got)) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await {
            assert_eq!(got.data.len(), SIZE);
            received += 1;
        }
    }
    let dropped = publisher.dropped();
    assert_eq!(received + dropped, BURST, "nothing lost uncounted");
    let counters = sub.counters();
    assert_eq!(counters.dropped_queue_full, 0, "the queue of {BURST} held");
    assert_eq!(
        counters.gaps, dropped,
        "the subscriber missed exactly what the publisher dropped"
    );
    // The window and the cap each hold this many whole messages, however fast the
    // burst came.
    let per = |bytes: usize| (bytes / (SIZE + 64)) as u64;
    assert!(
        received >= per(WINDOW) + per(keep),
        "{received} received: the 16 MiB window and the {keep}-byte cap imply {}",
        per(WINDOW) + per(keep)
    );
    eprintln!("burst of {BURST} x 1 MiB: {received} received, {dropped} dropped and counted");
    // The count is there for tools too.
    let info = env
        .command("pinion")
        .args(["topic", "info", "camera"])
        .output()
        .expect("topic info runs");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.contains(&format!("burst_pub (dropped {dropped})")),
        "{info}"
    );
    pub_node.close().await;
    sub_node.close().await;
    received
}
