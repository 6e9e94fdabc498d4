//! Network namespaces that stand in for several Pis: each "host" namespace has one veth
//! link into a "switch" namespace holding a bridge. Everything is made by the test and
//! removed when the guard drops; no traffic leaves these namespaces.

use std::process::Command;

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` command (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A switch namespace and `count` host namespaces on the subnet 10.213.0.0/24.
pub struct Lan {
    tag: String,
    pub hosts: Vec<String>,
}

impl Lan {
    pub fn new(count: usize) -> Self {
        // Unique per test process and per LAN within it (tests run in parallel).
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            char::from(b'a' + (n % 26) as u8)
        );
        let switch = format!("pnsw{tag}");
        ip(&["netns", "add", &switch]);
        let mut lan = Lan {
            tag: tag.clone(),
            hosts: Vec::new(),
        };
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &switch, "link", "set", "br0", "up"]);
        for i in 1..=count {
            let host = format!("pnh{tag}x{i}");
            ip(&["netns", "add", &host]);
            lan.hosts.push(host.clone());
            let (inner, outer) = (format!("ph{tag}x{i}"), format!("ps{tag}x{i}"));
            ip(&[
                "link", "add", &inner, "type", "veth", "peer", "name", &outer,
            ]);
            ip(&["link", "set", &inner, "netns", &host]);
            ip(&["link", "set", &outer, "netns", &switch]);
            ip(&["-n", &switch, "link", "set", &outer, "master", "br0"]);
            ip(&["-n", &switch, "link", "set", &outer, "up"]);
            ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("{}/24", Self::address(i)),
                "dev",
                &inner,
            ]);
            ip(&["-n", &host, "link", "set", &inner, "up"]);
            ip(&["-n", &host, "link", "set", "lo", "up"]);
        }
        lan
    }

    /// The address of host `i` (from 1).
    pub fn address(i: usize) -> String {
        format!("10.213.0.{i}")
    }

    /// A command that runs inside host `i`'s namespace.
    pub fn command(&self, i: usize, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.hosts[i - 1]]).arg(program);
        c
    }

    /// Takes host `i`'s link down (`up = false`) or up again.
    pub fn set_link(&self, i: usize, up: bool) {
        let inner = format!("ph{}x{i}", self.tag);
        ip(&[
            "-n",
            &self.hosts[i - 1],
            "link",
            "set",
            &inner,
            if up { "up" } else { "down" },
        ]);
    }
}

impl Lan {
    /// Limits what host `i` sends to `rate` (tc's units, `"40mbit"`), or lifts the limit.
    pub fn shape(&self, i: usize, rate: Option<&str>) {
        let inner = format!("ph{}x{i}", self.tag);
        let mut args = vec!["netns", "exec", &self.hosts[i - 1], "tc", "qdisc"];
        match rate {
            Some(rate) => args.extend([
                "replace", "dev", &inner, "root", "tbf", "rate", rate, "burst", "64kbit",
                "latency", "1s",
            ]),
            None => args.extend(["del", "dev", &inner, "root"]),
        }
        let out = Command::new("ip")
            .args(&args)
            .output()
            .expect("tc (iproute2)");
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for host in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", host]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &format!("pnsw{}", self.tag)])
            .output();
    }
}
