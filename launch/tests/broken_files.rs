//! The corpus of broken launch files in `tests/broken/`: each file says, in
//! `# expect: LINE:COLUMN: TEXT` comments, every problem it must produce. All of a
//! file's problems come at once.

use pinion_launch::model;
use std::path::Path;

#[test]
fn every_broken_file_reports_all_its_problems_with_line_and_column() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "the corpus holds at least 10 kinds of mistake"
    );
    let exists = |node: &model::NodeSpec| node.binary == "talker" || node.binary == "listener";
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no expectation",
            file.display()
        );
        let problems = model::load(&file, &exists).expect_err("a broken file is refused");
        let report = problems.to_string();
        for want in &expected {
            let (position, text) = want.split_at(want.find(": ").expect("LINE:COLUMN: TEXT"));
            let needle = format!("{}:{position}: {}", file.display(), &text[2..]);
            if !report.contains(&needle) {
                failures.push(format!("missing `{needle}` in:\n{report}"));
            }
        }
        if problems.0.len() != expected.len() {
            failures.push(format!(
                "{}: {} problems, {} expected:\n{report}",
                file.display(),
                problems.0.len(),
                expected.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_shipped_launch_files_are_valid() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&configs)
        .expect("configs/")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(problems) = model::load(&path, &|_| true) {
                panic!("{}:\n{problems}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no launch file in configs/");
}
