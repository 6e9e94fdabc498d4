//! Test support: real processes with kill-on-drop guards, line events with timeouts,
//! a master per test on port 0, and an isolated runtime directory per test.
#![allow(dead_code)]

pub mod netns;
pub mod tmux;
pub mod wait;

use pinion::protocol::{self, MasterReply, NodeToMaster};
use pinion::transport::Requester;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A generous bound for anything that should happen "soon" on a loaded CI machine.
pub const SOON: Duration = Duration::from_secs(15);

/// Path of a workspace binary (built by `cargo build --workspace --bins` or `cargo test --workspace`).
pub fn bin(name: &str) -> PathBuf {
    if name == "pinion" {
        return PathBuf::from(env!("CARGO_BIN_EXE_pinion"));
    }
    let dir = Path::new(env!("CARGO_BIN_EXE_pinion"))
        .parent()
        .expect("binary directory")
        .to_owned();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// Cargo's target directory of this build (the parent of the profile's directory).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pinion"))
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

/// A directory of its own for one test, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "pinion-test-{tag}-{}-{}",
            std::process::id(),
            pinion::host::random_id()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    Out,
    Err,
}

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    lines: mpsc::Receiver<(Src, String)>,
    pub seen: Vec<(Src, String)>,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for (src, stream) in [
            (Src::Out, Box::new(out) as Box<dyn std::io::Read + Send>),
            (Src::Err, Box::new(err)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send((src, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            name: name.to_owned(),
            child: Some(child),
            lines: rx,
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Waits for a line matching `pred`; returns it, or None at the timeout.
    pub fn wait_line(
        &mut self,
        timeout: Duration,
        pred: impl Fn(Src, &str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((src, line)) => {
                    let hit = pred(src, &line);
                    self.seen.push((src, line.clone()));
                    if hit {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Like `wait_line` but panics with everything seen so far.
    pub fn expect_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(Src, &str) -> bool,
    ) -> String {
        match self.wait_line(timeout, pred) {
            Some(l) => l,
            None => panic!(
                "{}: no line {what} within {timeout:?}; output so far:\n{}",
                self.name,
                self.dump()
            ),
        }
    }

    /// For a `pinion launch` process: waits for its "master up" line and returns the
    /// master's endpoint from it.
    pub fn expect_master_up(&mut self) -> String {
        let up = self.expect_line("master up", SOON, |_, l| l.contains("master up"));
        up.split("master=")
            .nth(1)
            .expect("endpoint")
            .trim()
            .to_owned()
    }

    /// Collects stdout lines until the process exits or the timeout; returns them and the exit code.
    pub fn finish(&mut self, timeout: Duration) -> (Vec<String>, Option<i32>) {
        let deadline = Instant::now() + timeout;
        let mut code = None;
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                code = status.code();
                break;
            }
            let _ = self.wait_line(Duration::from_millis(20), |_, _| false);
        }
        // Drain what the reader threads still hold.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        let out = self
            .seen
            .iter()
            .filter(|(s, _)| *s == Src::Out)
            .map(|(_, l)| l.clone())
            .collect();
        (out, code)
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn dump(&self) -> String {
        self.seen
            .iter()
            .map(|(s, l)| format!("  {s:?}: {l}\n"))
            .collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Common environment of the processes of one test.
#[derive(Clone)]
pub struct Env {
    pub runtime_dir: PathBuf,
    pub master: String,
}

impl Env {
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(bin(program));
        c.env("PINION_RUNTIME_DIR", &self.runtime_dir)
            .env("PINION_MASTER", &self.master)
            .env("RUST_LOG", "info,zeromq=error")
            .env_remove("PINION_HOST")
            .env_remove("PINION_NODE_NAME");
        c
    }

    pub fn node(&self, program: &str, name: &str, args: &[&str]) -> Proc {
        let mut c = self.command(program);
        c.env("PINION_NODE_NAME", name).args(args);
        Proc::spawn(name, c)
    }
}

/// Starts `pinion master` on a free loopback port and returns it with its endpoint.
pub fn start_master(dir: &TempDir) -> (Proc, Env) {
    start_master_on(dir, "tcp://127.0.0.1:0")
}

pub fn start_master_on(dir: &TempDir, bind: &str) -> (Proc, Env) {
    let mut c = Command::new(bin("pinion"));
    c.args(["master", "--bind", bind])
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut master = Proc::spawn("master", c);
    let line = master.expect_line("PINION_MASTER=", SOON, |s, l| {
        s == Src::Out && l.starts_with("PINION_MASTER=")
    });
    let endpoint = line.trim_start_matches("PINION_MASTER=").to_owned();
    (
        master,
        Env {
            runtime_dir: dir.0.clone(),
            master: endpoint,
        },
    )
}

/// One request to the master.
pub async fn ask(master: &str, request: &NodeToMaster) -> pinion::Result<MasterReply> {
    let mut r = Requester::new(master, Duration::from_secs(1))?;
    let reply = r
        .request(protocol::encode("test request", request)?)
        .await?;
    protocol::decode("test reply", &reply)
}

/// Names of the registered nodes.
pub async fn node_names(master: &str) -> Vec<String> {
    match ask(
        master,
        &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
    )
    .await
    {
        Ok(MasterReply::Nodes(nodes)) => nodes.into_iter().map(|n| n.name.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// What the master lists for the node `name`.
pub async fn node_info(master: &str, name: &str) -> pinion::protocol::master_to_node::NodeInfo {
    let Ok(MasterReply::Nodes(nodes)) = ask(
        master,
        &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
    )
    .await
    else {
        panic!("no node list");
    };
    nodes
        .into_iter()
        .find(|n| n.name.as_str() == name)
        .unwrap_or_else(|| panic!("{name} is not registered"))
}

/// Polls the master until `pred` holds for the node list, or the timeout; returns the time taken.
pub async fn wait_nodes(
    master: &str,
    timeout: Duration,
    pred: impl Fn(&[String]) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    wait::until_async(timeout, Duration::from_millis(20), || async {
        pred(&node_names(master).await).then(|| start.elapsed())
    })
    .await
}

/// In-process node options for this test's master.
pub fn options(env: &Env, name: &str) -> pinion::NodeOptions {
    let mut o = pinion::NodeOptions::from_env(name).master(env.master.clone());
    o.name = name.to_owned();
    o
}

/// Receives one message within the timeout, or None.
pub async fn recv_within<T: pinion::Message>(
    sub: &mut pinion::Subscriber<T>,
    timeout: Duration,
) -> Option<T> {
    tokio::time::timeout(timeout, sub.recv())
        .await
        .ok()
        .flatten()
}

/// Logs of in-process nodes go to the test's output (shown on failure); `RUST_LOG` filters.
pub fn log_to_test_output() {
    let filter = tracing_subscriber_filter();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

fn tracing_subscriber_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,zeromq=error"))
}

/// Runs a Python script (`python3 -c`) on `file` and reads the one JSON value it prints;
/// the test fails with the script's stderr if it fails (its packages come from
/// scripts/setup).
#[allow(dead_code)]
pub fn python_json(script: &str, file: &std::path::Path) -> serde_json::Value {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python3 on {} failed (scripts/setup installs its packages): {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// Whether a process with this pid still exists (zombies count as gone).
/// Resident memory of process `pid`, in kB (0 if it is gone).
pub fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Starts `pinion agent` in host `i` of `lan` on `port` (0: any) with host id `pi{i}`;
/// returns it with the endpoint it printed.
pub fn start_lan_agent(
    lan: &netns::Lan,
    i: usize,
    port: u16,
    dir: &TempDir,
    key: &std::path::Path,
) -> (Proc, String) {
    start_lan_agent_from(lan, i, port, dir, key, &bin("pinion"))
}

/// Like `start_lan_agent`, running `program` as a systemd unit would run it: told
/// where it is installed (`PINION_AGENT_EXE`, which an upgrade replaces).
pub fn start_lan_agent_from(
    lan: &netns::Lan,
    i: usize,
    port: u16,
    dir: &TempDir,
    key: &std::path::Path,
    program: &std::path::Path,
) -> (Proc, String) {
    let mut c = lan.command(i, program);
    if program != bin("pinion") {
        c.env("PINION_AGENT_EXE", program);
    }
    c.args([
        "agent",
        "--listen",
        &format!("tcp://{}:{port}", netns::Lan::address(i)),
        "--key-file",
    ])
    .arg(key)
    .arg("--store")
    .arg(dir.0.join(format!("store{i}")))
    .env("PINION_HOST", format!("pi{i}"))
    .env("PINION_RUNTIME_DIR", &dir.0)
    .env("RUST_LOG", "info,zeromq=error");
    let mut agent = Proc::spawn(&format!("agent{i}"), c);
    let line = agent.expect_line("PINION_AGENT=", SOON, |s, l| {
        s == Src::Out && l.starts_with("PINION_AGENT=")
    });
    (agent, line.trim_start_matches("PINION_AGENT=").to_owned())
}

/// Starts an agent on each host of `lan` (`start_lan_agent`); the agents and their
/// endpoints, host 1 first.
pub fn start_lan_agents(
    lan: &netns::Lan,
    hosts: usize,
    port: u16,
    dir: &TempDir,
    key: &std::path::Path,
) -> (Vec<Proc>, Vec<String>) {
    (1..=hosts)
        .map(|i| start_lan_agent(lan, i, port, dir, key))
        .unzip()
}
