//! Counting and logging the connections a guard closes, without letting a flood fill
//! the log: at most [`LINES_PER_SECOND`] lines a second of each kind (a flood of idle
//! connections does not hide a bad frame), then, when that second is over, one line
//! that sums up the rest by kind.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Refusals of one kind logged one by one per second; the rest are summed up.
const LINES_PER_SECOND: u32 = 10;
const WINDOW: Duration = Duration::from_secs(1);

/// What one guard refused.
#[derive(Debug, Clone)]
pub struct Report {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The socket, as the log names it (`control tcp://127.0.0.1:4242`).
    socket: String,
    refused: AtomicU64,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    /// Lines logged in this window, by kind.
    logged: BTreeMap<&'static str, u32>,
    /// Refusals not logged one by one in this window, by kind.
    quiet: BTreeMap<&'static str, u64>,
}

impl Report {
    /// A report for the guard of `socket`.
    pub fn new(socket: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                socket,
                refused: AtomicU64::new(0),
                window: Mutex::new(Window {
                    start: Instant::now(),
                    logged: BTreeMap::new(),
                    quiet: BTreeMap::new(),
                }),
            }),
        }
    }

    /// Counts a closed connection and logs it with its peer, what rule it broke
    /// (`kind`, a short word such as `slots` or `frame`), the detail, and the count.
    pub fn refuse(&self, peer: Option<SocketAddr>, kind: &'static str, detail: &dyn Display) {
        let inner = &self.inner;
        let count = inner.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let mut window = inner.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(window.start) >= WINDOW && window.quiet.is_empty() {
            window.start = now;
            window.logged.clear();
        }
        let logged = window.logged.entry(kind).or_default();
        if *logged < LINES_PER_SECOND {
            *logged += 1;
            let peer = peer.map_or_else(|| "?".to_owned(), |p| p.to_string());
            tracing::warn!(socket = %inner.socket, %peer, refused = count, kind, "guard closed a connection: {detail}");
            return;
        }
        let first_quiet = window.quiet.is_empty();
        *window.quiet.entry(kind).or_default() += 1;
        if first_quiet {
            // Summed up once the window is over, whether or not more come.
            let report = self.clone();
            let at = window.start + WINDOW;
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                report.sum_up();
            });
        }
    }

    fn sum_up(&self) {
        let inner = &self.inner;
        let mut window = inner.window.lock().unwrap_or_else(PoisonError::into_inner);
        let quiet = std::mem::take(&mut window.quiet);
        window.start = Instant::now();
        window.logged.clear();
        drop(window);
        let total: u64 = quiet.values().sum();
        let kinds: Vec<String> = quiet.iter().map(|(k, n)| format!("{k} {n}")).collect();
        tracing::warn!(
            socket = %inner.socket,
            refused = inner.refused.load(Ordering::Relaxed),
            "guard closed {total} more connections without logging each (by kind: {})",
            kinds.join(", ")
        );
    }
}
