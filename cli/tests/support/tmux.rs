//! A terminal for the tests of full-screen commands: a tmux server of the test's own
//! (its own socket), whose screen is captured as text.

use std::process::Command;

/// Runs `tmux -L socket ARGS`; its stdout when it succeeds.
pub fn tmux(socket: &str, args: &[&str]) -> Option<String> {
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
