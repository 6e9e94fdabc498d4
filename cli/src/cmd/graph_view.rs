//! `pinion graph --format dot|mermaid`: nodes and topics as a picture description.

use super::graph::ask;
use pinion::protocol::master_to_node::TopicSummary;
use pinion::protocol::node_to_master::{ListNodes, ListTopics};
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Graphviz (`dot -Tpng`).
    Dot,
    /// Mermaid (renders in Markdown on many sites).
    Mermaid,
}

/// Arguments of `pinion graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
    /// Also Pinion's own topics (`/pinion/log`).
    #[arg(long)]
    all: bool,
}

/// Prints the graph.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let nodes: Vec<String> = ask(ListNodes)?
        .into_iter()
        .map(|n| n.name.to_string())
        .collect();
    let topics: Vec<_> = ask(ListTopics)?
        .into_iter()
        .filter(|t| args.all || !t.name.is_system())
        .collect();
    let text = match args.format {
        Format::Dot => dot(&nodes, &topics),
        Format::Mermaid => mermaid(&nodes, &topics),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Graphviz text: nodes as ellipses, topics as boxes, edges publisher -> topic -> subscriber.
pub fn dot(nodes: &[String], topics: &[TopicSummary]) -> String {
    let mut out = String::from("digraph pinion {\n  rankdir=LR;\n");
    for n in nodes {
        let _ = writeln!(out, "  \"n:{n}\" [label=\"{n}\", shape=ellipse];");
    }
    for t in topics {
        let _ = writeln!(
            out,
            "  \"t:{0}\" [label=\"{0}\\n{1}\", shape=box];",
            t.name, t.type_info.name
        );
        for p in &t.publishers {
            let _ = writeln!(out, "  \"n:{p}\" -> \"t:{}\";", t.name);
        }
        for s in &t.subscribers {
            let _ = writeln!(out, "  \"t:{}\" -> \"n:{s}\";", t.name);
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid text with the same shape.
pub fn mermaid(nodes: &[String], topics: &[TopicSummary]) -> String {
    let id = |prefix: &str, name: &str| format!("{prefix}_{}", name.replace('/', "__"));
    let mut out = String::from("flowchart LR\n");
    for n in nodes {
        let _ = writeln!(out, "  {}([\"{n}\"])", id("n", n));
    }
    for t in topics {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{}\"]",
            id("t", t.name.as_str()),
            t.name,
            t.type_info.name
        );
        for p in &t.publishers {
            let _ = writeln!(
                out,
                "  {} --> {}",
                id("n", p.as_str()),
                id("t", t.name.as_str())
            );
        }
        for s in &t.subscribers {
            let _ = writeln!(
                out,
                "  {} --> {}",
                id("t", t.name.as_str()),
                id("n", s.as_str())
            );
        }
    }
    out
}
