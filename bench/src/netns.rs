//! A point-to-point link into a network namespace the benchmark makes and removes:
//! it stands in for a second Pi whose Wi-Fi can be cut. Needs root and `ip`.

use std::process::Command;

/// Host side address of the link.
pub const HOST_ADDR: &str = "10.231.0.1";
/// Namespace side address of the link.
pub const NS_ADDR: &str = "10.231.0.2";

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    anyhow::ensure!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// The namespace and its veth link; removed on drop.
pub struct Link {
    pub namespace: String,
    host_side: String,
}

impl Link {
    /// Makes the namespace and the link, both ends up.
    pub fn new() -> anyhow::Result<Self> {
        let tag = std::process::id() % 100_000;
        let link = Self {
            namespace: format!("pbench{tag}"),
            host_side: format!("pbh{tag}"),
        };
        let ns_side = format!("pbn{tag}");
        ip(&["netns", "add", &link.namespace])?;
        ip(&[
            "link",
            "add",
            &link.host_side,
            "type",
            "veth",
            "peer",
            "name",
            &ns_side,
        ])?;
        ip(&["link", "set", &ns_side, "netns", &link.namespace])?;
        ip(&[
            "addr",
            "add",
            &format!("{HOST_ADDR}/30"),
            "dev",
            &link.host_side,
        ])?;
        ip(&["link", "set", &link.host_side, "up"])?;
        let ns = |args: &[&str]| {
            let mut all = vec!["-n", link.namespace.as_str()];
            all.extend_from_slice(args);
            ip(&all)
        };
        ns(&["addr", "add", &format!("{NS_ADDR}/30"), "dev", &ns_side])?;
        ns(&["link", "set", &ns_side, "up"])?;
        ns(&["link", "set", "lo", "up"])?;
        link.wait_reachable()?;
        Ok(link)
    }

    /// Waits until a TCP connection from inside the namespace reaches the host side:
    /// a fresh veth pair can drop its first packets while the kernel activates it.
    /// Bounded: 30 tries of at most 1 s each.
    pub fn wait_reachable(&self) -> anyhow::Result<()> {
        let listener = std::net::TcpListener::bind((HOST_ADDR, 0))?;
        let port = listener.local_addr()?.port();
        let probe = format!("exec 3<>/dev/tcp/{HOST_ADDR}/{port}");
        let mut last = String::new();
        for _ in 0..30 {
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.namespace,
                    "timeout",
                    "1",
                    "bash",
                    "-c",
                ])
                .arg(&probe)
                .output()?;
            if out.status.success() {
                return Ok(());
            }
            last = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        }
        anyhow::bail!(
            "the host side {HOST_ADDR} is not reachable from namespace {} after 30 tries: {last}",
            self.namespace
        )
    }

    /// Takes the link down (packets are lost, nothing is closed) or up again.
    pub fn set_up(&self, up: bool) -> anyhow::Result<()> {
        ip(&[
            "link",
            "set",
            &self.host_side,
            if up { "up" } else { "down" },
        ])
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_side]);
        let _ = ip(&["netns", "del", &self.namespace]);
    }
}
