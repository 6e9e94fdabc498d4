//! `pinion record` and `pinion play`: MCAP files read back by an independent reader (the
//! `mcap` package from PyPI, installed by scripts/setup), and played with their spacing.

mod support;

use pinion_nodes::Chatter;
use std::path::Path;
use std::process::Command;
use std::time::Instant;
use support::*;

/// Reads a recording with Python's `mcap`: (schema name, encoding, message count, log times) per topic.
fn read_with_python(file: &Path) -> serde_json::Value {
    let script = r#"
import json, sys
from mcap.reader import make_reader
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f)
    summary = reader.get_summary()
    out = {}
    for cid, ch in summary.channels.items():
        schema = summary.schemas[ch.schema_id]
        out[ch.topic] = {"schema": schema.name, "encoding": schema.encoding, "type": json.loads(schema.data)["name"],
                         "count": summary.statistics.channel_message_counts[cid], "message_encoding": ch.message_encoding}
    f.seek(0)
    times = [m.log_time for _, _, m in make_reader(f).iter_messages()]
    out["_log_times"] = times
print(json.dumps(out))
"#;
    python_json(script, file)
}

fn pinion(env: &Env, args: &[&str]) -> (Vec<String>, Option<i32>, String) {
    let mut c = Command::new(bin("pinion"));
    c.args(args)
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "warn");
    let mut p = Proc::spawn("pinion", c);
    let (out, code) = p.finish(SOON * 2);
    (out, code, p.dump())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_is_self_describing_and_play_keeps_the_spacing() {
    let dir = TempDir::new("bag");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "20"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let file = dir.0.join("run.mcap");
    let file_arg = file.to_str().expect("utf-8");
    let (_, code, dump) = pinion(
        &env,
        &["record", "-o", file_arg, "chatter", "--count", "20"],
    );
    assert_eq!(code, Some(0), "{dump}");
    drop(talker);

    let read = read_with_python(&file);
    let chatter = &read["chatter"];
    assert_eq!(chatter["count"], 20, "{read}");
    assert_eq!(chatter["schema"], "demo/Chatter");
    assert_eq!(chatter["encoding"], "pinion-postcard-schema");
    assert_eq!(chatter["type"], "demo/Chatter");
    assert_eq!(chatter["message_encoding"], "postcard");
    let recorded: Vec<u64> = read["_log_times"]
        .as_array()
        .expect("times")
        .iter()
        .filter_map(|t| t.as_u64())
        .collect();
    assert_eq!(recorded.len(), 20);

    let node = pinion::Node::init(options(&env, "bag_player_sub"))
        .await
        .expect("node");
    let mut sub = node
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");
    let mut play = Command::new(bin("pinion"));
    play.args(["play", file_arg])
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir);
    let mut player = Proc::spawn("play", play);
    let mut arrivals = Vec::new();
    while arrivals.len() < 20 {
        match recv_within(&mut sub, SOON).await {
            Some(_) => arrivals.push(Instant::now()),
            None => panic!(
                "only {} messages played back:\n{}",
                arrivals.len(),
                player.dump()
            ),
        }
    }
    let (_, code) = player.finish(SOON);
    assert_eq!(code, Some(0), "{}", player.dump());
    // Tolerance: the gaps between played messages differ from the recorded ones by less
    // than 15 ms on average, and the whole run takes the recorded time within 10 %.
    let recorded_gaps: Vec<f64> = recorded
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / 1e9)
        .collect();
    let played_gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let mean_error = recorded_gaps
        .iter()
        .zip(&played_gaps)
        .map(|(r, p)| (r - p).abs())
        .sum::<f64>()
        / recorded_gaps.len() as f64;
    assert!(
        mean_error < 0.015,
        "mean gap error {mean_error:.4}s; recorded {recorded_gaps:?} played {played_gaps:?}"
    );
    let recorded_total: f64 = recorded_gaps.iter().sum();
    let played_total = (arrivals[19] - arrivals[0]).as_secs_f64();
    assert!(
        (played_total - recorded_total).abs() < recorded_total * 0.1,
        "played over {played_total:.3}s, recorded over {recorded_total:.3}s"
    );
    node.close().await;
}

#[test]
fn long_recordings_split_by_size_and_unknown_topics_are_refused() {
    let dir = TempDir::new("bagsplit");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node(
        "talker",
        "talker",
        &["--rate", "200", "--text", &"x".repeat(200)],
    );
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let base = dir.0.join("long.mcap");
    let (_, code, dump) = pinion(
        &env,
        &[
            "record",
            "-o",
            base.to_str().expect("utf-8"),
            "chatter",
            "--count",
            "60",
            "--split-size",
            "0.002",
        ],
    );
    assert_eq!(code, Some(0), "{dump}");
    let mut total = 0;
    let mut files = 0;
    for name in
        std::iter::once("long.mcap".to_owned()).chain((1..100).map(|i| format!("long_{i}.mcap")))
    {
        let path = dir.0.join(name);
        if !path.exists() {
            break;
        }
        files += 1;
        total += read_with_python(&path)["chatter"]["count"]
            .as_u64()
            .unwrap_or(0);
    }
    assert!(files > 1, "no split happened");
    assert_eq!(total, 60, "every message is in one of the {files} files");

    let (_, code, dump) = pinion(
        &env,
        &["record", "-o", base.to_str().expect("utf-8"), "ghost"],
    );
    assert_eq!(code, Some(1));
    assert!(dump.contains("unknown topic `ghost`"), "{dump}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_rate_scales_the_spacing_and_loop_starts_again() {
    let dir = TempDir::new("bagrate");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "20"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let file = dir.0.join("run.mcap");
    let file_arg = file.to_str().expect("utf-8");
    let (_, code, dump) = pinion(
        &env,
        &["record", "-o", file_arg, "chatter", "--count", "11"],
    );
    assert_eq!(code, Some(0), "{dump}");
    drop(talker);
    let times = read_with_python(&file)["_log_times"]
        .as_array()
        .expect("times")
        .iter()
        .filter_map(|t| t.as_u64())
        .collect::<Vec<_>>();
    let recorded_total = (times[10] - times[0]) as f64 / 1e9;

    let node = pinion::Node::init(options(&env, "bag_rate_sub"))
        .await
        .expect("node");
    let mut sub = node
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");
    let play = |extra: &[&str]| {
        let mut c = Command::new(bin("pinion"));
        c.args(["play", file_arg])
            .args(extra)
            .env("PINION_MASTER", &env.master)
            .env("PINION_RUNTIME_DIR", &env.runtime_dir);
        Proc::spawn("play", c)
    };

    // --rate 4: a quarter of the recorded time.
    let mut player = play(&["--rate", "4"]);
    let mut arrivals = Vec::new();
    for _ in 0..11 {
        recv_within(&mut sub, SOON)
            .await
            .unwrap_or_else(|| panic!("played too few:\n{}", player.dump()));
        arrivals.push(Instant::now());
    }
    assert_eq!(player.finish(SOON).1, Some(0), "{}", player.dump());
    let played_total = (arrivals[10] - arrivals[0]).as_secs_f64();
    let expected = recorded_total / 4.0;
    assert!(
        (played_total - expected).abs() < expected * 0.25 + 0.015,
        "played over {played_total:.3}s, expected {expected:.3}s"
    );

    // --loop: the 11 messages come again, seq 0 after seq 10.
    let mut player = play(&["--loop", "--rate", "4"]);
    let mut seqs = Vec::new();
    for _ in 0..30 {
        let m = recv_within(&mut sub, SOON)
            .await
            .unwrap_or_else(|| panic!("looping stopped:\n{}", player.dump()));
        seqs.push(m.seq);
    }
    player.kill();
    let restarts = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(restarts >= 2, "no loop in {seqs:?}");
    node.close().await;
}

/// Plays `file` at `rate` to an in-process subscriber; the sequence numbers it got, and
/// the player's output.
async fn play_back(env: &Env, file: &Path, rate: &str, name: &str) -> (Vec<u64>, String) {
    let node = pinion::Node::init(options(env, name)).await.expect("node");
    let mut sub = node
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");
    let mut play = Command::new(bin("pinion"));
    play.arg("play")
        .arg(file)
        .args(["--rate", rate])
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "info,zeromq=error");
    let mut player = Proc::spawn("play", play);
    let (_, code) = player.finish(SOON * 4);
    assert_eq!(code, Some(0), "{}", player.dump());
    let mut seqs = Vec::new();
    while let Some(m) = recv_within(&mut sub, std::time::Duration::from_millis(500)).await {
        seqs.push(m.seq);
    }
    node.close().await;
    (seqs, player.dump())
}

fn assert_contiguous(seqs: &[u64], what: &str) {
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{what}: played with gaps or out of order: {seqs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_recorder_leaves_a_file_that_plays_up_to_its_last_second() {
    let dir = TempDir::new("bag-killed");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "20"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let witness = pinion::Node::init(options(&env, "witness"))
        .await
        .expect("node");
    let mut seen = witness
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");

    let file = dir.0.join("killed.mcap");
    let mut c = Command::new(bin("pinion"));
    c.arg("record")
        .arg("-o")
        .arg(&file)
        .arg("chatter")
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "info,zeromq=error");
    let mut recorder = Proc::spawn("recorder", c);
    recorder.expect_line("recording", SOON, |_, l| l.contains("recording"));
    // Four seconds at 20 Hz, counted on the talker's own sequence numbers.
    let first = recv_within(&mut seen, SOON).await.expect("a message").seq;
    let mut last = first;
    while last < first + 80 {
        last = recv_within(&mut seen, SOON).await.expect("a message").seq;
    }
    recorder.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = recorder.finish(SOON);
    drop(talker);
    witness.close().await;

    let (seqs, dump) = play_back(&env, &file, "10", "after_kill").await;
    assert_contiguous(&seqs, "killed recorder");
    let played_last = *seqs
        .last()
        .unwrap_or_else(|| panic!("nothing played:\n{dump}"));
    assert!(
        played_last + 20 + 2 >= last,
        "the recording ends at seq {played_last}, the talker was at {last} when the recorder died: more than a second lost\n{dump}"
    );
    // Killed between chunks, the file has no end record; killed while writing one, it
    // ends in the middle of it. Either way play says so.
    assert!(
        dump.contains("no end record") || dump.contains("damaged at about byte"),
        "{dump}"
    );

    // The same file cut in the middle of its last record.
    let cut = dir.0.join("cut.mcap");
    let bytes = std::fs::read(&file).expect("recording");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).expect("cut copy");
    let (cut_seqs, dump) = play_back(&env, &cut, "10", "after_cut").await;
    assert_contiguous(&cut_seqs, "cut recording");
    assert!(!cut_seqs.is_empty() && cut_seqs[0] == seqs[0], "{dump}");
    assert!(dump.contains("damaged at about byte"), "{dump}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_that_fills_the_disk_stops_clearly_and_its_file_plays() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test mounts a small tmpfs in a mount namespace of its own: run it as root (CI does)"
    );
    let dir = TempDir::new("bag-full");
    let (_master, env) = start_master(&dir);
    let text = "x".repeat(1000);
    let mut talker = env.node("talker", "talker", &["--rate", "1000", "--text", &text]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let disk = dir.0.join("small-disk");
    std::fs::create_dir_all(&disk).expect("mount point");
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=4m tmpfs "$0" || exit 90; "$1" record -o "$0/full.mcap" chatter; status=$?; cp "$0/full.mcap" "$2/" || exit 91; exit $status"#)
        .arg(&disk)
        .arg(bin("pinion"))
        .arg(&dir.0)
        .env("PINION_MASTER", &env.master)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("RUST_LOG", "info,zeromq=error");
    let mut recorder = Proc::spawn("recorder", c);
    let (_, code) = recorder.finish(SOON * 2);
    let dump = recorder.dump();
    assert_eq!(
        code,
        Some(1),
        "the recorder should stop with an error:\n{dump}"
    );
    assert!(
        dump.contains("No space left on device") && dump.contains("cannot write"),
        "{dump}"
    );
    drop(talker);

    let (seqs, dump) = play_back(&env, &dir.0.join("full.mcap"), "1", "after_full").await;
    assert_contiguous(&seqs, "full disk");
    assert!(
        seqs.len() > 20,
        "only {} messages played:\n{dump}",
        seqs.len()
    );
}
