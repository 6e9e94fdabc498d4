//! `pinion param list|get|set|delete`: the master's parameters.

use super::graph::ask;
use pinion::protocol::node_to_master::{DeleteParam, GetParam, ListParams, SetParam};
use std::io::Write;
use std::process::ExitCode;

/// `pinion param ...`
#[derive(Debug, clap::Subcommand)]
pub enum ParamCommand {
    /// List every parameter with its value.
    List,
    /// Print one parameter's value (JSON).
    Get {
        /// Key, such as `talker/text`.
        key: String,
    },
    /// Set a parameter; nodes watching it see the change.
    Set {
        /// Key, such as `talker/text`.
        key: String,
        /// The value, as JSON (`'"text"'`, `10`, `[1, 2]`, `{"a": 1}`).
        value: String,
    },
    /// Remove a parameter; nodes watching it see it go.
    Delete {
        /// Key, such as `talker/text`.
        key: String,
    },
}

/// Runs a param subcommand. A refusal of the master is an error in its words.
pub fn run(command: ParamCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        ParamCommand::List => {
            for (key, value) in ask(ListParams)? {
                writeln!(out, "{key} = {value}")?;
            }
        }
        ParamCommand::Get { key } => match ask(GetParam { key: key.clone() })? {
            Some(value) => writeln!(out, "{value}")?,
            None => {
                eprintln!("error: parameter `{key}` is not set (see `pinion param list`)");
                return Ok(ExitCode::FAILURE);
            }
        },
        ParamCommand::Set { key, value } => {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&value) {
                eprintln!("error: the value is not JSON ({e}); a string needs quotes: '\"text\"'");
                return Ok(ExitCode::FAILURE);
            }
            ask(SetParam {
                key,
                value_json: value,
            })?;
        }
        ParamCommand::Delete { key } => ask(DeleteParam { key })?,
    }
    Ok(ExitCode::SUCCESS)
}
