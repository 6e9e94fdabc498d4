//! Where `#[pinion::main]` runs the user's `main`: as a task on the node's runtime when
//! its future may move between threads (it is `Send`, as a `main` that holds only
//! Pinion's handles and plain data is), else as the future the main thread blocks on.
//!
//! Why: a subscriber's task that wakes a task on a runtime worker has it run on that
//! worker next, without a system call; the main thread is woken through the kernel, one
//! more wake-up for every message a node's `main` awaits (15–25 µs on the machine of
//! BENCHMARKS.md, more on a Pi). Either way, code in `main` that blocks (a serial read,
//! `std::thread::sleep`) belongs in `tokio::task::spawn_blocking`: on a worker it would
//! hold up that worker's share of the sockets' work.
//!
//! Chosen at compile time, by the method the macro's code calls on
//! `&&Main::new(user_main)`: [`OnWorker::run`] is implemented for `&&Main` where the
//! future is `Send`, and [`OnMainThread::run`] for `&Main` always, so method lookup
//! takes the first where it applies and the second otherwise.

use super::{run_main, run_main_with_parts, MainOutput};
use crate::node::Node;
use crate::parts::NodeParts;
use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};

/// A `main` that takes the node alone.
#[derive(Debug)]
pub struct Plain;

/// A `main` that takes the node and its parts `P`.
#[derive(Debug)]
pub struct WithParts<P>(PhantomData<fn() -> P>);

/// The user's `main` as `#[pinion::main]` hands it over (see the module's text).
pub struct Main<F, K> {
    user: Cell<Option<F>>,
    _kind: PhantomData<K>,
}

impl<F> Main<F, Plain> {
    /// `async fn main(node: Node)`.
    pub fn new(user: F) -> Self {
        Self {
            user: Cell::new(Some(user)),
            _kind: PhantomData,
        }
    }
}

impl<F, P> Main<F, WithParts<P>> {
    /// `async fn main(node: Node, parts: P)`.
    pub fn with_parts(user: F) -> Self {
        Self {
            user: Cell::new(Some(user)),
            _kind: PhantomData,
        }
    }
}

impl<F, K> std::fmt::Debug for Main<F, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Main").finish_non_exhaustive()
    }
}

impl<F, K> Main<F, K> {
    /// The function, once; `run` consumes the only reference the macro makes.
    fn take(&self) -> Option<F> {
        self.user.take()
    }
}

/// Runs a `main` whose future is `Send` as a task on the node's runtime.
pub trait OnWorker {
    /// Runs the node; its exit code.
    fn run(self, default_name: &str) -> ExitCode;
    /// True: where `run` runs `main`.
    fn on_worker(self) -> bool;
}

/// Runs a `main` on the main thread, as the future it blocks on.
pub trait OnMainThread {
    /// Runs the node; its exit code.
    fn run(self, default_name: &str) -> ExitCode;
    /// False: where `run` runs `main`.
    fn on_worker(self) -> bool;
}

impl<F, Fut, O> OnWorker for &&Main<F, Plain>
where
    F: FnOnce(Node) -> Fut,
    Fut: Future<Output = O> + Send + 'static,
    O: MainOutput + Send + 'static,
{
    fn run(self, default_name: &str) -> ExitCode {
        let Some(user) = self.take() else {
            return ExitCode::FAILURE;
        };
        run_main(default_name, move |node| Spawned::new(user(node)))
    }
    fn on_worker(self) -> bool {
        true
    }
}

impl<F, Fut, O> OnMainThread for &Main<F, Plain>
where
    F: FnOnce(Node) -> Fut,
    Fut: Future<Output = O>,
    O: MainOutput,
{
    fn run(self, default_name: &str) -> ExitCode {
        let Some(user) = self.take() else {
            return ExitCode::FAILURE;
        };
        run_main(default_name, user)
    }
    fn on_worker(self) -> bool {
        false
    }
}

impl<P, F, Fut, O> OnWorker for &&Main<F, WithParts<P>>
where
    P: NodeParts + 'static,
    F: FnOnce(Node, P) -> Fut,
    Fut: Future<Output = O> + Send + 'static,
    O: MainOutput + Send + 'static,
{
    fn run(self, default_name: &str) -> ExitCode {
        let Some(user) = self.take() else {
            return ExitCode::FAILURE;
        };
        run_main_with_parts::<P, _, _, _>(default_name, move |node, parts| {
            Spawned::new(user(node, parts))
        })
    }
    fn on_worker(self) -> bool {
        true
    }
}

impl<P, F, Fut, O> OnMainThread for &Main<F, WithParts<P>>
where
    P: NodeParts + 'static,
    F: FnOnce(Node, P) -> Fut,
    Fut: Future<Output = O>,
    O: MainOutput,
{
    fn run(self, default_name: &str) -> ExitCode {
        let Some(user) = self.take() else {
            return ExitCode::FAILURE;
        };
        run_main_with_parts::<P, _, _, _>(default_name, user)
    }
    fn on_worker(self) -> bool {
        false
    }
}

/// A future spawned on the runtime when first polled, awaited as if run in place: its
/// panic goes on in the caller, and dropping this stops the task.
enum Spawned<Fut: Future> {
    Waiting(Option<Fut>),
    Running(tokio::task::JoinHandle<Fut::Output>),
}

impl<Fut: Future> Spawned<Fut> {
    fn new(user: Fut) -> Self {
        Self::Waiting(Some(user))
    }
}

// Nothing in it is pinned in place: the user's future moves into the task whole.
impl<Fut: Future> Unpin for Spawned<Fut> {}

impl<Fut> Future for Spawned<Fut>
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Output = Fut::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Self::Waiting(user) = &mut *self {
            let Some(user) = user.take() else {
                return Poll::Pending;
            };
            *self = Self::Running(tokio::spawn(user));
        }
        let Self::Running(task) = &mut *self else {
            return Poll::Pending;
        };
        match Pin::new(task).poll(cx) {
            Poll::Ready(Ok(output)) => Poll::Ready(output),
            Poll::Ready(Err(e)) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Cancelled: only by dropping this, which then no longer polls.
                Err(_) => Poll::Pending,
            },
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<Fut: Future> Drop for Spawned<Fut> {
    fn drop(&mut self) {
        if let Self::Running(task) = self {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sendable(node: Node) -> crate::Result<()> {
        tokio::task::yield_now().await;
        drop(node);
        Ok(())
    }

    async fn local(node: Node) {
        let here = std::rc::Rc::new(node);
        tokio::task::yield_now().await;
        drop(here);
    }

    #[test]
    // `&&` whatever the type, as the macro writes it: the point of the test.
    #[allow(clippy::needless_borrow)]
    fn a_send_main_runs_on_a_worker_and_another_on_the_main_thread() {
        #[allow(unused_imports)]
        use super::{OnMainThread as _, OnWorker as _};
        assert!((&&Main::new(sendable)).on_worker());
        assert!(!(&&Main::new(local)).on_worker());
    }

    #[test]
    fn a_spawned_main_runs_on_a_worker_and_its_panic_goes_on_in_the_caller() {
        let runtime = crate::runtime::node_runtime(2).expect("runtime");
        let name = runtime.block_on(Spawned::new(async {
            std::thread::current().name().map(str::to_owned)
        }));
        assert_ne!(name, std::thread::current().name().map(str::to_owned));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(Spawned::new(async { panic!("boom") }))
        }))
        .expect_err("the panic comes through");
        assert_eq!(panicked.downcast_ref::<&str>(), Some(&"boom"));
    }
}
