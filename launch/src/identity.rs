//! Which process a pid is: the pid and the process's start time (clock ticks after
//! boot, `/proc/PID/stat` field 22), so that a pid the kernel gave to another process
//! after the first one ended is never taken for it.

use serde::{Deserialize, Serialize};

/// A process, told apart from any later one with the same pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Its pid.
    pub pid: u32,
    /// When it started, clock ticks after boot.
    pub start_ticks: u64,
}

impl Identity {
    /// The process running as `pid` now, if any (a zombie is not running).
    pub fn of(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let fields = stat_fields(&stat)?;
        // fields[0] is field 3 (the state); field 22 (the start time) is fields[19].
        if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
            return None;
        }
        Some(Self {
            pid,
            start_ticks: fields.get(19)?.parse().ok()?,
        })
    }

    /// Whether this very process still runs.
    pub fn is_running(&self) -> bool {
        Self::of(self.pid) == Some(*self)
    }
}

/// The fields of a `/proc/PID/stat` text after the process name, field 3 (the state)
/// first. The name (field 2) may hold spaces and parentheses: this counts from its end.
pub fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_its_pid_and_start_time() {
        let me = Identity::of(std::process::id()).expect("this process");
        assert!(me.is_running());
        let later = Identity {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        assert!(
            !later.is_running(),
            "same pid, another start: another process"
        );
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        assert_eq!(Identity::of(pid), None, "ended and reaped");
    }
}
