//! The launch file, as typed values.
//!
//! ```toml
//! robot = "demo"
//!
//! [master]
//! bind = "tcp://127.0.0.1:11311"   # port 0: pick a free port
//!
//! [[node]]
//! name = "talker"                  # the node's name in the graph
//! binary = "talker"                # looked up beside `pinion`, then on PATH
//! args = ["--rate", "10"]
//! env = { RUST_LOG = "info" }
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A whole launch file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchFile {
    /// Name of the robot, for logs.
    #[serde(default)]
    pub robot: Option<String>,
    /// Where the master runs.
    #[serde(default)]
    pub master: MasterSpec,
    /// The nodes, started in this order.
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeSpec>,
}

/// The `[master]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterSpec {
    /// Endpoint to bind; port 0 picks a free port.
    #[serde(default = "default_bind")]
    pub bind: String,
}

impl Default for MasterSpec {
    fn default() -> Self {
        Self {
            bind: default_bind(),
        }
    }
}

fn default_bind() -> String {
    "tcp://127.0.0.1:11311".to_owned()
}

/// One `[[node]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Name of the node in the graph.
    pub name: String,
    /// Program to run: a path, or a name looked up beside `pinion` and then on PATH.
    pub binary: String,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A launch file that could not be read; the message says where.
#[derive(Debug, thiserror::Error)]
pub enum LaunchFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid launch file.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl LaunchFile {
    /// Reads and checks a launch file.
    pub fn load(path: &Path) -> Result<Self, LaunchFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| LaunchFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses launch-file text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, LaunchFileError> {
        let file: LaunchFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            LaunchFileError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let mut seen = std::collections::BTreeSet::new();
        for node in &file.nodes {
            let at = find_line(text, &node.name);
            if let Err(e) = pinion::NodeName::new(&node.name) {
                return Err(LaunchFileError::Invalid {
                    path: path.to_owned(),
                    line: at.0,
                    column: at.1,
                    message: e.to_string(),
                });
            }
            if !seen.insert(node.name.clone()) {
                return Err(LaunchFileError::Invalid {
                    path: path.to_owned(),
                    line: at.0,
                    column: at.1,
                    message: format!("node name `{}` is used twice", node.name),
                });
            }
        }
        Ok(file)
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// Where a node name is written (last occurrence of `name = "..."`), for messages.
fn find_line(text: &str, name: &str) -> (usize, usize) {
    let needle = format!("\"{name}\"");
    text.rfind(&needle)
        .map(|offset| line_column(text, offset))
        .unwrap_or((1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_demo_file() {
        let file = LaunchFile::parse(
            "[master]\nbind = \"tcp://127.0.0.1:0\"\n[[node]]\nname = \"a\"\nbinary = \"talker\"\nargs = [\"--rate\", \"5\"]\n",
            Path::new("x.toml"),
        )
        .expect("valid");
        assert_eq!(file.nodes[0].args, vec!["--rate", "5"]);
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let err = LaunchFile::parse(
            "[[node]]\nname = \"a\"\nbinary = \"b\"\nrespwan = 1\n",
            Path::new("x.toml"),
        )
        .expect_err("unknown key");
        let text = err.to_string();
        assert!(
            text.starts_with("x.toml:4:1: unknown field `respwan`"),
            "{text}"
        );
    }

    #[test]
    fn duplicate_and_invalid_names_are_refused() {
        let dup =
            "[[node]]\nname = \"a\"\nbinary = \"b\"\n[[node]]\nname = \"a\"\nbinary = \"b\"\n";
        let err = LaunchFile::parse(dup, Path::new("x.toml")).expect_err("duplicate");
        assert!(
            err.to_string()
                .contains("x.toml:5:8: node name `a` is used twice"),
            "{err}"
        );
        let bad = "[[node]]\nname = \"9a\"\nbinary = \"b\"\n";
        assert!(LaunchFile::parse(bad, Path::new("x.toml")).is_err());
    }
}
