//! Stalled subscriber: a publisher sends `MB_PER_S` in messages of `SIZE` bytes to two
//! subscriber processes for `SECONDS`; right after both are connected one of them
//! stalls: stopped with SIGSTOP (over ipc; over tcp), or cut off by taking down the link
//! of the network namespace it runs in (over tcp; needs root). It comes back for the
//! last 3 s. Printed: the publisher's resident memory every second and its growth,
//! beside the same run with no subscriber stalled (the baseline); whether the healthy
//! subscriber received every message; and whether the stalled one received again.

use crate::netns;
use crate::role::{Place, Role};
use crate::util::rss_bytes;
use pinion::prelude::*;
use std::time::{Duration, Instant};

const TOPIC: &str = "stall_data";

#[derive(Message, Serialize, Deserialize)]
struct Blob {
    seq: u64,
    data: Vec<u8>,
}

/// How one subscriber stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    None,
    Stopped,
    CutOff,
}

/// Runs the benchmark.
pub fn run(seconds: f64, mb_per_s: f64, size: usize, check: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let endpoint = runtime.block_on(crate::util::serve_master("tcp://127.0.0.1:0"))?;

    println!(
        "stall: publisher at {mb_per_s} MB/s in {size}-byte messages for {seconds} s, two subscribers"
    );
    let local = |host: &str| Place {
        master: endpoint.clone(),
        host: host.to_owned(),
        ip: None,
        namespace: None,
    };
    let mut runs = vec![
        ("ipc", Stall::None, local("bench"), local("bench")),
        ("ipc", Stall::Stopped, local("bench"), local("bench")),
        ("tcp", Stall::None, local("bench"), local("bench-other")),
        ("tcp", Stall::Stopped, local("bench"), local("bench-other")),
    ];
    let link = match netns::Link::new() {
        Ok(link) => {
            let far_endpoint = runtime.block_on(crate::util::serve_master(&format!(
                "tcp://{}:0",
                netns::HOST_ADDR
            )))?;
            let near = Place {
                master: far_endpoint.clone(),
                host: "bench".to_owned(),
                ip: Some(netns::HOST_ADDR.to_owned()),
                namespace: None,
            };
            let remote = Place {
                master: far_endpoint,
                host: "bench-far".to_owned(),
                ip: Some(netns::NS_ADDR.to_owned()),
                namespace: Some(link.namespace.clone()),
            };
            runs.push(("tcp", Stall::CutOff, near, remote));
            Some(link)
        }
        Err(e) => {
            println!("  (tcp with a cut link skipped: {e})");
            None
        }
    };
    let mut json = Vec::new();
    let mut failures = Vec::new();
    for (transport, stall, publisher, victim) in runs {
        let r = one_run(
            &publisher,
            &victim,
            stall,
            link.as_ref(),
            seconds,
            mb_per_s,
            size,
        )?;
        let label = match stall {
            Stall::None => "baseline",
            Stall::Stopped => "one stopped",
            Stall::CutOff => "one cut off",
        };
        println!(
            "  {transport} {label:<12} rss start {:>6.1} MB  max {:>6.1} MB  growth {:>6.1} MB  healthy got {}/{} (gaps {})  stalled one got {} more after it came back",
            mb(r.start),
            mb(r.max),
            mb(r.max.saturating_sub(r.start)),
            r.healthy_received,
            r.sent,
            r.healthy_gaps,
            r.resumed
        );
        println!(
            "    rss per second (MB): {}",
            r.series
                .iter()
                .map(|b| format!("{:.0}", mb(*b)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let growth = mb(r.max.saturating_sub(r.start));
        if growth >= LIMIT_MB {
            failures.push(format!("{transport} {label}: grew {growth:.1} MB"));
        }
        if r.healthy_received < r.sent || r.healthy_gaps > 0 {
            failures.push(format!(
                "{transport} {label}: the healthy subscriber lost messages"
            ));
        }
        if r.resumed == 0 {
            failures.push(format!(
                "{transport} {label}: the stalled subscriber never received again"
            ));
        }
        json.push(format!(
            "{{\"transport\":\"{transport}\",\"stall\":\"{label}\",\"rss_start_mb\":{:.1},\"rss_max_mb\":{:.1},\"growth_mb\":{:.1},\"sent\":{},\"healthy_received\":{},\"healthy_gaps\":{},\"resumed\":{}}}",
            mb(r.start), mb(r.max), mb(r.max.saturating_sub(r.start)), r.sent, r.healthy_received, r.healthy_gaps, r.resumed
        ));
    }
    drop(link);
    if check {
        anyhow::ensure!(
            failures.is_empty(),
            "stall check failed: {}",
            failures.join("; ")
        );
        println!("stall check passed: growth under {LIMIT_MB} MB, nothing lost by the healthy subscriber");
    }
    println!("{{\"bench\":\"stall\",\"seconds\":{seconds},\"mb_per_s\":{mb_per_s},\"size\":{size},\"runs\":[{}]}}", json.join(","));
    Ok(())
}

struct Outcome {
    resumed: u64,
    start: u64,
    max: u64,
    series: Vec<u64>,
    sent: u64,
    healthy_received: u64,
    healthy_gaps: u64,
}

/// The most a stalled subscriber may grow its publisher by (issue acceptance).
const LIMIT_MB: f64 = 64.0;

/// How long the stalled subscriber is back before the publisher stops.
const BACK_FOR: f64 = 3.0;

fn one_run(
    publisher_at: &Place,
    victim_at: &Place,
    stall: Stall,
    link: Option<&netns::Link>,
    seconds: f64,
    mb_per_s: f64,
    size: usize,
) -> anyhow::Result<Outcome> {
    // A node retries its master with a back-off of up to 5 s; a freshly made link, or a
    // loaded machine, can cost it a few of those.
    let ready = Duration::from_secs(if victim_at.namespace.is_some() {
        40
    } else {
        15
    });
    if let (Stall::CutOff, Some(link)) = (stall, link) {
        link.wait_reachable()?;
    }
    let mut healthy = Role::spawn(publisher_at, &["sub".into(), "healthy".into()])?;
    let mut victim = Role::spawn(victim_at, &["sub".into(), "victim".into()])?;
    healthy.expect("ready", ready)?;
    victim.expect("ready", ready)?;
    let mut publisher = Role::spawn(
        publisher_at,
        &[
            "pub".into(),
            (seconds + BACK_FOR).to_string(),
            mb_per_s.to_string(),
            size.to_string(),
        ],
    )?;
    publisher.expect("ready", ready)?;
    let pid = publisher.pid();
    let start = rss_bytes(pid).unwrap_or(0);
    set_stalled(stall, link, &victim, true)?;
    let mut series = Vec::new();
    let began = Instant::now();
    let mut back_at = None;
    let mut sent_line = None;
    while sent_line.is_none()
        && began.elapsed() < Duration::from_secs_f64(seconds + BACK_FOR + 15.0)
    {
        if back_at.is_none() && began.elapsed() >= Duration::from_secs_f64(seconds) {
            set_stalled(stall, link, &victim, false)?;
            back_at = Some(number_after(victim.latest(), "received "));
        }
        match publisher.expect("sent", Duration::from_secs(1)) {
            Ok(line) => sent_line = Some(line),
            Err(_) => series.push(rss_bytes(pid).unwrap_or(0)),
        }
    }
    set_stalled(stall, link, &victim, false)?;
    let sent_line = sent_line.ok_or_else(|| anyhow::anyhow!("the publisher never finished"))?;
    let sent: u64 = number_after(&sent_line, "sent ");
    // The healthy subscriber prints its counters every 100 ms; wait for the last ones.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut received, mut gaps) = (0, 0);
    while Instant::now() < deadline {
        let line = healthy.expect("received", Duration::from_secs(1))?;
        received = number_after(&line, "received ");
        gaps = number_after(&line, "gaps ");
        if received >= sent {
            break;
        }
    }
    let resumed = number_after(victim.latest(), "received ").saturating_sub(back_at.unwrap_or(0));
    Ok(Outcome {
        resumed,
        max: series.iter().copied().max().unwrap_or(start).max(start),
        start,
        series,
        sent,
        healthy_received: received,
        healthy_gaps: gaps,
    })
}

/// Stalls the victim (`on`) or lets it go again.
fn set_stalled(
    stall: Stall,
    link: Option<&netns::Link>,
    victim: &Role,
    on: bool,
) -> anyhow::Result<()> {
    match (stall, link) {
        (Stall::Stopped, _) => victim.signal(if on {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        }),
        (Stall::CutOff, Some(link)) => link.set_up(!on)?,
        _ => {}
    }
    Ok(())
}

fn number_after(line: &str, key: &str) -> u64 {
    line.split(key)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The child processes: `role pub SECONDS MB_PER_S SIZE` and `role sub NAME`.
pub async fn role(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("pub") => {
            let arg = |i: usize| -> anyhow::Result<f64> {
                Ok(args
                    .get(i)
                    .ok_or_else(|| anyhow::anyhow!("missing argument"))?
                    .parse()?)
            };
            publish(arg(1)?, arg(2)?, arg(3)? as usize).await
        }
        Some("sub") => subscribe(args.get(1).map_or("sub", String::as_str)).await,
        Some("bare-idle") => bare_idle().await,
        _ => anyhow::bail!("unknown role"),
    }
}

async fn publish(seconds: f64, mb_per_s: f64, size: usize) -> anyhow::Result<()> {
    let node = Node::init(pinion::NodeOptions::from_env("stall_pub")).await?;
    let publisher = node.advertise::<Blob>(TOPIC).await?;
    tokio::time::timeout(Duration::from_secs(10), publisher.wait_for_subscribers(2)).await??;
    println!("ready");
    let period = Duration::from_secs_f64(size as f64 / (mb_per_s * 1e6));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let began = Instant::now();
    let mut seq = 0;
    let data = vec![7u8; size];
    while began.elapsed() < Duration::from_secs_f64(seconds) {
        tick.tick().await;
        publisher
            .publish(&Blob {
                seq,
                data: data.clone(),
            })
            .await?;
        seq += 1;
    }
    println!("sent {seq}");
    node.close().await;
    Ok(())
}

async fn subscribe(name: &str) -> anyhow::Result<()> {
    let node = Node::init(pinion::NodeOptions::from_env(&format!("stall_{name}"))).await?;
    let mut sub = node
        .subscribe_with::<Blob>(TOPIC, SubscribeOptions::queue(10_000))
        .await?;
    println!("ready");
    let mut report = tokio::time::interval(Duration::from_millis(100));
    let mut received = 0u64;
    loop {
        tokio::select! {
            m = sub.recv() => match m {
                Some(_) => received += 1,
                None => break,
            },
            _ = report.tick() => {
                let c = sub.counters();
                println!("received {received} gaps {} dropped {}", c.gaps, c.dropped_queue_full);
            }
        }
    }
    Ok(())
}

/// A process of the bare `zeromq` crate with one PUB and one SUB socket, idle.
async fn bare_idle() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("pinion-bare-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (_publisher, endpoint) =
        crate::baseline::BarePub::bind(&format!("ipc://{}/pub.sock", dir.display())).await?;
    let _subscriber = crate::baseline::BareSub::connect(&endpoint, "x").await?;
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}
