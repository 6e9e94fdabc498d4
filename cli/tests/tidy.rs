//! The rules `ARCHITECTURE.md` states, checked against the code so that they cannot
//! drift: only the transport names the ZeroMQ engine; `unsafe` only where listed; no
//! test sleeps outside the bounded-wait helper; the code map names only files that
//! exist; no import circles inside `launch` or between the runtime's modules (the node
//! above its features, the features above the node's base); the runtime documents only
//! what a node author uses. Each check reads the sources as text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// Every `.rs` file of the workspace's crates, relative to the root.
fn sources() -> Vec<PathBuf> {
    let root = root();
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path.strip_prefix(&root).expect("inside").to_owned());
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_default()
}

/// The lines of a source file without line comments, with their numbers.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

/// Files (and lines) where `pred` holds for a code line, outside `allowed`.
fn offenders(allowed: &[&str], pred: impl Fn(&str) -> bool) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|p| !allowed.iter().any(|a| p.starts_with(a)))
        .flat_map(|p| {
            let text = read(&p);
            code_lines(&text)
                .filter(|(_, l)| pred(l))
                .map(|(n, l)| format!("{}:{n}: {}", p.display(), l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn only_the_transport_names_the_engine() {
    let found = offenders(
        &[
            "node-runtime/src/transport/",
            "bench/src/baseline.rs",
            "cli/tests/tidy.rs",
        ],
        |l| l.contains("zeromq::") || l.contains("use zeromq"),
    );
    assert!(
        found.is_empty(),
        "only node-runtime/src/transport/ (and the benchmark's bare baseline) may name the engine:\n{}",
        found.join("\n")
    );
}

#[test]
fn unsafe_code_only_where_listed() {
    // The parent-death signal after fork, two counting allocators (a global
    // allocator cannot be written without `unsafe`), the mapping of shared memory, an
    // option of the allocator set through its C interface, and the iceoryx2
    // baseline's samples of which only a header is written.
    let listed = [
        "launch/src/child.rs",
        "node-runtime/tests/fuzz.rs",
        "bench/src/allocations.rs",
        "node-runtime/src/shm/region.rs",
        "node-runtime/src/alloc.rs",
        "bench/src/shm/ice.rs",
    ];
    let found = offenders(&[&listed[..], &["cli/tests/tidy.rs"]].concat(), |l| {
        l.contains("unsafe {")
            || l.contains("unsafe fn")
            || l.contains("unsafe impl")
            || l.contains("allow(unsafe_code)")
    });
    assert!(
        found.is_empty(),
        "`unsafe` outside the listed files (list a new place here and in ARCHITECTURE.md, with why):\n{}",
        found.join("\n")
    );
    let architecture = read(Path::new("ARCHITECTURE.md"));
    for file in listed {
        assert!(
            architecture.contains(file),
            "ARCHITECTURE.md does not list {file} among the places with `unsafe`"
        );
    }
}

#[test]
fn tests_wait_only_through_the_bounded_helper() {
    let tests: Vec<PathBuf> = sources()
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "tests"))
        .collect();
    let mut found = Vec::new();
    for path in tests {
        if path == Path::new("cli/tests/support/wait.rs") || path == Path::new("cli/tests/tidy.rs")
        {
            continue;
        }
        let text = read(&path);
        for (n, line) in code_lines(&text) {
            if line.contains("sleep(") {
                found.push(format!("{}:{n}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "tests wait through cli/tests/support/wait.rs (bounded, event-checking), never by sleeping:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_code_map_names_only_files_that_exist() {
    let root = root();
    let architecture = read(Path::new("ARCHITECTURE.md"));
    let map = architecture
        .split("## Code map")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("ARCHITECTURE.md has a code map");
    let mut missing = Vec::new();
    for row in map.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').collect();
        let Some(first) = cells.get(1) else { continue };
        // The first cell: paths (each ending the row's base directory or naming a file).
        let bases: Vec<PathBuf> = ticked(first).into_iter().map(PathBuf::from).collect();
        for base in &bases {
            // A name that is no path from the root lives beside the first one.
            let path = if root.join(base).exists() {
                base.clone()
            } else {
                bases[0].parent().map_or(base.clone(), |d| d.join(base))
            };
            if !root.join(&path).exists() {
                missing.push(format!("{} (in: {})", path.display(), row.trim()));
            }
        }
        // File names in the description are looked for under the row's directory.
        let dir = bases
            .first()
            .map(|b| {
                if b.extension().is_some() {
                    b.parent().map(Path::to_owned).unwrap_or_default()
                } else {
                    b.clone()
                }
            })
            .unwrap_or_default();
        for cell in cells.iter().skip(2) {
            for name in ticked(cell).into_iter().filter(|n| n.ends_with(".rs")) {
                let direct = root.join(&dir).join(&name);
                let anywhere = sources()
                    .iter()
                    .any(|p| p.starts_with(&dir) && p.ends_with(&name));
                if !direct.exists() && !anywhere {
                    missing.push(format!(
                        "{name} under {} (in: {})",
                        dir.display(),
                        row.trim()
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map names files that do not exist:\n{}",
        missing.join("\n")
    );
}

/// What stands between backticks in `text`.
fn ticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The module of a source file of a crate's `src/`: `agent/protocol.rs` is
/// `["agent", "protocol"]`, `agent/mod.rs` is `["agent"]`, `lib.rs` is `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" && stem != "main" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// The modules a file refers to through `crate::`, `super::` and `self::` paths, outside
/// its unit tests.
fn references(module: &[String], is_mod_file: bool, text: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    // A file's unit tests may use anything.
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    for (_, line) in code_lines(text) {
        let tokens: Vec<&str> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .filter(|t| t.contains("::"))
            .collect();
        for token in tokens {
            let segments: Vec<&str> = token.split("::").filter(|s| !s.is_empty()).collect();
            let (mut base, rest): (Vec<String>, &[&str]) = match segments.first() {
                Some(&"crate") => (Vec::new(), &segments[1..]),
                Some(&"super") => {
                    // `super` of a mod.rs file is its parent's parent.
                    let mut base = module.to_vec();
                    if !is_mod_file || !base.is_empty() {
                        base.pop();
                    }
                    let mut rest = &segments[1..];
                    while rest.first() == Some(&"super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    (base, rest)
                }
                Some(&"self") if is_mod_file => (module.to_vec(), &segments[1..]),
                _ => continue,
            };
            for s in rest {
                base.push((*s).to_owned());
            }
            out.insert(base);
        }
    }
    out
}

/// The import graph of a crate at the granularity `unit` gives (a module path to the
/// unit it belongs to, or `None` to leave it out).
fn graph(
    src: &Path,
    unit: impl Fn(&[String]) -> Option<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources().into_iter().filter(|p| p.starts_with(src)) {
        let relative = file.strip_prefix(src).expect("inside").to_owned();
        let module = module_of(&relative);
        let Some(from) = unit(&module) else { continue };
        let is_mod = relative.ends_with("mod.rs") || relative.ends_with("lib.rs");
        for target in references(&module, is_mod, &read(&file)) {
            // The longest prefix of the path that is a unit.
            let to = (1..=target.len()).rev().find_map(|n| unit(&target[..n]));
            if let Some(to) = to.filter(|to| *to != from) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// The circles of a graph, each as its units in order.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            found.push(stack[at..].to_vec());
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn launch_has_no_import_circles() {
    let src = Path::new("launch/src");
    // Between the crate's top-level modules.
    let top = graph(src, |m| m.first().cloned());
    let found = circles(&top);
    assert!(
        found.is_empty(),
        "import circles between launch's modules: {found:?}"
    );
    // Between the files of each module directory (its mod.rs aside, which may use
    // what its files define).
    for dir in ["agent", "model", "supervisor"] {
        let files = graph(src, |m| match m {
            [d, file, ..] if d == dir => Some(file.clone()),
            _ => None,
        });
        let found = circles(&files);
        assert!(
            found.is_empty(),
            "import circles inside launch/src/{dir}: {found:?}"
        );
    }
}

/// The items a crate's `lib.rs` re-exports at its root from its own modules
/// (`pub use node::{Node, ..}`), each with its module, so that `crate::Node` counts as
/// `node`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let modules: BTreeSet<&str> = code_lines(lib)
        .filter_map(|(_, l)| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';')
        })
        .collect();
    let mut out = BTreeMap::new();
    let mut statement = String::new();
    for (_, line) in code_lines(lib) {
        // Only the root's own statements: not those of inline modules (`prelude`).
        if statement.is_empty() && !line.starts_with("pub use ") {
            continue;
        }
        let line = line.trim();
        statement.push_str(line);
        if !line.ends_with(';') {
            continue;
        }
        let path = std::mem::take(&mut statement);
        let path = path
            .split_once("use ")
            .map_or("", |(_, p)| p)
            .trim_end_matches(';');
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        if !modules.contains(module) {
            continue;
        }
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.rsplit("::").next().unwrap_or("").trim();
            let name = name.rsplit(" as ").next().unwrap_or(name).trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    out
}

#[test]
fn the_runtime_has_no_import_circles() {
    let src = Path::new("node-runtime/src");
    let reexports = root_reexports(&read(&src.join("lib.rs")));
    // The crate's `error` is left out: it wraps the errors of the modules it names
    // (the master's refusal, the transport's failure), which return it.
    let top = graph(src, |m| {
        let first = m.first()?;
        let module = reexports.get(first).unwrap_or(first);
        (module != "error").then(|| module.clone())
    });
    // The layers the circles would break: the node uses its features, the features
    // use the node's base, and none of them the one above.
    for feature in ["publisher", "subscriber", "service", "params"] {
        assert!(
            top.get("node").is_some_and(|n| n.contains(feature)),
            "the import graph lost the edge node -> {feature}: the check reads the sources wrong"
        );
    }
    let found = circles(&top);
    assert!(
        found.is_empty(),
        "import circles between the runtime's modules: {found:?}"
    );
}

#[test]
fn the_circle_finder_finds_circles() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
    let text = "use crate::supervisor::NodeSet;\nuse super::store::hash; // crate::x::y\n";
    let refs = references(&["agent".to_owned(), "server".to_owned()], false, text);
    assert!(refs.contains(&vec!["supervisor".to_owned(), "NodeSet".to_owned()]));
    assert!(refs.contains(&vec![
        "agent".to_owned(),
        "store".to_owned(),
        "hash".to_owned()
    ]));
    assert!(!refs.iter().any(|r| r.first().is_some_and(|f| f == "x")));
    let lib = "mod node;\npub mod error;\npub use node::{Node,\n    NodeOptions};\npub use error::{Error, Result};\npub use pinion_macros::{main, Message};\npub mod prelude {\n    pub use crate::Node;\n}\n";
    let reexports = root_reexports(lib);
    assert_eq!(
        reexports.get("NodeOptions").map(String::as_str),
        Some("node")
    );
    assert_eq!(reexports.get("Node").map(String::as_str), Some("node"));
    assert_eq!(reexports.get("Result").map(String::as_str), Some("error"));
    assert_eq!(reexports.get("Message"), None);
}

/// The modules of `pinion` a node author uses; everything else public is plumbing the
/// sibling crates share, hidden from the documentation.
const NODE_AUTHOR_MODULES: &[&str] = &[
    "alloc",
    "error",
    "json",
    "message",
    "msgs",
    "names",
    "params",
    "parts",
    "prelude",
    "publisher",
    "rate",
    "service",
    "subscriber",
];

#[test]
fn the_runtime_documents_only_what_a_node_author_uses() {
    let text = read(&root().join("node-runtime/src/lib.rs"));
    let mut hidden = false;
    let mut shown = Vec::new();
    for (_, line) in code_lines(&text) {
        let line = line.trim();
        if line == "#[doc(hidden)]" {
            hidden = true;
            continue;
        }
        if let Some(name) = line.strip_prefix("pub mod ") {
            let name = name.trim_end_matches([';', '{', ' ']);
            if !hidden {
                shown.push(name.to_owned());
            }
        }
        if !line.starts_with("#[") && !line.starts_with("//") {
            hidden = false;
        }
    }
    let extra: Vec<&String> = shown
        .iter()
        .filter(|m| !NODE_AUTHOR_MODULES.contains(&m.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "node-runtime/src/lib.rs documents plumbing modules {extra:?}; mark them \
         #[doc(hidden)] or add them to NODE_AUTHOR_MODULES if a node author uses them"
    );
    assert!(
        shown.len() == NODE_AUTHOR_MODULES.len(),
        "NODE_AUTHOR_MODULES names modules lib.rs does not show: shown {shown:?}"
    );
}
