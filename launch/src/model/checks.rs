//! Checks across the whole file: names, references, start order, endpoints, binaries.

use super::problem::Problem;
use super::{LaunchFile, NodeSpec};
use std::collections::{BTreeMap, BTreeSet};

/// Target triples Pinion builds for.
pub const KNOWN_TARGETS: &[&str] = &[
    "aarch64-unknown-linux-gnu",
    "armv7-unknown-linux-gnueabihf",
    "arm-unknown-linux-gnueabihf",
    "x86_64-unknown-linux-gnu",
];

pub fn check(
    file: &LaunchFile,
    binary_exists: &dyn Fn(&NodeSpec) -> bool,
    problems: &mut Vec<Problem>,
) {
    let mut push = |at: &super::Location, message: String| {
        problems.push(Problem {
            at: at.clone(),
            message,
        })
    };
    let file_start = super::Location {
        file: file.path.clone(),
        line: 1,
        column: 1,
    };

    if let Err(e) = pinion::transport::normalize(&file.master.bind) {
        push(&file.master.at, format!("[master] bind: {e}"));
    }
    if let Some(m) = &file.master.machine {
        if !file.machines.contains_key(m) {
            push(
                &file.master.at,
                format!(
                    "[master] runs on machine `{m}`, which is not defined; {}",
                    known(file.machines.keys())
                ),
            );
        }
    }
    let mut host_ids: BTreeMap<&str, &str> = BTreeMap::new();
    for machine in file.machines.values() {
        if let Some(target) = &machine.target {
            if !KNOWN_TARGETS.contains(&target.as_str()) {
                push(
                    &machine.at,
                    format!(
                        "machine `{}`: unknown target `{target}`; use one of {}",
                        machine.name,
                        KNOWN_TARGETS.join(", ")
                    ),
                );
            }
        }
        if let Some(agent) = &machine.agent {
            if let Err(e) = pinion::transport::normalize(agent) {
                push(
                    &machine.at,
                    format!("machine `{}`: agent {e}", machine.name),
                );
            }
        }
        if let Some(other) = host_ids.insert(&machine.host_id, &machine.name) {
            push(
                &machine.at,
                format!(
                    "machines `{other}` and `{}` share host id `{}`; host ids must be unique",
                    machine.name, machine.host_id
                ),
            );
        }
    }

    let mut seen: BTreeMap<&str, &NodeSpec> = BTreeMap::new();
    for node in &file.nodes {
        if let Err(e) = pinion::NodeName::new(&node.name) {
            push(&node.at, e.to_string());
        }
        if let Some(first) = seen.insert(&node.name, node) {
            push(
                &node.at,
                format!(
                    "node name `{}` is used twice (first at {})",
                    node.name, first.at
                ),
            );
        }
        if let Some(m) = &node.machine {
            if !file.machines.contains_key(m) {
                push(
                    &node.at,
                    format!(
                        "node `{}` runs on machine `{m}`, which is not defined; {}",
                        node.name,
                        known(file.machines.keys())
                    ),
                );
            }
        }
        if let Some(ns) = &node.namespace {
            if let Err(e) = pinion::TopicName::new(ns) {
                push(&node.at, format!("node `{}`: namespace: {e}", node.name));
            }
        }
        for (from, to) in &node.remap {
            for name in [from, to] {
                if let Err(e) = pinion::TopicName::new(name) {
                    push(&node.at, format!("node `{}`: remap: {e}", node.name));
                }
            }
        }
        if node.respawn.max_delay < node.respawn.delay {
            push(
                &node.at,
                format!(
                    "node `{}`: respawn_max_delay is shorter than respawn_delay",
                    node.name
                ),
            );
        }
        if !binary_exists(node) {
            push(&node.at, format!("node `{}`: binary `{}` not found (looked beside pinion, on PATH, and as a path)", node.name, node.binary));
        }
    }
    for node in &file.nodes {
        for dep in &node.after {
            if dep == &node.name {
                push(
                    &node.at,
                    format!("node `{}` lists itself in `after`", node.name),
                );
            } else if !seen.contains_key(dep.as_str()) {
                push(
                    &node.at,
                    format!(
                        "node `{}` starts after `{dep}`, which is not a node of this launch; {}",
                        node.name,
                        known(seen.keys())
                    ),
                );
            }
        }
    }
    for cycle in after_cycles(file) {
        let first = file
            .nodes
            .iter()
            .find(|n| n.name == cycle[0])
            .map(|n| n.at.clone())
            .unwrap_or(file_start.clone());
        push(
            &first,
            format!("`after` forms a cycle: {}", cycle.join(" -> ")),
        );
    }
}

/// Each cycle of the `after` graph once, as the list of names around it (first repeated last).
fn after_cycles(file: &LaunchFile) -> Vec<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = file
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.after.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let mut cycles = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in edges.keys() {
        let mut path: Vec<&str> = Vec::new();
        visit(start, &edges, &mut path, &mut done, &mut cycles);
    }
    cycles
}

fn visit<'a>(
    node: &'a str,
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
    cycles: &mut Vec<Vec<String>>,
) {
    if done.contains(node) {
        return;
    }
    if let Some(i) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<String> = path[i..].iter().map(|s| (*s).to_owned()).collect();
        cycle.push(node.to_owned());
        if cycle.len() > 2 {
            cycles.push(cycle);
        }
        return;
    }
    path.push(node);
    for next in edges.get(node).into_iter().flatten() {
        if edges.contains_key(next) {
            visit(next, edges, path, done, cycles);
        }
    }
    path.pop();
    done.insert(node);
}

fn known<'a>(names: impl Iterator<Item = &'a (impl AsRef<str> + 'a + ?Sized)>) -> String {
    let names: Vec<&str> = names.map(AsRef::as_ref).collect();
    if names.is_empty() {
        "none are defined".to_owned()
    } else {
        format!("known: {}", names.join(", "))
    }
}
