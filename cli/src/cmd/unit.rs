//! systemd units for a robot that runs unattended: the agent of a Pi (`pinion agent
//! install`), or a whole launch on a one-Pi robot (`pinion launch install`), started at
//! boot after the network and again whenever it stops. Writing the text is pure;
//! installing checks for root and systemd first and says what is missing.

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory that exists only while systemd runs the machine.
const SYSTEMD_RUNNING: &str = "/run/systemd/system";

/// A service unit: what it runs, as whom, from where.
#[derive(Debug, Clone)]
pub struct Unit {
    /// One line for `systemctl status`.
    pub description: String,
    /// The program and its arguments.
    pub exec: Vec<String>,
    /// The user it runs as (root when `None`).
    pub user: Option<String>,
    /// Its working directory, if it needs one.
    pub working_directory: Option<PathBuf>,
    /// More `[Service]` lines (`KillMode=process`, `Environment=...`).
    pub service_lines: Vec<String>,
}

impl Unit {
    /// The unit file's text.
    pub fn text(&self) -> String {
        let exec: Vec<String> = self.exec.iter().map(|a| quote(a)).collect();
        let mut service = format!("Type=simple\nExecStart={}\n", exec.join(" "));
        if let Some(user) = &self.user {
            service.push_str(&format!("User={user}\n"));
        }
        if let Some(dir) = &self.working_directory {
            service.push_str(&format!(
                "WorkingDirectory={}\n",
                quote(&dir.display().to_string())
            ));
        }
        for line in &self.service_lines {
            service.push_str(line);
            service.push('\n');
        }
        format!(
            "[Unit]\n\
             Description={}\n\
             Wants=network-online.target\n\
             After=network-online.target\n\
             \n\
             [Service]\n\
             {service}\
             Environment=RUST_LOG=info\n\
             Restart=always\n\
             RestartSec=2\n\
             TimeoutStopSec=15\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            self.description
        )
    }

    /// Writes the unit as `name` in `unit_dir`, enables it and starts it; refuses
    /// (exit code 1, saying why) without root or systemd.
    pub fn install(&self, name: &str, unit_dir: &Path) -> anyhow::Result<std::process::ExitCode> {
        if let Some(why) = cannot_install(Path::new(SYSTEMD_RUNNING)) {
            eprintln!("error: {why}");
            return Ok(std::process::ExitCode::FAILURE);
        }
        let path = unit_dir.join(name);
        std::fs::write(&path, self.text())
            .with_context(|| format!("cannot write {}", path.display()))?;
        systemctl(&["daemon-reload"])?;
        systemctl(&["enable", "--now", name])?;
        writeln!(
            std::io::stdout().lock(),
            "installed {}: it starts at boot and runs now (journalctl -u {name})",
            path.display()
        )?;
        Ok(std::process::ExitCode::SUCCESS)
    }
}

/// Stops and disables unit `name` and removes its file; refuses without root or systemd.
pub fn uninstall(name: &str, unit_dir: &Path) -> anyhow::Result<std::process::ExitCode> {
    if let Some(why) = cannot_install(Path::new(SYSTEMD_RUNNING)) {
        eprintln!("error: {why}");
        return Ok(std::process::ExitCode::FAILURE);
    }
    let path = unit_dir.join(name);
    systemctl(&["disable", "--now", name])?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    systemctl(&["daemon-reload"])?;
    writeln!(std::io::stdout().lock(), "removed {}", path.display())?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn systemctl(args: &[&str]) -> anyhow::Result<()> {
    let status = std::process::Command::new("systemctl")
        .args(args)
        .status()
        .context("cannot run systemctl")?;
    anyhow::ensure!(
        status.success(),
        "systemctl {} failed ({status})",
        args.join(" ")
    );
    Ok(())
}

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
    /// The unit.
    pub fn unit(&self) -> Unit {
        let mut exec = vec![
            self.exe.display().to_string(),
            "agent".to_owned(),
            "--listen".to_owned(),
            self.listen.clone(),
            "--key-file".to_owned(),
            self.key_file.display().to_string(),
        ];
        if let Some(store) = &self.store {
            exec.extend(["--store".to_owned(), store.display().to_string()]);
        }
        Unit {
            description:
                "Pinion agent: runs the nodes that launchers and deploys send to this machine"
                    .to_owned(),
            exec,
            user: self.user.clone(),
            working_directory: None,
            service_lines: vec![
                // Only the agent is stopped or restarted with the unit: its nodes run
                // on, and the agent that starts next adopts them (a stop of the agent
                // by SIGTERM stops its launches itself).
                "KillMode=process".to_owned(),
                // An upgrade replaces this file, so that the next boot runs the new build.
                format!(
                    "Environment={}",
                    quote(&format!("PINION_AGENT_EXE={}", self.exe.display()))
                ),
            ],
        }
    }

    /// The unit file's text.
    pub fn text(&self) -> String {
        self.unit().text()
    }
}

/// The unit of a launch that runs on this machine alone: `pinion launch FILE --local`.
pub fn launch_unit(exe: &Path, file: &Path, user: Option<String>) -> Unit {
    Unit {
        description: format!("Pinion robot: pinion launch {}", file.display()),
        exec: vec![
            exe.display().to_string(),
            "launch".to_owned(),
            file.display().to_string(),
            "--local".to_owned(),
        ],
        user,
        working_directory: file.parent().map(Path::to_owned),
        service_lines: Vec::new(),
    }
}

/// The unit's file name for launch file `file`: `pinion-launch-<stem>.service`.
pub fn launch_unit_name(file: &Path) -> String {
    let stem: String = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("pinion-launch-{stem}.service")
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
        assert!(
            unit.contains("KillMode=process\n"),
            "nodes outlive an agent restart"
        );
        assert!(unit.contains("Environment=PINION_AGENT_EXE=/usr/local/bin/pinion\n"));
    }
}
