//! Property fuzzing of the launch-file reader: mutations of real launch files (the
//! configs and the broken corpus) and random text never panic; every refusal carries at
//! least one problem with a line and column inside the text. Bounded:
//! `PINION_FUZZ_ITERS` inputs (default 5 000).

use std::path::Path;

#[path = "../../node-runtime/tests/support/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

/// Pieces of TOML that make interesting damage when dropped into a launch file.
const SPLICES: &[&str] = &[
    "[[node]]\n",
    "[master]\n",
    "= ",
    "\"",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "after = [\"x\"]\n",
    "respawn = \"always\"\n",
    "stop_timeout = \"-1s\"\n",
    "include = [\"a.toml\"]\n",
    "name = \"\"\n",
    "machine = \"pi9\"\n",
    "remap = { a = \"\" }\n",
    "999999999999999999999",
    "\u{feff}",
    "\u{0}",
    "é",
    "#",
    "'''",
    "inf",
    "nan",
    "-0",
];

fn mutate(rng: &mut Rng, seeds: &[String]) -> String {
    let mut text = seeds[rng.below(seeds.len())].clone().into_bytes();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(text.len() + 1);
        match rng.below(4) {
            0 if at < text.len() => {
                text.remove(at);
            }
            1 => {
                let splice = SPLICES[rng.below(SPLICES.len())].as_bytes();
                text.splice(at..at, splice.iter().copied()).for_each(drop);
            }
            2 => {
                // Duplicate a slice: repeated tables and keys.
                let end = (at + rng.below(200)).min(text.len());
                let piece = text[at..end].to_vec();
                text.splice(at..at, piece).for_each(drop);
            }
            _ if at < text.len() => text[at] = rng.next() as u8,
            _ => {}
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn mutated_launch_files_never_panic_and_refusals_say_where() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    for dir in [root.join("../configs"), root.join("tests/broken")] {
        for entry in std::fs::read_dir(&dir).expect("seed directory").flatten() {
            if entry.path().extension().is_some_and(|e| e == "toml") {
                seeds.push(std::fs::read_to_string(entry.path()).expect("seed"));
            }
        }
    }
    assert!(seeds.len() >= 10, "seeds: {}", seeds.len());
    let iterations = std::env::var("PINION_FUZZ_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let mut rng = Rng(0x5eed);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..iterations {
        let text = mutate(&mut rng, &seeds);
        let lines = text.lines().count().max(1);
        let outcome =
            std::panic::catch_unwind(|| pinion_launch::model::parse(&text, Path::new("fuzz.toml")))
                .unwrap_or_else(|_| panic!("input {i} panicked:\n{text}"));
        match outcome {
            Ok(_) => accepted += 1,
            Err(problems) => {
                refused += 1;
                assert!(
                    !problems.0.is_empty(),
                    "input {i}: a refusal without problems:\n{text}"
                );
                for p in &problems.0 {
                    assert!(
                        p.at.file.ends_with("fuzz.toml") || p.at.file.is_relative(),
                        "input {i}: {p}"
                    );
                    if p.at.file.ends_with("fuzz.toml") {
                        assert!(
                            (1..=lines + 1).contains(&p.at.line) && p.at.column >= 1,
                            "input {i}: {p} is outside the {lines} lines of:\n{text}"
                        );
                    }
                    assert!(!p.message.trim().is_empty(), "input {i}: {p}");
                }
            }
        }
    }
    eprintln!("launch parser: {iterations} inputs, {accepted} accepted, {refused} refused");
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
