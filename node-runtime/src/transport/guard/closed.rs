//! Why a guarded connection was closed: a rule it broke (counted and logged), or an
//! end that is nobody's fault.

use super::zmtp::Violation;
use std::fmt;

/// Why a connection was closed.
#[derive(Debug)]
pub(super) enum Closed {
    /// It broke a rule (of a kind, for the log's tally): counted and logged.
    Refused(&'static str, String),
    /// It ended, or the engine went away: not the peer's fault.
    Ended(String),
}

impl From<Violation> for Closed {
    fn from(v: Violation) -> Self {
        let kind = match v {
            Violation::NotZmtp(_) | Violation::Version(_) | Violation::Mechanism(_) => "greeting",
            Violation::NotReady | Violation::Command(_) | Violation::CommandTooLong { .. } => {
                "handshake"
            }
            Violation::Flags(_)
            | Violation::MessageTooLong { .. }
            | Violation::TooManyFrames(_) => "frame",
        };
        Closed::Refused(kind, v.to_string())
    }
}

pub(super) fn ended(what: &str) -> impl FnOnce(std::io::Error) -> Closed + '_ {
    move |e| Closed::Ended(format!("{what}: {e}"))
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Refused(_, why) | Closed::Ended(why) => f.write_str(why),
        }
    }
}
