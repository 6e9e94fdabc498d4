//! Child processes of the benchmark: `pinion-bench role ...`, started where a figure
//! needs a node or a socket in a process of its own, and read line by line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process of the benchmark whose stdout lines arrive on a channel.
pub(crate) struct Role {
    child: Child,
    lines: mpsc::Receiver<String>,
    last: String,
}

impl Role {
    pub(crate) fn spawn(place: &Place, args: &[String]) -> anyhow::Result<Self> {
        Self::spawn_with(place, args, &[])
    }

    /// [`Role::spawn`] with more environment variables.
    pub(crate) fn spawn_with(
        place: &Place,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut command = match &place.namespace {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command
            .arg("role")
            .args(args)
            .env("PINION_MASTER", &place.master)
            .env("PINION_HOST", &place.host)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped());
        if let Some(ip) = &place.ip {
            command.env("PINION_IP", ip);
        }
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            lines,
            last: String::new(),
        })
    }

    /// Waits for a line starting with `prefix`.
    pub(crate) fn expect(&mut self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| anyhow::anyhow!("no `{prefix}` line within {timeout:?}"))?;
            self.last.clone_from(&line);
            if line.starts_with(prefix) {
                return Ok(line);
            }
        }
    }

    /// The newest line printed so far.
    pub(crate) fn latest(&mut self) -> &str {
        while let Ok(line) = self.lines.try_recv() {
            self.last = line;
        }
        &self.last
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal);
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a role process runs.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) master: String,
    pub(crate) host: String,
    pub(crate) ip: Option<String>,
    pub(crate) namespace: Option<String>,
}

impl Place {
    /// This host (host id `bench`), with a master served on `runtime`.
    pub(crate) fn with_local_master(runtime: &tokio::runtime::Runtime) -> anyhow::Result<Self> {
        let master = runtime.block_on(crate::util::serve_master("tcp://127.0.0.1:0"))?;
        Ok(Self {
            master,
            host: "bench".to_owned(),
            ip: None,
            namespace: None,
        })
    }
}
