//! Endpoint checks done before the engine sees an endpoint.

use super::TransportError;
use std::path::Path;

/// Longest path a Unix socket address holds on Linux (108 bytes with the NUL).
const MAX_IPC_PATH: usize = 107;

/// Checks an endpoint and rewrites the forms the engine mishandles.
///
/// `tcp://*:PORT` becomes `tcp://0.0.0.0:PORT`; `ipc://*`, abstract `ipc://@name`,
/// relative-looking or too long ipc paths, and other schemes are refused.
pub fn normalize(endpoint: &str) -> Result<String, TransportError> {
    let bad = |reason: &str| TransportError::BadEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(rest) = endpoint.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected tcp://HOST:PORT"))?;
        port.parse::<u16>()
            .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let host = if host == "*" { "0.0.0.0" } else { host };
        return Ok(format!("tcp://{host}:{port}"));
    }
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        if path.is_empty() || path == "*" {
            return Err(bad("ipc needs an explicit file path"));
        }
        if path.starts_with('@') {
            return Err(bad(
                "abstract ipc names (`@name`) are not supported; use a file path",
            ));
        }
        if path.len() > MAX_IPC_PATH {
            return Err(bad("the ipc path is longer than 107 bytes"));
        }
        return Ok(endpoint.to_owned());
    }
    Err(bad("expected tcp://HOST:PORT or ipc://PATH"))
}

/// Makes an ipc path ready to bind: creates its directory and removes a stale socket file.
///
/// A socket file that somebody still listens on is left alone and reported, so two
/// processes never steal each other's endpoint.
pub fn prepare_ipc_path(path: &Path) -> Result<(), TransportError> {
    let display = path.display().to_string();
    let fail = |reason: String| TransportError::Bind {
        endpoint: format!("ipc://{display}"),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail("another process is listening on it".to_owned()));
        }
        std::fs::remove_file(path)
            .map_err(|e| fail(format!("cannot remove stale socket file: {e}")))?;
    }
    Ok(())
}

/// Whether something accepts connections at `endpoint`, checked with a plain socket
/// (never through the engine, whose connect waits for the peer).
pub async fn reachable(endpoint: &str, timeout: std::time::Duration) -> bool {
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        return std::os::unix::net::UnixStream::connect(path).is_ok();
    }
    match endpoint.strip_prefix("tcp://") {
        Some(addr) => matches!(
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await,
            Ok(Ok(_))
        ),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_star_and_refuses_engine_traps() {
        assert_eq!(
            normalize("tcp://*:5").ok().as_deref(),
            Some("tcp://0.0.0.0:5")
        );
        assert_eq!(
            normalize("tcp://127.0.0.1:0").ok().as_deref(),
            Some("tcp://127.0.0.1:0")
        );
        for bad in [
            "ipc://*",
            "ipc://@abstract",
            "ipc://",
            "udp://x:1",
            "tcp://h:99999",
            "tcp://:1",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
        let long = format!("ipc:///tmp/{}", "x".repeat(120));
        assert!(normalize(&long).is_err());
    }

    #[test]
    fn stale_socket_file_is_removed_live_one_is_kept() {
        let dir = std::env::temp_dir().join(format!("pinion-ep-test-{}", std::process::id()));
        let path = dir.join("stale.sock");
        std::fs::create_dir_all(&dir).expect("dir");
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        prepare_ipc_path(&path).expect("stale file removed");
        assert!(!path.exists());

        let live = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        assert!(prepare_ipc_path(&path).is_err());
        drop(live);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
