//! The command-line tools against a running graph: outputs checked, bad input refused.

mod support;

use std::process::Command;
use support::*;

fn pinion(env: &Env, args: &[&str]) -> (Vec<String>, Option<i32>, String) {
    let mut c = Command::new(bin("pinion"));
    c.args(args)
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "warn");
    let mut p = Proc::spawn("pinion", c);
    let (out, code) = p.finish(SOON);
    (out, code, p.dump())
}

fn running_talker(tag: &str, rate: &str) -> (TempDir, Proc, Env, Proc) {
    let dir = TempDir::new(tag);
    let (master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", rate]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    (dir, master, env, talker)
}

#[test]
fn node_and_topic_commands_show_the_graph() {
    let (_dir, _master, env, _talker) = running_talker("toolsgraph", "20");
    let (out, code, dump) = pinion(&env, &["node", "list"]);
    assert_eq!(code, Some(0), "{dump}");
    assert!(
        out.iter().any(|l| l.starts_with("talker\thost=")),
        "{out:?}"
    );
    let (out, code, dump) = pinion(&env, &["node", "list", "--json"]);
    assert_eq!(code, Some(0), "{dump}");
    let row: serde_json::Value = serde_json::from_str(&out[0]).expect("json");
    assert_eq!(row["node"], "talker");
    assert!(row["pid"].as_u64().is_some_and(|p| p > 0), "{row}");
    let (out, code, dump) = pinion(&env, &["node", "info", "talker"]);
    assert_eq!(code, Some(0), "{dump}");
    assert!(
        out.iter().any(|l| l.contains("chatter [demo/Chatter]")),
        "{out:?}"
    );
    let (out, code, _) = pinion(&env, &["topic", "list"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        vec!["chatter\tdemo/Chatter\tpublishers=1\tsubscribers=0".to_owned()]
    );
    let (out, _, _) = pinion(&env, &["topic", "list", "--json"]);
    let row: serde_json::Value = serde_json::from_str(&out[0]).expect("json");
    assert_eq!(row["type"], "demo/Chatter");
    let (out, code, _) = pinion(&env, &["topic", "info", "chatter"]);
    assert_eq!(code, Some(0));
    assert!(
        out.iter()
            .any(|l| l == "schema: struct Chatter { seq: u64, text: String }"),
        "{out:?}"
    );

    for args in [
        &["node", "info", "ghost"][..],
        &["node", "kill", "ghost"],
        &["topic", "info", "ghost"],
        &["topic", "echo", "ghost"],
        &["topic", "hz", "ghost"],
    ] {
        let (_, code, dump) = pinion(&env, args);
        assert_eq!(code, Some(1), "{args:?}: {dump}");
        assert!(
            dump.contains("unknown node `ghost`") || dump.contains("unknown topic `ghost`"),
            "{args:?}: {dump}"
        );
    }
}

#[test]
fn echo_prints_messages_as_text_and_json() {
    let (_dir, _master, env, _talker) = running_talker("toolsecho", "50");
    let (out, code, dump) = pinion(
        &env,
        &["topic", "echo", "chatter", "--count", "3", "--json"],
    );
    assert_eq!(code, Some(0), "{dump}");
    let seqs: Vec<u64> = out
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .map(|v| {
            assert_eq!(v["text"], "hello");
            v["seq"].as_u64().expect("seq")
        })
        .collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let (out, code, _) = pinion(&env, &["topic", "echo", "chatter", "--count", "1"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&"  \"text\": \"hello\"".to_owned())
            && out.last().map(String::as_str) == Some("---"),
        "{out:?}"
    );
}

#[test]
fn pub_sends_json_and_refuses_what_does_not_fit() {
    let dir = TempDir::new("toolspub");
    let (_master, env) = start_master(&dir);
    let mut listener = env.node("listener", "listener", &["--count", "3"]);
    listener.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let (_, code, dump) = pinion(
        &env,
        &[
            "topic",
            "pub",
            "chatter",
            r#"{"seq": 7, "text": "from pub"}"#,
        ],
    );
    assert_eq!(code, Some(0), "{dump}");
    listener.expect_line("the published message", SOON, |s, l| {
        s == Src::Out && l == "seq=7 text=from pub"
    });
    for (message, field) in [
        (
            r#"{"seq": -1, "text": "x"}"#,
            "`demo/Chatter.seq` must be a whole number",
        ),
        (r#"{"seq": 1}"#, "`demo/Chatter.text` is missing"),
        (
            r#"{"seq": 1, "text": "x", "loud": true}"#,
            "`demo/Chatter.loud` is not a field of Chatter",
        ),
        (
            r#"{"seq": "one", "text": "x"}"#,
            "`demo/Chatter.seq` must be",
        ),
        ("not json", "the message is not JSON"),
    ] {
        let (_, code, dump) = pinion(&env, &["topic", "pub", "chatter", message]);
        assert_eq!(code, Some(1), "{message}: {dump}");
        assert!(dump.contains(field), "{message}: {dump}");
    }
    let (_, code, dump) = pinion(
        &env,
        &[
            "topic",
            "pub",
            "chatter",
            r#"{"seq": 8, "text": "again"}"#,
            "--count",
            "2",
            "--rate",
            "20",
        ],
    );
    assert_eq!(code, Some(0), "{dump}");
    let (out, code) = listener.finish(SOON);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.iter().filter(|l| *l == "seq=8 text=again").count(),
        2,
        "{out:?}"
    );
}

#[test]
fn hz_of_a_50_hz_talker_is_50_within_5_percent_and_bw_reports_bytes() {
    let (_dir, _master, env, _talker) = running_talker("toolshz", "50");
    let (out, code, dump) = pinion(&env, &["topic", "hz", "chatter", "--reports", "3"]);
    assert_eq!(code, Some(0), "{dump}");
    let rate: f64 = out
        .last()
        .and_then(|l| l.strip_prefix("average rate: "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {out:?}"));
    assert!((rate - 50.0).abs() <= 2.5, "hz reported {rate}: {out:?}");
    let (out, code, _) = pinion(&env, &["topic", "bw", "chatter", "--reports", "2"]);
    assert_eq!(code, Some(0));
    assert!(
        out.last()
            .is_some_and(|l| l.starts_with("average: ") && l.contains("mean: 8B")),
        "{out:?}"
    );
}

#[test]
fn node_kill_asks_the_node_to_stop() {
    let (_dir, _master, env, mut talker) = running_talker("toolskill", "10");
    let (out, code, dump) = pinion(&env, &["node", "kill", "talker"]);
    assert_eq!(code, Some(0), "{dump}");
    assert_eq!(out, vec!["asked `talker` to shut down".to_owned()]);
    let (_, code) = talker.finish(SOON);
    assert_eq!(code, Some(0), "{}", talker.dump());
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let dir = TempDir::new("toolsgraphview");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "10"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let mut listener = env.node("listener", "listener", &[]);
    listener.expect_line("a message", SOON, |s, l| {
        s == Src::Out && l.starts_with("seq=")
    });
    let (out, code, dump) = pinion(&env, &["graph"]);
    assert_eq!(code, Some(0), "{dump}");
    for line in [
        "digraph pinion {",
        "  \"n:talker\" -> \"t:chatter\";",
        "  \"t:chatter\" -> \"n:listener\";",
    ] {
        assert!(
            out.contains(&line.to_owned()),
            "missing {line:?} in {out:?}"
        );
    }
    let (out, code, _) = pinion(&env, &["graph", "--format", "mermaid"]);
    assert_eq!(code, Some(0));
    assert_eq!(out[0], "flowchart LR");
    assert!(
        out.contains(&"  n_talker --> t_chatter".to_owned())
            && out.contains(&"  t_chatter --> n_listener".to_owned()),
        "{out:?}"
    );
}

#[test]
fn echo_of_an_image_prints_its_shape_not_its_bytes() {
    let dir = TempDir::new("echo-image");
    let (_master, env) = start_master(&dir);
    let mut camera = env.node("camera_sim", "camera", &[]);
    camera.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let (out, code, dump) = pinion(&env, &["topic", "echo", "camera/image", "--count", "1"]);
    assert_eq!(code, Some(0), "{dump}");
    let text = out.join("\n");
    assert!(text.contains("\"data\": \"<57600 bytes>\""), "{text}");
    assert!(
        text.contains("\"width\": 160") && text.contains("\"encoding\": \"rgb8\""),
        "{text}"
    );
    assert!(
        text.len() < 1000,
        "bytes were printed: {} characters",
        text.len()
    );
    let (out, code, dump) = pinion(
        &env,
        &["topic", "echo", "camera/image", "--count", "1", "--json"],
    );
    assert_eq!(code, Some(0), "{dump}");
    assert!(out.join("").len() > 57600, "--json keeps the bytes");
}
