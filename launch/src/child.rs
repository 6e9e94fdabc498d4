//! One process owned by the launcher.

use crate::logs::{LogSink, Stream};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// A running child: its own process group, killed by the kernel if the launcher dies.
#[derive(Debug)]
pub struct OwnedChild {
    name: String,
    child: Child,
    pid: u32,
}

impl OwnedChild {
    /// Starts `command` as child `name`. Its stderr, and its stdout unless `keep_stdout`
    /// is set (then it is handed back), go to `sink` line by line.
    ///
    /// Must be called from a thread that lives as long as the launcher (the kernel's
    /// parent-death signal follows the thread that forked).
    pub fn spawn(
        name: &str,
        mut command: Command,
        sink: &LogSink,
        keep_stdout: bool,
    ) -> std::io::Result<(Self, Option<tokio::process::ChildStdout>)> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        let mut stdout = child.stdout.take();
        if !keep_stdout {
            if let Some(out) = stdout.take() {
                forward(name.to_owned(), out, Stream::Out, sink.clone());
            }
        }
        if let Some(err) = child.stderr.take() {
            forward(name.to_owned(), err, Stream::Err, sink.clone());
        }
        Ok((
            Self {
                name: name.to_owned(),
                child,
                pid,
            },
            stdout,
        ))
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to the child's whole process group.
    pub fn signal(&self, signal: Signal) {
        if self.pid != 0 {
            let _ = killpg(Pid::from_raw(self.pid as i32), signal);
        }
    }

    /// Waits for the child to exit.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// The exit status if the child has exited.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }
}

/// Forwards a child's output line by line to the sink.
fn forward(
    name: String,
    stream: impl AsyncRead + Unpin + Send + 'static,
    which: Stream,
    sink: LogSink,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            sink.line(&name, which, line);
        }
    });
}

/// Asks the kernel to SIGKILL the child when the launcher dies, even by SIGKILL.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes the `prctl` and
    // `getppid` system calls, which are async-signal-safe; it allocates nothing (its
    // errors are OS error codes, which `std::io::Error` holds without a heap box).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The launcher may have died before prctl took effect: "no such process".
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}
