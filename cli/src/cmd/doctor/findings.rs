//! What `pinion doctor` concludes from what it observed: pure functions, no IO.

use pinion::msgs::diagnostic::DiagnosticStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    /// Works, but worth fixing.
    Warning,
    /// Something is broken.
    Error,
}

/// One conclusion, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What was found.
    pub what: String,
    /// What to do (empty when nothing needs doing).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Finding {
    pub fn ok(what: impl Into<String>) -> Self {
        Self {
            severity: Severity::Ok,
            what: what.into(),
            fix: String::new(),
        }
    }

    pub fn warning(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            what: what.into(),
            fix: fix.into(),
        }
    }

    pub fn error(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = match self.severity {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{label}: {}", self.what)?;
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// A process that said who and where it is: a node, or the doctor itself.
#[derive(Debug, Clone)]
pub struct Seen {
    pub name: String,
    pub host: String,
    pub machine: String,
}

/// Host ids must name machines one to one: one host id on two machines breaks ipc
/// between them; one machine under two host ids works, over tcp.
pub fn host_ids(seen: &[Seen]) -> Vec<Finding> {
    let mut machines_of: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    let mut hosts_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in seen {
        machines_of
            .entry(&s.host)
            .or_default()
            .entry(&s.machine)
            .or_default()
            .push(&s.name);
        hosts_of.entry(&s.machine).or_default().insert(&s.host);
    }
    let mut findings = Vec::new();
    for (host, machines) in &machines_of {
        if machines.len() > 1 {
            let groups: Vec<String> = machines.values().map(|names| names.join(", ")).collect();
            findings.push(Finding::error(
                format!(
                    "host id `{host}` is used on {} machines (or runtime directories): {{{}}}; \
                     processes with one host id talk over ipc and cannot reach each other",
                    machines.len(),
                    groups.join("} and {")
                ),
                "give each Pi its own host id: a unique hostname, or PINION_HOST set per Pi \
                 (and one PINION_RUNTIME_DIR for all processes of a Pi)",
            ));
        }
    }
    for hosts in hosts_of.values() {
        if hosts.len() > 1 {
            let list: Vec<&str> = hosts.iter().copied().collect();
            findings.push(Finding::warning(
                format!(
                    "host ids {} are one machine: their nodes talk over tcp, not ipc",
                    list.join(", ")
                ),
                "use one host id per machine, unless these stand for separate Pis on purpose",
            ));
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(format!(
            "host ids: {} host(s), each on its own machine",
            machines_of.len()
        )));
    }
    findings
}

/// A host's clock against the doctor's: offset and how uncertain it is (half the
/// round trip of the best sample).
#[derive(Debug, Clone, Copy)]
pub struct ClockSample {
    pub offset_ns: i64,
    pub uncertainty_ns: i64,
}

/// Clock differences above this make stamps from two hosts compare wrong.
pub const CLOCK_WARN_NS: i64 = 20_000_000;
/// Above this, stamps are useless across hosts.
pub const CLOCK_ERROR_NS: i64 = 500_000_000;

/// Compares every host's clock with the doctor's (`here`).
pub fn clocks(here: &str, samples: &BTreeMap<String, ClockSample>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let fix = "keep the clocks in sync on every Pi: `sudo timedatectl set-ntp true` \
               (systemd-timesyncd), or chrony with one Pi serving time to the others when \
               the robot has no internet";
    let mut worst = 0i64;
    for (host, s) in samples {
        // Only what the measurement cannot explain counts.
        let beyond = (s.offset_ns.abs() - s.uncertainty_ns).max(0);
        worst = worst.max(beyond);
        let text = format!(
            "clock of host `{host}` differs from this host's (`{here}`) by {} (± {})",
            millis(s.offset_ns),
            millis(s.uncertainty_ns)
        );
        if beyond > CLOCK_ERROR_NS {
            findings.push(Finding::error(text, fix));
        } else if beyond > CLOCK_WARN_NS {
            findings.push(Finding::warning(text, fix));
        }
    }
    if findings.is_empty() {
        findings.push(Finding::ok(format!(
            "clocks: {} host(s) within {} of this host's",
            samples.len(),
            millis(CLOCK_WARN_NS)
        )));
    }
    findings
}

fn millis(ns: i64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// What the machines' health reports say: their problems, each with what to do.
pub fn health(machines: &[DiagnosticStatus]) -> Vec<Finding> {
    machines
        .iter()
        .map(|m| {
            let who = format!("machine `{}`", m.hardware_id);
            if m.level == DiagnosticStatus::OK || m.level == DiagnosticStatus::STALE {
                return Finding::ok(format!("{who} reports no trouble"));
            }
            let what = format!("{who}: {}", m.message);
            let mut fixes = Vec::new();
            if m.message.contains("under-voltage") {
                fixes.push("use the Pi's official supply (5.1 V, 3 A for a Pi 4, 5 A for a Pi 5) and a short, thick cable; motors need a supply of their own");
            }
            if m.message.contains("CPU at") || m.message.contains("throttl") || m.message.contains("temperature") {
                fixes.push("cool the Pi (a heatsink or a fan, air around the case) or give it less work");
            }
            if m.message.contains("disk low") {
                fixes.push("free space on the SD card (old recordings, logs)");
            }
            if m.message.contains("memory low") {
                fixes.push("run fewer nodes on this Pi, or find the one that grows (`pinion top`)");
            }
            let fix = fixes.join("; ");
            if m.level >= DiagnosticStatus::ERROR {
                Finding::error(what, fix)
            } else {
                Finding::warning(what, fix)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, host: &str, machine: &str) -> Seen {
        Seen {
            name: name.into(),
            host: host.into(),
            machine: machine.into(),
        }
    }

    #[test]
    fn one_host_id_on_two_machines_is_an_error_naming_the_processes() {
        let f = host_ids(&[
            seen("a", "pi", "m1"),
            seen("b", "pi", "m1"),
            seen("c", "pi", "m2"),
            seen("d", "base", "m3"),
        ]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].what.contains("host id `pi` is used on 2 machines"));
        assert!(f[0].what.contains("{a, b} and {c}"), "{}", f[0].what);
    }

    #[test]
    fn one_machine_under_two_host_ids_is_a_warning_and_a_clean_graph_is_ok() {
        let f = host_ids(&[seen("a", "pi1", "m"), seen("b", "pi2", "m")]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        let f = host_ids(&[seen("a", "pi1", "m1"), seen("b", "pi2", "m2")]);
        assert_eq!(f[0].severity, Severity::Ok);
    }

    #[test]
    fn clock_offsets_are_judged_beyond_their_uncertainty() {
        let sample = |offset_ms: i64, unc_ms: i64| ClockSample {
            offset_ns: offset_ms * 1_000_000,
            uncertainty_ns: unc_ms * 1_000_000,
        };
        let mut samples = BTreeMap::new();
        samples.insert("near".to_owned(), sample(15, 1));
        samples.insert("noisy".to_owned(), sample(30, 25));
        assert_eq!(clocks("here", &samples)[0].severity, Severity::Ok);
        samples.insert("drifted".to_owned(), sample(-60, 1));
        samples.insert("far".to_owned(), sample(3000, 1));
        let f = clocks("here", &samples);
        let severity_of = |host: &str| {
            f.iter()
                .find(|x| x.what.contains(&format!("`{host}`")))
                .map(|x| x.severity)
        };
        assert_eq!(severity_of("drifted"), Some(Severity::Warning));
        assert_eq!(severity_of("far"), Some(Severity::Error));
        assert_eq!(severity_of("near"), None);
        assert!(f.iter().all(|x| x.fix.contains("timedatectl")));
    }

    #[test]
    fn a_hot_under_powered_pi_is_an_error_with_what_to_do() {
        let machine = |level, message: &str| DiagnosticStatus {
            level,
            name: "machine".to_owned(),
            message: message.to_owned(),
            hardware_id: "pi1".to_owned(),
            values: Vec::new(),
        };
        let found = health(&[
            machine(DiagnosticStatus::ERROR, "CPU at 85.2 °C; under-voltage now"),
            machine(DiagnosticStatus::WARN, "disk low: 120 MB left"),
            machine(DiagnosticStatus::OK, ""),
        ]);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(found[0].fix.contains("supply") && found[0].fix.contains("cool"));
        assert_eq!(found[1].severity, Severity::Warning);
        assert!(found[1].fix.contains("free space"));
        assert_eq!(found[2].severity, Severity::Ok);
    }
}
