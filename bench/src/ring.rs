//! The private memory of a graph of many small nodes (`pinion-bench ring N`): N nodes
//! in a ring, node i subscribing to `ring/i` and publishing on `ring/i+1`, a token sent
//! round it until every node has passed it on; then the sum of the nodes' PSS
//! (`/proc/PID/smaps_rollup`: private pages whole, shared ones split among their
//! sharers) and each node's RSS, for nodes as they run by default and as very small
//! nodes. The nodes are this program's `role ring`: a Pinion node on the runtime and
//! allocator `#[pinion::main]` gives one, in a binary larger than most nodes.

use crate::role::{Place, Role};
use pinion::msgs::std_msgs::UInt64;
use pinion::prelude::*;
use std::time::Duration;

/// `role ring I N TAG`: passes on what arrives on `TAG/nI` to `TAG/nI+1`; node 0
/// starts the token and prints `round` each time it comes back.
pub(crate) async fn node(args: &[String]) -> anyhow::Result<()> {
    let [i, n, tag] = args else {
        anyhow::bail!("ring needs I N TAG");
    };
    let (i, n): (usize, usize) = (i.parse()?, n.parse()?);
    // As `#[pinion::main]` does for `PINION_THREADS=1` (this program's runtime has the
    // one thread from `--threads 1`).
    if pinion::runtime::runtime_threads() == 1 {
        pinion::alloc::return_freed_memory_at_once();
    }
    let node = Node::init(pinion::NodeOptions::from_env(&format!("{tag}_{i}"))).await?;
    let mut inbound = node
        .subscribe_with::<UInt64>(&format!("{tag}/n{i}"), SubscribeOptions::queue(1))
        .await?;
    let out = node
        .advertise::<UInt64>(&format!("{tag}/n{}", (i + 1) % n))
        .await?;
    out.wait_for_subscribers(1).await?;
    println!("ready");
    if i == 0 {
        // The ring may not be closed yet: send again until it comes back, then pass
        // it on as the others do.
        loop {
            out.publish(&UInt64 { data: 0 }).await?;
            let back = tokio::time::timeout(Duration::from_secs(1), inbound.recv()).await;
            if let Ok(Some(token)) = back {
                println!("round");
                out.publish(&UInt64 {
                    data: token.data + 1,
                })
                .await?;
                break;
            }
        }
    }
    let mut passed = 0u64;
    while let Some(token) = inbound.recv().await {
        if i == 0 {
            println!("round");
        }
        passed += 1;
        if passed == 2 {
            println!("heap {} kB", crate::allocations::live_bytes() / 1024);
        }
        out.publish(&UInt64 {
            data: token.data + 1,
        })
        .await?;
    }
    Ok(())
}

/// Kilobytes of a `smaps_rollup` or `status` field.
fn field_kb(path: &str, name: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Private dirty kB of process `pid` by mapping (anonymous ones named by size),
/// largest first.
fn private_by_mapping(pid: u32) -> Vec<(String, u64)> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut out: Vec<(String, u64)> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let range = first.split_once('-').and_then(|(a, b)| {
                Some(u64::from_str_radix(b, 16).ok()? - u64::from_str_radix(a, 16).ok()?)
            });
            let perms = words.next().unwrap_or("");
            let name = words.nth(3).map_or_else(
                || format!("[anon {} kB {perms}]", range.unwrap_or(0) / 1024),
                |n| format!("{n} {perms}"),
            );
            out.push((name, 0));
        } else if first == "Private_Dirty:" {
            if let (Some(last), Some(kb)) = (
                out.last_mut(),
                words.next().and_then(|v| v.parse::<u64>().ok()),
            ) {
                last.1 += kb;
            }
        }
    }
    out.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    out
}

/// `pinion-bench ring N [REPEAT]`: the ring as nodes run by default, and as very small
/// nodes (`PINION_THREADS=1`: one runtime thread, freed memory given back at once), in
/// turns.
pub(crate) fn run(n: usize, repeat: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let place = Place::with_local_master(&runtime)?;
    for run in 1..=repeat {
        // Names of their own per ring: the nodes of the one before may not have
        // expired at the master yet.
        let default = ring(&place, n, false, &format!("ring{run}d"))?;
        let small = ring(&place, n, true, &format!("ring{run}s"))?;
        println!(
            "run {run}: PSS sum of {n} ring nodes {:.1} MB by default, {:.1} MB as small nodes ({:.2}x)",
            default,
            small,
            small / default
        );
    }
    Ok(())
}

/// One ring of `n` nodes: its PSS sum in MB, after printing what it measured.
fn ring(place: &Place, n: usize, small: bool, tag: &str) -> anyhow::Result<f64> {
    let threads = if small { "1" } else { "2" };
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("{tag}_{i}");
        let mut env = vec![("PINION_NODE_NAME", name.as_str())];
        if small {
            env.push(("PINION_THREADS", "1"));
        }
        let args = [
            String::from("ring"),
            i.to_string(),
            n.to_string(),
            tag.to_owned(),
            "--threads".to_owned(),
            threads.to_owned(),
        ];
        nodes.push(Role::spawn_with(place, &args, &env)?);
    }
    for role in &mut nodes {
        role.expect("ready", Duration::from_secs(120))?;
    }
    // Three times round: every node has received and sent.
    for _ in 0..3 {
        nodes[0].expect("round", Duration::from_secs(60))?;
    }
    let mut pss = 0;
    let mut rss: Vec<u64> = Vec::with_capacity(n);
    let mut private = 0;
    for role in &nodes {
        let pid = role.pid();
        pss += field_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss:");
        private += field_kb(&format!("/proc/{pid}/smaps_rollup"), "Private_Dirty:");
        rss.push(field_kb(&format!("/proc/{pid}/status"), "VmRSS:"));
    }
    rss.sort_unstable();
    let mb = |kb: u64| kb as f64 / 1024.0;
    let what = if small { "small nodes" } else { "by default" };
    // Where one node's private memory lies, largest first.
    let pid = nodes[n / 2].pid();
    let heap = nodes[n / 2].expect("heap ", Duration::from_secs(10))?;
    println!(
        "{what}: node {tag}_{} private memory by mapping ({heap} in use):",
        n / 2
    );
    for (name, kb) in private_by_mapping(pid).into_iter().take(5) {
        println!("  {kb:>6} kB  {name}");
    }
    println!(
        "{what}: {n} ring nodes, PSS sum {:.1} MB, private dirty sum {:.1} MB; RSS per node min {:.1} / median {:.1} / max {:.1} MB",
        mb(pss),
        mb(private),
        mb(rss[0]),
        mb(rss[n / 2]),
        mb(rss[n - 1])
    );
    Ok(mb(pss))
}
