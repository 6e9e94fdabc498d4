//! Shared memory between nodes on one host, tried as a crash would: publishers and
//! subscribers SIGKILLed or stopped while subscribers hold images that lie in the
//! publisher's pool. The publisher is `camera_sim`, which draws each image straight
//! into its pool (`Node::loan_blob`); the subscribers are `pinion-bench role shm-hold`,
//! which hold the last images they got and say whether each came through the pool.

mod support;

use nix::sys::signal::Signal;
use std::collections::BTreeSet;
use std::path::Path;
use support::*;

/// Holders, and the images each holds.
const HOLDERS: usize = 3;
const KEEP: &str = "3";

fn start_camera(env: &Env, pool: Option<&str>) -> Proc {
    let mut c = env.command("camera_sim");
    c.env("PINION_NODE_NAME", "camera")
        .args(["--width", "640", "--height", "480", "--rate", "30"]);
    if let Some(pool) = pool {
        c.env("PINION_SHM_POOL", pool);
    }
    Proc::spawn("camera", c)
}

fn holder(env: &Env, name: &str) -> Proc {
    let mut c = env.command("pinion-bench");
    c.env("PINION_NODE_NAME", name)
        .args(["role", "shm-hold", "camera/image", KEEP]);
    Proc::spawn(name, c)
}

/// The number in a holder's `got N pooled` line.
fn got(line: &str) -> u64 {
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Waits until `holder` got an image through the pool after holding `KEEP` of them.
fn expect_pooled(holder: &mut Proc) -> u64 {
    let line = holder.expect_line("an image through the pool", SOON, |s, l| {
        s == Src::Out && l.ends_with(" pooled") && got(l) > 3
    });
    got(&line)
}

/// Whether process `pid` maps a pool.
fn maps_a_pool(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|m| m.contains("pinion-pool"))
}

/// Names in a directory that are not sockets (what a pool could have left behind).
fn files(dir: &Path) -> BTreeSet<String> {
    use std::os::unix::fs::FileTypeExt;
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_socket()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn killed_publishers_and_subscribers_leave_nothing_behind_and_a_restart_works() {
    let dir = TempDir::new("shmcrash");
    let dev_shm = files(Path::new("/dev/shm"));
    let (_master, env) = start_master(&dir);
    let runtime = files(&env.runtime_dir);
    let mut camera = start_camera(&env, None);
    let mut holders: Vec<Proc> = (0..HOLDERS)
        .map(|i| holder(&env, &format!("hold_{i}")))
        .collect();
    for h in &mut holders {
        expect_pooled(h);
        assert!(maps_a_pool(h.pid()), "{} maps the camera's pool", h.name);
    }

    // The publisher killed while three subscribers hold its images: they still read
    // them (the pool lives on in their mappings) and nothing crashes.
    camera.kill();
    for h in &mut holders {
        assert!(alive(h.pid()), "{} survived its publisher", h.name);
        assert!(
            maps_a_pool(h.pid()),
            "{} still maps the pool it holds",
            h.name
        );
    }
    // A new camera: the same subscribers get its images through its pool.
    let mut camera = start_camera(&env, None);
    for h in &mut holders {
        expect_pooled(h);
    }

    // A subscriber killed while it holds images: the publisher takes its slots back,
    // and the others go on receiving through the pool.
    holders.remove(0).kill();
    camera.expect_line("the dead subscriber's slots released", SOON, |_, l| {
        l.contains("a subscriber process is gone; released the")
    });
    for h in &mut holders {
        expect_pooled(h);
    }

    // Both at once: the publisher and one subscriber, while each holds images.
    let mut last = holders.pop().expect("a holder");
    let mut other = holders.pop().expect("another holder");
    expect_pooled(&mut other);
    camera.kill();
    other.kill();
    assert!(alive(last.pid()), "the last holder survived");
    assert!(maps_a_pool(last.pid()));

    // Every node gone: nothing is left, not in /dev/shm, not in the runtime directory.
    last.kill();
    assert_eq!(files(Path::new("/dev/shm")), dev_shm, "/dev/shm");
    assert_eq!(
        files(&env.runtime_dir),
        runtime,
        "{}",
        env.runtime_dir.display()
    );

    // A restarted publisher and subscriber work.
    let _camera = start_camera(&env, None);
    let mut h = holder(&env, "hold_again");
    expect_pooled(&mut h);
    assert!(maps_a_pool(h.pid()));
}

#[test]
fn a_stopped_subscriber_costs_the_publisher_at_most_the_pool_and_the_others_keep_receiving() {
    let dir = TempDir::new("shmstall");
    let (_master, env) = start_master(&dir);
    // 16 slots of 1 MiB for 900 KiB images.
    let mut camera = start_camera(&env, Some("16M"));
    let mut stopped = holder(&env, "hold_stopped");
    let mut other = holder(&env, "hold_other");
    expect_pooled(&mut stopped);
    let start = expect_pooled(&mut other);
    let rss_before = rss_kb(camera.pid());

    stopped.signal(Signal::SIGSTOP);
    // Four seconds of images at 30 Hz reach the other one.
    let line = other.expect_line("120 more images", SOON, |s, l| {
        s == Src::Out && got(l) >= start + 120
    });
    let grown = rss_kb(camera.pid()).saturating_sub(rss_before);
    // The pool (16 MiB), the stopped one's window (16 MiB) and what is kept for it
    // (16 MiB), with room for the allocator.
    assert!(
        grown < 64 << 10,
        "the publisher grew by {grown} kB while a subscriber was stopped"
    );
    assert!(
        other
            .seen
            .iter()
            .rev()
            .take(30)
            .any(|(_, l)| l.ends_with(" pooled")),
        "the other one still gets images through the pool: {line}\n{}\n{}",
        other.dump(),
        camera.dump()
    );
    assert!(alive(camera.pid()));

    stopped.signal(Signal::SIGCONT);
    let resumed = stopped.expect_line("images again", SOON, |s, l| {
        s == Src::Out && l.starts_with("got ")
    });
    assert!(got(&resumed) > 0);
    // The camera logged nothing worse than information.
    let _ = camera.wait_line(std::time::Duration::from_millis(100), |_, _| false);
    assert!(
        !camera.seen.iter().any(|(_, l)| l.contains("ERROR")),
        "{}",
        camera.dump()
    );
}

#[test]
fn a_subscriber_that_cannot_map_the_pool_gets_the_socket_and_the_others_the_pool() {
    // A holder in a pid namespace of its own (as in a container): same host id, so
    // ipc, but the camera's `/proc/PID/fd` is not there to open.
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root for a pid namespace");
        return;
    }
    let dir = TempDir::new("shmrefused");
    let (_master, env) = start_master(&dir);
    let mut camera = start_camera(&env, None);
    let mut inside = {
        let mut c = std::process::Command::new("unshare");
        c.args(["--pid", "--fork", "--mount-proc"])
            .arg(bin("pinion-bench"))
            .args(["role", "shm-hold", "camera/image", KEEP])
            .env("PINION_RUNTIME_DIR", &env.runtime_dir)
            .env("PINION_MASTER", &env.master)
            .env("RUST_LOG", "info,zeromq=error")
            .env_remove("PINION_HOST")
            .env("PINION_NODE_NAME", "hold_namespaced");
        Proc::spawn("hold_namespaced", c)
    };
    // Started after it: the namespaced node must not have taken the master's guard
    // sockets for stale ones (their pids are not in its namespace), or this one could
    // not register.
    let mut outside = holder(&env, "hold_outside");
    let socket = inside.expect_line("images through the socket", SOON, |s, l| {
        s == Src::Out && l.ends_with(" socket") && got(l) > 5
    });
    assert!(
        !inside.seen.iter().any(|(_, l)| l.ends_with(" pooled")),
        "nothing through a pool it cannot map: {socket}"
    );
    let refusals = inside
        .seen
        .iter()
        .filter(|(_, l)| l.contains("cannot read the publisher's shared memory"))
        .count();
    assert_eq!(refusals, 1, "the refusal, said once:\n{}", inside.dump());
    expect_pooled(&mut outside);
    assert!(alive(camera.pid()));
    let _ = camera.wait_line(std::time::Duration::from_millis(100), |_, _| false);
    assert!(
        !camera.seen.iter().any(|(_, l)| l.contains("ERROR")),
        "{}",
        camera.dump()
    );
}
