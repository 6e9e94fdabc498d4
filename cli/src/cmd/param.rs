//! `pinion param list|get|set|delete`: the master's parameters.

use anyhow::bail;
use pinion::protocol::{MasterReply, NodeToMaster};
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

/// Runs a param subcommand.
pub fn run(command: ParamCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        ParamCommand::List => match super::graph::ask(&NodeToMaster::ListParams)? {
            MasterReply::Params(params) => {
                for (key, value) in params {
                    writeln!(out, "{key} = {value}")?;
                }
            }
            other => bail!("unexpected reply from the master: {other:?}"),
        },
        ParamCommand::Get { key } => {
            match super::graph::ask(&NodeToMaster::GetParam { key: key.clone() })? {
                MasterReply::Param(Some(value)) => writeln!(out, "{value}")?,
                MasterReply::Param(None) => {
                    eprintln!("error: parameter `{key}` is not set (see `pinion param list`)");
                    return Ok(ExitCode::FAILURE);
                }
                other => bail!("unexpected reply from the master: {other:?}"),
            }
        }
        ParamCommand::Set { key, value } => {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&value) {
                eprintln!("error: the value is not JSON ({e}); a string needs quotes: '\"text\"'");
                return Ok(ExitCode::FAILURE);
            }
            return change(&NodeToMaster::SetParam {
                key,
                value_json: value,
            });
        }
        ParamCommand::Delete { key } => return change(&NodeToMaster::DeleteParam { key }),
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends a change; a refusal is printed as the master put it.
fn change(request: &NodeToMaster) -> anyhow::Result<ExitCode> {
    match super::graph::ask(request)? {
        MasterReply::Ok => Ok(ExitCode::SUCCESS),
        MasterReply::Error(e) => {
            eprintln!("error: {}", e.message);
            Ok(ExitCode::FAILURE)
        }
        other => bail!("unexpected reply from the master: {other:?}"),
    }
}
