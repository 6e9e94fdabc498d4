//! `pinion agent install` and `pinion launch install`: the units they write pass
//! `systemd-analyze verify` (Debian's systemd, installed by scripts/setup), and they
//! refuse clearly without root or without systemd.

mod support;

use std::process::Command;
use support::*;

fn key_file(dir: &TempDir) -> std::path::PathBuf {
    let key = dir.0.join("robot.key");
    std::fs::write(&key, [7u8; 32]).expect("key");
    key
}

/// Writes `unit` as `name` in `dir` and checks it with `systemd-analyze verify`.
fn assert_verifies(dir: &TempDir, name: &str, unit: &str) {
    let path = dir.0.join(name);
    std::fs::write(&path, unit).expect("unit written");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (scripts/setup installs systemd)");
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {}\n{unit}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn the_agent_unit_passes_systemd_analyze_verify() {
    let dir = TempDir::new("agent-unit");
    let key = key_file(&dir);
    let out = Command::new(bin("pinion"))
        .args(["agent", "install", "--print", "--key-file"])
        .arg(&key)
        .args(["--listen", "tcp://0.0.0.0:11411"])
        .output()
        .expect("pinion runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(unit.contains(&format!(
        "ExecStart={} agent --listen tcp://0.0.0.0:11411 --key-file {}",
        bin("pinion").display(),
        key.display()
    )));
    assert_verifies(&dir, "pinion-agent.service", &unit);
}

#[test]
fn install_refuses_without_root_or_without_systemd() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("agent-install");
    let key = key_file(&dir);
    // Not root: nobody, running a copy it can reach (the checkout may not be).
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(&dir.0, open.clone()).expect("chmod");
    let copy = dir.0.join("pinion");
    std::fs::copy(bin("pinion"), &copy).expect("copy");
    std::fs::set_permissions(&copy, open).expect("chmod");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["agent", "install", "--key-file"])
        .arg(&key)
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs root: run it again with sudo"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Root (CI runs as root) on a machine that systemd does not run (CI's container);
    // where systemd runs, root would really install, so that half is not tried there.
    if std::path::Path::new("/run/systemd/system").exists() {
        eprintln!("systemd runs this machine: the refusal without systemd is not tried");
        return;
    }
    let out = Command::new(bin("pinion"))
        .args(["agent", "install", "--key-file"])
        .arg(&key)
        .args(["--unit-dir"])
        .arg(&dir.0)
        .output()
        .expect("pinion runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("this machine does not run systemd"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.0.join("pinion-agent.service").exists(),
        "nothing was written"
    );
}

#[test]
fn the_launch_unit_runs_the_file_alone_and_passes_systemd_analyze_verify() {
    let dir = TempDir::new("launch-unit");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/demo.toml");
    let demo = std::fs::canonicalize(demo).expect("demo.toml");
    let out = Command::new(bin("pinion"))
        .args(["launch", "install", "--print"])
        .arg(&demo)
        .output()
        .expect("pinion runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        unit.contains(&format!(
            "ExecStart={} launch {} --local\n",
            bin("pinion").display(),
            demo.display()
        )),
        "{unit}"
    );
    assert_verifies(&dir, "pinion-launch-demo.service", &unit);
    // A file that cannot run gets no unit.
    let broken = dir.0.join("broken.toml");
    std::fs::write(&broken, "robot = \"x\"\n[[node]]\nname = \"a\"\n").expect("write");
    let out = Command::new(bin("pinion"))
        .args(["launch", "install", "--print"])
        .arg(&broken)
        .output()
        .expect("pinion runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("binary"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
