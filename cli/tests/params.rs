//! Parameters: from the launch file to a node, and changed at run time by `pinion param set`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn launch_file_parameter_reaches_the_node_and_param_set_changes_it_live() {
    let dir = TempDir::new("params");
    let path = dir.0.join("graph.toml");
    std::fs::write(
        &path,
        r#"
[master]
bind = "tcp://127.0.0.1:0"
[[node]]
name = "talker"
binary = "talker"
args = ["--rate", "50", "--text", "from-args"]
params = { text = "from-file" }
[[node]]
name = "listener"
binary = "listener"
"#,
    )
    .expect("launch file");
    let mut c = Command::new(bin("pinion"));
    c.arg("launch")
        .arg(&path)
        .env("PINION_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "info,zeromq=error");
    let mut launcher = Proc::spawn("launcher", c);
    let master = launcher.expect_master_up();
    launcher.expect_line("the file's value", SOON, |s, l| {
        s == Src::Out && l.starts_with("[listener] seq=") && l.ends_with("text=from-file")
    });

    let pinion = |args: &[&str]| {
        let mut c = Command::new(bin("pinion"));
        c.args(args).env("PINION_MASTER", &master);
        let mut p = Proc::spawn("pinion", c);
        let (out, code) = p.finish(SOON);
        (out, code, p.dump())
    };
    let (out, code, dump) = pinion(&["param", "get", "talker/text"]);
    assert_eq!(
        (out, code),
        (vec!["\"from-file\"".to_owned()], Some(0)),
        "{dump}"
    );

    let (_, code, dump) = pinion(&["param", "set", "talker/text", "\"changed\""]);
    assert_eq!(code, Some(0), "{dump}");
    let set_at = Instant::now();
    launcher.expect_line("the new value", SOON, |s, l| {
        s == Src::Out && l.ends_with("text=changed")
    });
    let took = set_at.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the change reached the node after {took:?}"
    );

    let (out, code, _) = pinion(&["param", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&"talker/text = \"changed\"".to_owned()),
        "{out:?}"
    );
    let (_, code, dump) = pinion(&["param", "set", "talker/text", "not json"]);
    assert_eq!(code, Some(1));
    assert!(dump.contains("not JSON"), "{dump}");
    let (_, code, dump) = pinion(&["param", "get", "nobody/knows"]);
    assert_eq!(code, Some(1));
    assert!(dump.contains("is not set"), "{dump}");

    launcher.signal(nix::sys::signal::Signal::SIGINT);
    let (_, code) = launcher.finish(SOON);
    assert_eq!(code, Some(0), "{}", launcher.dump());
}
