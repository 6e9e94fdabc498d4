//! Small helpers shared by the benchmarks.

use pinion_master::server::{Master, MasterConfig};
use std::time::Duration;

/// Starts a master on `bind` inside this process, serving until the process ends, on
/// the current tokio runtime; its endpoint.
pub async fn serve_master(bind: &str) -> anyhow::Result<String> {
    serve_master_with(bind, MasterConfig::default()).await
}

/// [`serve_master`] with a configuration (a key).
pub async fn serve_master_with(bind: &str, config: MasterConfig) -> anyhow::Result<String> {
    let master = Master::bind(&[bind.to_owned()], config).await?;
    let endpoint = master.endpoints()[0].clone();
    tokio::spawn(master.run(std::future::pending()));
    Ok(endpoint)
}

/// The median (the list is sorted in place).
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident memory of a process, in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Threads of a process.
pub fn threads(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user and system) this process has used, in seconds.
pub fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| seconds(u.user_time()) + seconds(u.system_time()))
        .unwrap_or(0.0)
}
