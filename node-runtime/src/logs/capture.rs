//! The tracing layer that turns events into [`Log`] records.

use super::hub;
use crate::msgs::log::{Level, Log};
use std::cell::Cell;
use std::fmt::Write;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

thread_local! {
    /// Set while this thread publishes log records: events raised by that publishing
    /// are not captured again (no feedback loop).
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with capture suppressed on this thread.
pub(crate) fn without_capture<R>(f: impl FnOnce() -> R) -> R {
    let before = FORWARDING.with(|c| c.replace(true));
    let out = f();
    FORWARDING.with(|c| c.set(before));
    out
}

/// A tracing layer that keeps and publishes this process's events; see [`crate::logs`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureLayer;

/// The layer to add to a `tracing_subscriber` registry so that this process's events
/// reach `pinion logs`. `#[pinion::main]` adds it already.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let _ = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(pinion::logs::capture_layer())
///     .try_init();
/// ```
pub fn capture_layer() -> CaptureLayer {
    hub::install();
    CaptureLayer
}

impl<S: tracing::Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if FORWARDING.with(Cell::get) {
            return;
        }
        let meta = event.metadata();
        let mut text = TextVisitor::default();
        event.record(&mut text);
        hub::install().push(Log {
            seq: 0,
            stamp_ns: crate::host::now_ns(),
            level: level(meta.level()),
            node: String::new(),
            host: String::new(),
            pid: std::process::id(),
            target: meta.target().to_owned(),
            text: text.finish(),
        });
    }
}

fn level(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::TRACE => Level::Trace,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::ERROR => Level::Error,
    }
}

/// The event's message, then its other fields as `key=value`, like the terminal shows them.
#[derive(Default)]
struct TextVisitor {
    message: String,
    fields: String,
}

impl TextVisitor {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }

    fn field(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={}", field.name(), value);
        }
    }
}

impl Visit for TextVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn events_become_numbered_records_and_forwarding_is_not_captured() {
        let subscriber = tracing_subscriber::registry().with(capture_layer());
        tracing::subscriber::with_default(subscriber, || {
            let before = hub::recent(0, usize::MAX).last().map_or(0, |r| r.seq);
            tracing::warn!(wheel = "left", ticks = 42, "encoder jumped");
            without_capture(|| tracing::info!("published a record"));
            for i in 0..3 {
                tracing::info!(i, "tick");
            }
            let got = hub::recent(before, usize::MAX);
            let texts: Vec<&str> = got.iter().map(|r| r.text.as_str()).collect();
            assert_eq!(
                texts,
                [
                    "encoder jumped wheel=left ticks=42",
                    "tick i=0",
                    "tick i=1",
                    "tick i=2"
                ]
            );
            assert_eq!(got[0].level, Level::Warn);
            assert!(
                got[0].target.ends_with("capture::tests"),
                "{}",
                got[0].target
            );
            assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
            let newest: Vec<String> = hub::recent(before, 2).into_iter().map(|r| r.text).collect();
            assert_eq!(newest, ["tick i=1", "tick i=2"]);
        });
    }
}
