//! Reliable publishers and subscribers: backpressure instead of loss, a stalled
//! subscriber that costs a reliable publisher one deadline, not one per message, and
//! small messages (batched) and large ones (sent alone) that arrive whole and in order.

mod support;

use pinion::prelude::*;
use pinion_nodes::Chatter;
use std::time::Duration;
use support::*;
use tokio::sync::watch;

/// More than the 20 000 messages a publisher may send one subscriber ahead of its credit.
const BURST: u64 = 30_000;
const WINDOW: u64 = 20_000;

fn chatter(seq: u64) -> Chatter {
    Chatter {
        seq,
        text: "x".into(),
    }
}

/// Publishes `BURST` messages as fast as `publish` lets it, reporting progress.
fn publish_burst(
    publisher: Publisher<Chatter>,
) -> (
    tokio::task::JoinHandle<Publisher<Chatter>>,
    watch::Receiver<u64>,
) {
    let (progress, watcher) = watch::channel(0);
    let task = tokio::spawn(async move {
        for seq in 0..BURST {
            publisher.publish(&chatter(seq)).await.expect("publish");
            progress.send_replace(seq + 1);
        }
        publisher
    });
    (task, watcher)
}

async fn reach(progress: &mut watch::Receiver<u64>, count: u64) -> u64 {
    let reached = tokio::time::timeout(SOON, progress.wait_for(|n| *n >= count))
        .await
        .expect("the publisher stopped short")
        .expect("publisher task gone");
    *reached
}

/// A reliable publisher node and a node with `subscribers` reliable subscriptions of
/// topic `burst`, handshakes done.
struct Setup {
    pub_node: Node,
    sub_node: Node,
    subs: Vec<Subscriber<Chatter>>,
    publisher: Publisher<Chatter>,
    _master: Proc,
    _dir: TempDir,
}

async fn setup(name: &str, hosts: (&str, &str), subscribers: usize, max_block: Duration) -> Setup {
    let dir = TempDir::new(name);
    let (master, env) = start_master(&dir);
    let pub_node = Node::init(options(&env, &format!("{name}_pub")).host(hosts.0))
        .await
        .expect("pub node");
    let sub_node = Node::init(options(&env, &format!("{name}_sub")).host(hosts.1))
        .await
        .expect("sub node");
    let mut subs = Vec::new();
    for _ in 0..subscribers {
        subs.push(
            sub_node
                .subscribe_with::<Chatter>("burst", SubscribeOptions::queue(100).reliable())
                .await
                .expect("subscribe"),
        );
    }
    let publisher = pub_node
        .advertise_with::<Chatter>("burst", AdvertiseOptions::reliable().max_block(max_block))
        .await
        .expect("advertise");
    publisher
        .wait_for_subscribers(subscribers)
        .await
        .expect("subscribers");
    Setup {
        pub_node,
        sub_node,
        subs,
        publisher,
        _master: master,
        _dir: dir,
    }
}

/// Receives until `count` messages or `quiet` without one.
async fn drain_messages(
    sub: &mut Subscriber<Chatter>,
    count: u64,
    quiet: Duration,
) -> Vec<Chatter> {
    let mut got = Vec::new();
    while (got.len() as u64) < count {
        match recv_within(sub, quiet).await {
            Some(m) => got.push(m),
            None => break,
        }
    }
    got
}

/// Receives until `count` messages or `quiet` without one; their sequence numbers.
async fn drain(sub: &mut Subscriber<Chatter>, count: u64, quiet: Duration) -> Vec<u64> {
    let got = drain_messages(sub, count, quiet).await;
    got.into_iter().map(|m| m.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliable_publisher_waits_for_a_subscriber_that_reads_late_and_loses_nothing() {
    // Two host ids: over tcp.
    let Setup {
        pub_node,
        sub_node,
        mut subs,
        publisher,
        _master,
        _dir,
    } = setup("reliable", ("pi-a", "pi-b"), 1, Duration::from_secs(10)).await;
    let mut sub = subs.remove(0);

    let (task, mut progress) = publish_burst(publisher);
    // Nothing is read yet: the publisher gets up to one window ahead (less the handshake's
    // probes), then has to wait. A publisher that does not wait overruns the window, and
    // one that drops instead of waiting leaves gaps below.
    let ahead = reach(&mut progress, WINDOW / 2).await;
    assert!(
        ahead < BURST,
        "the publisher sent all {BURST} to a subscriber that read none"
    );
    let seqs = drain(&mut sub, BURST, Duration::from_secs(1)).await;
    assert_eq!(
        seqs.len() as u64,
        BURST,
        "every message arrives; last {:?}, {:?}, publisher at {}",
        seqs.last(),
        sub.counters(),
        *progress.borrow()
    );
    assert!(seqs.iter().copied().eq(0..BURST), "in order, without gaps");
    assert_eq!(sub.counters().gaps, 0);
    assert_eq!(sub.counters().dropped_queue_full, 0);
    tokio::time::timeout(SOON, task)
        .await
        .expect("publisher done")
        .expect("publisher task");
    pub_node.close().await;
    sub_node.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_is_skipped_once_and_the_healthy_one_gets_everything() {
    // One host id: over ipc. The second subscription is never read: its queue fills and
    // it gives no more credit.
    let Setup {
        pub_node,
        sub_node,
        mut subs,
        publisher,
        _master,
        _dir,
    } = setup("stall", ("pi-a", "pi-a"), 2, Duration::from_secs(1)).await;
    let stalled = subs.remove(1);
    let mut healthy = subs.remove(0);

    let (task, _progress) = publish_burst(publisher);
    // The publisher pauses for one `max_block` (1 s) when the stalled one runs out of
    // room: a quiet time of the same length would race that pause.
    let seqs = drain(&mut healthy, BURST, Duration::from_secs(4)).await;
    assert!(
        seqs.iter().copied().eq(0..BURST),
        "the healthy subscriber gets all {BURST} in order (got {})",
        seqs.len()
    );
    // Waiting a second for the stalled one at every message past its window would take
    // hours: the bound catches a publisher that does.
    tokio::time::timeout(SOON, task)
        .await
        .expect("the publisher finishes despite the stalled subscriber")
        .expect("publisher task");
    let held = stalled.counters().received;
    assert!(
        held <= WINDOW + 1000,
        "the stalled subscriber took {held}: more than its window"
    );
    pub_node.close().await;
    sub_node.close().await;
}

/// The text of message `seq` in the mixed burst: mostly small (batched), some past the
/// batch limit of 8 KiB (sent alone, between batches), some in between.
fn mixed_text(seq: u64) -> String {
    let len = match seq % 10 {
        0 => 20_000,
        5 => 3_000,
        _ => 1 + (seq % 7) as usize,
    };
    let letter = char::from(b'a' + (seq % 26) as u8);
    std::iter::repeat_n(letter, len).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_and_large_messages_interleaved_arrive_whole_and_in_order() {
    const COUNT: u64 = 3_000;
    // One host id, then two: over ipc, then over tcp.
    for (name, hosts) in [
        ("mixed_ipc", ("pi-a", "pi-a")),
        ("mixed_tcp", ("pi-a", "pi-b")),
    ] {
        let mut s = setup(name, hosts, 2, Duration::from_secs(10)).await;
        let publisher = s.publisher;
        let task = tokio::spawn(async move {
            for seq in 0..COUNT {
                let message = Chatter {
                    seq,
                    text: mixed_text(seq),
                };
                publisher.publish(&message).await.expect("publish");
            }
            publisher
        });
        for sub in &mut s.subs {
            let got = drain_messages(sub, COUNT, Duration::from_secs(2)).await;
            assert_eq!(got.len() as u64, COUNT, "{name}: every message arrives");
            for (seq, m) in (0..COUNT).zip(&got) {
                assert_eq!(m.seq, seq, "{name}: in order");
                assert_eq!(m.text, mixed_text(seq), "{name}: message {seq} whole");
            }
            let counters = sub.counters();
            assert_eq!(
                (counters.gaps, counters.malformed),
                (0, 0),
                "{name}: {counters:?}"
            );
        }
        tokio::time::timeout(SOON, task)
            .await
            .expect("publisher done")
            .expect("publisher task");
        s.pub_node.close().await;
        s.sub_node.close().await;
    }
}
