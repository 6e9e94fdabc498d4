use pinion::prelude::*;
#[pinion::main]
async fn main(node: Node, a: u8, b: u8) -> pinion::Result<()> { let _ = (node, a, b); Ok(()) }
