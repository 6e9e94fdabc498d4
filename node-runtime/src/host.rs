//! Facts about this host and process: host id, runtime directory, addresses, random ids.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;

/// Default master endpoint when `PINION_MASTER` is not set.
pub const DEFAULT_MASTER: &str = "tcp://127.0.0.1:11311";

/// The host id: `PINION_HOST`, else the kernel's hostname. Same host id means ipc.
pub fn host_id() -> String {
    if let Ok(host) = std::env::var("PINION_HOST") {
        if !host.trim().is_empty() {
            return host.trim().to_owned();
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Where this user's ipc socket files live: `PINION_RUNTIME_DIR`, else
/// `$XDG_RUNTIME_DIR/pinion`, else `/tmp/pinion-UID`.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PINION_RUNTIME_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("pinion");
    }
    PathBuf::from(format!("/tmp/pinion-{}", nix::unistd::Uid::current()))
}

/// What tells this machine (and its ipc directory) apart from others: the systemd
/// machine id, the boot id, and the device and inode of the runtime directory. Two nodes
/// with the same host id but different fingerprints cannot reach each other over ipc.
pub fn machine_fingerprint() -> String {
    use std::os::unix::fs::MetadataExt;
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned())
    };
    let dir = std::fs::metadata(runtime_dir())
        .map(|m| format!("{}:{}", m.dev(), m.ino()))
        .unwrap_or_else(|_| "?".to_owned());
    format!(
        "{}/{}/{dir}",
        read("/etc/machine-id"),
        read("/proc/sys/kernel/random/boot_id")
    )
}

/// The ipc socket path of one of this process's sockets.
pub fn ipc_path(node: &str, kind: &str) -> PathBuf {
    // Unique per call, not only per process: the engine deletes a bound ipc socket's
    // file when the socket is dropped, so a node closed in this process whose sockets
    // outlive it a moment must not share a path with a new node of the same name.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut safe: String = node
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    safe.truncate(40);
    runtime_dir().join(format!("{safe}.{}.{n}.{kind}.sock", std::process::id()))
}

/// The IP address this node binds its tcp sockets on and tells peers.
///
/// `PINION_IP` wins. Otherwise, a master on loopback means every peer is on this
/// host, so loopback; else the address of the interface that routes to the master
/// (found with an unconnected UDP socket: no packet is sent).
pub fn advertised_ip(master_endpoint: &str) -> IpAddr {
    if let Some(ip) = std::env::var("PINION_IP").ok().and_then(|s| s.parse().ok()) {
        return ip;
    }
    let master_ip = master_endpoint
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
        .and_then(|(host, port)| Some(SocketAddr::new(host.parse().ok()?, port.parse().ok()?)));
    match master_ip {
        Some(addr) if !addr.ip().is_loopback() => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| {
                s.connect(addr)?;
                s.local_addr()
            })
            .map(|local| local.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// A random 64-bit id (sessions, publishers, subscribers, tokens).
pub fn random_id() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No OS randomness: fall back to time and pid, still unique enough per host.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return now ^ (u64::from(std::process::id()) << 32);
    }
    u64::from_le_bytes(bytes).max(1)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// A directory inside the runtime directory that only this user can enter (created
/// `0700` if missing, tightened if it is this user's and looser): where the guards'
/// private sockets to the engine live, which must not be reachable around the guard.
pub fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let dir = runtime_dir().join("private");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let meta = std::fs::metadata(&dir)?;
    if meta.uid() != nix::unistd::Uid::current().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
