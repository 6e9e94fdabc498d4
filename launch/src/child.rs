//! One process owned by the launcher or an agent.
//!
//! A launcher's child dies with the launcher (the kernel's parent-death signal) and
//! writes into pipes. An agent's child is *detached*: it outlives the agent, writes into
//! files ([`crate::output_files`]), and an agent that starts again finds it by its
//! [`Identity`] and *adopts* it.

use crate::identity::Identity;
use crate::logs::{LogSink, Stream};
use crate::output_files;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// A running child: its own process group; see the module for how it ends.
#[derive(Debug)]
pub struct OwnedChild {
    name: String,
    process: Process,
    pid: u32,
    /// What passes its output files on (detached and adopted children).
    tailers: Vec<output_files::Tail>,
}

#[derive(Debug)]
enum Process {
    /// Started here.
    Spawned(Child),
    /// Started by an earlier agent (this process's own pid before an upgrade, or
    /// init's child after the agent was killed).
    Adopted(Identity),
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// With exit code 0.
    pub success: bool,
    /// For people: `exit code 3`, `killed by signal 9`.
    pub how: String,
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
                process: Process::Spawned(child),
                pid,
                tailers: Vec::new(),
            },
            stdout,
        ))
    }

    /// Starts `command` as child `name`, detached: no parent-death signal, not killed
    /// when dropped, its output in files in `dir` passed on to `sink`.
    pub fn spawn_detached(
        name: &str,
        mut command: Command,
        sink: &LogSink,
        dir: &Path,
    ) -> std::io::Result<Self> {
        let [(out, _), (err, _)] = output_files::paths(dir, name);
        command
            .stdin(Stdio::null())
            .stdout(output_files::open_for_child(&out)?)
            .stderr(output_files::open_for_child(&err)?)
            .process_group(0)
            .kill_on_drop(false);
        let tailers = tail(name, sink, dir);
        let child = command.spawn()?;
        Ok(Self {
            name: name.to_owned(),
            pid: child.id().unwrap_or(0),
            process: Process::Spawned(child),
            tailers,
        })
    }

    /// Takes over the detached child `who` that an earlier agent started, if it still
    /// runs; its output goes on from its files in `dir`.
    pub fn adopt(name: &str, who: Identity, sink: &LogSink, dir: &Path) -> Option<Self> {
        who.is_running().then(|| Self {
            name: name.to_owned(),
            pid: who.pid,
            process: Process::Adopted(who),
            tailers: tail(name, sink, dir),
        })
    }

    /// Who the child is, while it runs.
    pub fn identity(&self) -> Option<Identity> {
        match self.process {
            Process::Adopted(who) => Some(who),
            Process::Spawned(_) => Identity::of(self.pid),
        }
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

    /// Waits for a child started here to exit.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match &mut self.process {
            Process::Spawned(child) => child.wait().await,
            Process::Adopted(_) => Err(std::io::Error::other("an adopted child is polled")),
        }
    }

    /// How the child ended, if it has (its last output passed on first).
    pub fn try_wait(&mut self) -> std::io::Result<Option<Exit>> {
        let exit = match &mut self.process {
            Process::Spawned(child) => child.try_wait()?.map(|status| Exit {
                success: status.success(),
                how: describe(status),
            }),
            Process::Adopted(who) => adopted_exit(*who),
        };
        if exit.is_some() {
            for tailer in &self.tailers {
                tailer.finish();
            }
        }
        Ok(exit)
    }
}

/// How an adopted child ended: still this process's child after an upgrade (the
/// status is known), or init's (only that it is gone).
fn adopted_exit(who: Identity) -> Option<Exit> {
    let pid = Pid::from_raw(who.pid as i32);
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(Exit {
            success: code == 0,
            how: format!("exit code {code}"),
        }),
        Ok(WaitStatus::Signaled(_, signal, _)) => Some(Exit {
            success: false,
            how: format!("killed by signal {}", signal as i32),
        }),
        Ok(_) => None,
        Err(_) => (!who.is_running()).then(|| Exit {
            success: false,
            how: "ended (while adopted: its exit status went to init)".to_owned(),
        }),
    }
}

/// `exit code 3`, `killed by signal 9`.
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    }
}

/// Tailers of `name`'s output files in `dir`.
fn tail(name: &str, sink: &LogSink, dir: &Path) -> Vec<output_files::Tail> {
    output_files::paths(dir, name)
        .into_iter()
        .map(|(path, stream)| {
            output_files::Tail::start(path, name.to_owned(), stream, sink.clone())
        })
        .collect()
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
