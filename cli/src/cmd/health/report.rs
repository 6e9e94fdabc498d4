//! From readings to statuses: values as text, levels from thresholds, and a warning in
//! the log each time a status's problems change (not once a second).

use super::readings::{self, Sources};
use pinion::msgs::diagnostic::{DiagnosticStatus, KeyValue};
use pinion::protocol::master_to_node::NodeInfo;
use pinion_launch::status::NodeState;
use std::collections::HashMap;
use std::time::Instant;

/// A CPU at this temperature or above is hot (a Pi 4 throttles at 80 °C, 85 °C hard).
pub const HOT_C: f64 = 80.0;
/// Less free disk or available memory than this share is low.
pub const LOW_SHARE: f64 = 0.10;

/// Keeps what a rate needs (the previous sample) and what was last said.
#[derive(Debug)]
pub struct Reporter {
    host: String,
    ticks_per_second: f64,
    cpu: HashMap<u32, (Instant, u64)>,
    sd: Option<(Instant, u64)>,
    said: HashMap<String, String>,
}

impl Reporter {
    /// A reporter for the machine `host`.
    pub fn new(host: String) -> Self {
        Self {
            host,
            ticks_per_second: readings::ticks_per_second() as f64,
            cpu: HashMap::new(),
            sd: None,
            said: HashMap::new(),
        }
    }

    /// This machine's host id.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The machine's status, then one per node the master lists on this host, with
    /// what each dropped (`dropped`, by node name).
    pub fn report(
        &mut self,
        src: &Sources,
        nodes: &[NodeInfo],
        dropped: &HashMap<String, u64>,
    ) -> Vec<DiagnosticStatus> {
        let now = Instant::now();
        let mut out = vec![self.machine(src, now)];
        let mut seen = Vec::new();
        let host = self.host.clone();
        let rows = readings::launch_status(src);
        for node in nodes.iter().filter(|n| n.host == host) {
            seen.push(node.pid);
            let mut status = self.node(src, node, now);
            if let Some(row) = rows.iter().find(|r| r.pid == Some(node.pid)) {
                status.values.push(kv("restarts", row.restarts.to_string()));
            }
            if let Some(n) = dropped.get(node.name.as_str()) {
                status.values.push(kv("dropped", n.to_string()));
            }
            out.push(status);
        }
        // Nodes of the launch that are down: crashing, or given up on.
        for row in rows
            .iter()
            .filter(|r| r.pid.is_none_or(|p| !seen.contains(&p)))
        {
            let level = match row.state {
                NodeState::Backoff => DiagnosticStatus::WARN,
                NodeState::Failed => DiagnosticStatus::ERROR,
                _ => continue,
            };
            out.push(DiagnosticStatus {
                level,
                name: row.name.clone(),
                message: format!(
                    "not running ({}), restarted {} times",
                    row.last_exit.as_deref().unwrap_or("not started"),
                    row.restarts
                ),
                hardware_id: self.host.clone(),
                values: vec![kv("restarts", row.restarts.to_string())],
            });
        }
        self.cpu.retain(|pid, _| seen.contains(pid));
        for status in &out {
            self.tell(status);
        }
        out
    }

    fn machine(&mut self, src: &Sources, now: Instant) -> DiagnosticStatus {
        let m = readings::machine(src);
        let mut values = Vec::new();
        let mut problems = Vec::new();
        let mut level = DiagnosticStatus::OK;
        let mut raise = |to: u8| level = level.max(to);
        if let Some(t) = m.temp_c {
            values.push(kv("cpu_temp_c", format!("{t:.1}")));
            if t >= HOT_C {
                problems.push(format!("CPU at {t:.1} °C"));
                raise(DiagnosticStatus::WARN);
            }
        }
        if let Some(bits) = m.throttled {
            values.push(kv("throttled", format!("{bits:#x}")));
            let flags = readings::throttling(bits);
            if bits & 1 != 0 {
                raise(DiagnosticStatus::ERROR);
            } else if bits != 0 {
                raise(DiagnosticStatus::WARN);
            }
            if !flags.is_empty() {
                problems.push(flags.join(", "));
            }
        }
        if let Some(load) = m.load1 {
            values.push(kv("load_1m", format!("{load:.2}")));
        }
        values.push(kv("cpus", m.cpus.to_string()));
        let mut share = |what: &str, total: Option<u64>, left: Option<u64>, keys: [&str; 2]| {
            if let (Some(total), Some(left)) = (total, left) {
                values.push(kv(keys[0], mb(total)));
                values.push(kv(keys[1], mb(left)));
                if total > 0 && (left as f64) < LOW_SHARE * total as f64 {
                    problems.push(format!("{what} low: {} MB left", mb(left)));
                    return true;
                }
            }
            false
        };
        let low_mem = share(
            "memory",
            m.mem_total,
            m.mem_available,
            ["mem_total_mb", "mem_available_mb"],
        );
        let low_disk = share(
            "disk",
            m.disk_total,
            m.disk_free,
            ["disk_total_mb", "disk_free_mb"],
        );
        if low_mem || low_disk {
            raise(DiagnosticStatus::WARN);
        }
        if let Some(written) = m.sd_written {
            values.push(kv("sd_written_mb", mb(written)));
            if let Some((then, before)) = self.sd.replace((now, written)) {
                let seconds = (now - then).as_secs_f64().max(1e-3);
                let rate = written.saturating_sub(before) as f64 / seconds / 1024.0;
                values.push(kv("sd_write_kib_s", format!("{rate:.1}")));
            }
        }
        DiagnosticStatus {
            level,
            name: "machine".to_owned(),
            message: problems.join("; "),
            hardware_id: self.host.clone(),
            values,
        }
    }

    fn node(&mut self, src: &Sources, node: &NodeInfo, now: Instant) -> DiagnosticStatus {
        let mut values = vec![kv("pid", node.pid.to_string())];
        let Some(p) = readings::process(src, node.pid) else {
            return DiagnosticStatus {
                level: DiagnosticStatus::STALE,
                name: node.name.as_str().to_owned(),
                message: format!("process {} is gone", node.pid),
                hardware_id: self.host.clone(),
                values,
            };
        };
        if let Some((then, before)) = self.cpu.insert(node.pid, (now, p.cpu_ticks)) {
            let seconds = (now - then).as_secs_f64().max(1e-3);
            let busy = p.cpu_ticks.saturating_sub(before) as f64 / self.ticks_per_second;
            values.push(kv("cpu_percent", format!("{:.1}", 100.0 * busy / seconds)));
        }
        values.push(kv("rss_mb", format!("{:.1}", p.rss as f64 / 1e6)));
        DiagnosticStatus {
            level: DiagnosticStatus::OK,
            name: node.name.as_str().to_owned(),
            message: String::new(),
            hardware_id: self.host.clone(),
            values,
        }
    }

    /// Logs a status's problems when they change.
    fn tell(&mut self, status: &DiagnosticStatus) {
        let before = self
            .said
            .insert(status.name.clone(), status.message.clone());
        if before.as_deref() == Some(status.message.as_str()) || status.message.is_empty() {
            return;
        }
        if status.level >= DiagnosticStatus::WARN && status.level != DiagnosticStatus::STALE {
            tracing::warn!(machine = %self.host, what = %status.name, "{}", status.message);
        }
    }
}

fn kv(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.into(),
    }
}

fn mb(bytes: u64) -> String {
    format!("{}", bytes / 1_000_000)
}
