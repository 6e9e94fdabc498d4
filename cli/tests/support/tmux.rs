//! A terminal for the tests of full-screen commands: a tmux server of the test's own
//! (its own socket), whose screen is captured as text.

use super::{bin, wait, Env, SOON};
use std::process::Command;
use std::time::Duration;

/// Runs `tmux -L socket ARGS`; its stdout when it succeeds.
fn tmux(socket: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("tmux runs (scripts/setup installs it)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `pinion ARGS` in a terminal of `width` x `height`, on its own tmux server; the
/// server goes when this is dropped.
pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `pinion ARGS` with the test's master and runtime directory.
    pub fn pinion(env: &Env, args: &str, width: u16, height: u16) -> Self {
        let socket = format!(
            "pinion-tty-{}-{}",
            std::process::id(),
            pinion::host::random_id()
        );
        let command = format!(
            "env PINION_RUNTIME_DIR={} PINION_MASTER={} RUST_LOG=warn {} {args}",
            env.runtime_dir.display(),
            env.master,
            bin("pinion").display()
        );
        let (w, h) = (width.to_string(), height.to_string());
        tmux(
            &socket,
            &["new-session", "-d", "-s", "t", "-x", &w, "-y", &h, &command],
        )
        .expect("tmux starts the command");
        Self { socket }
    }

    /// The screen as text, while the command runs.
    pub fn screen(&self) -> Option<String> {
        tmux(&self.socket, &["capture-pane", "-p", "-t", "t"])
    }

    /// Types `q`; whether the command then ended.
    pub fn quit(&self) -> bool {
        tmux(&self.socket, &["send-keys", "-t", "t", "q"]).expect("keys reach the command");
        wait::until(SOON, Duration::from_millis(100), || {
            tmux(&self.socket, &["has-session", "-t", "t"])
                .is_none()
                .then_some(())
        })
        .is_some()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = tmux(&self.socket, &["kill-server"]);
    }
}
