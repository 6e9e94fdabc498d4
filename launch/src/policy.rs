//! What to do when a supervised node exits: a pure function of its respawn settings,
//! its history and how it exited.

use crate::model::{Respawn, RespawnPolicy};
use std::time::Duration;

/// A run that lasted this long resets the backoff: the node was healthy.
pub const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// How a node's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit code 0.
    Success,
    /// Another exit code, or killed by a signal.
    Failure,
}

/// What the supervisor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    Restart(Duration),
    /// Leave it down: its policy says so.
    StayDown,
    /// Leave it down: it used up its restarts.
    GiveUp,
}

/// The restart history of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// Restarts so far.
    pub restarts: u32,
    /// Failed runs in a row shorter than [`HEALTHY_RUN`] (drives the backoff).
    pub quick_failures: u32,
}

/// Decides what follows an exit, and updates the history when it is a restart.
pub fn on_exit(
    respawn: &Respawn,
    history: &mut History,
    exit: Exit,
    ran_for: Duration,
) -> Decision {
    let wanted = match respawn.policy {
        RespawnPolicy::Never => false,
        RespawnPolicy::OnFailure => exit == Exit::Failure,
        RespawnPolicy::Always => true,
    };
    if !wanted {
        return Decision::StayDown;
    }
    if respawn
        .max_restarts
        .is_some_and(|max| history.restarts >= max)
    {
        return Decision::GiveUp;
    }
    if ran_for >= HEALTHY_RUN {
        history.quick_failures = 0;
    }
    let factor = 2u32.saturating_pow(history.quick_failures.min(16));
    let delay = respawn.delay.saturating_mul(factor).min(respawn.max_delay);
    history.restarts += 1;
    history.quick_failures += 1;
    Decision::Restart(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respawn(policy: RespawnPolicy, max_restarts: Option<u32>) -> Respawn {
        Respawn {
            policy,
            delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_restarts,
        }
    }

    #[test]
    fn policies() {
        let quick = Duration::from_millis(10);
        let mut h = History::default();
        assert_eq!(
            on_exit(
                &respawn(RespawnPolicy::Never, None),
                &mut h,
                Exit::Failure,
                quick
            ),
            Decision::StayDown
        );
        let on_failure = respawn(RespawnPolicy::OnFailure, None);
        assert_eq!(
            on_exit(&on_failure, &mut h, Exit::Success, quick),
            Decision::StayDown
        );
        assert!(matches!(
            on_exit(&on_failure, &mut h, Exit::Failure, quick),
            Decision::Restart(_)
        ));
        let mut h = History::default();
        assert!(matches!(
            on_exit(
                &respawn(RespawnPolicy::Always, None),
                &mut h,
                Exit::Success,
                quick
            ),
            Decision::Restart(_)
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_after_a_healthy_run() {
        let r = respawn(RespawnPolicy::Always, None);
        let mut h = History::default();
        let quick = Duration::from_millis(10);
        let delays: Vec<Decision> = (0..5)
            .map(|_| on_exit(&r, &mut h, Exit::Failure, quick))
            .collect();
        let ms = |d: u64| Decision::Restart(Duration::from_millis(d));
        assert_eq!(delays, vec![ms(100), ms(200), ms(400), ms(500), ms(500)]);
        assert_eq!(on_exit(&r, &mut h, Exit::Failure, HEALTHY_RUN), ms(100));
    }

    #[test]
    fn max_restarts_then_give_up() {
        let r = respawn(RespawnPolicy::Always, Some(2));
        let mut h = History::default();
        let quick = Duration::from_millis(10);
        assert!(matches!(
            on_exit(&r, &mut h, Exit::Failure, quick),
            Decision::Restart(_)
        ));
        assert!(matches!(
            on_exit(&r, &mut h, Exit::Failure, quick),
            Decision::Restart(_)
        ));
        assert_eq!(on_exit(&r, &mut h, Exit::Failure, quick), Decision::GiveUp);
        assert_eq!(h.restarts, 2);
    }
}
