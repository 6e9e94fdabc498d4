//! What `#[pinion::main]` runs: logging, the tokio runtime, signals, clean shutdown.

mod entry;

pub use entry::{Main, OnMainThread, OnWorker, Plain, WithParts};

use crate::node::{Node, NodeOptions};
use crate::shutdown::StopReason;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// How long user code gets to return after a shutdown request before the node closes anyway.
const USER_GRACE: Duration = Duration::from_secs(3);

/// What a node's `main` may return.
pub trait MainOutput {
    /// Reports the outcome and chooses the exit code.
    fn report(self) -> ExitCode;
}

impl<E: std::fmt::Display> MainOutput for Result<ExitCode, E> {
    fn report(self) -> ExitCode {
        match self {
            Ok(code) => code,
            Err(e) => Err::<(), E>(e).report(),
        }
    }
}

impl MainOutput for ExitCode {
    fn report(self) -> ExitCode {
        self
    }
}

impl MainOutput for () {
    fn report(self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

impl<E: std::fmt::Display> MainOutput for Result<(), E> {
    fn report(self) -> ExitCode {
        match self {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Installs the log subscriber of a binary: `RUST_LOG` filter (info by default, the
/// ZeroMQ engine's own chatter at error), to stderr, coloured only on a terminal.
pub fn init_logging() {
    install_logging(false);
}

/// Like [`init_logging`], and also captures the events for `pinion logs` (a ring of
/// recent records and the log topic; see [`crate::logs`]). `#[pinion::main]` calls it.
pub fn init_node_logging() {
    install_logging(true);
}

fn install_logging(capture: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,zeromq=error"));
    let terminal = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(terminal)
        .with(capture.then(crate::logs::capture_layer))
        .try_init();
}

/// Runtime threads of a node by default: the sockets' tasks and the user's code run side
/// by side on two cores.
pub const DEFAULT_THREADS: usize = 2;

/// The runtime threads `#[pinion::main]` gives a node: `PINION_THREADS`, else
/// [`DEFAULT_THREADS`]. `PINION_THREADS=1` is the setting for a very small node (a
/// relay, a converter at a few hertz) on a Pi that runs many: everything runs on the
/// main thread, and the allocator gives freed memory back at once
/// ([`crate::alloc::return_freed_memory_at_once`]); together about 0.6 MB less
/// private memory per node (`pinion-bench ring`, BENCHMARKS.md).
pub fn runtime_threads() -> usize {
    std::env::var("PINION_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| (1..=64).contains(&n))
        .unwrap_or(DEFAULT_THREADS)
}

/// A runtime of `threads` threads: with one, a current-thread runtime on the caller's.
pub fn node_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// Runs a node's user `main`: sets up logging and the runtime, creates the node,
/// turns SIGINT/SIGTERM into a shutdown request, and closes the node cleanly at the end.
pub fn run_main<F, Fut, O>(default_name: &str, user_main: F) -> ExitCode
where
    F: FnOnce(Node) -> Fut,
    Fut: Future<Output = O>,
    O: MainOutput,
{
    if manifest_requested() {
        // A node without `#[derive(Node)]` parts cannot say what it uses.
        return print_manifest(None);
    }
    init_node_logging();
    let threads = runtime_threads();
    if threads == 1 {
        crate::alloc::return_freed_memory_at_once();
    }
    let runtime = match node_runtime(threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = NodeOptions::from_env(default_name);
    runtime.block_on(async move {
        let node = tokio::select! {
            node = Node::init(options) => node,
            _ = termination() => return ExitCode::from(130),
        };
        let node = match node {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let signals = {
            let node = node.clone();
            tokio::spawn(async move {
                termination().await;
                node.request_shutdown("signal");
            })
        };
        let user = user_main(node.clone());
        tokio::pin!(user);
        let output = tokio::select! {
            output = &mut user => Some(output),
            _ = node.shutdown_flag().wait() => {
                tokio::time::timeout(USER_GRACE, &mut user).await.ok()
            }
        };
        signals.abort();
        let reason = node.stop_reason();
        node.close().await;
        if let Some(StopReason::Replaced(by)) = reason {
            eprintln!("error: node `{}` stops: {by}", node.name());
            return ExitCode::from(3);
        }
        match output {
            Some(o) => o.report(),
            None => {
                tracing::warn!("main did not return within {USER_GRACE:?} of the shutdown request");
                ExitCode::FAILURE
            }
        }
    })
}

/// The flag that makes a node print its manifest (JSON) and exit without connecting.
pub const MANIFEST_FLAG: &str = "--pinion-manifest";

/// The bytes `#[pinion::main]` places in every node binary, so that a launcher can tell
/// a node binary from any other program without running it. Kept here XOR 0x5a, so that
/// the programs that search for it (`pinion` itself) do not contain it.
const NODE_MARKER_XOR: [u8; 24] = [
    0x25, 0x2a, 0x33, 0x34, 0x33, 0x35, 0x34, 0x77, 0x34, 0x35, 0x3e, 0x3f, 0x77, 0x37, 0x3b, 0x34,
    0x33, 0x3c, 0x3f, 0x29, 0x2e, 0x75, 0x6b, 0x5a,
];

/// The bytes `#[pinion::main]` places in every node binary.
pub fn node_marker() -> Vec<u8> {
    let key = std::hint::black_box(0x5a_u8);
    NODE_MARKER_XOR.iter().map(|b| b ^ key).collect()
}

fn manifest_requested() -> bool {
    std::env::args().skip(1).any(|a| a == MANIFEST_FLAG)
}

fn print_manifest(manifest: Option<&crate::parts::Manifest>) -> ExitCode {
    use std::io::Write;
    let text = match manifest {
        Some(m) => serde_json::to_string_pretty(m).unwrap_or_else(|_| "null".to_owned()),
        None => "null".to_owned(),
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Like [`run_main`], for `async fn main(node: Node, parts: P)`: the parts are created
/// from the node before `main` runs, and `--pinion-manifest` prints `P`'s manifest.
pub fn run_main_with_parts<P, F, Fut, O>(default_name: &str, user_main: F) -> ExitCode
where
    P: crate::parts::NodeParts + 'static,
    F: FnOnce(Node, P) -> Fut,
    Fut: Future<Output = O>,
    O: MainOutput,
{
    if manifest_requested() {
        return print_manifest(Some(&P::manifest()));
    }
    run_main(default_name, |node: Node| async move {
        match P::create(&node).await {
            Ok(parts) => Ok(user_main(node, parts).await.report()),
            Err(e) => Err(e),
        }
    })
}

/// Completes on SIGINT or SIGTERM.
pub async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
