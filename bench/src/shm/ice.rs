//! The same round trips with iceoryx2 (the baseline of shared-memory transports): a
//! pinger (`role ice-ping SIZE ROUNDS MODE`) and an echo (`role ice-echo SIZE MODE`),
//! woken by iceoryx2 events as Pinion's nodes are woken by their sockets (not
//! spinning). Mode `whole` copies a whole frame into each sample; mode `ready` writes
//! only the sample's first 8 bytes, the nearest iceoryx2 has to sending a frame that is
//! ready (a sample cannot be sent twice).

// `ready` declares a sample written of which it wrote 8 bytes: the rest of the shared
// memory holds bytes of earlier samples, and nobody reads past the first 8.
#![allow(unsafe_code)]

use iceoryx2::prelude::*;
use std::time::{Duration, Instant};

type Pub = iceoryx2::port::publisher::Publisher<ipc::Service, [u8], ()>;
type Sub = iceoryx2::port::subscriber::Subscriber<ipc::Service, [u8], ()>;
type Notifier = iceoryx2::port::notifier::Notifier<ipc::Service>;
type Listener = iceoryx2::port::listener::Listener<ipc::Service>;

/// A publisher, a subscriber and their events, under `prefix`.
struct Ends {
    publisher: Pub,
    subscriber: Sub,
    notifier: Notifier,
    listener: Listener,
    _node: iceoryx2::node::Node<ipc::Service>,
}

fn ends(out: &str, inbound: &str, size: usize) -> anyhow::Result<Ends> {
    let err = |e: &dyn std::fmt::Debug| anyhow::anyhow!("iceoryx2: {e:?}");
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .map_err(|e| err(&e))?;
    let service = |name: &str| -> anyhow::Result<_> {
        node.service_builder(&name.try_into().map_err(|e| err(&e))?)
            .publish_subscribe::<[u8]>()
            .open_or_create()
            .map_err(|e| err(&e))
    };
    let event = |name: &str| -> anyhow::Result<_> {
        node.service_builder(&name.try_into().map_err(|e| err(&e))?)
            .event()
            .open_or_create()
            .map_err(|e| err(&e))
    };
    let publisher = service(out)?
        .publisher_builder()
        .initial_max_slice_len(size)
        .create()
        .map_err(|e| err(&e))?;
    let subscriber = service(inbound)?
        .subscriber_builder()
        .create()
        .map_err(|e| err(&e))?;
    let notifier = event(&format!("{out}-event"))?
        .notifier_builder()
        .create()
        .map_err(|e| err(&e))?;
    let listener = event(&format!("{inbound}-event"))?
        .listener_builder()
        .create()
        .map_err(|e| err(&e))?;
    Ok(Ends {
        publisher,
        subscriber,
        notifier,
        listener,
        _node: node,
    })
}

impl Ends {
    /// Sends a sample of `frame`'s size with `n` in its first 8 bytes: a copy of
    /// `frame` if `whole`, else only those 8 bytes written.
    fn send(&self, frame: &mut [u8], n: u64, whole: bool) -> anyhow::Result<()> {
        let err = |e: &dyn std::fmt::Debug| anyhow::anyhow!("iceoryx2: {e:?}");
        let mut sample = self
            .publisher
            .loan_slice_uninit(frame.len())
            .map_err(|e| err(&e))?;
        let number = n.to_le_bytes();
        let sample = if whole {
            frame[..8].copy_from_slice(&number);
            sample.write_from_slice(frame)
        } else {
            for (slot, byte) in sample.payload_mut().iter_mut().zip(number) {
                slot.write(byte);
            }
            // SAFETY: see the top of this file: only the first 8 bytes are ever read,
            // and they are written.
            unsafe { sample.assume_init() }
        };
        sample.send().map_err(|e| err(&e))?;
        self.notifier.notify().map_err(|e| err(&e))?;
        Ok(())
    }

    /// The number in the next sample, waiting up to `timeout` for it.
    fn receive(&self, timeout: Duration) -> anyhow::Result<Option<u64>> {
        let err = |e: &dyn std::fmt::Debug| anyhow::anyhow!("iceoryx2: {e:?}");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(sample) = self.subscriber.receive().map_err(|e| err(&e))? {
                let mut n = [0u8; 8];
                n.copy_from_slice(&sample.payload()[..8]);
                return Ok(Some(u64::from_le_bytes(n)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.listener
                .timed_wait(|_| {}, left)
                .map_err(|e| err(&e))?;
        }
    }
}

fn whole(mode: &str) -> anyhow::Result<bool> {
    match mode {
        "whole" => Ok(true),
        "ready" => Ok(false),
        other => anyhow::bail!("mode {other}: expected whole or ready"),
    }
}

/// `role ice-echo SIZE MODE`.
pub(crate) fn echo(args: &[String]) -> anyhow::Result<()> {
    let [size, mode] = args else {
        anyhow::bail!("ice-echo needs SIZE MODE");
    };
    let (size, whole): (usize, bool) = (size.parse()?, whole(mode)?);
    let ends = ends("pinion-bench/pong", "pinion-bench/ping", size)?;
    println!("ready");
    let mut frame = vec![0x5a; size];
    loop {
        if let Some(n) = ends.receive(Duration::from_secs(60))? {
            ends.send(&mut frame, n, whole)?;
        }
    }
}

/// `role ice-ping SIZE ROUNDS MODE`: prints `rtt p50 p99` in microseconds.
pub(crate) fn ping(args: &[String]) -> anyhow::Result<()> {
    let [size, rounds, mode] = args else {
        anyhow::bail!("ice-ping needs SIZE ROUNDS MODE");
    };
    let (size, rounds, whole): (usize, usize, bool) =
        (size.parse()?, rounds.parse()?, whole(mode)?);
    let ends = ends("pinion-bench/ping", "pinion-bench/pong", size)?;
    let warmup = 20u64;
    let mut times = Vec::with_capacity(rounds);
    let mut frame = vec![0x5a; size];
    for n in 0..warmup + rounds as u64 {
        let start = Instant::now();
        ends.send(&mut frame, n, whole)?;
        let wait = Duration::from_millis(if n < warmup { 500 } else { 5000 });
        loop {
            match ends.receive(wait)? {
                Some(got) if got == n => break,
                Some(_) => {}
                None if n < warmup => break,
                None => anyhow::bail!("no pong {n}"),
            }
        }
        if n >= warmup {
            times.push(start.elapsed());
        }
    }
    let (p50, p99) = super::rtt::percentiles(&mut times);
    println!("rtt {p50:.1} {p99:.1}");
    Ok(())
}
