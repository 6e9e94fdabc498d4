//! The accept loop of a guard: takes connections as long as there are slots, and backs
//! off instead of spinning when the process is out of file descriptors.

use super::{relay, Shared};
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A descriptor kept open to be given up when the process runs out: with it closed, one
/// pending connection can be accepted and closed, so the backlog drains instead of
/// keeping the listener ready for ever (the libev / nginx habit).
struct Spare(Option<std::fs::File>);

impl Spare {
    fn open() -> Self {
        Self(std::fs::File::open("/dev/null").ok())
    }

    /// Closes the spare, accepts one pending connection and closes it, reopens the spare.
    fn shed(&mut self, listener: &TcpListener, shared: &Shared) {
        self.0 = None;
        if let Some(Ok((tcp, peer))) = listener.accept().now_or_never() {
            drop(tcp);
            shared
                .report
                .refuse(Some(peer), "fds", &"the process is out of file descriptors");
        }
        *self = Self::open();
    }
}

fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE)
            | Some(nix::libc::ENFILE)
            | Some(nix::libc::ENOBUFS)
            | Some(nix::libc::ENOMEM)
    )
}

/// Accepts connections until the task is aborted.
pub(super) async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut spare = Spare::open();
    let mut backoff = MIN_BACKOFF;
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                backoff = MIN_BACKOFF;
                match shared.budget.enter() {
                    Ok(ticket) => {
                        tokio::spawn(relay::serve(tcp, peer, ticket, shared.clone()));
                    }
                    Err(full) => {
                        drop(tcp);
                        shared.report.refuse(Some(peer), "slots", &full);
                    }
                }
            }
            Err(e) => {
                if out_of_descriptors(&e) {
                    spare.shed(&listener, &shared);
                }
                shared.report.refuse(
                    None,
                    "accept",
                    &format!("accept failed ({e}); accepting again in {backoff:?}"),
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
