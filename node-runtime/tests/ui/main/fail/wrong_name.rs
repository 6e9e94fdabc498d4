use pinion::prelude::*;
#[pinion::main]
async fn start(node: Node) -> pinion::Result<()> { let _ = node; Ok(()) }
fn main() {}
