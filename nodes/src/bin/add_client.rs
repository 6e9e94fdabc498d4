//! Calls `add_two_ints` once and prints `sum=<n>`.
//!
//! Run with a master and `add_server` up: `add_client 2 3`

#![allow(clippy::print_stdout)]

use clap::Parser;
use pinion::prelude::*;
use pinion_nodes::{AddTwoIntsRequest, AddTwoIntsResponse};

#[derive(Debug, Parser)]
struct Args {
    a: i64,
    b: i64,
}

#[pinion::main]
async fn main(node: Node) -> pinion::Result<()> {
    let args = Args::parse();
    let add = node.client::<AddTwoIntsRequest, AddTwoIntsResponse>("add_two_ints")?;
    let reply = add
        .call(&AddTwoIntsRequest {
            a: args.a,
            b: args.b,
        })
        .await?;
    println!("sum={}", reply.sum);
    Ok(())
}
