//! systemd units for a robot that runs unattended: the agent of a Pi (`pinion agent
//! install`), started at boot after the network and again whenever it stops. Writing
//! the text is pure; installing checks for root and systemd first and says what is
//! missing.

use std::path::{Path, PathBuf};

/// What the agent's unit runs.
#[derive(Debug, Clone)]
pub struct AgentUnit {
    /// The `pinion` binary.
    pub exe: PathBuf,
    /// `--listen`.
    pub listen: String,
    /// `--key-file`.
    pub key_file: PathBuf,
    /// `--store`, if given.
    pub store: Option<PathBuf>,
    /// The user it runs as (root when `None`).
    pub user: Option<String>,
}

/// The unit's file name.
pub const AGENT_UNIT: &str = "pinion-agent.service";

impl AgentUnit {
    /// The unit file's text.
    pub fn text(&self) -> String {
        let mut exec = vec![
            quote(&self.exe.display().to_string()),
            "agent".to_owned(),
            "--listen".to_owned(),
            quote(&self.listen),
            "--key-file".to_owned(),
            quote(&self.key_file.display().to_string()),
        ];
        if let Some(store) = &self.store {
            exec.extend(["--store".to_owned(), quote(&store.display().to_string())]);
        }
        let user = self
            .user
            .as_ref()
            .map(|u| format!("User={u}\n"))
            .unwrap_or_default();
        format!(
            "[Unit]\n\
             Description=Pinion agent: runs the nodes that launchers and deploys send to this machine\n\
             Wants=network-online.target\n\
             After=network-online.target\n\
             \n\
             [Service]\n\
             Type=simple\n\
             ExecStart={}\n\
             {user}\
             Environment=RUST_LOG=info\n\
             Restart=always\n\
             RestartSec=2\n\
             TimeoutStopSec=15\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            exec.join(" ")
        )
    }
}

/// An argument as systemd's `ExecStart=` reads it: quoted when it holds a space, a quote
/// or a backslash.
fn quote(arg: &str) -> String {
    if arg.is_empty() || arg.contains([' ', '"', '\\', '\t']) {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        arg.to_owned()
    }
}

/// Why a unit cannot be installed here, if it cannot.
pub fn cannot_install(systemd_dir: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("installing a systemd unit needs root: run it again with sudo".to_owned());
    }
    if !systemd_dir.is_dir() {
        return Some(format!(
            "this machine does not run systemd ({} is missing): start `pinion agent` from its \
             own start-up system instead",
            systemd_dir.display()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_the_agent_after_the_network_and_restarts_it() {
        let unit = AgentUnit {
            exe: "/usr/local/bin/pinion".into(),
            listen: "tcp://0.0.0.0:11411".into(),
            key_file: "/etc/pinion/robot key".into(),
            store: None,
            user: Some("pi".into()),
        }
        .text();
        assert!(unit.contains(
            "ExecStart=/usr/local/bin/pinion agent --listen tcp://0.0.0.0:11411 --key-file \"/etc/pinion/robot key\"\n"
        ));
        assert!(unit.contains("After=network-online.target\n"));
        assert!(unit.contains("Restart=always\n") && unit.contains("User=pi\n"));
        assert!(unit.contains("WantedBy=multi-user.target\n"));
    }
}
