//! `pinion doctor`: checks a running robot and says what to fix.
//!
//! It asks the master for the nodes, then every node for who and where it is
//! (`Identify` on its control socket, three times, keeping the fastest answer for the
//! clock comparison), and connects to every node's data port the way a subscriber on
//! this host would. [`findings`] turns what it saw into findings.

mod findings;

use super::control::ask_node;
use super::graph::{ask_master, nodes};
use anyhow::Context;
use findings::{clocks, host_ids, ClockSample, Finding, Seen, Severity};
use pinion::host;
use pinion::protocol::control::{calls, NodeIdentity};
use pinion::protocol::master_to_node::NodeInfo;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long a node gets to answer one request.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// Identify requests per node; the fastest one measures the clock.
const SAMPLES: usize = 3;

/// How long the doctor listens for health reports (they come once a second).
const HEALTH_WAIT: Duration = Duration::from_millis(2500);

/// A heartbeat older than this is late (nodes beat every 500 ms).
const LATE_HEARTBEAT_MS: u64 = 1500;

/// `pinion doctor`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per finding, for programs.
    #[arg(long)]
    json: bool,
}

/// Runs `pinion doctor`: exit 0 when nothing is an error, 1 otherwise.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = crate::cmd::runtime()?;
    let findings = runtime.block_on(examine());
    let mut out = std::io::stdout().lock();
    for f in &findings {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(f)?)?;
        } else {
            writeln!(out, "{f}")?;
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    if !args.json {
        writeln!(out, "{errors} error(s), {warnings} warning(s)")?;
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn examine() -> Vec<Finding> {
    let endpoint =
        std::env::var("PINION_MASTER").unwrap_or_else(|_| host::DEFAULT_MASTER.to_owned());
    let here = host::host_id();
    let mut findings = Vec::new();
    let asked = Instant::now();
    let all = match nodes().await {
        Ok(all) => all,
        Err(e) => {
            findings.push(Finding::error(
                format!("no master answers at {endpoint}: {e:#}"),
                "start one (`pinion master` or `pinion launch FILE`), or set PINION_MASTER to \
                 its endpoint (tcp://<address of the master's Pi>:11311); check that its port is \
                 open on that Pi",
            ));
            return findings;
        }
    };
    findings.push(Finding::ok(format!(
        "master at {endpoint} answers in {:.1} ms; {} node(s) registered",
        asked.elapsed().as_secs_f64() * 1e3,
        all.len()
    )));

    let mut asks = tokio::task::JoinSet::new();
    for info in all {
        asks.spawn(async move {
            let answer = identify(&info).await;
            (info, answer)
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = asks.join_next().await {
        if let Ok(answer) = joined {
            answers.push(answer);
        }
    }
    answers.sort_by(|a, b| a.0.name.cmp(&b.0.name));

    let mut seen = vec![Seen {
        name: "pinion doctor".to_owned(),
        host: here.clone(),
        machine: host::machine_fingerprint(),
    }];
    let mut clock: BTreeMap<String, ClockSample> = BTreeMap::new();
    for (info, answer) in answers {
        let who = format!(
            "node `{}` (host {}, pid {})",
            info.name, info.host, info.pid
        );
        let (identity, sample, rtt) = match answer {
            Ok(a) => a,
            Err(e) => {
                findings.push(Finding::error(
                    format!("{who} does not answer on its control socket: {e:#}"),
                    "if the process is gone, the master forgets it within 3 s; if it runs, it \
                     is stopped (SIGSTOP), overloaded, or a firewall on its Pi blocks the port",
                ));
                continue;
            }
        };
        if info.last_seen_ms > LATE_HEARTBEAT_MS {
            findings.push(Finding::warning(
                format!("{who}: last heartbeat {} ms ago", info.last_seen_ms),
                "the node or its Pi is overloaded, or the network to the master drops packets",
            ));
        }
        findings.push(data_port(&who, &info, &identity, &here, rtt).await);
        seen.push(Seen {
            name: info.name.to_string(),
            host: identity.host.clone(),
            machine: identity.machine.clone(),
        });
        let best = clock.entry(identity.host.clone()).or_insert(sample);
        if sample.uncertainty_ns < best.uncertainty_ns {
            *best = sample;
        }
    }
    findings.extend(host_ids(&seen));
    findings.extend(clocks(&here, &clock));
    findings.extend(machines_health().await);
    findings
}

/// The latest health report of every machine that sends one (`pinion health`, which
/// agents run), gathered for a little over one report period.
async fn machines_health() -> Vec<Finding> {
    use pinion::msgs::diagnostic::{DiagnosticArray, HEALTH_TOPIC};
    let topics = ask_master(pinion::protocol::node_to_master::ListTopics)
        .await
        .unwrap_or_default();
    let reporters = topics
        .iter()
        .find(|t| t.name.as_str().trim_start_matches('/') == HEALTH_TOPIC.trim_start_matches('/'))
        .map_or(0, |t| t.publishers.len());
    if reporters == 0 {
        // A graph without agents (a laptop, `launch --local`) has none: not a fault.
        return vec![Finding::ok(
            "no machine reports its health (agents run `pinion health`; elsewhere, run it by hand)",
        )];
    }
    let node = match pinion::Node::init(pinion::NodeOptions::from_env("pinion_doctor")).await {
        Ok(node) => node,
        Err(e) => {
            return vec![Finding::warning(
                format!("cannot read the health reports: {e}"),
                "",
            )]
        }
    };
    let mut latest: BTreeMap<String, pinion::msgs::diagnostic::DiagnosticStatus> = BTreeMap::new();
    if let Ok(mut sub) = node.subscribe::<DiagnosticArray>(HEALTH_TOPIC).await {
        let until = tokio::time::Instant::now() + HEALTH_WAIT;
        while latest.len() < reporters {
            let Ok(Some(report)) = tokio::time::timeout_at(until, sub.recv()).await else {
                break;
            };
            if let Some(machine) = report.status.into_iter().find(|s| s.name == "machine") {
                latest.insert(machine.hardware_id.clone(), machine);
            }
        }
    }
    node.close().await;
    let machines: Vec<_> = latest.into_values().collect();
    findings::health(&machines)
}

/// Asks a node who it is, [`SAMPLES`] times; its identity, the clock sample of the
/// fastest answer, and that answer's round trip.
async fn identify(info: &NodeInfo) -> anyhow::Result<(NodeIdentity, ClockSample, Duration)> {
    let mut best: Option<(NodeIdentity, ClockSample, Duration)> = None;
    for _ in 0..SAMPLES {
        let sent = host::now_ns();
        let (identity, rtt) = ask_node(info, calls::Identify, ASK_TIMEOUT).await?;
        let back = host::now_ns();
        let midpoint = sent / 2 + back / 2;
        let sample = ClockSample {
            offset_ns: identity.clock_ns as i64 - midpoint as i64,
            uncertainty_ns: (back.saturating_sub(sent) / 2) as i64,
        };
        if best
            .as_ref()
            .is_none_or(|b| sample.uncertainty_ns < b.1.uncertainty_ns)
        {
            best = Some((identity, sample, rtt));
        }
    }
    best.context("no answer")
}

/// Whether the node's data port accepts connections from here, as a subscriber here
/// would connect.
async fn data_port(
    who: &str,
    info: &NodeInfo,
    identity: &NodeIdentity,
    here: &str,
    rtt: Duration,
) -> Finding {
    let Some(endpoint) = identity.data.pick(&info.host, here) else {
        return Finding::error(
            format!("{who} has no data endpoint for this host"),
            "a node binds ipc and tcp; check PINION_IP on its Pi",
        );
    };
    if pinion::transport::reachable(endpoint, ASK_TIMEOUT).await {
        Finding::ok(format!(
            "{who} answers in {:.1} ms; its data port {endpoint} is reachable",
            rtt.as_secs_f64() * 1e3
        ))
    } else {
        Finding::error(
            format!("{who}: its data port {endpoint} does not accept connections from here"),
            "open the port in the firewall of its Pi, or set PINION_IP on that Pi to an address \
             the other Pis can reach",
        )
    }
}
