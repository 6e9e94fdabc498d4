//! `pinion top`: a live table of every machine's nodes with their CPU and resident
//! memory, and each machine's temperature, load, memory, disk and throttling, from
//! the health reports on [`HEALTH_TOPIC`] (`ratatui`'s table). `q`, Esc or Ctrl-C quits.

use pinion::msgs::diagnostic::{DiagnosticArray, DiagnosticStatus, HEALTH_TOPIC};
use pinion::{Node, NodeOptions, SubscribeOptions};
use ratatui::layout::Constraint;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Row, Table};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the table is drawn.
const FRAME: Duration = Duration::from_millis(250);
/// A machine whose last report is older than this is shown as stale.
const STALE_AFTER: Duration = Duration::from_secs(5);

/// Arguments of `pinion top`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// The latest report of each machine, with when it came.
type Reports = Arc<Mutex<BTreeMap<String, (Instant, DiagnosticArray)>>>;

/// Runs until `q`, Esc or Ctrl-C.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::data_runtime()?.block_on(async move {
        let node = Node::init(NodeOptions::from_env("pinion_top")).await?;
        let mut sub = node
            .subscribe_with::<DiagnosticArray>(HEALTH_TOPIC, SubscribeOptions::queue(64))
            .await?;
        let reports: Reports = Arc::default();
        let feed = {
            let reports = reports.clone();
            tokio::spawn(async move {
                while let Some(array) = sub.recv().await {
                    let Some(machine) = array.status.first().map(|s| s.hardware_id.clone()) else {
                        continue;
                    };
                    if let Ok(mut all) = reports.lock() {
                        all.insert(machine, (Instant::now(), array));
                    }
                }
            })
        };
        let stop = node.clone();
        let result = tokio::task::spawn_blocking(move || draw_until_quit(&reports, &stop)).await?;
        feed.abort();
        node.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}

/// The rows of one frame: a machine row, then its nodes.
fn rows(reports: &BTreeMap<String, (Instant, DiagnosticArray)>) -> Vec<Row<'static>> {
    let mut rows = Vec::new();
    for (machine, (at, array)) in reports {
        let stale = at.elapsed() > STALE_AFTER;
        for status in &array.status {
            let v = |key: &str| status.value(key).unwrap_or("-").to_owned();
            let level = if stale {
                DiagnosticStatus::STALE
            } else {
                status.level
            };
            let style = match level {
                DiagnosticStatus::OK => Style::default(),
                DiagnosticStatus::WARN => Style::default().fg(Color::Yellow),
                DiagnosticStatus::ERROR => Style::default().fg(Color::Red),
                _ => Style::default().add_modifier(Modifier::DIM),
            };
            let row = if status.name == "machine" {
                Row::new(vec![
                    machine.clone(),
                    "(machine)".to_owned(),
                    format!("load {}", v("load_1m")),
                    format!("{}/{}", v("mem_available_mb"), v("mem_total_mb")),
                    format!(
                        "{} °C  disk {} MB free  {}",
                        v("cpu_temp_c"),
                        v("disk_free_mb"),
                        status.message
                    ),
                ])
                .style(style.add_modifier(Modifier::BOLD))
            } else {
                Row::new(vec![
                    machine.clone(),
                    status.name.clone(),
                    v("cpu_percent"),
                    v("rss_mb"),
                    format!(
                        "pid {}  restarts {}  dropped {}  {}",
                        v("pid"),
                        v("restarts"),
                        v("dropped"),
                        status.message
                    ),
                ])
                .style(style)
            };
            rows.push(row);
        }
    }
    rows
}

fn draw_until_quit(
    reports: &Mutex<BTreeMap<String, (Instant, DiagnosticArray)>>,
    node: &Node,
) -> anyhow::Result<()> {
    super::tui::draw_until_quit(node, FRAME, |terminal| {
        let rows = match reports.lock() {
            Ok(all) => rows(&all),
            Err(_) => return Ok(false),
        };
        let waiting = rows.is_empty();
        terminal.draw(|frame| {
            let title = if waiting {
                format!("pinion top: waiting for reports on {HEALTH_TOPIC} (q quits)")
            } else {
                "pinion top (q quits)".to_owned()
            };
            let header = Row::new(vec!["MACHINE", "NODE", "CPU %", "RSS MB", "NOTES"])
                .style(Style::default().add_modifier(Modifier::REVERSED));
            let table = Table::new(
                rows,
                [
                    Constraint::Length(12),
                    Constraint::Length(22),
                    Constraint::Length(10),
                    Constraint::Length(12),
                    Constraint::Min(10),
                ],
            )
            .header(header)
            .block(Block::bordered().title(title));
            frame.render_widget(table, frame.area());
        })?;
        Ok(true)
    })
}
