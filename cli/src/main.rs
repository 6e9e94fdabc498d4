//! `pinion`: the one command of Pinion. Each subcommand lives in `cmd/`.

mod cmd;

// The tools carry topic data too (record, play, the Foxglove bridge): the nodes' allocator.
pinion::__install_node_allocator!();

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Pinion: a robot middleware for Raspberry Pi nodes.
#[derive(Debug, Parser)]
#[command(name = "pinion", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the master (the registry of nodes and topics).
    Master(cmd::master::Args),
    /// Start the nodes of a launch file and supervise them.
    Launch(cmd::launch::Args),
    /// Run nodes on this machine for a launcher (one agent per Pi).
    Agent(cmd::agent::Args),
    /// Build, ship and install a launch file on its machines' agents.
    Deploy(cmd::deploy::Args),
    /// Inspect nodes.
    #[command(subcommand)]
    Node(cmd::graph::NodeCommand),
    /// Inspect topics.
    #[command(subcommand)]
    Topic(cmd::topic::TopicCommand),
    /// Print the graph of nodes and topics (Graphviz or Mermaid).
    Graph(cmd::graph_view::Args),
    /// Show the robot in Foxglove: a live bridge over the Foxglove WebSocket protocol.
    Foxglove(cmd::foxglove::Args),
    /// Record topics into an MCAP file.
    Record(cmd::record::Args),
    /// Convert a recording: into one Foxglove opens (`--encoding json`), or back.
    Convert(cmd::convert::Args),
    /// Publish a recording again.
    Play(cmd::play::Args),
    /// Show the log records of the nodes, from every host (`-f` to follow).
    Logs(cmd::logs::Args),
    /// Check a running robot: master, nodes, host ids, clocks, ports; says what to fix.
    Doctor(cmd::doctor::Args),
    /// Report this machine's health (temperature, throttling, load, memory, disk, nodes).
    Health(cmd::health::Args),
    /// A live table of every machine's nodes with their CPU and memory.
    Top(cmd::top::Args),
    /// Read and change parameters.
    #[command(subcommand)]
    Param(cmd::param::ParamCommand),
}

fn main() -> ExitCode {
    pinion::runtime::init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Master(args) => cmd::master::run(args),
        Command::Launch(args) => cmd::launch::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Node(c) => cmd::graph::node(c),
        Command::Topic(c) => cmd::topic::run(c),
        Command::Param(c) => cmd::param::run(c),
        Command::Graph(args) => cmd::graph_view::run(args),
        Command::Foxglove(args) => cmd::foxglove::run(args),
        Command::Record(args) => cmd::record::run(args),
        Command::Play(args) => cmd::play::run(args),
        Command::Convert(args) => cmd::convert::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Health(args) => cmd::health::run(args),
        Command::Top(args) => cmd::top::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
