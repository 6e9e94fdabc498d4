use pinion::prelude::*;
#[pinion::main]
fn main(node: Node) -> pinion::Result<()> { let _ = node; Ok(()) }
