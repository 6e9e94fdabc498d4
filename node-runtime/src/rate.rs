//! `Rate`: a loop clock that ends when the node shuts down.

use crate::shutdown::Shutdown;
use std::time::Duration;
use tokio::time::{interval, Interval, MissedTickBehavior};

/// Ticks `hz` times a second; `tick` returns `None` once the node shuts down.
///
/// ```no_run
/// # async fn run(node: pinion::Node) {
/// let mut rate = node.rate(10.0);
/// while let Some(n) = rate.tick().await {
///     // runs at 10 Hz; n counts ticks from 0
/// #   let _ = n;
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Rate {
    interval: Interval,
    shutdown: Shutdown,
    count: u64,
}

impl Rate {
    pub(crate) fn new(hz: f64, shutdown: Shutdown) -> Self {
        let period = if hz.is_finite() && hz > 0.0 {
            Duration::from_secs_f64(1.0 / hz)
        } else {
            Duration::from_secs(1)
        };
        let mut interval = interval(period.max(Duration::from_micros(1)));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Self {
            interval,
            shutdown,
            count: 0,
        }
    }

    /// Waits for the next tick and returns its number, or `None` when the node stops.
    pub async fn tick(&mut self) -> Option<u64> {
        if self.shutdown.is_triggered() {
            return None;
        }
        tokio::select! {
            biased;
            _ = self.shutdown.wait() => None,
            _ = self.interval.tick() => {
                let n = self.count;
                self.count += 1;
                Some(n)
            }
        }
    }
}
