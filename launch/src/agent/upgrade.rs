//! An agent becoming a new build of itself: the build is checked (it runs here and
//! says it is `pinion`), put in place of the installed program when a systemd unit
//! names it (`PINION_AGENT_EXE`), and executed in the agent's own place, so the agent's
//! pid, and the parent of every node it runs, stays.

use super::store::Store;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What an upgrade to a blob means here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Become this program.
    To(PathBuf),
    /// This process is that build.
    AlreadyThisBuild,
    /// The blob is not (wholly) stored.
    NotStored,
}

/// What becoming the build `blob` means for an agent that is the build `own`.
pub fn upgrade(store: &Store, own: Option<&str>, blob: &str) -> Upgrade {
    if own == Some(blob) {
        return Upgrade::AlreadyThisBuild;
    }
    match store.path(blob).filter(|p| p.is_file()) {
        Some(program) => Upgrade::To(program),
        None => Upgrade::NotStored,
    }
}

/// Whether `program` runs here and is `pinion` (`--version`), before this process
/// becomes it: a file that is not (another machine's build, a truncated upload that
/// still hashed right, anything else) is refused while the agent can still say so.
pub async fn runs_as_pinion(program: &Path) -> Result<(), String> {
    let mut command = tokio::process::Command::new(program);
    command.arg("--version").kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(10), command.output())
        .await
        .map_err(|_| "`--version` did not answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let said = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && said.starts_with("pinion ") {
        Ok(())
    } else {
        Err(format!(
            "it is not pinion for this machine (`--version` said {:?}, {})",
            said.trim(),
            output.status
        ))
    }
}

/// Executes `program` in this process's place, with this process's arguments: the
/// pid, and so the parent of every node, stays. An agent started by its systemd unit
/// (`PINION_AGENT_EXE`) first puts the new build in place of the unit's program, so the
/// next boot runs it too. Returns only on failure.
pub fn become_program(program: &Path) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let installed = std::env::var_os("PINION_AGENT_EXE").map(PathBuf::from);
    let program = match installed {
        Some(exe) => match install_build(program, &exe) {
            Ok(()) => exe,
            Err(e) => {
                tracing::warn!(exe = %exe.display(), error = %e, "cannot put the new build in place: the next boot runs the old one until the next deploy");
                program.to_owned()
            }
        },
        None => program.to_owned(),
    };
    std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .exec()
}

/// Copies `program` beside `exe` and renames it over `exe` (a running program's file
/// can be replaced that way; a half-copied one never is `exe`).
fn install_build(program: &Path, exe: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let name = exe.file_name().unwrap_or_default().to_string_lossy();
    let tmp = exe.with_file_name(format!(".{name}.new"));
    std::fs::copy(program, &tmp)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, exe)
}
