//! `pinion logs [NODE] [-f]`: the log records of every node, from every host.
//!
//! Each node keeps its newest records (asked for on its control socket) and publishes
//! new ones on the log topic. Following prints the topic's records as they come, fills
//! any gap (a record number skipped) from the node itself, and asks every node once a
//! second for what the topic may have missed (a node that just started, a connection
//! still being made).

use super::control::{ask_node, find};
use super::graph::nodes;
use pinion::msgs::log::{Level, Log, LOG_TOPIC};
use pinion::protocol::control::calls;
use pinion::protocol::master_to_node::NodeInfo;
use pinion::{Node, SubscribeOptions};
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// How long a node gets to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a follower asks every node for records it may have missed.
const CATCH_UP_EVERY: Duration = Duration::from_secs(1);

/// `pinion logs`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this node's records.
    node: Option<String>,
    /// Keep printing new records until Ctrl-C.
    #[arg(short, long)]
    follow: bool,
    /// How many of the newest records to print first.
    #[arg(short = 'n', long, default_value_t = 50)]
    lines: usize,
    /// Only records at this level or above (trace, debug, info, warn, error).
    #[arg(long, default_value = "trace")]
    level: Level,
    /// One JSON object per line, for programs.
    #[arg(long)]
    json: bool,
    /// Stop after printing this many records.
    #[arg(long)]
    count: Option<u64>,
}

/// Runs `pinion logs`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let all = runtime.block_on(nodes())?;
    if let Some(name) = &args.node {
        if let Err(e) = find(&all, name) {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    }
    if args.follow {
        drop(runtime);
        super::topic::with_node(|node| follow(node, args))
    } else {
        runtime.block_on(history(args, all))
    }
}

async fn history(args: Args, all: Vec<NodeInfo>) -> anyhow::Result<ExitCode> {
    let mut printer = Printer::new(&args);
    let mut records = Vec::new();
    for (_, got) in ask_all(selected(&all, &args), |_| 0, args.lines).await {
        records.extend(got);
    }
    records.sort_by_key(|r| (r.stamp_ns, r.seq));
    let skip = records.len().saturating_sub(args.lines);
    for r in &records[skip..] {
        if !printer.print(r)? {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn follow(node: Node, args: Args) -> anyhow::Result<ExitCode> {
    // Subscribed first, so that nothing logged after the history is asked for is missed.
    let mut live = node
        .subscribe_with::<Log>(LOG_TOPIC, SubscribeOptions::queue(10_000))
        .await?;
    let mut printer = Printer::new(&args);
    let mut last = Seen::new();
    if !catch_up(&args, &mut last, &mut printer, args.lines).await? {
        return Ok(ExitCode::SUCCESS);
    }
    let mut every = tokio::time::interval(CATCH_UP_EVERY);
    every.tick().await;
    loop {
        let more = tokio::select! {
            record = live.recv() => match record {
                Some(record) => on_live(&args, record, &mut last, &mut printer).await?,
                None => false,
            },
            _ = every.tick() => {
                catch_up(&args, &mut last, &mut printer, pinion::logs::RING_CAPACITY).await?
            }
        };
        if !more {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// The newest record number printed, per node process.
type Seen = HashMap<(String, u32), u64>;

/// Prints a record from the topic, after the records it skipped (asked from its node).
async fn on_live(
    args: &Args,
    record: Log,
    last: &mut Seen,
    printer: &mut Printer,
) -> anyhow::Result<bool> {
    if args
        .node
        .as_deref()
        .is_some_and(|n| n.trim_start_matches('/') != record.node)
    {
        return Ok(true);
    }
    let key = (record.node.clone(), record.pid);
    let seen = last.get(&key).copied().unwrap_or(0);
    if record.seq <= seen {
        return Ok(true);
    }
    if record.seq > seen + 1 {
        let all = nodes().await.unwrap_or_default();
        let from = all
            .iter()
            .find(|n| n.name.as_str() == record.node && n.pid == record.pid);
        if let Some(info) = from {
            if let Ok(missing) = ask(info, seen, pinion::logs::RING_CAPACITY).await {
                for r in missing.iter().filter(|r| r.seq < record.seq) {
                    last.insert(key.clone(), r.seq);
                    if !printer.print(r)? {
                        return Ok(false);
                    }
                }
            }
        }
    }
    last.insert(key, record.seq);
    printer.print(&record)
}

/// Asks every node for the records not printed yet (at most `limit`, the newest) and
/// prints them in time order.
async fn catch_up(
    args: &Args,
    last: &mut Seen,
    printer: &mut Printer,
    limit: usize,
) -> anyhow::Result<bool> {
    let Ok(all) = nodes().await else {
        return Ok(true);
    };
    let after = |n: &NodeInfo| last.get(&(n.name.to_string(), n.pid)).copied().unwrap_or(0);
    let asked = ask_all(selected(&all, args), after, limit).await;
    let mut records: Vec<Log> = asked.into_iter().flat_map(|(_, r)| r).collect();
    records.sort_by_key(|r| (r.stamp_ns, r.seq));
    let skip = records.len().saturating_sub(limit);
    for r in records.drain(skip..) {
        let key = (r.node.clone(), r.pid);
        if r.seq <= last.get(&key).copied().unwrap_or(0) {
            continue;
        }
        last.insert(key, r.seq);
        if !printer.print(&r)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn selected<'a>(all: &'a [NodeInfo], args: &Args) -> Vec<&'a NodeInfo> {
    all.iter()
        .filter(|n| {
            args.node
                .as_deref()
                .is_none_or(|want| n.name.as_str() == want.trim_start_matches('/'))
        })
        .collect()
}

/// Asks each node for its records after `after(node)`, side by side; a node that does
/// not answer is reported on stderr and skipped.
async fn ask_all(
    nodes: Vec<&NodeInfo>,
    after: impl Fn(&NodeInfo) -> u64,
    max: usize,
) -> Vec<(String, Vec<Log>)> {
    let mut asks = tokio::task::JoinSet::new();
    for n in nodes {
        let (info, after_seq) = (n.clone(), after(n));
        asks.spawn(async move {
            let got = ask(&info, after_seq, max).await;
            (info, got)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = asks.join_next().await {
        let Ok((info, got)) = joined else { continue };
        match got {
            Ok(records) => out.push((info.name.to_string(), records)),
            Err(e) => eprintln!(
                "warning: no records from `{}` on host {}: {e:#}",
                info.name, info.host
            ),
        }
    }
    out
}

async fn ask(info: &NodeInfo, after_seq: u64, max: usize) -> anyhow::Result<Vec<Log>> {
    let call = calls::RecentLogs {
        after_seq,
        max: u32::try_from(max).unwrap_or(u32::MAX),
    };
    Ok(ask_node(info, call, ASK_TIMEOUT).await?.0)
}

struct Printer {
    level: Level,
    json: bool,
    left: Option<u64>,
    out: std::io::Stdout,
}

impl Printer {
    fn new(args: &Args) -> Self {
        Self {
            level: args.level,
            json: args.json,
            left: args.count,
            out: std::io::stdout(),
        }
    }

    /// Prints a record if its level passes; false once `--count` records are out.
    fn print(&mut self, record: &Log) -> anyhow::Result<bool> {
        if self.left == Some(0) {
            return Ok(false);
        }
        if record.level < self.level {
            return Ok(true);
        }
        let mut out = self.out.lock();
        if self.json {
            writeln!(out, "{}", serde_json::to_string(record)?)?;
        } else {
            writeln!(out, "{record}")?;
        }
        out.flush()?;
        if let Some(left) = &mut self.left {
            *left -= 1;
            return Ok(*left > 0);
        }
        Ok(true)
    }
}
