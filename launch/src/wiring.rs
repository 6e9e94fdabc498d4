//! The static wiring check: from each node's manifest (what its code publishes and
//! subscribes) and the launch file's namespaces and remaps, the topics of the whole
//! graph, before anything starts. Pure: the manifests are read elsewhere.

use crate::model::NodeSpec;
use pinion::parts::Manifest;
use pinion::TypeInfo;
use std::collections::BTreeMap;

/// Something the wiring check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Two nodes use one topic with different types: the launch would be refused.
    TypeMismatch(String),
    /// A subscription that no node of the file feeds.
    Unfed(String),
    /// A publication that no node of the file reads.
    Unread(String),
}

impl Finding {
    /// Whether the launch must not start.
    pub fn is_error(&self) -> bool {
        matches!(self, Finding::TypeMismatch(_))
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::TypeMismatch(m) => write!(f, "error: {m}"),
            Finding::Unfed(m) | Finding::Unread(m) => write!(f, "warning: {m}"),
        }
    }
}

/// One use of a topic by a node.
struct Use<'a> {
    node: &'a str,
    publishes: bool,
    type_info: &'a TypeInfo,
}

/// Checks the wiring of the nodes that have manifests.
pub fn check(nodes: &[(&NodeSpec, &Manifest)]) -> Vec<Finding> {
    let mut topics: BTreeMap<String, Vec<Use<'_>>> = BTreeMap::new();
    let mut findings = Vec::new();
    for (spec, manifest) in nodes {
        let naming = spec.naming();
        let uses = manifest
            .publishes
            .iter()
            .map(|t| (t, true))
            .chain(manifest.subscribes.iter().map(|t| (t, false)));
        for (topic, publishes) in uses {
            match naming.resolve(&topic.topic) {
                Ok(name) => topics.entry(name.to_string()).or_default().push(Use {
                    node: &spec.name,
                    publishes,
                    type_info: &topic.type_info,
                }),
                Err(e) => {
                    findings.push(Finding::TypeMismatch(format!("node `{}`: {e}", spec.name)))
                }
            }
        }
    }
    for (topic, uses) in &topics {
        if let Some(first) = uses.first() {
            for other in uses
                .iter()
                .filter(|u| u.type_info.hash != first.type_info.hash)
            {
                let differences = pinion::schema_diff::differences(
                    &first.type_info.schema,
                    &other.type_info.schema,
                );
                findings.push(Finding::TypeMismatch(format!(
                    "topic `{topic}`: node `{}` {} it as `{}` but node `{}` {} it as `{}`; differences: {}",
                    first.node,
                    verb(first.publishes),
                    first.type_info.name,
                    other.node,
                    verb(other.publishes),
                    other.type_info.name,
                    if differences.is_empty() { "the schemas hash differently".to_owned() } else { differences.join("; ") }
                )));
            }
        }
        let publishers: Vec<&str> = uses
            .iter()
            .filter(|u| u.publishes)
            .map(|u| u.node)
            .collect();
        let subscribers: Vec<&str> = uses
            .iter()
            .filter(|u| !u.publishes)
            .map(|u| u.node)
            .collect();
        if publishers.is_empty() {
            findings.push(Finding::Unfed(format!(
                "topic `{topic}`: {} subscribe{} but no node of this file publishes it",
                list(&subscribers),
                plural(&subscribers)
            )));
        }
        if subscribers.is_empty() {
            findings.push(Finding::Unread(format!(
                "topic `{topic}`: {} publish{} but no node of this file subscribes",
                list(&publishers),
                if publishers.len() == 1 { "es" } else { "" }
            )));
        }
    }
    findings
}

fn verb(publishes: bool) -> &'static str {
    if publishes {
        "publishes"
    } else {
        "subscribes"
    }
}

fn list(nodes: &[&str]) -> String {
    let quoted: Vec<String> = nodes.iter().map(|n| format!("`{n}`")).collect();
    format!(
        "node{} {}",
        if nodes.len() == 1 { "" } else { "s" },
        quoted.join(", ")
    )
}

fn plural(nodes: &[&str]) -> &'static str {
    if nodes.len() == 1 {
        "s"
    } else {
        ""
    }
}
