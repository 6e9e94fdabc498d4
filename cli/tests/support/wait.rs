//! The one place tests wait by polling: every wait is bounded in time, checks its
//! condition between pauses, and returns what it found or `None` at the deadline. The
//! tidy test refuses `sleep` anywhere else in the tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

/// Checks `check` every `every` until it gives something, or `within` passes.
pub fn until<T>(
    within: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if start.elapsed() >= within {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// [`until`] for a check that is itself asynchronous.
pub async fn until_async<T, F>(
    within: Duration,
    every: Duration,
    mut check: impl FnMut() -> F,
) -> Option<T>
where
    F: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if start.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// A pause that paces an experiment (the time between two kills of the chaos run);
/// never a way to wait for something to happen.
pub fn pace(pause: Duration) {
    std::thread::sleep(pause);
}
