//! How many connections the guards of one process hold at once, and which gives way.
//!
//! Every connection a guard holds costs file descriptors (the peer's socket, and once
//! admitted the two ends of the local link to the engine), and a process that runs out
//! of them stops accepting altogether (the engine retries a failed `accept` at once, for
//! ever). So the process raises its soft `RLIMIT_NOFILE` to the hard limit, and the
//! guards share a number of slots that keeps well below it. A connection takes a slot
//! when accepted; one that has not finished its handshake yet is the first to give its
//! slot to a newcomer, so idle connections cannot lock out a peer that speaks.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::Notify;

/// File descriptors left for everything but guarded connections.
const RESERVED_FDS: u64 = 128;
/// Descriptors an admitted connection takes: the peer's socket and both ends of the
/// local link.
const FDS_PER_CONNECTION: u64 = 3;
/// Slots however high the limit is.
const MAX_SLOTS: u64 = 4096;
/// Slots however low the limit is.
const MIN_SLOTS: u64 = 8;

/// The process's slots, shared by all its guards.
pub fn global() -> Arc<Budget> {
    static GLOBAL: OnceLock<Arc<Budget>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| Arc::new(Budget::new(slots_for(raise_fd_limit()))))
        .clone()
}

/// Raises the soft limit on open files to the hard one; returns the soft limit now.
// `rlim_t` is 32 bits wide on 32-bit ARM: the conversions are not useless there.
#[allow(clippy::useless_conversion)]
fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                tracing::debug!(from = soft, to = hard, "raised the open-file limit");
                return u64::from(hard);
            }
            u64::from(soft)
        }
        Err(_) => 1024,
    }
}

fn slots_for(fd_limit: u64) -> usize {
    (fd_limit.saturating_sub(RESERVED_FDS) / FDS_PER_CONNECTION).clamp(MIN_SLOTS, MAX_SLOTS)
        as usize
}

/// A number of connection slots.
#[derive(Debug)]
pub struct Budget {
    slots: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    admitted: usize,
    /// Connections still in their handshake, oldest first.
    waiting: VecDeque<(u64, Arc<Notify>)>,
    next: u64,
}

/// The slot of one connection; given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    budget: Arc<Budget>,
    id: u64,
    evicted: Arc<Notify>,
    admitted: bool,
}

/// Every slot is held by an admitted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("all {0} connection slots are taken by connections that finished their handshake")]
pub struct Full(pub usize);

impl Budget {
    /// A budget of `slots` connections.
    pub fn new(slots: usize) -> Self {
        Self {
            slots,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection. When all are taken, the oldest connection still in
    /// its handshake is told to go ([`Ticket::evicted`]) and its slot is taken over.
    pub fn enter(self: &Arc<Self>) -> Result<Ticket, Full> {
        let mut state = self.lock();
        if state.admitted + state.waiting.len() >= self.slots {
            match state.waiting.pop_front() {
                Some((_, oldest)) => oldest.notify_one(),
                None => return Err(Full(self.slots)),
            }
        }
        let id = state.next;
        state.next += 1;
        let evicted = Arc::new(Notify::new());
        state.waiting.push_back((id, evicted.clone()));
        Ok(Ticket {
            budget: self.clone(),
            id,
            evicted,
            admitted: false,
        })
    }

    /// Connections admitted and waiting.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let state = self.lock();
        (state.admitted, state.waiting.len())
    }
}

impl Ticket {
    /// Resolves when a newcomer took this connection's slot during its handshake.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }

    /// The handshake is done: the slot is kept until the connection ends. False if the
    /// slot was taken over meanwhile.
    pub fn admit(&mut self) -> bool {
        let mut state = self.budget.lock();
        let Some(at) = state.waiting.iter().position(|(id, _)| *id == self.id) else {
            return false;
        };
        state.waiting.remove(at);
        state.admitted += 1;
        self.admitted = true;
        true
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.budget.lock();
        if self.admitted {
            state.admitted -= 1;
        } else if let Some(at) = state.waiting.iter().position(|(id, _)| *id == self.id) {
            state.waiting.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn slots_follow_the_fd_limit_within_bounds() {
        assert_eq!(slots_for(1024), 298);
        assert_eq!(slots_for(64), MIN_SLOTS as usize);
        assert_eq!(slots_for(1 << 20), MAX_SLOTS as usize);
    }

    #[test]
    fn the_oldest_handshake_gives_way_and_admitted_ones_stay() {
        let budget = Arc::new(Budget::new(3));
        let mut a = budget.enter().expect("a");
        let b = budget.enter().expect("b");
        let c = budget.enter().expect("c");
        assert!(a.admit());
        assert_eq!(budget.held(), (1, 2));
        // Full: b, the oldest still in its handshake, is told to go.
        let d = budget.enter().expect("d");
        assert!(b.evicted().now_or_never().is_some());
        assert!(c.evicted().now_or_never().is_none());
        assert_eq!(budget.held(), (1, 2));
        drop(b);
        assert_eq!(budget.held(), (1, 2));
        let mut c = c;
        let mut d = d;
        assert!(c.admit() && d.admit());
        // Everyone admitted: a newcomer is refused.
        assert_eq!(budget.enter().err(), Some(Full(3)));
        drop(a);
        assert_eq!(budget.held(), (2, 0));
        let e = budget.enter().expect("a slot came free");
        drop(e);
        drop((c, d));
        assert_eq!(budget.held(), (0, 0));
    }

    #[test]
    fn an_evicted_ticket_cannot_be_admitted() {
        let budget = Arc::new(Budget::new(1));
        let mut old = budget.enter().expect("old");
        let _new = budget.enter().expect("new");
        assert!(!old.admit());
        drop(old);
        assert_eq!(budget.held(), (0, 1));
    }
}
