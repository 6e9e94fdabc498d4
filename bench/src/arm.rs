//! Stripped sizes of the Raspberry Pi builds, when they are there: `footprint` adds them
//! after the sizes of this host's builds.
//!
//! Build them first: `cargo build --release --workspace --bins --target aarch64-unknown-linux-gnu`
//! (and `armv7-unknown-linux-gnueabihf`); the strip tools come with the gcc cross linkers
//! that `scripts/setup` installs.

use std::path::Path;
use std::process::Command;

const TARGETS: [(&str, &str); 2] = [
    ("aarch64-unknown-linux-gnu", "aarch64-linux-gnu-strip"),
    ("armv7-unknown-linux-gnueabihf", "arm-linux-gnueabihf-strip"),
];

/// Prints the stripped size of each of `names` for each ARM target built in release;
/// the JSON fields.
pub fn stripped_sizes(names: &[&str], scratch: &Path) -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe()?;
    // target/release/pinion-bench -> target/
    let Some(target_dir) = exe.parent().and_then(Path::parent) else {
        return Ok(Vec::new());
    };
    let mut json = Vec::new();
    for (triple, strip) in TARGETS {
        let dir = target_dir.join(triple).join("release");
        if !names.iter().all(|n| dir.join(n).is_file()) {
            println!("  {triple}: no release build, skipped");
            continue;
        }
        let mut sizes = Vec::new();
        for name in names {
            let copy = scratch.join(format!("{triple}-{name}"));
            std::fs::copy(dir.join(name), &copy)?;
            let status = Command::new(strip).arg(&copy).status()?;
            anyhow::ensure!(status.success(), "{strip} failed on {name}");
            let size = std::fs::metadata(&copy)?.len() as f64 / 1e6;
            sizes.push(format!("{name} {size:.2}"));
            json.push(format!("\"{triple}_{name}_stripped_mb\":{size:.2}"));
        }
        println!("  {triple} stripped, MB: {}", sizes.join(", "));
    }
    Ok(json)
}
