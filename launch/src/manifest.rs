//! Reading the manifest of a node binary (what its code publishes and subscribes) for
//! the wiring check, without ever running a program that is not a Pinion node.
//!
//! A file is run only if it is an ELF executable that holds the marker
//! `#[pinion::main]` places in every node binary (`pinion::runtime::node_marker`): a
//! script, a camera driver or any other program is never run. A binary for another
//! architecture (an aarch64 node checked on an x86_64 laptop) runs under its machine's
//! `runner`, or else under `qemu-user` when it is installed. Every run has its own
//! process group (killed when it ends: no orphans), a time limit and an output limit.

use pinion::parts::Manifest;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Time a node has to print its manifest.
const RUN_WITHIN: Duration = Duration::from_secs(10);
/// Most output read from one run.
const MAX_OUTPUT: u64 = 1 << 20;
/// Largest file searched for the marker.
const MAX_BINARY: u64 = 1 << 30;

/// The processor a binary is built for (its ELF header's machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86_64.
    X86_64,
    /// 64-bit ARM (Raspberry Pi 3/4/5 with a 64-bit OS).
    Aarch64,
    /// 32-bit ARM (a 32-bit Raspberry Pi OS).
    Arm,
    /// Anything else (the ELF machine number).
    Other(u16),
}

impl Arch {
    /// The architecture this launcher runs on.
    pub fn host() -> Self {
        match std::env::consts::ARCH {
            "x86_64" => Arch::X86_64,
            "aarch64" => Arch::Aarch64,
            "arm" => Arch::Arm,
            _ => Arch::Other(0),
        }
    }

    /// The `qemu-user` command that runs it elsewhere, with Debian's sysroot.
    fn qemu(self) -> Option<[&'static str; 3]> {
        match self {
            Arch::Aarch64 => Some(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]),
            Arch::Arm => Some(["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"]),
            _ => None,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arch::X86_64 => f.write_str("x86_64"),
            Arch::Aarch64 => f.write_str("aarch64"),
            Arch::Arm => f.write_str("armv7"),
            Arch::Other(m) => write!(f, "ELF machine {m}"),
        }
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not a Pinion node binary: it was not run, and its topics are not checked.
    #[error("{path} is not a Pinion node binary (no #[pinion::main] marker); it was not run, its topics are not checked")]
    NotANode {
        /// The program.
        path: PathBuf,
    },
    /// Built for another processor, and nothing here can run it.
    #[error("{path} is built for {arch}; to read its manifest here, install qemu-user (scripts/setup does) or give its machine a `runner`")]
    NoRunner {
        /// The program.
        path: PathBuf,
        /// Its processor.
        arch: Arch,
    },
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The program.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The run failed, took too long, or said too much.
    #[error("{path}: {reason}")]
    Run {
        /// The program.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
}

/// What a file is, learnt without running it: its processor if it is a Pinion node
/// binary.
pub fn inspect(path: &Path) -> Result<Arch, ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: path.to_owned(),
        source,
    };
    let not_a_node = || ManifestError::NotANode {
        path: path.to_owned(),
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut header = [0u8; 20];
    if file.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" {
        return Err(not_a_node());
    }
    let machine = match header[5] {
        // Little-endian, as every target Pinion builds for.
        1 => u16::from_le_bytes([header[18], header[19]]),
        _ => u16::from_be_bytes([header[18], header[19]]),
    };
    let arch = match machine {
        0x3e => Arch::X86_64,
        0xb7 => Arch::Aarch64,
        0x28 => Arch::Arm,
        m => Arch::Other(m),
    };
    if !holds_marker(file, &pinion::runtime::node_marker()).map_err(read_err)? {
        return Err(not_a_node());
    }
    Ok(arch)
}

/// Whether `reader` holds `needle`, read in pieces (at most [`MAX_BINARY`] bytes).
fn holds_marker(reader: impl Read, needle: &[u8]) -> std::io::Result<bool> {
    let mut reader = reader.take(MAX_BINARY);
    let mut buf = vec![0u8; 1 << 20];
    let mut kept = 0;
    loop {
        let n = reader.read(&mut buf[kept..])?;
        if n == 0 {
            return Ok(false);
        }
        let filled = kept + n;
        if buf[..filled].windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
        // Keep the tail, in case the needle straddles two reads.
        kept = (needle.len() - 1).min(filled);
        buf.copy_within(filled - kept..filled, 0);
    }
}

/// The command that runs `path` here: its machine's `runner` if given, else the binary
/// itself on this processor, else `qemu-user` if installed.
fn command_for(path: &Path, arch: Arch, runner: &[String]) -> Result<Vec<String>, ManifestError> {
    let path_text = path.display().to_string();
    if !runner.is_empty() {
        return Ok(runner.iter().cloned().chain([path_text]).collect());
    }
    if arch == Arch::host() {
        return Ok(vec![path_text]);
    }
    let no_runner = || ManifestError::NoRunner {
        path: path.to_owned(),
        arch,
    };
    let qemu = arch.qemu().ok_or_else(no_runner)?;
    let installed = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .any(|dir| dir.join(qemu[0]).is_file());
    if !installed || !Path::new(qemu[2]).is_dir() {
        return Err(no_runner());
    }
    Ok(qemu
        .iter()
        .map(|s| (*s).to_owned())
        .chain([path_text])
        .collect())
}

/// Reads a node binary's manifest: `None` if it declares none (no `#[derive(Node)]`
/// parts). Runs it (with `runner` for another machine) only if [`inspect`] finds it is
/// a node binary.
pub async fn read(path: &Path, runner: &[String]) -> Result<Option<Manifest>, ManifestError> {
    let arch = inspect(path)?;
    let argv = command_for(path, arch, runner)?;
    let fail = |reason: String| ManifestError::Run {
        path: path.to_owned(),
        reason,
    };
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .arg(pinion::runtime::MANIFEST_FLAG)
        .env_remove("PINION_MASTER")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", argv[0])))?;
    let group = child.id().map(|pid| nix::unistd::Pid::from_raw(pid as i32));
    let mut output = Vec::new();
    let run = async {
        if let Some(stdout) = child.stdout.take() {
            stdout
                .take(MAX_OUTPUT + 1)
                .read_to_end(&mut output)
                .await
                .map_err(|e| fail(format!("reading its output: {e}")))?;
        }
        child
            .wait()
            .await
            .map_err(|e| fail(format!("waiting for it: {e}")))
    };
    let status = tokio::time::timeout(RUN_WITHIN, run).await;
    // Whatever it started goes with it.
    if let Some(group) = group {
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
    let status =
        status.map_err(|_| fail(format!("printed no manifest within {RUN_WITHIN:?}")))??;
    if output.len() as u64 > MAX_OUTPUT {
        return Err(fail(format!("printed more than {MAX_OUTPUT} bytes")));
    }
    if !status.success() {
        return Err(fail(format!(
            "`{MANIFEST}` ended with {status}",
            MANIFEST = pinion::runtime::MANIFEST_FLAG
        )));
    }
    let text = String::from_utf8_lossy(&output);
    serde_json::from_str::<Option<Manifest>>(text.trim())
        .map_err(|e| fail(format!("printed no readable manifest: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_found_across_read_boundaries() {
        let needle = pinion::runtime::node_marker();
        for at in [0, 5, (1 << 20) - 3, (1 << 20) + 100] {
            let mut data = vec![0u8; (1 << 20) + 200];
            data[at..at + needle.len()].copy_from_slice(&needle);
            assert!(holds_marker(&data[..], &needle).expect("read"), "at {at}");
        }
        assert!(!holds_marker(&vec![0u8; 3 << 20][..], &needle).expect("read"));
    }

    #[test]
    fn scripts_and_other_programs_are_not_nodes() {
        let dir = std::env::temp_dir().join(format!("pinion-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let script = dir.join("camera.sh");
        // Even a script that names the marker is no ELF file.
        let mut text = b"#!/bin/sh\n# ".to_vec();
        text.extend(pinion::runtime::node_marker());
        std::fs::write(&script, text).expect("script");
        assert!(matches!(
            inspect(&script),
            Err(ManifestError::NotANode { .. })
        ));
        // The launcher itself (this test binary) is an ELF file without the marker.
        let me = std::env::current_exe().expect("test binary");
        assert!(matches!(inspect(&me), Err(ManifestError::NotANode { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
