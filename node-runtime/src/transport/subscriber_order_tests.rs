//! One connection's messages arrive in the order they were sent, whichever way each
//! took: small ones through the socket, large ones through the lane, and large ones
//! through the socket (as envelopes) when the lane had no room.

use super::DataSubscriber;
use crate::transport::DataPublisher;
use bytes::Bytes;
use std::time::Duration;

const PROBE: u32 = u32::MAX;
/// Past a pooled frame's threshold, in a 128 KiB slot.
const LARGE: usize = 96 << 10;

fn message(n: u32) -> Vec<Bytes> {
    let mut topic = b"mix\0".to_vec();
    topic.extend_from_slice(&n.to_le_bytes());
    let len = if n % 3 == 0 { 100 } else { LARGE };
    vec![topic.into(), Bytes::from(vec![n as u8; len])]
}

fn number(frames: &[Bytes]) -> u32 {
    let topic = &frames[0];
    assert_eq!(&topic[..4], b"mix\0");
    let n = u32::from_le_bytes(topic[4..8].try_into().expect("number"));
    if n != PROBE {
        assert_eq!(frames[1].len(), message(n)[1].len(), "message {n} whole");
        assert!(
            frames[1].iter().all(|&b| b == n as u8),
            "message {n} intact"
        );
    }
    n
}

/// Takes messages until `count` numbered ones came (probes skipped), checking they are
/// `from`, `from + 1`, ...; returns how many of them came through the socket.
async fn expect_in_order(sub: &mut DataSubscriber, from: u32, count: u32) -> u64 {
    let before = sub.connections[0].received;
    let mut next = from;
    while next < from + count {
        let frames = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .unwrap_or_else(|_| panic!("message {next} within 10 s"));
        match number(&frames) {
            PROBE => {}
            n => {
                assert_eq!(n, next, "in order");
                next += 1;
            }
        }
    }
    sub.connections[0].received - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_in_order_whether_through_the_lane_or_the_socket() {
    let path = std::env::temp_dir().join(format!("pinion-lane-order-{}", std::process::id()));
    let mut publisher = DataPublisher::new(None);
    let endpoint = publisher
        .bind(&format!("ipc://{}", path.display()))
        .await
        .expect("bind");
    publisher.start();
    let mut sub = DataSubscriber::new("mix\0", Duration::from_secs(5), None)
        .await
        .expect("subscriber");
    sub.connect(&endpoint).await.expect("connect");

    // Until a large probe comes through the lane: the publisher then knows the
    // subscriber and has opened its lane. Probes sent before it knew are lost.
    let mut probe = message(1);
    probe[0] = Bytes::from([&b"mix\0"[..], &PROBE.to_le_bytes()].concat());
    let mut through_lane = false;
    for _ in 0..100 {
        publisher.send(probe.clone()).await.expect("probe");
        let before = sub.connections[0].received;
        if tokio::time::timeout(Duration::from_millis(100), sub.recv())
            .await
            .is_ok()
            && sub.connections[0].received == before
        {
            through_lane = true;
            break;
        }
    }
    assert!(through_lane, "a large message came through the lane");
    assert!(sub.connections[0].lane.is_some());

    // A pipe of one page holds about 50 records: of 100 large messages sent while the
    // subscriber does not read, the rest go through the socket.
    sub.connections[0]
        .lane
        .as_ref()
        .expect("lane")
        .set_capacity(4096);
    for n in 0..150 {
        publisher.send(message(n)).await.expect("send");
    }
    let socket = expect_in_order(&mut sub, 0, 150).await;
    assert!(
        socket > 50 && socket < 150,
        "{socket} of 150 through the socket: the 50 small ones, and large ones that found the lane full"
    );

    // Sent and taken at once, the publisher waiting for credit.
    let sender = tokio::spawn(async move {
        let gate = publisher.credit_gate();
        for n in 150..1000 {
            gate.wait(b"mix\0", Duration::from_secs(5)).await;
            publisher.send(message(n)).await.expect("send");
        }
        publisher
    });
    let socket = expect_in_order(&mut sub, 150, 850).await;
    assert!(socket < 850, "some through the lane ({socket} of 850 not)");
    drop(sender.await.expect("sender"));
    let _ = std::fs::remove_file(&path);
}
