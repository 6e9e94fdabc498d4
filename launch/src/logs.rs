//! Where node output goes: the launcher's own stdout/stderr with the node's name in
//! front, or a ring buffer an agent serves to the launcher.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Lines an agent keeps for the launcher to fetch.
const RING_LINES: usize = 20_000;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    /// Standard output.
    Out,
    /// Standard error (logs).
    Err,
}

/// One line of a node's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Position in the ring, counting from 1 since the agent started.
    pub seq: u64,
    /// The node.
    pub node: String,
    /// Its stream.
    pub stream: Stream,
    /// The text, without the newline.
    pub text: String,
}

/// A bounded buffer of recent lines.
#[derive(Debug, Default)]
pub struct LogRing {
    inner: Mutex<(u64, VecDeque<LogLine>)>,
}

impl LogRing {
    /// Adds a line, forgetting the oldest past the capacity.
    pub fn push(&self, node: &str, stream: Stream, text: String) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.0 += 1;
        let seq = inner.0;
        if inner.1.len() >= RING_LINES {
            inner.1.pop_front();
        }
        inner.1.push_back(LogLine {
            seq,
            node: node.to_owned(),
            stream,
            text,
        });
    }

    /// Lines after `seq`, at most `limit`.
    pub fn after(&self, seq: u64, limit: usize) -> Vec<LogLine> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .1
            .iter()
            .filter(|l| l.seq > seq)
            .take(limit)
            .cloned()
            .collect()
    }
}

/// Where a supervised process's output goes.
#[derive(Debug, Clone)]
pub enum LogSink {
    /// The launcher's stdout/stderr, as `[prefix] line`.
    Terminal,
    /// A ring buffer.
    Ring(Arc<LogRing>),
}

impl LogSink {
    /// Writes one line of `node`'s output.
    pub fn line(&self, node: &str, stream: Stream, text: String) {
        match self {
            LogSink::Terminal => print_line(node, stream, &text),
            LogSink::Ring(ring) => ring.push(node, stream, text),
        }
    }
}

/// Writes `[node] text` to the launcher's stdout or stderr.
pub fn print_line(node: &str, stream: Stream, text: &str) {
    let line = format!("[{node}] {text}\n");
    // The launcher's own output going away must not stop the children.
    let _ = match stream {
        Stream::Out => std::io::stdout().lock().write_all(line.as_bytes()),
        Stream::Err => std::io::stderr().lock().write_all(line.as_bytes()),
    };
}
