//! `pinion topic plot TOPIC FIELD...`: a live plot of numeric fields in the terminal
//! (`ratatui`'s chart), like `rqt_plot`. A field is a path in the message's JSON form:
//! `pose.position.x`, `ranges[0]`. `q`, Esc or Ctrl-C quits.

use pinion::protocol::master_to_node::TopicSummary;
use pinion::{Node, SubscribeOptions};
use ratatui::layout::Constraint;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};
use serde_json::Value;
use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Points kept per field at the most (a 1 kHz topic over a 10 s window).
const MAX_POINTS: usize = 10_000;
/// How often the plot is drawn.
const FRAME: Duration = Duration::from_millis(100);
const COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::Red,
    Color::Blue,
];

/// The series of one field: (seconds since start, value).
#[derive(Debug, Default)]
struct Series {
    points: VecDeque<(f64, f64)>,
    last: Option<f64>,
}

/// The value at `path` (`a.b[2].c`) of a message's JSON form, if it is a number.
pub fn field(value: &Value, path: &str) -> Option<f64> {
    let mut here = value;
    for part in path.split('.') {
        let (name, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            here = here.get(name)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            here = here.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    match here {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        other => other.as_f64(),
    }
}

/// Plots `fields` of topic `t` over the last `window` seconds until asked to stop.
pub async fn plot(
    node: Node,
    t: TopicSummary,
    fields: Vec<String>,
    window: f64,
) -> anyhow::Result<ExitCode> {
    let series: Arc<Mutex<Vec<Series>>> = Arc::new(Mutex::new(
        fields.iter().map(|_| Series::default()).collect(),
    ));
    let mut sub = node
        .subscribe_raw(
            t.name.as_str(),
            t.type_info.clone(),
            SubscribeOptions::queue(1000),
        )
        .await?;
    let start = Instant::now();
    let feed = {
        let (series, fields, type_info) = (series.clone(), fields.clone(), t.type_info.clone());
        tokio::spawn(async move {
            while let Some((bytes, _)) = sub.recv().await {
                let Ok(value) = pinion::json::decode(&type_info, &bytes) else {
                    continue;
                };
                let now = start.elapsed().as_secs_f64();
                let Ok(mut all) = series.lock() else { return };
                for (s, path) in all.iter_mut().zip(&fields) {
                    if let Some(v) = field(&value, path) {
                        s.points.push_back((now, v));
                        s.last = Some(v);
                        while s.points.len() > MAX_POINTS
                            || s.points.front().is_some_and(|(t, _)| now - t > window)
                        {
                            s.points.pop_front();
                        }
                    }
                }
            }
        })
    };
    let title = format!("{} ({})", t.name, t.type_info.name);
    let stop = node.clone();
    let drawing = tokio::task::spawn_blocking(move || {
        draw_until_quit(&title, &fields, &series, start, window, &stop)
    });
    let result = drawing.await?;
    feed.abort();
    result.map(|()| ExitCode::SUCCESS)
}

/// One field's points and latest value, copied out for a frame.
type Snapshot = (Vec<(f64, f64)>, Option<f64>);

/// A value with as many decimals as the span of the axis needs.
fn label(value: f64, span: f64) -> String {
    let decimals = (2.0 - span.max(1e-12).log10().floor()).clamp(0.0, 9.0) as usize;
    format!("{value:.decimals$}")
}

fn draw_until_quit(
    title: &str,
    fields: &[String],
    series: &Mutex<Vec<Series>>,
    start: Instant,
    window: f64,
    node: &Node,
) -> anyhow::Result<()> {
    super::tui::draw_until_quit(node, FRAME, |terminal| {
        let now = start.elapsed().as_secs_f64();
        let snapshot: Vec<Snapshot> = match series.lock() {
            Ok(all) => all
                .iter()
                .map(|s| (s.points.iter().copied().collect(), s.last))
                .collect(),
            Err(_) => return Ok(false),
        };
        terminal.draw(|frame| {
            let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
            for (points, _) in &snapshot {
                for (_, v) in points {
                    low = low.min(*v);
                    high = high.max(*v);
                }
            }
            if !low.is_finite() {
                (low, high) = (0.0, 1.0);
            }
            let pad = ((high - low) * 0.05).max(1e-9);
            let (low, high) = (low - pad, high + pad);
            let datasets = snapshot
                .iter()
                .zip(fields)
                .enumerate()
                .map(|(i, ((points, last), name))| {
                    Dataset::default()
                        .name(match last {
                            Some(v) => format!("{name} = {v:.4}"),
                            None => format!("{name} (no value yet)"),
                        })
                        .marker(Marker::Braille)
                        .graph_type(GraphType::Line)
                        .style(Style::default().fg(COLORS[i % COLORS.len()]))
                        .data(points)
                })
                .collect::<Vec<_>>();
            let x0 = (now - window).max(0.0);
            let chart = Chart::new(datasets)
                .hidden_legend_constraints((Constraint::Ratio(3, 4), Constraint::Ratio(3, 4)))
                .block(Block::bordered().title(format!("{title}  (q quits)")))
                .x_axis(
                    Axis::default()
                        .title("time (s)")
                        .bounds([x0, x0 + window])
                        .labels([
                            Span::raw(format!("{x0:.0}")),
                            Span::raw(format!("{:.0}", x0 + window)),
                        ]),
                )
                .y_axis(Axis::default().title("value").bounds([low, high]).labels([
                    Span::raw(label(low, high - low)),
                    Span::raw(label((low + high) / 2.0, high - low)),
                    Span::raw(label(high, high - low)),
                ]));
            frame.render_widget(chart, frame.area());
        })?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::field;
    use serde_json::json;

    #[test]
    fn fields_are_found_by_path() {
        let v = json!({"pose": {"position": {"x": 1.5}}, "ranges": [3, 4.5], "ok": true});
        assert_eq!(field(&v, "pose.position.x"), Some(1.5));
        assert_eq!(field(&v, "ranges[1]"), Some(4.5));
        assert_eq!(field(&v, "ok"), Some(1.0));
        assert_eq!(field(&v, "pose.position"), None);
        assert_eq!(field(&v, "ranges[7]"), None);
        assert_eq!(field(&v, "nothing"), None);
    }
}
