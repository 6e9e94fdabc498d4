//! What the machine says about itself, read from `/sys` and `/proc`: CPU temperature,
//! the Raspberry Pi firmware's throttling and under-voltage flags, load, memory, disk
//! space and SD-card writes, and each process's CPU time and resident memory. Every
//! reading is optional: a file that is missing (not a Pi, a container) or does not
//! parse gives no value, never an error.

use std::path::{Path, PathBuf};

/// Where readings come from; `sys` can point at fixtures (`PINION_SYS_DIR`).
#[derive(Debug, Clone)]
pub struct Sources {
    /// Normally `/sys`.
    pub sys: PathBuf,
    /// Normally `/proc`.
    pub proc: PathBuf,
    /// The file system whose space is reported (the SD card's root).
    pub disk: PathBuf,
    /// The status rows of the launch this reporter runs beside (its agent says where:
    /// `PINION_LAUNCH_STATUS`), for restarts and nodes that are down.
    pub launch_status: Option<PathBuf>,
}

impl Sources {
    /// The machine's own files; `PINION_SYS_DIR` replaces `/sys`.
    pub fn from_env() -> Self {
        Self {
            sys: std::env::var_os("PINION_SYS_DIR").map_or_else(|| "/sys".into(), PathBuf::from),
            proc: "/proc".into(),
            disk: "/".into(),
            launch_status: std::env::var_os("PINION_LAUNCH_STATUS").map(PathBuf::from),
        }
    }
}

/// The status rows of the launch beside this reporter (none without one).
pub fn launch_status(src: &Sources) -> Vec<pinion_launch::status::NodeStatus> {
    src.launch_status
        .as_deref()
        .and_then(read)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// One look at the machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    /// CPU temperature, °C.
    pub temp_c: Option<f64>,
    /// The firmware's `get_throttled` bits (Raspberry Pi only).
    pub throttled: Option<u32>,
    /// Load average over one minute.
    pub load1: Option<f64>,
    /// Processors online.
    pub cpus: usize,
    /// Memory, total and available, bytes.
    pub mem_total: Option<u64>,
    /// Memory available to new work, bytes.
    pub mem_available: Option<u64>,
    /// Disk space, total and free to users, bytes.
    pub disk_total: Option<u64>,
    /// Disk space free to users, bytes.
    pub disk_free: Option<u64>,
    /// Bytes written to the SD card (`mmcblk*`) since boot.
    pub sd_written: Option<u64>,
}

/// Reads everything once.
pub fn machine(src: &Sources) -> Machine {
    let meminfo = read(&src.proc.join("meminfo")).unwrap_or_default();
    let disk = nix::sys::statvfs::statvfs(&src.disk).ok();
    Machine {
        temp_c: read(&src.sys.join("class/thermal/thermal_zone0/temp"))
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map(|milli| milli / 1000.0),
        throttled: read(
            &src.sys
                .join("devices/platform/soc/soc:firmware/get_throttled"),
        )
        .and_then(|t| parse_hex(&t)),
        load1: read(&src.proc.join("loadavg"))
            .and_then(|t| t.split_whitespace().next()?.parse().ok()),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_total: meminfo_kb(&meminfo, "MemTotal").map(|kb| kb * 1024),
        mem_available: meminfo_kb(&meminfo, "MemAvailable").map(|kb| kb * 1024),
        disk_total: disk
            .as_ref()
            .map(|d| bytes_of(d.blocks(), d.fragment_size())),
        disk_free: disk
            .as_ref()
            .map(|d| bytes_of(d.blocks_available(), d.fragment_size())),
        sd_written: read(&src.proc.join("diskstats")).and_then(|t| sd_written(&t)),
    }
}

/// A process's CPU time so far and its resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    /// User and system time, clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory, bytes.
    pub rss: u64,
}

/// Reads `/proc/PID/stat`; `None` when the process is gone.
pub fn process(src: &Sources, pid: u32) -> Option<Process> {
    let stat = read(&src.proc.join(pid.to_string()).join("stat"))?;
    let fields = pinion_launch::identity::stat_fields(&stat)?;
    // Fields 14 and 15 (utime, stime) and 24 (rss, pages), counted from 1 with the
    // pid and the name as the first two.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    Some(Process {
        cpu_ticks: utime + stime,
        rss: rss_pages * page_size(),
    })
}

/// Clock ticks per second of `/proc`'s CPU times.
pub fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(4096)
}

/// Blocks times their size; the counts are 32-bit on some targets (armv7), 64 on others.
fn bytes_of(blocks: impl Into<u64>, size: impl Into<u64>) -> u64 {
    blocks.into().saturating_mul(size.into())
}

/// A small file's text (these files are a few KiB; at most 64 KiB is read).
fn read(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 << 10)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// `0x50005` or `50005`, as the firmware prints it.
fn parse_hex(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix("throttled=").unwrap_or(t);
    let t = t.strip_prefix("0x").unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}

fn meminfo_kb(meminfo: &str, key: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Sectors written (field 10 of `/proc/diskstats`) of the SD card, as bytes.
fn sd_written(diskstats: &str) -> Option<u64> {
    diskstats.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let name = f.get(2)?;
        let whole_card = name.starts_with("mmcblk") && !name.contains('p');
        whole_card
            .then(|| f.get(9)?.parse::<u64>().ok())
            .flatten()
            .map(|sectors| sectors * 512)
    })
}

/// What the throttling bits say, for people; empty when none is set.
pub fn throttling(bits: u32) -> Vec<&'static str> {
    const NAMES: [(u32, &str); 8] = [
        (0, "under-voltage now"),
        (1, "frequency capped now"),
        (2, "throttled now"),
        (3, "soft temperature limit now"),
        (16, "under-voltage has occurred"),
        (17, "frequency capping has occurred"),
        (18, "throttling has occurred"),
        (19, "soft temperature limit has occurred"),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| bits & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_flags_and_kernel_tables_parse() {
        assert_eq!(parse_hex("0x50005\n"), Some(0x50005));
        assert_eq!(parse_hex("throttled=0x0"), Some(0));
        assert_eq!(parse_hex("hot"), None);
        assert_eq!(
            throttling(0x50005),
            vec![
                "under-voltage now",
                "throttled now",
                "under-voltage has occurred",
                "throttling has occurred"
            ]
        );
        let meminfo = "MemTotal:        3884812 kB\nMemFree: 1 kB\nMemAvailable:    2000000 kB\n";
        assert_eq!(meminfo_kb(meminfo, "MemAvailable"), Some(2_000_000));
        let stats = " 179       0 mmcblk0 100 0 200 0 50 0 4096 0 0 0 0\n 179       1 mmcblk0p1 1 0 1 0 1 0 8 0 0 0 0\n";
        assert_eq!(sd_written(stats), Some(4096 * 512));
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let src = Sources::from_env();
        let me = process(&src, std::process::id()).expect("this process");
        assert!(me.rss > 0);
        assert!(process(&src, u32::MAX).is_none());
    }
}
