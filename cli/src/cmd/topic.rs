//! `pinion topic list|info|echo|pub|hz|bw`: any topic, without its type compiled in.

use super::graph::ask;
use anyhow::Context;
use pinion::protocol::master_to_node::TopicSummary;
use pinion::protocol::node_to_master::ListTopics;
use pinion::{AdvertiseOptions, Node, NodeOptions, SubscribeOptions};
use postcard_schema::schema::owned::OwnedDataModelType;
use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `pinion topic ...`
#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// List the topics with their types.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Also Pinion's own topics (`/pinion/log`).
        #[arg(long)]
        all: bool,
    },
    /// Type, schema, publishers and subscribers of a topic.
    Info {
        /// The topic.
        topic: String,
    },
    /// Print the messages of a topic.
    Echo {
        /// The topic.
        topic: String,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<u64>,
        /// One JSON object per line, for programs.
        #[arg(long)]
        json: bool,
    },
    /// Publish a message given as JSON: once, `--count` times, or at `--rate`.
    Pub {
        /// The topic.
        topic: String,
        /// The message, as JSON in the topic's schema (see `pinion topic info`).
        message: String,
        /// Messages per second (with no `--count`: until Ctrl-C).
        #[arg(long)]
        rate: Option<f64>,
        /// How many messages.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Print the rate of a topic once a second, like `rostopic hz`.
    Hz {
        /// The topic.
        topic: String,
        /// Messages in the rolling window.
        #[arg(long, default_value_t = 1000)]
        window: usize,
        /// Stop after this many reports.
        #[arg(long)]
        reports: Option<u64>,
    },
    /// Plot numeric fields of a topic live in the terminal, like `rqt_plot`.
    Plot {
        /// The topic.
        topic: String,
        /// Fields to plot, as paths in the message (`pose.position.x`, `ranges[0]`).
        #[arg(required = true)]
        fields: Vec<String>,
        /// Seconds shown.
        #[arg(long, default_value_t = 10.0)]
        window: f64,
    },
    /// Print the bandwidth of a topic once a second, like `rostopic bw`.
    Bw {
        /// The topic.
        topic: String,
        /// Messages in the rolling window.
        #[arg(long, default_value_t = 1000)]
        window: usize,
        /// Stop after this many reports.
        #[arg(long)]
        reports: Option<u64>,
    },
}

/// Runs a topic subcommand.
pub fn run(command: TopicCommand) -> anyhow::Result<ExitCode> {
    match command {
        TopicCommand::List { json, all } => list(json, all),
        TopicCommand::Info { topic } => info(&topic),
        TopicCommand::Echo { topic, count, json } => match find(&topic) {
            Ok(t) => with_node(|node| echo(node, t, count, json)),
            Err(e) => fail(e),
        },
        TopicCommand::Pub {
            topic,
            message,
            rate,
            count,
        } => match find(&topic).and_then(|t| encode(&t, &message).map(|b| (t, b))) {
            Ok((t, bytes)) => with_node(|node| publish(node, t, bytes, rate, count)),
            Err(e) => fail(e),
        },
        TopicCommand::Hz {
            topic,
            window,
            reports,
        } => match find(&topic) {
            Ok(t) => with_node(|node| stats(node, t, window, reports, false)),
            Err(e) => fail(e),
        },
        TopicCommand::Bw {
            topic,
            window,
            reports,
        } => match find(&topic) {
            Ok(t) => with_node(|node| stats(node, t, window, reports, true)),
            Err(e) => fail(e),
        },
        TopicCommand::Plot {
            topic,
            fields,
            window,
        } => match find(&topic) {
            Ok(t) => {
                with_node(|node| super::plot::plot(node, t, fields, window.clamp(1.0, 3600.0)))
            }
            Err(e) => fail(e),
        },
    }
}

/// Publishes raw bytes of `info` on `topic`, once the subscribers the master knows of
/// are connected (at most 3 s), so that a first message is not lost.
pub async fn advertise_raw(
    node: &Node,
    topic: &str,
    info: pinion::TypeInfo,
) -> anyhow::Result<pinion::publisher::RawPublisher> {
    let publisher = node
        .advertise_raw(topic, info, AdvertiseOptions::default())
        .await?;
    let known = publisher.registered_subscribers();
    if known > 0 {
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            publisher.wait_for_subscribers(known),
        )
        .await;
    }
    Ok(publisher)
}

fn topics() -> anyhow::Result<Vec<TopicSummary>> {
    ask(ListTopics)
}

/// The topic's summary, or an error that lists the known topics.
fn find(topic: &str) -> anyhow::Result<TopicSummary> {
    let name = pinion::TopicName::new(topic)?;
    let all = topics()?;
    let known: Vec<String> = all.iter().map(|t| t.name.to_string()).collect();
    all.into_iter().find(|t| t.name == name).with_context(|| {
        format!(
            "unknown topic `{name}`: no node publishes or subscribes it; known topics: {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )
    })
}

fn list(json: bool, all: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for t in topics()?.into_iter().filter(|t| all || !t.name.is_system()) {
        if json {
            let row = serde_json::json!({"topic": t.name.to_string(), "type": t.type_info.name, "publishers": t.publishers, "subscribers": t.subscribers});
            writeln!(out, "{row}")?;
        } else {
            writeln!(
                out,
                "{}\t{}\tpublishers={}\tsubscribers={}",
                t.name,
                t.type_info.name,
                t.publishers.len(),
                t.subscribers.len()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn info(topic: &str) -> anyhow::Result<ExitCode> {
    let t = match find(topic) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "topic: {}\ntype: {} (hash {:016x})\nschema: {}",
        t.name, t.type_info.name, t.type_info.hash, t.type_info.schema
    )?;
    let names = |v: &[pinion::NodeName]| v.iter().map(|n| format!("\n  {n}")).collect::<String>();
    let dropped = super::runtime()?.block_on(dropped_by_publishers(&t));
    let publishers: String = t
        .publishers
        .iter()
        .zip(dropped)
        .map(|(n, d)| match d {
            Some(d) => format!("\n  {n} (dropped {d})"),
            None => format!("\n  {n} (dropped: no answer)"),
        })
        .collect();
    writeln!(
        out,
        "publishers:{publishers}\nsubscribers:{}",
        names(&t.subscribers)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// For each publisher of `t`, the messages its subscribers did not get from it (asked
/// of the node itself); `None` where it does not answer.
async fn dropped_by_publishers(t: &TopicSummary) -> Vec<Option<u64>> {
    use pinion::protocol::control::calls::Dropped;
    let nodes = super::graph::nodes().await.unwrap_or_default();
    let mut out = Vec::new();
    for name in &t.publishers {
        let Some(info) = nodes.iter().find(|n| &n.name == name) else {
            out.push(None);
            continue;
        };
        let call = Dropped {
            topic: t.name.clone(),
        };
        let answer = super::control::ask_node(info, call, Duration::from_secs(1)).await;
        out.push(answer.ok().map(|(n, _)| n));
    }
    out
}

fn fail(e: anyhow::Error) -> anyhow::Result<ExitCode> {
    eprintln!("error: {e:#}");
    Ok(ExitCode::FAILURE)
}

/// Runs `f` with an anonymous node of this tool, closed cleanly at the end or on Ctrl-C.
pub fn with_node<F, Fut>(f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Node) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let runtime = super::data_runtime()?;
    runtime.block_on(async {
        let mut options = NodeOptions::from_env("pinion_cli");
        options.name = format!("pinion_cli_{}", std::process::id());
        let node = Node::init(options).await?;
        let signals = {
            let node = node.clone();
            tokio::spawn(async move {
                super::termination().await;
                node.request_shutdown("interrupted");
            })
        };
        let result = f(node.clone()).await;
        signals.abort();
        node.close().await;
        result
    })
}

async fn echo(
    node: Node,
    t: TopicSummary,
    count: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut sub = node
        .subscribe_raw(
            t.name.as_str(),
            t.type_info.clone(),
            SubscribeOptions::queue(10_000),
        )
        .await?;
    let mut seen = 0;
    while count.is_none_or(|c| seen < c) {
        let Some((bytes, _)) = sub.recv().await else {
            break;
        };
        let value = match pinion::json::decode(&t.type_info, &bytes) {
            Ok(v) => v,
            Err(e) => {
                eprintln!(
                    "warning: a message does not decode as {}: {e}",
                    t.type_info.name
                );
                continue;
            }
        };
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{value}")?;
        } else {
            let mut value = value;
            shape_of_bytes(&t.type_info.schema.ty, &mut value);
            writeln!(out, "{}\n---", serde_json::to_string_pretty(&value)?)?;
        }
        out.flush()?;
        seen += 1;
    }
    Ok(ExitCode::SUCCESS)
}

/// Byte strings (image pixels, point clouds) longer than a few bytes as their length,
/// for people: `<57600 bytes>`. `--json` keeps them (base64).
fn shape_of_bytes(ty: &OwnedDataModelType, value: &mut serde_json::Value) {
    use serde_json::Value;
    use OwnedDataModelType as T;
    match (ty, value) {
        (T::ByteArray, v @ Value::String(_)) => {
            let text = v.as_str().unwrap_or_default();
            if text.len() > 24 {
                let n = text.len() / 4 * 3 - text.chars().rev().take_while(|c| *c == '=').count();
                *v = Value::String(format!("<{n} bytes>"));
            }
        }
        (T::Option(inner) | T::NewtypeStruct(inner) | T::Seq(inner), v) => match v {
            Value::Array(items) if matches!(ty, T::Seq(_)) => {
                for item in items {
                    shape_of_bytes(&inner.ty, item);
                }
            }
            v => shape_of_bytes(&inner.ty, v),
        },
        (T::Struct(fields), Value::Object(map)) => {
            for f in fields {
                if let Some(v) = map.get_mut(&f.name) {
                    shape_of_bytes(&f.ty.ty, v);
                }
            }
        }
        (T::Tuple(items) | T::TupleStruct(items), Value::Array(values)) => {
            for (t, v) in items.iter().zip(values) {
                shape_of_bytes(&t.ty, v);
            }
        }
        _ => {}
    }
}

/// Checks a JSON message against the topic's schema and encodes it.
fn encode(t: &TopicSummary, message: &str) -> anyhow::Result<Vec<u8>> {
    let value: serde_json::Value =
        serde_json::from_str(message).context("the message is not JSON")?;
    pinion::json::encode(&t.type_info, &value)
        .map_err(|e| anyhow::anyhow!("the message does not fit {}: {e}", t.type_info.name))
}

async fn publish(
    node: Node,
    t: TopicSummary,
    bytes: Vec<u8>,
    rate: Option<f64>,
    count: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let publisher = advertise_raw(&node, t.name.as_str(), t.type_info.clone()).await?;
    let total = count.or(if rate.is_some() { None } else { Some(1) });
    let mut ticker = node.rate(rate.unwrap_or(1000.0));
    let mut sent = 0;
    while total.is_none_or(|n| sent < n) {
        if ticker.tick().await.is_none() {
            break;
        }
        publisher.publish_bytes(bytes.clone()).await?;
        sent += 1;
    }
    Ok(ExitCode::SUCCESS)
}

async fn stats(
    node: Node,
    t: TopicSummary,
    window: usize,
    reports: Option<u64>,
    bandwidth: bool,
) -> anyhow::Result<ExitCode> {
    let mut sub = node
        .subscribe_raw(
            t.name.as_str(),
            t.type_info.clone(),
            SubscribeOptions::queue(100_000),
        )
        .await?;
    let mut samples: VecDeque<(Instant, usize)> = VecDeque::new();
    let mut report = tokio::time::interval(Duration::from_secs(1));
    report.tick().await;
    let mut printed = 0;
    while reports.is_none_or(|r| printed < r) {
        tokio::select! {
            message = sub.recv() => match message {
                Some((bytes, _)) => {
                    samples.push_back((Instant::now(), bytes.len()));
                    if samples.len() > window.max(2) {
                        samples.pop_front();
                    }
                }
                None => break,
            },
            _ = report.tick() => {
                let line = if bandwidth { bw_line(&samples) } else { hz_line(&samples) };
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")?;
                out.flush()?;
                printed += 1;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `average rate: 50.000  min: 0.019s max: 0.021s std dev: 0.00050s window: 50`
pub fn hz_line(samples: &VecDeque<(Instant, usize)>) -> String {
    let gaps: Vec<f64> = samples
        .iter()
        .zip(samples.iter().skip(1))
        .map(|(a, b)| (b.0 - a.0).as_secs_f64())
        .collect();
    if gaps.is_empty() {
        return "no new messages".to_owned();
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    let (min, max) = gaps
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), g| (lo.min(*g), hi.max(*g)));
    format!(
        "average rate: {:.3}\tmin: {min:.3}s max: {max:.3}s std dev: {:.5}s window: {}",
        1.0 / mean,
        var.sqrt(),
        samples.len()
    )
}

/// `average: 4.20KB/s  mean: 84B min: 84B max: 84B window: 50`
pub fn bw_line(samples: &VecDeque<(Instant, usize)>) -> String {
    let (Some(first), Some(last)) = (samples.front(), samples.back()) else {
        return "no new messages".to_owned();
    };
    let span = (last.0 - first.0).as_secs_f64();
    let total: usize = samples.iter().skip(1).map(|s| s.1).sum();
    let sizes = samples.iter().map(|s| s.1);
    let (min, max) = sizes
        .clone()
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    let mean = sizes.sum::<usize>() as f64 / samples.len() as f64;
    let rate = if span > 0.0 { total as f64 / span } else { 0.0 };
    format!(
        "average: {}/s\tmean: {} min: {} max: {} window: {}",
        human(rate),
        human(mean),
        human(min as f64),
        human(max as f64),
        samples.len()
    )
}

fn human(bytes: f64) -> String {
    match bytes {
        b if b >= 1e6 => format!("{:.2}MB", b / 1e6),
        b if b >= 1e3 => format!("{:.2}KB", b / 1e3),
        b => format!("{b:.0}B"),
    }
}
