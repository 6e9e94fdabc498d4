//! The guard in front of every tcp socket that accepts connections.
//!
//! The engine's codec reserves whatever length a frame header claims, before any
//! handshake: 73 bytes announcing 2^62 abort the process, and lengths of 2^30 and more
//! reserve that much per connection. It also retries a failed `accept` at once, for
//! ever, when the process runs out of file descriptors. It has no option for either,
//! so the engine never accepts from the network itself. A guard owns the tcp listener;
//! for each connection it:
//!
//! 1. takes a slot of the process's connection budget (`budget.rs`), the oldest
//!    connection still in its handshake giving way when all are taken;
//! 2. sends Pinion's greeting, reads the peer's greeting and READY command, and checks
//!    them (`zmtp.rs`): ZMTP 3, NULL mechanism, a READY of bounded size and, when the
//!    guard has a key, a valid connection token as the peer's identity (`token.rs`);
//! 3. connects to the engine socket over a private Unix socket (in a directory only
//!    the user can enter, `host::private_dir`) and relays both ways, following every frame header from the
//!    peer and cutting the connection before a frame or message past the limits
//!    reaches the engine.
//!
//! A connection that breaks a rule is closed, counted and logged with its peer address
//! (`report.rs`); everyone else is served on. Ipc endpoints are bound by the engine
//! directly: a Unix socket file admits only who may write to it (by default its owner),
//! and a process of the same user could as well attach a debugger to the node.

pub(crate) mod budget;
mod closed;
mod listener;
mod relay;
mod report;
pub mod router;
pub(crate) mod token;
pub mod zmtp;

use super::TransportError;
use crate::auth::{Domain, Key, Verifier};
use report::Report;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use zmtp::FrameLimits;

/// Set only by the benchmark that measures what the guard costs.
static BYPASS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For `pinion-bench variants guard` only: tcp endpoints bound while this is on are
/// bound by the engine directly, without a guard, as before guards existed, so that
/// the cost of the guard can be measured beside the direct path in one run. Never for
/// a robot: such a socket is open to the 73-byte abort.
#[doc(hidden)]
pub fn bypass_for_benchmarks(on: bool) {
    BYPASS.store(on, std::sync::atomic::Ordering::SeqCst);
}

pub(super) fn bypassed() -> bool {
    BYPASS.load(std::sync::atomic::Ordering::SeqCst)
}

pub use crate::limits::DEFAULT_MAX_MESSAGE;

/// Frames of one message a peer may send. Pinion's own messages have a few; a batch of
/// small messages at most 513.
const MAX_FRAMES: usize = 4096;

/// What a guarded socket admits: messages up to a size, and with a key, only peers that
/// prove they hold it.
#[derive(Debug, Clone)]
pub struct Guard {
    role: &'static str,
    max_message: usize,
    key: Option<Key>,
}

impl Guard {
    /// A guard for a socket called `role` in logs (`master`, `control`, `data`, ...)
    /// that accepts messages of at most `max_message` bytes.
    pub fn new(role: &'static str, max_message: usize) -> Self {
        Self {
            role,
            max_message,
            key: None,
        }
    }

    /// With a key, admits only connections whose token verifies with it.
    pub fn keyed(mut self, key: Option<Key>) -> Self {
        self.key = key;
        self
    }

    /// The largest message admitted.
    pub fn max_message(&self) -> usize {
        self.max_message
    }
}

/// Where a guard hands the connections it admitted.
pub(super) enum Target {
    /// To the engine socket listening on this private path.
    Engine(PathBuf),
    /// To a data socket, speaking ZMTP itself (`router.rs`).
    Router(tokio::sync::mpsc::UnboundedSender<router::RouterEvent>),
}

/// What the connections of one guard share.
pub(super) struct Shared {
    limits: FrameLimits,
    target: Target,
    verifier: Option<Mutex<Verifier>>,
    report: Report,
    budget: Arc<budget::Budget>,
}

/// A running guard: stops accepting when dropped. Connections already relayed end when
/// the engine socket closes them; the engine removes its private socket file when it is
/// dropped, and files of processes that died are removed by the next guard.
pub(crate) struct Guarded {
    task: tokio::task::JoinHandle<()>,
    engine_path: Option<PathBuf>,
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("engine_path", &self.engine_path)
            .finish_non_exhaustive()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A private path for the engine's side of a guard.
fn engine_path() -> Result<PathBuf, TransportError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = crate::host::private_dir().map_err(|e| TransportError::Bind {
        endpoint: crate::host::runtime_dir().display().to_string(),
        reason: format!("cannot make the private socket directory: {e}"),
    })?;
    if n == 0 {
        remove_stale(&dir);
    }
    let path = dir.join(format!("guard.{}.{n}.sock", std::process::id()));
    if path.as_os_str().len() > 107 {
        return Err(TransportError::Bind {
            endpoint: path.display().to_string(),
            reason: "the runtime directory's path is too long for a Unix socket; set PINION_RUNTIME_DIR to a shorter one".to_owned(),
        });
    }
    Ok(path)
}

/// Removes the private socket files of guards whose process is gone (killed before the
/// engine could remove them): the process id in the name is not running here, and
/// nothing listens on the file. A process id alone is not enough: a process of another
/// pid namespace (a container sharing the runtime directory) sees none of ours, and
/// removed the live sockets of every guard on the host.
fn remove_stale(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("guard."))
            .and_then(|n| n.split('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        let listened = || {
            !matches!(
                std::os::unix::net::UnixStream::connect(entry.path()),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
        };
        if gone && !listened() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Binds a guarded tcp endpoint (already normalized, `tcp://HOST:PORT`) in front of
/// `socket`; returns the endpoint bound (port 0 resolved) and the running guard.
pub(super) async fn bind<S: zeromq::Socket>(
    socket: &mut S,
    endpoint: &str,
    guard: &Guard,
) -> Result<(String, Guarded), TransportError> {
    let engine_path = engine_path()?;
    let _ = std::fs::remove_file(&engine_path);
    let unix =
        std::os::unix::net::UnixListener::bind(&engine_path).map_err(|e| TransportError::Bind {
            endpoint: endpoint.to_owned(),
            reason: format!("cannot bind the engine's private socket: {e}"),
        })?;
    socket
        .bind_listener(unix)
        .await
        .map_err(|e| TransportError::Bind {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        })?;
    let (bound, task) = listen(endpoint, guard, Target::Engine(engine_path.clone())).await?;
    Ok((
        bound,
        Guarded {
            task,
            engine_path: Some(engine_path),
        },
    ))
}

/// Binds a guarded tcp endpoint whose admitted connections a data socket serves itself
/// (`router.rs`), told through `events`.
pub(super) async fn bind_router(
    endpoint: &str,
    guard: &Guard,
    events: tokio::sync::mpsc::UnboundedSender<router::RouterEvent>,
) -> Result<(String, Guarded), TransportError> {
    let (bound, task) = listen(endpoint, guard, Target::Router(events)).await?;
    Ok((
        bound,
        Guarded {
            task,
            engine_path: None,
        },
    ))
}

/// Binds the tcp listener and starts accepting for `target`.
async fn listen(
    endpoint: &str,
    guard: &Guard,
    target: Target,
) -> Result<(String, tokio::task::JoinHandle<()>), TransportError> {
    let fail = |reason: String| TransportError::Bind {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let rest = endpoint
        .strip_prefix("tcp://")
        .ok_or_else(|| fail("not a tcp endpoint".to_owned()))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| fail("expected tcp://HOST:PORT".to_owned()))?;
    let port: u16 = port.parse().map_err(|_| fail("bad port".to_owned()))?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let listener = tokio::net::TcpListener::bind((bare_host, port))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let bound_port = listener
        .local_addr()
        .map_err(|e| fail(e.to_string()))?
        .port();
    let bound = format!("tcp://{host}:{bound_port}");
    let shared = Arc::new(Shared {
        limits: FrameLimits {
            max_message: guard.max_message,
            max_frames: MAX_FRAMES,
        },
        target,
        verifier: guard
            .key
            .clone()
            .map(|key| Mutex::new(Verifier::new(key, Domain::Connect))),
        report: Report::new(format!("{} {bound}", guard.role)),
        budget: budget::global(),
    });
    Ok((bound, tokio::spawn(listener::accept(listener, shared))))
}
